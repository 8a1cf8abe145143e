"""R-hat and ESS computed with numpy agree to the last bit with arviz-stats.

:mod:`ambidex_bayes.rank_diagnostics` computes arviz-stats' rank-normalised split R-hat and
bulk and tail ESS without importing arviz-stats (whose import loads scipy.stats); the
convergence report and the ``summary`` command's table use it. Every case here compares
with ``arviz_stats.rhat`` / ``arviz_stats.ess`` by exact equality (NaN equal to NaN):
well-mixed and autocorrelated chains, ties, constant draws, NaN draws, too few draws, a
single chain, an odd number of draws, vector-valued variables with their sample dims in
any position.
"""

from __future__ import annotations

import arviz_stats
import numpy as np
import pytest
import xarray as xr

from ambidex_bayes.rank_diagnostics import convergence_arrays


def _ar1(rng: np.random.Generator, shape: tuple[int, ...], phi: float) -> np.ndarray:
    """AR(1) draws along the last axis (autocorrelated chains)."""
    out = np.empty(shape)
    out[..., 0] = rng.normal(size=shape[:-1])
    for t in range(1, shape[-1]):
        out[..., t] = phi * out[..., t - 1] + rng.normal(size=shape[:-1])
    return out


def _cases() -> dict[str, xr.DataArray]:
    rng = np.random.default_rng(11)
    cd = ("chain", "draw")
    cases = {
        "normal": xr.DataArray(rng.normal(size=(4, 500)), dims=cd),
        "autocorrelated": xr.DataArray(_ar1(rng, (4, 300), 0.9), dims=cd),
        "stuck chain": xr.DataArray(
            np.vstack([rng.normal(size=(3, 200)), np.full((1, 200), 0.3)]), dims=cd
        ),
        "shifted chain": xr.DataArray(rng.normal(size=(4, 200)) + [[0], [0], [0], [3]], dims=cd),
        "ties": xr.DataArray(rng.integers(0, 4, size=(4, 250)).astype(float), dims=cd),
        "constant": xr.DataArray(np.full((4, 100), 2.5), dims=cd),
        "nan draw": xr.DataArray(np.where(np.arange(400) == 7, np.nan, 1.0).reshape(4, 100)),
        "three draws": xr.DataArray(rng.normal(size=(4, 3)), dims=cd),
        "one chain": xr.DataArray(rng.normal(size=(1, 300)), dims=cd),
        "odd draws": xr.DataArray(_ar1(rng, (3, 301), 0.5), dims=cd),
        "eight chains": xr.DataArray(_ar1(rng, (8, 123), 0.3), dims=cd),
        "vector": xr.DataArray(
            _ar1(rng, (4, 3, 200), 0.6).transpose(0, 2, 1),
            dims=("chain", "draw", "level"),
            coords={"level": ["a", "b", "c"]},
        ),
        "sample dims last": xr.DataArray(
            _ar1(rng, (2, 3, 4, 150), 0.2), dims=("row", "col", "chain", "draw")
        ),
        "sample dims apart": xr.DataArray(
            _ar1(rng, (4, 5, 160), 0.4), dims=("chain", "level", "draw")
        ),
    }
    cases["nan draw"] = cases["nan draw"].rename({"dim_0": "chain", "dim_1": "draw"})
    return cases


CASES = _cases()


@pytest.mark.parametrize("name", list(CASES))
def test_rhat_and_ess_equal_arviz_stats_exactly(name):
    da = CASES[name]
    with np.errstate(invalid="ignore", divide="ignore"):  # constant draws: 0/0 in both
        rhat, bulk, tail = convergence_arrays(da)
        expected = (
            arviz_stats.rhat(da),
            arviz_stats.ess(da, method="bulk"),
            arviz_stats.ess(da, method="tail"),
        )
    for ours, theirs in zip((rhat, bulk, tail), expected, strict=True):
        assert ours.shape == theirs.shape
        np.testing.assert_array_equal(ours, theirs.values, strict=True)


def test_the_cases_cover_finite_and_undefined_values():
    rhat_normal, _, _ = convergence_arrays(CASES["normal"])
    assert np.isfinite(rhat_normal) and abs(float(rhat_normal) - 1) < 0.02
    rhat_shifted, _, _ = convergence_arrays(CASES["shifted chain"])
    assert float(rhat_shifted) > 1.3
    for name in ("nan draw", "three draws"):
        assert all(np.isnan(a) for a in convergence_arrays(CASES[name]))
    rhat_one, bulk_one, _ = convergence_arrays(CASES["one chain"])
    assert np.isnan(rhat_one) and np.isfinite(bulk_one)
    with np.errstate(invalid="ignore", divide="ignore"):
        rhat_constant, bulk_constant, _ = convergence_arrays(CASES["constant"])
    assert np.isnan(rhat_constant)
    assert float(bulk_constant) == 400.0
