"""LOO-PIT by blocks of rows: the values of ``arviz_stats.loo_pit``, whatever the block size.

The reference is ``arviz_stats.loo_pit`` on the whole DataTree (every row at once); the
blocked computation must give its values, ties at the observed value broken by the same
random draws, and blocks of any size must give the same values (to the rounding of sums
taken over arrays of other widths).
"""

from __future__ import annotations

from dataclasses import replace

import arviz_stats as azs
import numpy as np
import pytest
import xarray as xr
from fake_predictive import arviz_tree, predictive_pair
from scipy.stats import norm
from stub_fits import hand_linear_predictor, predictor_fit

from ambidex_bayes.checks import loo_pit
from ambidex_bayes.checks.ppc import posterior_predictive

N_ROWS = 40


def _discrete_pair():
    """Predictions and observations on a 1..7 scale: many replicates tie the observed value."""
    draws, fit = predictive_pair(1.0, n_rows=N_ROWS, seed=3)
    y_rep = draws.y_rep.copy(data=np.clip(np.round(4 + 1.5 * draws.y_rep.values), 1, 7))
    y_obs = np.clip(np.round(4 + 1.5 * draws.y_obs), 1, 7)
    discrete = replace(draws, y_rep=y_rep, mu=y_rep, y_obs=y_obs)
    assert (y_rep.values == y_obs).any(axis=(0, 1)).all()  # every row has ties
    return discrete, fit


@pytest.mark.parametrize("pareto_pit", [False, True])
def test_values_equal_arviz_stats_ties_broken_by_the_same_draws(pareto_pit):
    draws, fit = _discrete_pair()
    whole = arviz_tree(fit, draws, fit.idata["log_likelihood"]["inno_z"].values)
    expected = azs.loo_pit(whole, pareto_pit=pareto_pit)["inno"].values
    n_samples = 2 * 200
    blocked = loo_pit.loo_pit_values(fit, draws, pareto_pit=pareto_pit, block_numbers=7 * n_samples)
    np.testing.assert_allclose(blocked, expected, rtol=1e-10, atol=1e-12)
    # the draws matter: another seed breaks the ties differently
    other = loo_pit.loo_pit_values(fit, draws, pareto_pit=pareto_pit, random_state=1)
    assert not np.allclose(other, expected)
    seeded = azs.loo_pit(whole, pareto_pit=pareto_pit, random_state=1)["inno"].values
    np.testing.assert_allclose(other, seeded, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("pareto_pit", [False, True])
def test_blocks_of_any_size_give_identical_values(monkeypatch, pareto_pit):
    draws, fit = _discrete_pair()
    widths: list[int] = []
    smooth = loo_pit.psis_log_weights

    def recording(log_lik, r_eff):
        widths.append(log_lik.shape[1])
        return smooth(log_lik, r_eff)

    monkeypatch.setattr(loo_pit, "psis_log_weights", recording)
    n_samples = 2 * 200
    values = {}
    for rows in (1, 7, N_ROWS):
        widths.clear()
        values[rows] = loo_pit.loo_pit_values(
            fit, draws, pareto_pit=pareto_pit, block_numbers=rows * n_samples
        )
        assert max(widths) == rows and sum(widths) == N_ROWS  # never more rows at once
    # equal to the rounding of sums over blocks of other widths (the ties' draws are equal)
    np.testing.assert_allclose(values[1], values[N_ROWS], rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(values[7], values[N_ROWS], rtol=1e-13, atol=1e-15)


def test_values_without_a_stored_log_likelihood_are_computed_from_the_posterior():
    fit = predictor_fit(chains=2, draws=100)
    post = fit.idata["posterior"].to_dataset()
    post["sigma"] = xr.full_like(post["sigma"], 1.0) + 0.1 * np.abs(post["sigma"])
    fit.idata = xr.DataTree.from_dict({"posterior": post})
    draws = posterior_predictive(fit, seed=2, max_draws=100)  # every second draw
    assert draws.draw_step == 2
    step = slice(None, None, draws.draw_step)
    y = fit.prepared.frame[fit.terms.y_column].to_numpy(dtype=float)
    sigma = post["sigma"].values[:, step, None]
    log_lik = norm.logpdf(y, loc=hand_linear_predictor(fit)[:, step], scale=sigma)
    whole = arviz_tree(fit, draws, log_lik)
    for pareto_pit in (False, True):
        expected = azs.loo_pit(whole, pareto_pit=pareto_pit)[draws.outcome].values
        blocked = loo_pit.loo_pit_values(fit, draws, pareto_pit=pareto_pit, block_numbers=1000)
        np.testing.assert_allclose(blocked, expected, rtol=1e-9, atol=1e-12)
