"""The moderation curve, the standardised scale, percentiles and slope differences, the
within/between effects and the report section, checked against hand computations on known
draws."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from fake_posterior import (
    PERSON_DIM,
    as_fit,
    make_prepared,
    make_terms,
    moderation_draws,
    raw_diary,
    terms_for,
)

from ambidex_bayes.errors import AmbidexError, ModelError
from ambidex_bayes.moderation import (
    STANDARDISED_CONVENTION,
    moderation_curve,
    moderator_by_person,
    report_section,
    slope_scales,
    standardise_simple_slopes,
    within_between,
)
from ambidex_bayes.moderation.slopes import ExtrapolationWarning, slope_differences
from ambidex_bayes.results import simple_slopes

# the fake diary's moderator, one value per person: a..f
W = {"a": 3.0, "b": 4.0, "c": 2.5, "d": 4.5, "e": 3.5, "f": 2.0}
W_MEAN = np.mean(list(W.values()))
W_SD = np.std(list(W.values()), ddof=1)


@pytest.fixture(scope="module")
def fit():
    """Known draws whose persons are the fake diary's persons a..f."""
    terms = make_terms()
    tree, arrays = moderation_draws(21, terms=terms, n_persons=len(W))
    posterior = tree["posterior"].to_dataset().assign_coords({PERSON_DIM: list(W)})
    return xr.DataTree.from_dict({"posterior": posterior}), terms, arrays


@pytest.fixture(scope="module")
def prepared():
    return make_prepared()


def _flat(values):
    return np.asarray(values).reshape(-1)


def test_curve_equals_g10_plus_g11_w_at_every_grid_value(fit, prepared):
    tree, terms, arrays = fit
    curve = moderation_curve(as_fit(tree, terms, prepared), n_points=11, prob=0.9)
    table = curve.table
    grid = np.linspace(2.0, 4.5, 11)  # the observed range of the moderator over persons
    np.testing.assert_allclose(table["moderator"], grid)
    np.testing.assert_allclose(table["moderator_centred"], grid - W_MEAN)
    np.testing.assert_allclose(table["moderator_sd_units"], (grid - W_MEAN) / W_SD)
    g10, g11 = _flat(arrays["unc_cw"]), _flat(arrays["unc_cw:sup_c"])
    for i, w in enumerate(grid):
        slope = g10 + g11 * (w - W_MEAN)
        row = table.iloc[i]
        assert row["median"] == pytest.approx(np.median(slope))
        assert row["mean"] == pytest.approx(slope.mean())
        assert row["ci_lower"] == pytest.approx(np.quantile(slope, 0.05))
        assert row["ci_upper"] == pytest.approx(np.quantile(slope, 0.95))
        assert row["p_positive"] == pytest.approx(np.mean(slope > 0))
    assert curve.draws.dims == ("chain", "draw", "moderator")
    np.testing.assert_allclose(
        curve.draws.isel(moderator=0).values,
        arrays["unc_cw"] + arrays["unc_cw:sup_c"] * (2.0 - W_MEAN),
    )
    # P(slope > 0) rises along the moderator, as g11 ~ N(0.3, 0.05) is positive
    assert table["p_positive"].iloc[0] < 0.05 and table["p_positive"].iloc[-1] == 1.0
    assert table.attrs["observed_min"] == 2.0 and table.attrs["observed_max"] == 4.5
    assert "person effects set to zero" in curve.description
    assert "bambi.interpret" in curve.description
    assert sorted(curve.observed.to_dict().items()) == sorted(W.items())


def test_curve_on_a_chosen_range_says_it_extrapolates(fit, prepared):
    tree, terms, _ = fit
    with pytest.warns(ExtrapolationWarning, match="goes beyond the data"):
        curve = moderation_curve(as_fit(tree, terms, prepared), n_points=5, w_range=(1.0, 5.0))
    np.testing.assert_allclose(curve.table["moderator"], [1.0, 2.0, 3.0, 4.0, 5.0])
    assert "extrapolation" in curve.description
    with pytest.raises(AmbidexError, match="low < high"):
        moderation_curve(as_fit(tree, terms, prepared), w_range=(4.0, 3.0))
    with pytest.raises(AmbidexError, match="n_points"):
        moderation_curve(as_fit(tree, terms, prepared), n_points=1)
    with pytest.raises(AmbidexError, match="scale must be one of"):
        moderation_curve(as_fit(tree, terms, prepared), scale="z")


def test_standardised_factor_is_within_sd_of_x_over_sd_of_y(prepared):
    raw = raw_diary()
    within = raw["unc"] - raw.groupby("pid")["unc"].transform("mean")
    scales = slope_scales(make_terms(), prepared)
    assert scales.sd_x_within == pytest.approx(within.std(ddof=1))
    assert scales.sd_y == pytest.approx(raw["inno"].std(ddof=1))
    means = raw.groupby("pid")["unc"].mean()
    assert scales.sd_x_between == pytest.approx(means.std(ddof=1))
    assert scales.within_to_standardised == pytest.approx(
        within.std(ddof=1) / raw["inno"].std(ddof=1)
    )
    assert scales.mean_w == pytest.approx(W_MEAN) and scales.sd_w == pytest.approx(W_SD)


def test_standardised_curve_of_a_standardised_fit_is_its_coefficients(fit):
    """On standardised data the model's own coefficients are the standardised slopes."""
    tree, _, arrays = fit
    prepared = make_prepared(standardize=True)
    terms = terms_for(prepared)
    original = moderation_curve(as_fit(tree, terms, prepared), n_points=3)
    standard = moderation_curve(as_fit(tree, terms, prepared), n_points=3, scale="standardised")
    wc = (np.array([2.0, 3.25, 4.5]) - W_MEAN) / W_SD  # the moderator is standardised too
    for i in range(3):
        model_scale = arrays["unc_cw"] + arrays["unc_cw:sup_c"] * wc[i]
        np.testing.assert_allclose(standard.draws.isel(moderator=i).values, model_scale)
    ratio = original.table["median"] / standard.table["median"]
    factor = prepared.transforms["inno_z"].scale / prepared.transforms["unc_cw"].scale
    np.testing.assert_allclose(ratio, factor)
    assert set(standard.table["scale"]) == {"standardised"}
    assert "SD_x / SD_y" in standard.description


def test_standardised_simple_slopes_scale_every_draw(fit, prepared):
    tree, terms, arrays = fit
    slopes = simple_slopes(as_fit(tree, terms, prepared))
    standard = standardise_simple_slopes(as_fit(tree, terms, prepared), slopes)
    factor = slope_scales(terms, prepared).within_to_standardised
    np.testing.assert_allclose(standard.draws.values, slopes.draws.values * factor)
    np.testing.assert_allclose(standard.table["median"], slopes.table["median"] * factor)
    np.testing.assert_allclose(standard.table["ci_upper"], slopes.table["ci_upper"] * factor)
    np.testing.assert_allclose(standard.table["p_positive"], slopes.table["p_positive"])
    assert set(standard.table["scale"]) == {"standardised"}
    assert standard.table.attrs["convention"] == STANDARDISED_CONVENTION
    with pytest.raises(AmbidexError, match="already standardised"):
        standardise_simple_slopes(as_fit(tree, terms, prepared), standard)


def test_percentiles_are_taken_over_persons(fit, prepared):
    tree, terms, arrays = fit
    result = simple_slopes(as_fit(tree, terms, prepared), percentiles=[10, 50, 90])
    expected = np.percentile(list(W.values()), [10, 50, 90])
    assert result.table["moderator_label"].tolist() == ["P10", "P50", "P90"]
    np.testing.assert_allclose(result.table["moderator"], expected)
    slope = arrays["unc_cw"] + arrays["unc_cw:sup_c"] * (expected[2] - W_MEAN)
    assert result.table.loc[2, "median"] == pytest.approx(np.median(slope))
    with pytest.raises(AmbidexError, match="not both"):
        simple_slopes(as_fit(tree, terms, prepared), at=[3.0], percentiles=[50])
    with pytest.raises(AmbidexError, match="between 0 and 100"):
        simple_slopes(as_fit(tree, terms, prepared), percentiles=[50, 120])


def test_moderator_by_person_needs_the_rows(prepared):
    values = moderator_by_person(make_terms(), prepared)
    assert values.to_dict() == W
    assert values.name == "sup"
    empty = replace(prepared, frame=prepared.frame.iloc[0:0])
    with pytest.raises(ModelError, match="moderator value of each person is unknown"):
        moderator_by_person(make_terms(), empty)


def test_difference_high_minus_low_is_g11_times_the_distance(fit, prepared):
    tree, terms, arrays = fit
    slopes = simple_slopes(as_fit(tree, terms, prepared), prob=0.9)
    diff = slope_differences(slopes)
    assert len(diff) == 1
    row = diff.iloc[0]
    assert row["contrast"] == "+1 SD \u2212 -1 SD"
    assert row["moderator_difference"] == pytest.approx(2 * W_SD)
    expected = _flat(arrays["unc_cw:sup_c"]) * 2 * W_SD
    assert row["median"] == pytest.approx(np.median(expected))
    assert row["ci_lower"] == pytest.approx(np.quantile(expected, 0.05))
    assert row["ci_upper"] == pytest.approx(np.quantile(expected, 0.95))
    assert row["p_positive"] == 1.0
    # a chosen pair, and a new person's slopes: the shared person part cancels
    new = simple_slopes(as_fit(tree, terms, prepared), which="new_person")
    pair = slope_differences(new, pairs=[("mean", "-1 SD")])
    assert pair.loc[0, "median"] == pytest.approx(np.median(_flat(arrays["unc_cw:sup_c"]) * W_SD))
    assert pair.loc[0, "which"] == "new_person"
    with pytest.raises(AmbidexError, match="No simple slope is labelled 'high'"):
        slope_differences(slopes, pairs=[("high", "-1 SD")])
    one = simple_slopes(as_fit(tree, terms, prepared), at=[3.0])
    with pytest.raises(AmbidexError, match="at least two moderator values"):
        slope_differences(one)


def test_within_between_and_contextual_per_draw(fit, prepared):
    tree, terms, arrays = fit
    result = within_between(as_fit(tree, terms, prepared), prob=0.9)
    table = result.table.set_index("effect")
    g10, g02 = _flat(arrays["unc_cw"]), _flat(arrays["unc_pm"])
    for name, values in (("within", g10), ("between", g02), ("contextual", g02 - g10)):
        assert table.loc[name, "median"] == pytest.approx(np.median(values))
        assert table.loc[name, "ci_lower"] == pytest.approx(np.quantile(values, 0.05))
        assert table.loc[name, "p_positive"] == pytest.approx(np.mean(values > 0))
    assert "at the mean moderator" in table.loc["within", "meaning"]
    assert result.reliability == pytest.approx(prepared.person_mean_reliability["unc"])
    assert result.warnings == ()
    assert "between minus within" in result.description
    # standardised: within by SD_x/SD_y, between and contextual by SD_xbar/SD_y
    scales = slope_scales(terms, prepared)
    standard = within_between(as_fit(tree, terms, prepared), scale="standardised").table
    standard = standard.set_index("effect")
    assert standard.loc["within", "median"] == pytest.approx(
        np.median(g10) * scales.within_to_standardised
    )
    assert standard.loc["contextual", "median"] == pytest.approx(
        np.median(g02 - g10) * scales.between_to_standardised
    )


def test_contextual_effect_is_taken_in_original_units_when_standardised(fit):
    """Within part and person means are standardised by different SDs: subtract in raw units."""
    tree, _, arrays = fit
    prepared = make_prepared(standardize=True)
    terms = terms_for(prepared)
    result = within_between(as_fit(tree, terms, prepared)).table.set_index("effect")
    t = prepared.transforms
    within = _flat(arrays["unc_cw"]) * t["inno_z"].scale / t["unc_cw"].scale
    between = _flat(arrays["unc_pm"]) * t["inno_z"].scale / t["unc_pm"].scale
    assert result.loc["contextual", "median"] == pytest.approx(np.median(between - within))


def test_ludtke_warning_travels_with_the_effects(fit, prepared):
    tree, terms, _ = fit
    warned = replace(
        prepared,
        warnings=(
            "The observed person means of 'unc' are unreliable (lambda = 0.40 < 0.70).",
            "Something about 'other'.",
        ),
    )
    result = within_between(as_fit(tree, terms, warned))
    assert result.warnings == (warned.warnings[0],)
    assert "Lüdtke" in result.description


def test_within_between_needs_the_person_mean(prepared):
    terms = make_terms(between=False)
    tree, _ = moderation_draws(3, terms=terms)
    with pytest.raises(ModelError, match="no person-mean term"):
        within_between(as_fit(tree, terms, prepared))


def test_curve_needs_a_moderator(prepared):
    terms = replace(make_terms(interaction=False, moderator=False), w_column=None)
    tree, _ = moderation_draws(4, terms=terms)
    with pytest.raises(ModelError, match="no level-2 moderator"):
        moderation_curve(as_fit(tree, terms, prepared))


def test_report_section_writes_files_and_markdown(fit, prepared, tmp_path):
    tree, terms, _ = fit
    slopes = simple_slopes(as_fit(tree, terms, prepared))
    fake = SimpleNamespace(idata=tree, terms=terms, prepared=prepared)
    analysis = SimpleNamespace(moderation_model="M3", fits={"M3": fake}, slopes=slopes)
    figures, tables = tmp_path / "figures", tmp_path / "tables"
    figures.mkdir()
    tables.mkdir()
    lines = report_section(analysis, figures, tables)
    text = "\n".join(lines)
    assert lines[0] == "## Moderation in depth"
    assert "![moderation curve](figures/moderation_curve.png)" in text
    assert "![person slopes](figures/person_slopes.png)" in text
    assert "Johnson–Neyman" in text
    for name in ("moderation_curve", "boundary_posterior", "person_slopes"):
        assert (figures / f"{name}.png").stat().st_size > 5000
    curve = pd.read_csv(tables / "moderation_curve.csv")
    assert set(curve["scale"]) == {"original", "standardised"}
    both = pd.read_csv(tables / "simple_slopes_both_scales.csv")
    assert both["moderator_label"].tolist() == ["-1 SD", "mean", "+1 SD"] * 2
    np.testing.assert_allclose(
        both.loc[both["scale"] == "original", "median"], slopes.table["median"]
    )
    persons = pd.read_csv(tables / "person_slopes.csv")
    assert len(persons) == 2 * len(W)  # both scales
    assert sorted(persons["person"].unique()) == sorted(W)
    assert (tables / "within_between.csv").exists()


def test_report_section_keeps_raw_moderator_values_of_the_analysis(fit, prepared, tmp_path):
    tree, terms, _ = fit
    slopes = simple_slopes(as_fit(tree, terms, prepared), at=[2.5, 4.0])
    fake = SimpleNamespace(idata=tree, terms=terms, prepared=prepared)
    analysis = SimpleNamespace(moderation_model="M3", fits={"M3": fake}, slopes=slopes)
    report_section(analysis, tmp_path, tmp_path)
    differences = pd.read_csv(tmp_path / "slope_differences.csv")
    assert differences["contrast"].tolist() == ["at 4 \u2212 at 2.5"] * 2


def test_report_section_without_interaction_says_so(tmp_path):
    analysis = SimpleNamespace(moderation_model=None, fits={}, slopes=None)
    lines = report_section(analysis, tmp_path, tmp_path)
    assert "No model with a cross-level interaction" in "\n".join(lines)
    assert list(tmp_path.iterdir()) == []


def test_moderation_results_notes_the_parts_a_model_lacks(prepared):
    from ambidex_bayes.moderation import moderation_results

    terms = make_terms(random_slope=False, between=False)
    tree, _ = moderation_draws(7, terms=terms)
    results = moderation_results(as_fit(tree, terms, prepared), model="M3b")
    assert results.persons is None and results.effects is None
    assert any("no person-specific slopes" in note for note in results.notes)
    assert any("no person-mean term" in note for note in results.notes)
    assert "person_slopes" not in results.tables()
    no_interaction = make_terms(interaction=False)
    tree, _ = moderation_draws(8, terms=no_interaction)
    with pytest.raises(ModelError, match="no cross-level interaction"):
        moderation_results(as_fit(tree, no_interaction, prepared))
