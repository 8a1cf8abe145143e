"""PSIS-LOO vectorised over rows against ``arviz_stats.loo`` one row at a time."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

from ambidex_bayes.checks import loo
from ambidex_bayes.checks.psis import (
    gpd_fit,
    log_sum_exp,
    psis_log_weights,
    psis_loo_rows,
    tail_length,
)


def _arviz(ll: np.ndarray, reff: float):
    import arviz_stats as azs

    tree = xr.DataTree.from_dict(
        {"log_likelihood": xr.Dataset({"y": (("chain", "draw", "__obs__"), ll)})}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # high Pareto k
        return azs.loo(tree, pointwise=True, reff=reff)


def _log_likelihood(
    seed: int, chains: int, draws: int, rows: int, dtype=float, top: float = 3.0
) -> np.ndarray:
    """Gaussian log densities whose spread over draws differs by row, some with heavy tails
    (high Pareto k)."""
    rng = np.random.default_rng(seed)
    spread = np.geomspace(0.05, top, rows)
    mu = rng.standard_t(3, size=(chains, draws, rows)) * spread
    y = rng.normal(size=rows)
    return (-0.5 * (y - mu) ** 2 - 0.5 * np.log(2 * np.pi)).astype(dtype)


@pytest.mark.parametrize(("chains", "draws", "reff"), [(4, 250, 0.8), (2, 40, 1.0)])
def test_rows_equal_arviz_stats_loo(chains, draws, reff):
    ll = _log_likelihood(1, chains, draws, 60)
    expected = _arviz(ll, reff)
    elpd, khat, p = psis_loo_rows(ll.reshape(chains * draws, -1), reff, rows_per_fit=7)
    np.testing.assert_allclose(elpd, expected.elpd_i.values, rtol=1e-10)
    np.testing.assert_allclose(khat, expected.pareto_k.values, rtol=1e-8, atol=1e-10)
    lpd = np.log(np.mean(np.exp(ll.reshape(chains * draws, -1)), axis=0))
    np.testing.assert_allclose(p, lpd - expected.elpd_i.values, rtol=1e-8, atol=1e-10)
    assert np.any(khat > 0.7) and np.any(khat < 0.5)  # both regimes are exercised


def test_float32_log_likelihood_equals_arviz_to_its_precision():
    ll = _log_likelihood(2, 4, 250, 40, dtype=np.float32, top=1.0)
    expected = _arviz(ll, 0.9)
    elpd, khat, _ = psis_loo_rows(ll.reshape(1000, -1), 0.9)
    np.testing.assert_allclose(elpd, expected.elpd_i.values, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(khat, expected.pareto_k.values, rtol=1e-3, atol=1e-3)


def test_blocked_loo_totals_equal_arviz(monkeypatch):
    ll = xr.DataArray(_log_likelihood(3, 4, 250, 50, top=1.5), dims=("chain", "draw", "__obs__"))
    expected = _arviz(ll.values, 0.7)
    monkeypatch.setattr(loo, "LOO_CHUNK_NUMBERS", 13 * 1000)  # 13 rows a block
    result = loo.blocked_loo(ll, 0.7)
    assert result.elpd == pytest.approx(expected.elpd, rel=1e-10)
    assert result.se == pytest.approx(expected.se, rel=1e-10)
    assert result.p == pytest.approx(expected.p, rel=1e-10)
    assert result.good_k == expected.good_k and result.warning == expected.warning
    assert result.n_samples == 1000 and result.n_data_points == 50
    np.testing.assert_array_equal(result.elpd_i["__obs__"].values, np.arange(50))


def test_tail_length_and_degenerate_fits():
    assert tail_length(4000, 1.0) == int(np.floor(3 * np.sqrt(4000)))
    assert tail_length(200, 1.0) == 40  # S r_eff <= 225: a fifth of the draws
    flat_start = np.array([[0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 3.0, 4.0]])
    kappa, sigma = gpd_fit(flat_start)  # first quartile not above the minimum
    assert np.isnan(kappa[0]) and np.isnan(sigma[0])
    with pytest.raises(ValueError, match="at least 5"):
        psis_loo_rows(np.zeros((20, 3)), 1.0)


def test_log_weights_equal_arviz_psislw():
    import arviz_stats  # noqa: F401  (the azstats accessor)

    ll = _log_likelihood(5, 4, 250, 30, top=1.5)
    da = xr.DataArray(ll, dims=("chain", "draw", "__obs__"))
    expected_w, expected_k = da.azstats.psislw(r_eff=0.8, dim=["chain", "draw"])
    weights, khat = psis_log_weights(ll.reshape(1000, -1), 0.8, rows_per_fit=4)
    np.testing.assert_allclose(
        weights,
        expected_w.transpose("chain", "draw", "__obs__").values.reshape(1000, -1),
        rtol=1e-10,
        atol=1e-12,
    )
    np.testing.assert_allclose(khat, expected_k.values, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_log_sum_exp_equals_scipy_s_including_infinite_and_missing_rows(dtype):
    from scipy.special import logsumexp

    rng = np.random.default_rng(4)
    values = (rng.normal(size=(7, 500)) * 40).astype(dtype)
    values[1] = -np.inf  # all -inf: -inf
    values[2, 3] = np.inf  # any +inf: +inf
    values[3, 5] = np.nan  # any NaN: NaN
    values[4, :250] = -np.inf  # some -inf: the finite ones count
    values[5] += 600  # exp would overflow without the shift
    for axis, keepdims, scale in ((1, False, None), (1, True, 0.25), (0, False, None)):
        ours = log_sum_exp(values, axis=axis, keepdims=keepdims, scale=scale)
        with np.errstate(all="ignore"):
            theirs = logsumexp(values, axis=axis, keepdims=keepdims, b=scale)
        assert ours.shape == theirs.shape and ours.dtype == dtype
        tol = 1e-12 if dtype == np.float64 else 1e-5
        np.testing.assert_allclose(ours, theirs, rtol=tol, atol=0)
