"""A fit that fails its checks is sampled once more, announced, and given a verdict."""

from __future__ import annotations

import importlib

import pandas as pd
import pytest
from latent_fits import failing_once

from ambidex_bayes import constants
from ambidex_bayes.diagnostics import ConvergenceReport, ConvergenceWarning
from ambidex_bayes.fit import FitResult, SamplerSettings, fit
from ambidex_bayes.rescue import rescue_announcement, rescue_settings, worth_rescuing
from ambidex_bayes.spec import load_spec

#: the module itself; the attribute ``ambidex_bayes.fit`` is the function (the front door's verb)
fit_module = importlib.import_module("ambidex_bayes.fit")


def test_second_try_raises_target_accept_and_tuning():
    first = SamplerSettings(draws=1000, tune=1000, chains=4, target_accept=0.9).resolved()
    second = rescue_settings(first)
    assert second.target_accept == constants.RESCUE_TARGET_ACCEPT
    assert second.tune == constants.RESCUE_TUNE_FACTOR * 1000
    assert (second.draws, second.chains, second.seed) == (1000, 4, first.seed)
    assert worth_rescuing(first)
    assert not worth_rescuing(SamplerSettings(draws=100, chains=2).resolved())


def _report(rhat: float, ess_bulk: float, ess_tail: float, problems: tuple[str, ...]):
    table = pd.DataFrame(
        {"rhat": [1.001, rhat], "ess_bulk": [2000.0, ess_bulk], "ess_tail": [2000.0, ess_tail]},
        index=["a", "b"],
    )
    return ConvergenceReport(
        table=table, n_divergent=0, n_max_treedepth=0, n_draws=4000, ebfmi=(1.0,), problems=problems
    )


@pytest.mark.parametrize(
    ("rhat", "ess_bulk", "ess_tail", "more_draws"),
    [
        (1.02, 2000.0, 2000.0, True),  # R-hat
        (1.001, 250.0, 2000.0, True),  # bulk-ESS
        (1.001, 2000.0, 150.0, True),  # tail-ESS
        (1.001, 2000.0, 2000.0, False),  # divergences only: more draws would not help
    ],
)
def test_second_try_keeps_more_draws_only_when_the_chains_mixed_too_slowly(
    rhat, ess_bulk, ess_tail, more_draws
):
    first = SamplerSettings(draws=1000, tune=1000, chains=4, target_accept=0.9).resolved()
    report = _report(rhat, ess_bulk, ess_tail, ("a problem",))
    second = rescue_settings(first, report)
    expected = 1000 * constants.RESCUE_DRAWS_FACTOR if more_draws else 1000
    assert second.draws == expected
    assert second.tune == constants.RESCUE_TUNE_FACTOR * 1000
    text = rescue_announcement("M3", report, first, second)
    assert (f"{expected} draws per chain (was 1000)" in text) is more_draws
    assert ("more draws raise the effective sample size" in text) is more_draws


def test_the_second_try_rule_is_part_of_the_cache_key(monkeypatch, small_prepared):
    from ambidex_bayes.engine.cache import fit_key

    settings = SamplerSettings(draws=1000, tune=1000, chains=4, seed=1).resolved()
    spec = load_spec("M3")
    before = fit_key(spec, small_prepared, settings)
    without = fit_key(spec, small_prepared, settings, rescue=False)
    monkeypatch.setattr(constants, "RESCUE_DRAWS_FACTOR", 3)
    assert fit_key(spec, small_prepared, settings) != before
    assert fit_key(spec, small_prepared, settings, rescue=False) == without


def _fit(prepared, **kwargs):
    settings = SamplerSettings(backend="nutpie", draws=500, tune=300, chains=4, seed=3)
    return fit(
        load_spec("M3"),
        prepared,
        settings=settings,
        cache_dir=False,
        progressbar=False,
        log_likelihood=False,
        centring="observed",  # the observed route's samplers are replaced by the tests
        **kwargs,
    )


@pytest.mark.fit
def test_failed_fit_is_rescued_once_and_announced(monkeypatch, capsys, small_prepared, tmp_path):
    calls = failing_once(monkeypatch, fit_module)
    with pytest.warns(ConvergenceWarning, match="Sampling once more with target_accept 0.99"):
        result = _fit(small_prepared)
    out = capsys.readouterr().out
    assert "M3: the fit failed its convergence checks (R-hat up to 1.050)" in out
    assert "600 tuning steps (was 300)" in out
    assert "the second try passed every convergence check" in out
    assert len(calls) == 2
    rescue = result.meta["rescue"]
    assert rescue["settings"]["target_accept"] == 0.99 and rescue["settings"]["tune"] == 600
    assert rescue["passed"] is True and rescue["first_problems"]
    assert result.meta["settings"]["tune"] == 300  # the fit's identity is what was asked
    loaded = FitResult.load(result.save(tmp_path / "rescued.nc"))
    assert loaded.meta["rescue"] == rescue


@pytest.mark.fit
def test_no_second_try_when_switched_off(monkeypatch, capsys, small_prepared):
    calls = failing_once(monkeypatch, fit_module)
    result = _fit(small_prepared, rescue=False, verbose=False)
    assert len(calls) == 1
    assert "rescue" not in result.meta
    assert "once more" not in capsys.readouterr().out
