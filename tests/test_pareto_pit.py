"""Pareto-smoothed PIT for many rows at once equals arviz-stats' one-row-at-a-time values."""

from __future__ import annotations

import numpy as np
import pytest
from arviz_stats.base import array_stats
from scipy.special import logsumexp

from ambidex_bayes.checks.pareto_pit import gpd_cdf, pareto_pit_rows


def _arviz(draws, y, log_weights, seed):
    return array_stats.loo_pit(
        draws, y, log_weights, chain_axis=None, random_state=seed, pareto_pit=True
    )


def _case(seed: int, n_rows: int = 120, n_draws: int = 400):
    """Rows whose observed value lies in the middle, in either tail and beyond every draw,
    with unequal normalised weights."""
    rng = np.random.default_rng(seed)
    draws = rng.standard_t(5, size=(n_rows, n_draws)) * rng.uniform(0.5, 2, size=(n_rows, 1))
    y = np.quantile(draws, rng.uniform(0, 1, size=n_rows), axis=1).diagonal().copy()
    y[:10] = draws[:10].max(axis=1) + rng.uniform(0, 2, size=10)  # beyond every draw
    y[10:20] = draws[10:20].min(axis=1) - rng.uniform(0, 2, size=10)
    y[20:30] = np.quantile(draws[20:30], 0.995, axis=1)  # inside the right tail
    y[30:40] = np.quantile(draws[30:40], 0.005, axis=1)
    log_weights = rng.normal(0, 0.5, size=(n_rows, n_draws))
    log_weights -= logsumexp(log_weights, axis=1, keepdims=True)
    return draws, y, log_weights


@pytest.mark.parametrize("seed", [1, 2])
def test_values_equal_arviz_stats_in_both_tails(seed):
    draws, y, log_weights = _case(seed)
    expected = _arviz(draws, y, log_weights, 9)
    values = pareto_pit_rows(draws, y, log_weights, np.random.default_rng(9))
    np.testing.assert_allclose(values, expected, rtol=1e-10, atol=1e-14)
    raw = np.sum(np.exp(log_weights) * (draws < y[:, None]), axis=1)
    smoothed = ~np.isclose(values, np.clip(raw, 1 / 400 / 1e4, 1 - 1 / 400 / 1e4))
    assert smoothed[:40].sum() >= 30 and smoothed[:20].all()  # the tails were refined


def test_ties_constant_tails_non_finite_rows_and_few_draws_as_arviz_stats():
    rng = np.random.default_rng(3)
    draws = np.clip(np.round(4 + 1.5 * rng.normal(size=(60, 300))), 1, 7)
    y = np.clip(np.round(4 + 1.5 * rng.normal(size=60)), 1, 7)
    y[:5] = 7.0  # the right tail is constant at the observed value
    draws[5, 7] = np.inf  # no tail refinement for this row
    log_weights = np.full((60, 300), -np.log(300))
    expected = _arviz(draws, y, log_weights, 4)
    values = pareto_pit_rows(draws, y, log_weights, np.random.default_rng(4))
    np.testing.assert_allclose(values, expected, rtol=1e-10, atol=1e-14)
    few = draws[:, :20]  # 4 tail draws: no refinement, only the clipping
    few_weights = np.full((60, 20), -np.log(20))
    np.testing.assert_allclose(
        pareto_pit_rows(few, y, few_weights, np.random.default_rng(4)),
        _arviz(few, y, few_weights, 4),
        rtol=1e-10,
        atol=1e-14,
    )


def test_generalized_pareto_cdf():
    q = np.array([0.0, 1.0, 2.0, 50.0])
    np.testing.assert_allclose(gpd_cdf(q, 0.0, 1.0, 0.0), 1 - np.exp(-q))
    np.testing.assert_allclose(gpd_cdf(q, 0.0, 2.0, 0.5), 1 - (1 + 0.5 * q / 2) ** -2)
    # a negative shape ends the support at sigma / |k| = 2: the CDF is 1 beyond it
    np.testing.assert_allclose(gpd_cdf(q, 0.0, 1.0, -0.5), [0.0, 0.75, 1.0, 1.0])
    assert np.isnan(gpd_cdf(q, 0.0, -1.0, 0.2)).all()
