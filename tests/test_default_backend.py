"""The default backend: nutpie when installed, else PyMC's own NUTS, with a warning."""

from __future__ import annotations

import importlib.util

import pytest

from ambidex_bayes import constants
from ambidex_bayes.fit import SamplerSettings, default_backend


def test_default_backend_is_the_measured_one_when_installed():
    pytest.importorskip("nutpie")
    assert constants.BACKEND == "nutpie"
    assert default_backend() == "nutpie"
    assert SamplerSettings().resolved().backend == "nutpie"
    assert SamplerSettings(backend="pymc").resolved().backend == "pymc"


def test_default_backend_falls_back_to_pymc_with_a_warning(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "nutpie" else real(name, *a)
    )
    with pytest.warns(UserWarning, match=r"sampling with 'pymc' instead .*\[nutpie\]"):
        assert SamplerSettings().resolved().backend == "pymc"
