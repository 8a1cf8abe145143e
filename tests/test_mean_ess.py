"""The ESS of the mean of many elements at once equals ``arviz_stats``' one at a time."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

from ambidex_bayes.checks import mean_ess as mean_ess_module
from ambidex_bayes.checks.loo import relative_efficiency
from ambidex_bayes.checks.mean_ess import mean_ess


def _ar1(rng, chains: int, draws: int, phis: np.ndarray) -> np.ndarray:
    """Draws of autoregressive chains, one coefficient per element: (chains, draws, K)."""
    x = np.zeros((chains, draws, len(phis)))
    noise = rng.normal(size=x.shape)
    for t in range(draws):
        x[:, t] = (phis * x[:, t - 1] if t else 0.0) + noise[:, t]
    return x


def _arviz(values: np.ndarray) -> np.ndarray:
    import arviz_stats  # noqa: F401  (registers the accessor)

    data = xr.Dataset({"v": (("chain", "draw", "k"), values)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # too few draws, NaN
        return data.azstats.ess(method="mean")["v"].to_numpy()


@pytest.mark.parametrize("chains, draws", [(4, 1000), (2, 101), (1, 50), (3, 7), (2, 3)])
def test_mean_ess_equals_arviz_for_every_kind_of_element(chains, draws, monkeypatch):
    monkeypatch.setattr(mean_ess_module, "BLOCK_ELEMENTS", 16)  # several blocks
    rng = np.random.default_rng(chains * draws)
    phis = np.concatenate([np.linspace(-0.6, 0.995, 40), [0.0]])
    values = _ar1(rng, chains, draws, phis)
    values[..., -1] = 3.0  # constant: the number of draws
    with_gap = values[..., :2].copy()
    with_gap[0, min(3, draws - 1)] = np.nan  # a missing draw: NaN
    values = np.concatenate([values, with_gap], axis=2)
    ours, theirs = mean_ess(values), _arviz(values)
    assert np.array_equal(np.isnan(ours), np.isnan(theirs))
    np.testing.assert_allclose(ours, theirs, rtol=1e-10)
    if draws >= 4:
        assert ours[-3] == chains * 2 * (draws // 2)
        assert np.isnan(ours[-2:]).all()


def test_relative_efficiency_is_arviz_s_mean_over_every_element():
    rng = np.random.default_rng(2)
    posterior = xr.Dataset(
        {
            "a": (("chain", "draw"), _ar1(rng, 4, 400, np.array([0.7]))[..., 0]),
            "b": (("chain", "draw", "person"), _ar1(rng, 4, 400, np.linspace(0.0, 0.9, 30))),
        }
    )
    import arviz_stats  # noqa: F401

    ess = posterior.azstats.ess(method="mean")
    expected = np.hstack([ess[v].to_numpy().ravel() for v in ess.data_vars]).mean() / 1600
    assert relative_efficiency(posterior) == pytest.approx(expected, rel=1e-12)
    assert relative_efficiency(posterior.isel(chain=[0])) == 1.0
