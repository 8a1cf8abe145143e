"""Statistics and plots of simulation-based calibration, on simulated ranks.

Ranks of a calibrated model are drawn as discrete uniform, or produced by a conjugate
normal model whose exact posterior is known: theta ~ N(0, 1), y | theta ~ N(theta, 1),
so theta | y ~ N(y/2, 1/2). Shifting or rescaling that posterior gives ranks of a known
kind of miscalibration.
"""

from __future__ import annotations

import time

import matplotlib
import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom

from ambidex_bayes.design.sbc_plots import plot_rank_histograms, plot_sbc_ecdf
from ambidex_bayes.design.sbc_stats import (
    RankBands,
    ecdf_uniformity_test,
    rank_ecdf_bands,
    sbc_calibration,
)
from ambidex_bayes.errors import AmbidexError, ValidationError

matplotlib.use("Agg")


def _binomial_band_ok(rate: float, target: float, reps: int) -> bool:
    se = np.sqrt(target * (1 - target) / reps)
    return abs(rate - target) <= 4 * se


def conjugate_ranks(
    rng: np.random.Generator, n_sims: int, n_draws: int, *, shift: float = 0.0, scale: float = 1.0
) -> np.ndarray:
    """SBC ranks of the conjugate normal model, posterior shifted by ``shift`` and its sd
    multiplied by ``scale`` (shift 0, scale 1: the exact posterior)."""
    theta = rng.normal(size=n_sims)
    y = theta + rng.normal(size=n_sims)
    draws = rng.normal(y[:, None] / 2 + shift, np.sqrt(0.5) * scale, size=(n_sims, n_draws))
    return (draws < theta[:, None]).sum(axis=1)


def long_table(ranks_by_parameter: dict[str, np.ndarray]) -> pd.DataFrame:
    parts = [
        pd.DataFrame({"simulation": np.arange(r.size), "parameter": p, "rank": r})
        for p, r in ranks_by_parameter.items()
    ]
    return pd.concat(parts, ignore_index=True)


# --------------------------------------------------------------------------- bands


def test_bands_are_deterministic_cached_and_fast():
    start = time.perf_counter()
    first = rank_ecdf_bands(200, 99, seed=12345)
    assert time.perf_counter() - start < 1.0
    again = rank_ecdf_bands(200, 99, seed=12345)
    assert again.gamma == first.gamma
    np.testing.assert_array_equal(again.lower, first.lower)
    assert isinstance(first, RankBands)
    assert first.z.size == 100  # K = min(200, 99 + 1)
    np.testing.assert_allclose(first.z, np.arange(1, 101) / 100)
    assert rank_ecdf_bands(30, 99).z.size == 30  # K = min(30, 100)


def test_band_is_the_binomial_quantiles_at_gamma():
    n = 150
    bands = rank_ecdf_bands(n, 49, alpha=0.05)
    lower = binom.ppf(bands.gamma / 2, n, bands.z)
    upper = binom.ppf(1 - bands.gamma / 2, n, bands.z)
    band_lower, band_upper = np.round(bands.lower * n), np.round(bands.upper * n)
    # gamma is a simulated tail value, so where a boundary count attains it (or its mirror
    # image at 1 - z) a CDF value sits exactly on a quantile level, and rounding may move
    # ppf by one count; any difference must be such a tie
    for band, ppf, pick in ((band_lower, lower, min), (band_upper, upper, max)):
        differs = np.flatnonzero(band != ppf)
        assert differs.size <= 2
        for k in differs:
            assert abs(band[k] - ppf[k]) == 1
            edge = pick(band[k], ppf[k])  # the count inside one interval only
            tail = 2 * min(binom.cdf(edge, n, bands.z[k]), binom.sf(edge - 1, n, bands.z[k]))
            assert tail == pytest.approx(bands.gamma, rel=1e-9)
    # simultaneous: the pointwise level is much smaller than alpha; the band holds n * z
    assert 0 < bands.gamma < bands.alpha / 3
    assert np.all((bands.lower <= bands.z) & (bands.z <= bands.upper))


def test_smaller_alpha_gives_wider_band():
    wide = rank_ecdf_bands(100, 49, alpha=0.01)
    narrow = rank_ecdf_bands(100, 49, alpha=0.2)
    assert wide.gamma < narrow.gamma
    assert np.all(wide.lower <= narrow.lower) and np.all(wide.upper >= narrow.upper)
    assert np.any(wide.upper > narrow.upper)


@pytest.mark.parametrize(("n_ranks", "n_draws"), [(100, 49), (30, 99)])
def test_uniform_ranks_pass_at_rate_one_minus_alpha(n_ranks, n_draws):
    alpha, reps = 0.1, 400
    bands = rank_ecdf_bands(n_ranks, n_draws, alpha=alpha, seed=0)
    rng = np.random.default_rng(2024 + n_ranks)
    passes = [
        ecdf_uniformity_test(rng.integers(0, n_draws + 1, n_ranks), n_draws, bands).passes
        for _ in range(reps)
    ]
    assert _binomial_band_ok(float(np.mean(passes)), 1 - alpha, reps)


def test_pass_iff_min_tail_at_least_gamma_on_many_inputs():
    rng = np.random.default_rng(7)
    outcomes = set()
    for n_ranks, n_draws in [(60, 19), (40, 99), (120, 9)]:
        bands = rank_ecdf_bands(n_ranks, n_draws, alpha=0.05)
        for i in range(120):
            a, b = rng.uniform(0.4, 3.0, size=2) if i % 2 else (1.0, 1.0)
            u = rng.beta(a, b, size=n_ranks)
            ranks = np.minimum((u * (n_draws + 1)).astype(int), n_draws)
            test = ecdf_uniformity_test(ranks, n_draws, bands)
            inside = bool(np.all((test.ecdf >= bands.lower) & (test.ecdf <= bands.upper)))
            assert test.passes == inside == (test.min_tail_probability >= bands.gamma)
            outcomes.add(test.passes)
    assert outcomes == {True, False}


def test_shift_and_spread_of_known_ranks():
    n_draws = 9
    bands = rank_ecdf_bands(20, n_draws)
    # every rank uniform value once, twice: exact uniform moments
    exact = ecdf_uniformity_test(np.tile(np.arange(10), 2), n_draws, bands)
    assert exact.mean_rank_shift == pytest.approx(0.0, abs=1e-12)
    # sample variance ddof=1 of 20 values vs population variance of 10 values
    assert exact.spread_ratio == pytest.approx(20 / 19)
    ends = ecdf_uniformity_test(np.array([0, 9] * 10), n_draws, bands)
    assert ends.spread_ratio > 2.5 and ends.mean_rank_shift == pytest.approx(0.0, abs=1e-12)
    high = ecdf_uniformity_test(np.full(20, 9), n_draws, bands)
    assert high.mean_rank_shift == pytest.approx(1.0 - 0.55)
    assert not high.passes


# --------------------------------------------------------------------------- power, readings


@pytest.mark.parametrize(
    ("kind", "reading"),
    [
        ({"shift": -0.5}, "posterior biased low (ranks high)"),
        ({"shift": 0.5}, "posterior biased high (ranks low)"),
        ({"scale": 0.5}, "posterior too narrow (ranks at both ends)"),
        ({"scale": 2.0}, "posterior too wide (ranks in the middle)"),
    ],
)
def test_miscalibrated_posteriors_fail_and_are_read_right(kind, reading):
    rng = np.random.default_rng(11)
    readings = []
    for _ in range(15):
        ranks = long_table({"mu": conjugate_ranks(rng, 100, 99, **kind)})
        cal = sbc_calibration(ranks, 99)
        readings.append(cal.table["reading"].iloc[0])
        assert cal.calibrated == bool(cal.table["passes"].all())
    assert readings.count(reading) >= 14


def test_narrow_beta_shaped_ranks_fail():
    rng = np.random.default_rng(3)
    bands = rank_ecdf_bands(100, 99)
    fails = 0
    for _ in range(30):
        ranks = np.minimum((rng.beta(0.5, 0.5, 100) * 100).astype(int), 99)
        test = ecdf_uniformity_test(ranks, 99, bands)
        fails += not test.passes
        assert test.spread_ratio > 1
    assert fails >= 27


def test_exact_posterior_is_calibrated():
    rng = np.random.default_rng(5)
    ranks = long_table({p: conjugate_ranks(rng, 100, 99) for p in ["a", "b", "c"]})
    cal = sbc_calibration(ranks, 99, alpha=0.01)
    assert cal.calibrated
    assert list(cal.table["reading"]) == ["consistent with uniform"] * 3
    assert cal.verdict.startswith("Calibrated: the ranks of all 3 parameters")
    assert "100 simulations, 99 draws each" in cal.verdict
    assert "little power" not in cal.verdict


def test_family_wise_level_with_ten_parameters():
    alpha, reps, n_par = 0.1, 150, 10
    rng = np.random.default_rng(99)
    any_fail, any_fail_unadjusted = [], []
    per_param_bands = rank_ecdf_bands(60, 19, alpha=alpha)
    for _ in range(reps):
        draws = {f"p{i}": rng.integers(0, 20, 60) for i in range(n_par)}
        cal = sbc_calibration(long_table(draws), 19, alpha=alpha)
        any_fail.append(not cal.calibrated)
        any_fail_unadjusted.append(
            any(not ecdf_uniformity_test(r, 19, per_param_bands).passes for r in draws.values())
        )
        assert cal.bands_by_parameter["p0"].alpha == pytest.approx(alpha / n_par)
    assert np.mean(any_fail) < 2.5 * alpha
    assert np.mean(any_fail) > 0.0  # the level is used, not a test that never fails
    assert np.mean(any_fail_unadjusted) > 4 * alpha  # without the correction: about 0.65


# --------------------------------------------------------------------------- table, verdict


def test_table_order_failed_fits_and_verdict():
    rng = np.random.default_rng(21)
    ranks = long_table(
        {
            "sigma": conjugate_ranks(rng, 40, 99, scale=0.3),
            "Intercept": conjugate_ranks(rng, 40, 99),
        }
    )
    ranks["rank"] = ranks["rank"].astype(float)
    ranks.loc[(ranks["simulation"] == 3), "rank"] = np.nan  # one failed fit
    cal = sbc_calibration(ranks, 99)
    assert list(cal.table.columns) == [
        "parameter",
        "n",
        "passes",
        "min_tail_probability",
        "gamma",
        "mean_rank_shift",
        "spread_ratio",
        "reading",
    ]
    assert list(cal.table["parameter"]) == ["sigma", "Intercept"]
    assert list(cal.table["n"]) == [39, 39]
    assert cal.n_failed_fits == 1 and cal.n_dropped_ranks == 2
    assert cal.n_simulations == 39
    assert not cal.calibrated and cal.failing == ["sigma"]
    assert cal.verdict.startswith("Not calibrated: the ranks of sigma leave their 95%")
    assert "posterior too narrow" in cal.verdict and "divergences" in cal.verdict
    assert "little power" in cal.verdict  # 39 < 50 simulations
    assert "1 simulation(s) had failed fits" in cal.verdict
    assert cal.headline == cal.verdict.split(" Readings:")[0]


# --------------------------------------------------------------------------- errors


def _good_ranks() -> pd.DataFrame:
    return long_table({"a": np.arange(10), "b": np.arange(10)[::-1]})


def test_missing_columns_are_named():
    with pytest.raises(ValidationError, match=r"lacks the column\(s\) \['rank'\]"):
        sbc_calibration(_good_ranks().drop(columns="rank"), 9)


def test_ranks_outside_range_are_reported():
    ranks = _good_ranks()
    ranks.loc[0, "rank"] = 12
    with pytest.raises(ValidationError, match=r"outside 0\.\.9 \(parameter\(s\) a"):
        sbc_calibration(ranks, 9)
    ranks.loc[0, "rank"] = -1
    with pytest.raises(ValidationError, match="outside"):
        sbc_calibration(ranks, 9)


def test_fractional_and_duplicated_ranks_are_refused():
    ranks = _good_ranks().astype({"rank": float})
    ranks.loc[1, "rank"] = 2.5
    with pytest.raises(ValidationError, match="not whole numbers"):
        sbc_calibration(ranks, 9)
    doubled = pd.concat([_good_ranks(), _good_ranks().iloc[:1]])
    with pytest.raises(ValidationError, match="repeated"):
        sbc_calibration(doubled, 9)


def test_too_few_ranks_for_a_parameter():
    ranks = pd.concat(
        [_good_ranks(), pd.DataFrame({"simulation": [0, 1], "parameter": "c", "rank": [3, None]})]
    )
    with pytest.raises(ValidationError, match=r"at least 2 non-missing ranks[\s\S]*c: 1 rank"):
        sbc_calibration(ranks, 9)


def test_band_and_ranks_must_match():
    bands = rank_ecdf_bands(10, 9)
    with pytest.raises(AmbidexError, match="made for 10 ranks but 9"):
        ecdf_uniformity_test(np.arange(9), 9, bands)
    with pytest.raises(AmbidexError, match="n_draws = 9, not 19"):
        ecdf_uniformity_test(np.arange(10), 19, bands)
    with pytest.raises(AmbidexError, match="alpha"):
        rank_ecdf_bands(10, 9, alpha=1.5)
    with pytest.raises(AmbidexError, match="needs at least 1000 null simulations"):
        rank_ecdf_bands(10, 9, alpha=0.001, n_simulations=500)


# --------------------------------------------------------------------------- plots


def _visible_axes(fig) -> list:
    return [ax for ax in fig.axes if ax.get_visible()]


def test_plot_sbc_ecdf_has_one_panel_per_parameter_and_marks_failures():
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(8)
    ranks = long_table(
        {f"p{i}": conjugate_ranks(rng, 60, 49, scale=0.3 if i == 4 else 1.0) for i in range(5)}
    )
    cal = sbc_calibration(ranks, 49)
    fig = plot_sbc_ecdf(cal, ranks)
    axes = _visible_axes(fig)
    assert len(axes) == 5
    titles = [ax.get_title() for ax in axes]
    assert titles[:4] == ["p0", "p1", "p2", "p3"] and titles[4] == "p4 (fails)"
    assert fig.get_suptitle().replace("\n", " ") == cal.headline
    with pytest.raises(AmbidexError, match="does not match the calibration"):
        plot_sbc_ecdf(cal, ranks[ranks["parameter"] != "p0"])
    plt.close(fig)


def test_plot_rank_histograms_has_one_panel_per_parameter():
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(9)
    ranks = long_table({p: rng.integers(0, 100, 80) for p in "abc"})
    fig = plot_rank_histograms(ranks, 99)
    axes = _visible_axes(fig)
    assert len(axes) == 3
    # default bins hold every rank once: the bar heights add up to the number of ranks
    assert sum(p.get_height() for p in axes[0].patches) == 80
    plt.close(fig)
    fig = plot_rank_histograms(ranks, 99, bins=7)  # unequal bins (7 does not divide 100)
    assert len(_visible_axes(fig)[0].patches) == 7
    plt.close(fig)
    with pytest.raises(AmbidexError, match="bins"):
        plot_rank_histograms(ranks, 99, bins=0)
