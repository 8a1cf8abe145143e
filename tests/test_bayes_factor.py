"""Savage–Dickey Bayes factors against closed forms (conjugate normal), and refusals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from ambidex_bayes.priors.bayes_factor import (
    DATA_SCALED_SOURCE,
    BayesFactorRefused,
    BayesFactorWarning,
    bf_width_sensitivity,
    savage_dickey,
)
from ambidex_bayes.spec import PriorSpec

# theta ~ N(0, s0^2); the data say ybar ~ N(theta, se^2)
YBAR, SE = 0.15, 0.12


def _posterior(s0: float, ybar: float = YBAR) -> tuple[float, float]:
    var = 1.0 / (1.0 / s0**2 + 1.0 / SE**2)
    return var * ybar / SE**2, math.sqrt(var)


def _bf10(s0: float, ybar: float = YBAR) -> float:
    """Closed form: prior density at 0 over posterior density at 0."""
    mean, sd = _posterior(s0, ybar)
    return stats.norm.pdf(0.0, 0.0, s0) / stats.norm.pdf(0.0, mean, sd)


def _draws(s0: float, ybar: float = YBAR, n: int = 100_000, seed: int = 3) -> np.ndarray:
    mean, sd = _posterior(s0, ybar)
    return np.random.default_rng(seed).normal(mean, sd, size=n)


def _normal(sigma: float) -> PriorSpec:
    return PriorSpec("Normal", {"mu": 0.0, "sigma": sigma})


def test_savage_dickey_equals_the_analytic_bayes_factor():
    for s0 in (0.1, 0.5, 2.0):
        result = savage_dickey(_draws(s0), _normal(s0))
        assert result.note == ""
        assert result.prior_density == pytest.approx(stats.norm.pdf(0, 0, s0))
        assert result.bf10 == pytest.approx(_bf10(s0), rel=0.04)
        assert result.bf01 == pytest.approx(1.0 / result.bf10)


def test_far_tail_uses_a_normal_approximation_and_says_so():
    ybar = 0.8  # 0 lies about 6.7 posterior SDs below the mean
    with pytest.warns(BayesFactorWarning, match="normal approximation"):
        result = savage_dickey(_draws(0.5, ybar, n=4000), _normal(0.5), name="g11")
    assert "normal approximation" in result.note
    # the draws are normal, so the approximation is right up to Monte Carlo error
    assert math.log10(result.bf10) == pytest.approx(math.log10(_bf10(0.5, ybar)), abs=0.15)


def test_bf_against_prior_width_matches_the_closed_form():
    s0 = 0.5
    curve = bf_width_sensitivity(_draws(s0), _normal(s0), widths=[0.25, 0.5, 1.0, 2.0])
    fitted = curve[curve["fitted"]]
    assert fitted["prior_sd"].tolist() == [0.5]
    base = float(fitted["bf10"].iloc[0])
    assert base == pytest.approx(savage_dickey(_draws(s0), _normal(s0)).bf10)
    for row in curve.itertuples(index=False):
        # the reweighting identity is exact up to Monte Carlo error: compare ratios, which
        # do not share the KDE's error at the fitted width
        analytic_ratio = _bf10(row.prior_sd) / _bf10(s0)
        assert row.bf10 / base == pytest.approx(analytic_ratio, rel=0.02), row.prior_sd
        assert row.reliable
    # a wider prior gives less evidence for an effect of this size (Lindley's paradox)
    assert curve["bf10"].iloc[-1] < curve["bf10"].iloc[1]
    narrower, wider = curve.iloc[0], curve.iloc[-1]
    assert math.isnan(narrower["pareto_k"])  # bounded weights
    assert wider["pareto_k"] < 0.7


def test_student_t_prior_works_and_extreme_narrowing_is_flagged():
    prior = PriorSpec("StudentT", {"nu": 3.0, "mu": 0.0, "sigma": 0.5})
    draws = _draws(0.5, n=4000)
    curve = bf_width_sensitivity(draws, prior, widths=[0.001, 0.5])
    assert curve["pareto_k"].isna().all()
    tiny = curve[curve["prior_sd"] == 0.001].iloc[0]
    assert not tiny["reliable"] and tiny["ess"] < 100


def test_data_scaled_and_non_location_priors_are_refused():
    record = {"prior": "Normal(mu=0, sigma=3.43)", "source": DATA_SCALED_SOURCE}
    with pytest.raises(BayesFactorRefused) as err:
        savage_dickey(_draws(0.5), _normal(3.43), name="x:w", record=record)
    text = str(err.value)
    assert "'x:w'" in text and "scaled to the data" in text and "weakly_informative" in text
    with pytest.raises(BayesFactorRefused, match="whole real line"):
        savage_dickey(np.abs(_draws(0.5)), PriorSpec("HalfNormal", {"sigma": 1.0}))
    with pytest.raises(BayesFactorRefused, match="scaled to the data"):
        bf_width_sensitivity(_draws(0.5), _normal(3.43), record=record)
    ok = savage_dickey(_draws(0.5), _normal(0.5), record={"prior": "x", "source": "spec"})
    assert ok.bf10 > 0
