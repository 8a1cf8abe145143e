"""Moderation-figure data, checked against the hand formula per draw."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from fake_posterior import (
    as_fit,
    make_prepared,
    make_terms,
    moderation_draws,
    raw_diary,
    terms_for,
    with_transform,
)

from ambidex_bayes.errors import AmbidexError, ModelError
from ambidex_bayes.results import default_x_range, moderation_lines


@pytest.fixture(scope="module")
def fit():
    terms = make_terms()
    tree, arrays = moderation_draws(7, terms=terms)
    return tree, terms, arrays


def _raw_x(prepared):
    """Raw x per row and person means, rebuilt from the prepared columns."""
    frame = prepared.frame
    pm = frame["pid"].map(prepared.person_means["unc"])
    return frame["unc_cw"] * prepared.transforms["unc_cw"].scale + pm, prepared.person_means["unc"]


def _hand(arrays, x, wc, *, pm, x_scale, y_scale, y_centre, xbar_c=0.0):
    mu = (
        arrays["Intercept"]
        + arrays["sup_c"] * wc
        + arrays["unc_pm"] * xbar_c
        + (arrays["unc_cw"] + arrays["unc_cw:sup_c"] * wc) * (x - pm) / x_scale
    )
    return (mu * y_scale + y_centre).reshape(-1)


def test_values_equal_hand_formula_on_original_scale(fit):
    tree, _, arrays = fit
    prepared = make_prepared(standardize=True)
    terms = terms_for(prepared)
    tx, ty = prepared.transforms["unc_cw"], prepared.transforms["inno_z"]
    assert abs(tx.scale - 1.0) > 0.1 and abs(ty.scale - 1.0) > 0.1 and ty.centre > 1.0
    lines = moderation_lines(
        as_fit(tree, terms, prepared), x_range=(1.0, 5.0), n_points=5, prob=0.9
    )
    assert list(lines.columns) == [
        "x",
        "moderator_label",
        "moderator",
        "mean",
        "ci_lower",
        "ci_upper",
    ]
    assert len(lines) == 10
    assert lines["moderator_label"].unique().tolist() == ["-1 SD", "+1 SD"]
    np.testing.assert_allclose(lines["x"].unique(), [1.0, 2.0, 3.0, 4.0, 5.0])
    stats = prepared.moderator_stats.loc["sup"]
    pm = prepared.person_means["unc"].mean()
    for label, sign in (("-1 SD", -1.0), ("+1 SD", 1.0)):
        row = lines[(lines["moderator_label"] == label) & (lines["x"] == 4.0)].iloc[0]
        raw_w = stats["mean_over_persons"] + sign * stats["sd_over_persons"]
        assert row["moderator"] == pytest.approx(raw_w)
        # the moderator is standardised over persons: +-1 SD is +-1 in model units
        expected = _hand(
            arrays, 4.0, sign, pm=pm, x_scale=tx.scale, y_scale=ty.scale, y_centre=ty.centre
        )
        assert row["mean"] == pytest.approx(expected.mean())
        assert row["ci_lower"] == pytest.approx(np.quantile(expected, 0.05))
        assert row["ci_upper"] == pytest.approx(np.quantile(expected, 0.95))
    assert lines.attrs["moderator_name"] == "sup"
    assert lines.attrs["x_name"] == "unc"
    assert lines.attrs["y_name"] == "inno"
    assert lines.attrs["person_mean"] == pytest.approx(
        raw_diary().groupby("pid")["unc"].mean().mean()
    )
    assert lines.attrs["person_mean"] == pytest.approx(pm)


def test_lines_cross_at_the_average_person_mean_only_through_the_moderator_effect(fit):
    tree, terms, arrays = fit
    prepared = make_prepared()
    pm = prepared.person_means["unc"].mean()
    lines = moderation_lines(
        as_fit(tree, terms, prepared), x_range=(pm - 1.0, pm + 1.0), n_points=3
    )
    at_pm = lines[np.isclose(lines["x"], pm)].set_index("moderator_label")["mean"]
    sd_w = prepared.moderator_stats.loc["sup", "sd_over_persons"]
    # at x = average person mean the slope drops out: difference is g01 * 2 SD
    assert at_pm["+1 SD"] - at_pm["-1 SD"] == pytest.approx(arrays["sup_c"].mean() * 2 * sd_w)


def test_between_term_uses_the_average_person_mean_in_its_own_units(fit):
    tree, terms, arrays = fit
    prepared = with_transform(make_prepared(), "unc_pm", centre=2.0)
    pm = prepared.person_means["unc"].mean()
    lines = moderation_lines(
        as_fit(tree, terms, prepared), at=[3.0], x_range=(2.0, 4.0), n_points=3
    )
    wc = 3.0 - prepared.moderator_stats.loc["sup", "mean_over_persons"]
    expected = _hand(
        arrays, 4.0, wc, pm=pm, x_scale=1.0, y_scale=1.0, y_centre=0.0, xbar_c=pm - 2.0
    )
    assert lines.iloc[-1]["mean"] == pytest.approx(expected.mean())
    assert lines["moderator_label"].unique().tolist() == ["at 3"]


def test_default_range_is_average_person_mean_plus_minus_two_within_sds():
    prepared = make_prepared(standardize=True)
    x, person_means = _raw_x(prepared)
    deviations = x - prepared.frame["pid"].map(person_means)
    pooled = np.sqrt((deviations**2).sum() / (len(x) - len(person_means)))
    centre = person_means.mean()
    low, high = default_x_range(make_terms(), prepared)
    assert low == pytest.approx(centre - 2 * pooled)
    assert high == pytest.approx(centre + 2 * pooled)


def test_default_range_is_clipped_to_the_declared_range(fit):
    tree, terms, _ = fit
    unclipped = default_x_range(terms, make_prepared(x_range=(1.0, 5.0)))
    assert 1.0 < unclipped[0] and unclipped[1] < 5.0  # a wide declared range leaves it alone
    assert unclipped == default_x_range(terms, make_prepared())
    # a declared range narrower than the default band (as on a short response scale)
    base = make_prepared()
    narrow = replace(base, mapping=replace(base.mapping, ranges={"unc": (1.0, 3.5)}))
    assert unclipped[1] > 3.5  # the clip must bite
    lines = moderation_lines(as_fit(tree, terms, narrow), n_points=11)
    assert lines["x"].max() == pytest.approx(3.5)
    assert lines["x"].min() == pytest.approx(unclipped[0])


def test_without_slope_it_is_a_model_error(fit):
    terms = make_terms(slope=False, random_slope=False)
    tree, _ = moderation_draws(8, terms=terms)
    with pytest.raises(ModelError, match="no within-person slope term"):
        moderation_lines(as_fit(tree, terms, make_prepared()))


@pytest.mark.parametrize("x_range", [(3.0, 1.0), (1.0,), (0.0, np.inf)])
def test_bad_x_range_is_refused(fit, x_range):
    tree, terms, _ = fit
    with pytest.raises(AmbidexError, match="x_range must be two"):
        moderation_lines(as_fit(tree, terms, make_prepared()), x_range=x_range)


def test_bad_n_points_is_refused(fit):
    tree, terms, _ = fit
    with pytest.raises(AmbidexError, match="n_points must be an integer of at least 2"):
        moderation_lines(as_fit(tree, terms, make_prepared()), n_points=1)
