"""The Bayesian Johnson–Neyman analysis: region ends and the boundary's posterior against
hand computations on known draws, the plain wording of empty and full regions, and on a
real fit the posterior of the boundary covering the true boundary."""

from __future__ import annotations

import importlib
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from fake_posterior import as_fit, make_prepared, make_terms, moderation_draws, posterior_tree
from scipy import optimize, stats

from ambidex_bayes.errors import AmbidexError, ModelError
from ambidex_bayes.moderation import (
    boundary_draws,
    johnson_neyman,
    moderation_curve,
    plot_boundary_posterior,
    plot_moderation_curve,
)

W_MEAN = 3.25  # mean over persons of the fake diary's moderator
W_LOW, W_HIGH = 2.0, 4.5  # its observed range


@pytest.fixture(scope="module")
def prepared():
    return make_prepared()


@pytest.fixture(scope="module")
def fit():
    """g10 ~ N(0.2, 0.05), g11 ~ N(0.3, 0.05), independent: zero slope near W = 2.58."""
    terms = make_terms()
    tree, arrays = moderation_draws(8, terms=terms)
    return tree, terms, arrays


def _tree(g10, g11, terms):
    return posterior_tree({terms.slope: g10, terms.interaction: g11})


def _first_index(values: np.ndarray, level: float) -> int:
    """Smallest k with k / S >= level, i.e. the rank that P must reach."""
    size = values.size
    return next(k for k in range(size + 1) if k / size >= level)


def test_boundary_draws_are_centre_minus_g10_over_g11(fit, prepared):
    tree, terms, arrays = fit
    draws = boundary_draws(as_fit(tree, terms, prepared))
    assert draws.dims == ("chain", "draw")
    np.testing.assert_allclose(draws.values, W_MEAN - arrays["unc_cw"] / arrays["unc_cw:sup_c"])


def test_boundary_summary_equals_hand_computation(fit, prepared):
    tree, terms, arrays = fit
    wstar = (W_MEAN - arrays["unc_cw"] / arrays["unc_cw:sup_c"]).reshape(-1)
    result = johnson_neyman(as_fit(tree, terms, prepared), prob=0.9)
    row = result.boundary.iloc[0]
    assert row["median"] == pytest.approx(np.median(wstar))
    assert row["ci_lower"] == pytest.approx(np.quantile(wstar, 0.05))
    assert row["ci_upper"] == pytest.approx(np.quantile(wstar, 0.95))
    in_range = np.mean((wstar >= W_LOW) & (wstar <= W_HIGH))
    assert row["share_in_observed_range"] == pytest.approx(in_range)
    assert 0.9 < in_range < 1.0  # some draws put it below the data: the check is not vacuous
    assert row["share_interaction_positive"] == 1.0
    sd_w = prepared.moderator_stats.loc["sup", "sd_over_persons"]
    assert row["median_sd_units"] == pytest.approx((np.median(wstar) - W_MEAN) / sd_w)
    assert (row["observed_min"], row["observed_max"]) == (W_LOW, W_HIGH)
    # g10 / g11 = 0.2 / 0.3: the boundary sits 2/3 below the mean moderator
    assert row["median"] == pytest.approx(W_MEAN - 2 / 3, abs=0.03)
    assert f"sup = {np.median(wstar):.3g}" in result.description


def _normal_root(g10: np.ndarray, g11: np.ndarray, sign: float, z: float) -> float:
    """Where mean +/- z*sd of the slope is zero (raw W), if the slope were normal with the
    draws' means and covariance: the textbook Johnson–Neyman equation."""
    m10, m11 = g10.mean(), g11.mean()
    cov = np.cov(g10, g11)

    def limit(w: float) -> float:
        wc = w - W_MEAN
        var = cov[0, 0] + 2 * wc * cov[0, 1] + wc**2 * cov[1, 1]
        return m10 + m11 * wc + sign * z * math.sqrt(var)

    return float(optimize.brentq(limit, 0.0, 6.0))  # the limit rises with w: one root


def test_interval_region_ends_are_where_the_interval_limit_is_zero(fit, prepared):
    tree, terms, arrays = fit
    g10, g11 = arrays["unc_cw"].reshape(-1), arrays["unc_cw:sup_c"].reshape(-1)
    result = johnson_neyman(as_fit(tree, terms, prepared), prob=0.95, n_points=51)
    regions = result.regions[result.regions["criterion"] == "interval"].set_index("direction")
    assert sorted(regions.index) == ["negative", "positive"]
    positive, negative = regions.loc["positive"], regions.loc["negative"]

    def limit(w: float, q: float) -> float:
        return float(np.quantile(g10 + g11 * (w - W_MEAN), q))

    # exact: the interval's lower limit is zero at the positive region's start ...
    assert limit(positive["lower"], 0.025) == pytest.approx(0.0, abs=1e-9)
    assert positive["upper"] == W_HIGH and bool(positive["upper_is_range_end"])
    # ... and its upper limit is zero at the negative region's end
    assert limit(negative["upper"], 0.975) == pytest.approx(0.0, abs=1e-9)
    assert negative["lower"] == W_LOW and bool(negative["lower_is_range_end"])
    # a brute-force search on a fine grid finds the same ends
    fine = np.linspace(W_LOW, W_HIGH, 5001)
    lows = np.array([limit(w, 0.025) for w in fine])
    assert positive["lower"] == pytest.approx(fine[np.argmax(lows > 0)], abs=6e-4)
    # the normal closed form agrees up to the draws' departure from normality
    z = stats.norm.ppf(0.975)
    assert positive["lower"] == pytest.approx(_normal_root(g10, g11, -1.0, z), abs=0.01)
    assert negative["upper"] == pytest.approx(_normal_root(g10, g11, +1.0, z), abs=0.01)
    share = (positive["upper"] - positive["lower"]) / (W_HIGH - W_LOW)
    assert positive["share_of_range"] == pytest.approx(share)


def test_probability_region_starts_at_an_order_statistic_of_the_boundary(fit, prepared):
    tree, terms, arrays = fit
    wstar = np.sort((W_MEAN - arrays["unc_cw"] / arrays["unc_cw:sup_c"]).reshape(-1))
    for level in (0.95, 0.8):
        result = johnson_neyman(as_fit(tree, terms, prepared), level=level)
        regions = result.regions[result.regions["criterion"] == "probability"]
        regions = regions.set_index("direction")
        k = _first_index(wstar, level)
        # P(slope > 0 at W) = share of draws with W above their boundary (all g11 > 0)
        assert regions.loc["positive", "lower"] == wstar[k - 1]
        assert regions.loc["negative", "upper"] == wstar[wstar.size - k]
        assert result.regions.attrs["level"] == level
    words = johnson_neyman(as_fit(tree, terms, prepared)).description
    assert "95% that the slope is positive for sup from" in words


def test_negative_interaction_puts_the_positive_region_at_low_moderator(prepared):
    terms = make_terms()
    rng = np.random.default_rng(3)
    g10 = rng.normal(0.2, 0.05, (4, 500))
    g11 = rng.normal(-0.3, 0.05, (4, 500))
    result = johnson_neyman(as_fit(_tree(g10, g11, terms), terms, prepared))
    positive = result.regions.set_index(["criterion", "direction"]).loc[("interval", "positive")]
    assert bool(positive["lower_is_range_end"]) and positive["lower"] == W_LOW
    wstar = np.sort((W_MEAN - g10 / g11).reshape(-1))
    probability = result.regions.set_index(["criterion", "direction"])
    k = _first_index(wstar, 0.95)
    assert probability.loc[("probability", "positive"), "upper"] == wstar[wstar.size - k]
    assert result.boundary.loc[0, "share_interaction_positive"] == 0.0
    assert "In 0% of the draws the slope grows" in result.description


def test_empty_region_is_said_plainly(prepared):
    terms = make_terms()
    rng = np.random.default_rng(4)
    tree = _tree(rng.normal(0.0, 0.5, (4, 500)), rng.normal(0.0, 0.5, (4, 500)), terms)
    result = johnson_neyman(as_fit(tree, terms, prepared))
    assert result.regions.empty
    assert list(result.regions.columns)[:4] == ["criterion", "direction", "lower", "upper"]
    assert (
        "Nowhere in the range of sup examined (2 to 4.5) does the 95% credible interval of "
        "the slope exclude zero: there is no Johnson–Neyman region." in result.description
    )
    assert "does P(slope > 0) or P(slope < 0) reach 95%" in result.description


def test_region_over_the_whole_range_is_said_plainly(prepared):
    terms = make_terms()
    rng = np.random.default_rng(5)
    tree = _tree(rng.normal(1.0, 0.05, (4, 500)), rng.normal(0.1, 0.02, (4, 500)), terms)
    result = johnson_neyman(as_fit(tree, terms, prepared))
    interval = result.regions[result.regions["criterion"] == "interval"]
    assert len(interval) == 1
    row = interval.iloc[0]
    assert (row["lower"], row["upper"]) == (W_LOW, W_HIGH)
    assert row["share_of_range"] == pytest.approx(1.0)
    assert (
        "Over the whole range of sup examined (2 to 4.5) the 95% credible interval of the "
        "slope lies above zero: the slope is credibly positive for every value, so there is "
        "no boundary inside it." in result.description
    )
    # the boundary lies far below the data: 3.25 - 1.0 / 0.1 = -6.75
    assert result.boundary.loc[0, "share_in_observed_range"] < 0.01
    assert "most likely keeps one sign" in result.description


def test_johnson_neyman_needs_the_interaction(prepared):
    terms = make_terms(interaction=False)
    tree, _ = moderation_draws(6, terms=terms)
    with pytest.raises(ModelError, match="no cross-level interaction"):
        johnson_neyman(as_fit(tree, terms, prepared))
    with pytest.raises(ModelError, match="no cross-level interaction"):
        boundary_draws(as_fit(tree, terms, prepared))


def test_bad_level_is_refused(fit, prepared):
    tree, terms, _ = fit
    for level in (0.4, 1.0, "high"):
        with pytest.raises(AmbidexError, match="level must"):
            johnson_neyman(as_fit(tree, terms, prepared), level=level)


def test_curve_plot_shades_the_regions_and_marks_the_boundary(fit, prepared):
    tree, terms, _ = fit
    result = johnson_neyman(as_fit(tree, terms, prepared))
    curve = moderation_curve(as_fit(tree, terms, prepared))
    ax = plot_moderation_curve(curve, johnson_neyman=result)
    labels = ax.get_legend_handles_labels()[1]
    assert "credibly positive" in labels and "credibly negative" in labels
    spans = [p for p in ax.patches if p.get_label() in ("credibly positive", "credibly negative")]
    assert len(spans) == 2
    marker = [line for line in ax.lines if line.get_label() == "slope = 0 (median)"]
    assert marker and marker[0].get_xdata()[0] == pytest.approx(result.boundary.loc[0, "median"])
    median = [line for line in ax.lines if line.get_label() == "posterior median"][0]
    np.testing.assert_allclose(median.get_ydata(), curve.table["median"])
    twins = [a for a in ax.figure.axes if a is not ax]
    assert len(twins) == 1 and twins[0].get_ylim() == (0.0, 1.0)
    np.testing.assert_allclose(twins[0].lines[0].get_ydata(), curve.table["p_positive"])
    plt.close(ax.figure)
    ax = plot_boundary_posterior(result)
    assert "of draws inside the observed range" in ax.get_title()
    plt.close(ax.figure)
    with pytest.raises(AmbidexError, match="must be the ModerationCurve"):
        plot_moderation_curve(result)


@pytest.mark.fit
def test_posterior_of_the_boundary_covers_the_true_boundary(m3_fit, small_study):
    """Strong interaction (g10 = 0.3, g11 = 0.5): the slope is zero at W = 3.4 - 0.6 = 2.8."""
    design = small_study.design
    true_boundary = design.w_mean - design.g10 / design.g11
    # prepare centres the moderator at its observed mean over persons, not at the
    # simulator's population mean, so the fitted g10 is the slope at that observed mean;
    # the boundary on the raw scale does not depend on the centring.
    centre = m3_fit.prepared.transforms[m3_fit.terms.w_column].centre
    assert centre == pytest.approx(small_study.truth["w_mean_persons"])
    assert abs(centre - design.w_mean) > 0.01
    result = johnson_neyman(m3_fit)
    row = result.boundary.iloc[0]
    assert row["ci_lower"] < true_boundary < row["ci_upper"]
    assert row["ci_upper"] - row["ci_lower"] < 1.0
    assert row["share_in_observed_range"] > 0.9
    positive = result.regions.set_index(["criterion", "direction"]).loc[("interval", "positive")]
    assert bool(positive["upper_is_range_end"])
    assert positive["lower"] > true_boundary - 0.3


@pytest.mark.fit
def test_command_and_report_section_on_a_real_fit(m3_fit, tmp_path, capsys, monkeypatch):
    report = importlib.import_module("ambidex_bayes.report")
    from ambidex_bayes.cli import main
    from ambidex_bayes.moderation.report_section import report_section
    from ambidex_bayes.pipeline import analysis_from_fits

    path = m3_fit.save(tmp_path / "m3.nc")
    out = tmp_path / "moderation"
    status = main(["moderation", str(path), "--percentiles", "10,90", "--out", str(out)])
    printed = capsys.readouterr().out
    assert status == 0
    assert "The slope is zero at leader_support" in printed
    assert "P90 \u2212 P10" in printed
    assert "credibly positive" in printed
    curve = pd.read_csv(out / "tables" / "moderation_curve.csv")
    assert set(curve["scale"]) == {"original", "standardised"}
    assert (out / "figures" / "moderation_curve.png").stat().st_size > 5000

    with pytest.raises(SystemExit):  # argparse: --at and --percentiles exclude each other
        main(["moderation", str(path), "--at", "3", "--percentiles", "50"])
    assert "not allowed with argument" in capsys.readouterr().err
    monkeypatch.setattr(report, "REPORT_SECTIONS", (report_section,))
    text = report.write_report(analysis_from_fits([m3_fit]), tmp_path / "report").read_text()
    assert "## Moderation in depth" in text
    assert "figures/moderation_curve.png" in text
    assert (tmp_path / "report" / "figures" / "person_slopes.png").exists()
    assert (tmp_path / "report" / "tables" / "johnson_neyman_boundary.csv").exists()
