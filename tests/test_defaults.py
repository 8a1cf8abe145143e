"""Sampler defaults have one home (constants.py): every place that states or uses one reads it."""

from __future__ import annotations

import argparse

import pytest

from ambidex_bayes import constants


@pytest.fixture
def changed_defaults(monkeypatch):
    """Other values in constants, to see who reads them at call time."""
    values = {
        "DRAWS": 1234,
        "TUNE": 567,
        "CHAINS": 3,
        "SEED": 42,
        "TARGET_ACCEPT": 0.85,
        "CACHE_DIR": "elsewhere",
        "DESIGN_DRAWS": 321,
        "DESIGN_TUNE": 123,
        "DESIGN_CHAINS": 3,
    }
    for name, value in values.items():
        monkeypatch.setattr(constants, name, value)
    return values


def _help(add_options) -> str:
    parser = argparse.ArgumentParser()
    add_options(parser)
    return parser.format_help()


def test_cli_help_states_the_defaults_of_constants(changed_defaults):
    from ambidex_bayes.commands._options import add_sampler_options
    from ambidex_bayes.commands._simulation import add_run_options

    text = " ".join(_help(add_sampler_options).split())
    for phrase in (
        "(default 1234)",
        "(default 567)",
        "(default 3)",
        "(default 42)",
        "(default 0.85)",
        "(default elsewhere)",
        f"(default {constants.BACKEND} when installed, else {constants.FALLBACK_BACKEND})",
    ):
        assert phrase in text
    text = " ".join(_help(lambda p: add_run_options(p, default_out="out")).split())
    assert "(default 321)" in text and "(default 123)" in text and "(default 3)" in text


def test_study_design_runs_take_their_defaults_from_constants(changed_defaults):
    from ambidex_bayes.design.power import PowerConfig
    from ambidex_bayes.design.sbc import SBCConfig
    from ambidex_bayes.design.tasks import default_backend
    from ambidex_bayes.fit import SamplerSettings
    from ambidex_bayes.fit import default_backend as fit_default_backend

    for config in (PowerConfig(), SBCConfig()):
        assert config.backend == fit_default_backend() == default_backend()
        assert (config.draws, config.tune, config.chains) == (321, 123, 3)
    resolved = SamplerSettings().resolved()
    assert (resolved.draws, resolved.tune, resolved.chains) == (1234, 567, 3)
