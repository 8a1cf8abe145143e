"""Simple slopes, checked per draw against g10 + g11*w computed by hand."""

from __future__ import annotations

import numpy as np
import pytest
from fake_posterior import (
    CHAINS,
    DRAWS,
    as_fit,
    make_prepared,
    make_terms,
    moderation_draws,
    terms_for,
)

from ambidex_bayes.errors import AmbidexError, ModelError
from ambidex_bayes.results import SimpleSlopes, moderator_grid, simple_slopes


@pytest.fixture(scope="module")
def fit():
    terms = make_terms()
    tree, arrays = moderation_draws(2, terms=terms, u1_shift=0.15)
    return tree, terms, arrays


@pytest.fixture(scope="module")
def prepared():
    return make_prepared()


def _w_stats(prepared):
    stats = prepared.moderator_stats.loc["sup"]
    return stats["mean_over_persons"], stats["sd_over_persons"]


def test_population_slopes_at_plus_minus_one_sd_equal_hand_computation(fit, prepared):
    tree, terms, arrays = fit
    mean_w, sd_w = _w_stats(prepared)
    result = simple_slopes(as_fit(tree, terms, prepared), prob=0.9)
    assert isinstance(result, SimpleSlopes)
    table = result.table
    assert table["moderator_label"].tolist() == ["-1 SD", "mean", "+1 SD"]
    np.testing.assert_allclose(table["moderator"], [mean_w - sd_w, mean_w, mean_w + sd_w])
    np.testing.assert_allclose(table["moderator_centred"], [-sd_w, 0.0, sd_w])
    g10, g11 = arrays["unc_cw"], arrays["unc_cw:sup_c"]
    for label, wc in (("-1 SD", -sd_w), ("mean", 0.0), ("+1 SD", sd_w)):
        expected = (g10 + g11 * wc).reshape(-1)
        row = table.set_index("moderator_label").loc[label]
        assert row["mean"] == pytest.approx(expected.mean())
        assert row["median"] == pytest.approx(np.median(expected))
        assert row["sd"] == pytest.approx(expected.std(ddof=1))
        assert row["ci_lower"] == pytest.approx(np.quantile(expected, 0.05))
        assert row["ci_upper"] == pytest.approx(np.quantile(expected, 0.95))
        assert row["p_positive"] == pytest.approx(np.mean(expected > 0))
        np.testing.assert_allclose(result.draws.sel(moderator=label).values, g10 + g11 * wc)
    assert set(table["which"]) == {"population"}
    assert set(table["scale"]) == {"original"}
    assert result.draws.dims == ("chain", "draw", "moderator")
    assert result.draws.shape == (CHAINS, DRAWS, 3)
    np.testing.assert_allclose(result.draws["moderator_value"], table["moderator"])
    # the slope grows with the moderator, as g11 ~ N(0.3, 0.05) says
    assert table["mean"].is_monotonic_increasing
    assert "person effects set to zero" in result.description
    assert "bambi.interpret" in result.description


def test_raw_at_values_are_centred_at_the_mean_over_persons(fit, prepared):
    tree, terms, arrays = fit
    mean_w, _ = _w_stats(prepared)
    result = simple_slopes(as_fit(tree, terms, prepared), at=[2.5, 4.0])
    table = result.table
    assert table["moderator_label"].tolist() == ["at 2.5", "at 4"]
    np.testing.assert_allclose(table["moderator_centred"], [2.5 - mean_w, 4.0 - mean_w])
    expected = arrays["unc_cw"] + arrays["unc_cw:sup_c"] * (4.0 - mean_w)
    assert table.loc[1, "mean"] == pytest.approx(expected.mean())


def test_slopes_are_converted_to_original_units_when_standardised(fit):
    tree, _, arrays = fit
    prepared = make_prepared(standardize=True)
    terms = terms_for(prepared)
    assert terms.y_column == "inno_z"
    factor = prepared.transforms["inno_z"].scale / prepared.transforms["unc_cw"].scale
    assert abs(factor - 1.0) > 0.1  # the conversion must matter
    result = simple_slopes(as_fit(tree, terms, prepared), sds=(-1.0, 1.0))
    # moderator standardised over persons: -1 SD is -1 in model units
    np.testing.assert_allclose(result.table["moderator_centred"], [-1.0, 1.0])
    stats = prepared.moderator_stats.loc["sup"]
    np.testing.assert_allclose(
        result.table["moderator"],
        [
            stats["mean_over_persons"] - stats["sd_over_persons"],
            stats["mean_over_persons"] + stats["sd_over_persons"],
        ],
    )
    expected = (arrays["unc_cw"] + arrays["unc_cw:sup_c"] * 1.0) * factor
    assert result.table.loc[1, "mean"] == pytest.approx(expected.mean())
    assert result.table.loc[1, "ci_upper"] == pytest.approx(np.quantile(expected, 0.975))


def test_observed_average_adds_the_mean_person_slope_deviation(fit, prepared):
    tree, terms, arrays = fit
    _, sd_w = _w_stats(prepared)
    result = simple_slopes(as_fit(tree, terms, prepared), which="observed_average")
    u1_mean = arrays["unc_cw|pid"].mean(axis=-1)
    expected = arrays["unc_cw"] + arrays["unc_cw:sup_c"] * sd_w + u1_mean
    np.testing.assert_allclose(result.draws.sel(moderator="+1 SD").values, expected)
    population = simple_slopes(as_fit(tree, terms, prepared))
    shift = result.table["mean"] - population.table["mean"]
    np.testing.assert_allclose(shift, u1_mean.mean())
    assert u1_mean.mean() == pytest.approx(0.15, abs=0.02)
    assert set(result.table["which"]) == {"observed_average"}
    assert "averaged over the observed persons" in result.description


def test_new_person_is_wider_centred_alike_and_seeded(fit, prepared):
    tree, terms, arrays = fit
    population = simple_slopes(as_fit(tree, terms, prepared))
    new = simple_slopes(as_fit(tree, terms, prepared), which="new_person", seed=11)
    again = simple_slopes(as_fit(tree, terms, prepared), which="new_person", seed=11)
    other = simple_slopes(as_fit(tree, terms, prepared), which="new_person", seed=12)
    assert (new.table["sd"] > population.table["sd"] * 2).all()
    # tau1 ~ 0.25: the predictive SD is about sqrt(sd_pop^2 + 0.25^2)
    expected_sd = np.sqrt(population.table["sd"] ** 2 + 0.25**2)
    np.testing.assert_allclose(new.table["sd"], expected_sd, rtol=0.05)
    np.testing.assert_allclose(new.table["mean"], population.table["mean"], atol=0.02)
    np.testing.assert_array_equal(new.draws.values, again.draws.values)
    assert not np.array_equal(new.draws.values, other.draws.values)
    # one u1_new per draw, shared by all moderator values: differences stay g11 * delta w
    diff = new.draws.isel(moderator=2) - new.draws.isel(moderator=0)
    _, sd_w = _w_stats(prepared)
    np.testing.assert_allclose(diff.values, arrays["unc_cw:sup_c"] * 2 * sd_w)
    assert "new person" in new.description


def test_new_person_without_random_slope_equals_population(prepared):
    terms = make_terms(random_slope=False)
    tree, _ = moderation_draws(3, terms=terms)
    new = simple_slopes(as_fit(tree, terms, prepared), which="new_person")
    population = simple_slopes(as_fit(tree, terms, prepared))
    np.testing.assert_allclose(new.draws.values, population.draws.values)
    assert "no person-specific slopes" in new.description


def test_without_interaction_the_slope_does_not_vary(prepared):
    terms = make_terms(interaction=False)
    tree, arrays = moderation_draws(4, terms=terms)
    result = simple_slopes(as_fit(tree, terms, prepared))
    assert result.table["mean"].nunique() == 1
    assert result.table.loc[0, "mean"] == pytest.approx(arrays["unc_cw"].mean())
    assert "does not vary with sup" in result.description


def test_without_slope_term_it_is_a_model_error(prepared):
    terms = make_terms(slope=False, random_slope=False)
    tree, _ = moderation_draws(5, terms=terms)
    with pytest.raises(ModelError, match="no within-person slope term"):
        simple_slopes(as_fit(tree, terms, prepared))


def test_observed_average_needs_person_slopes(prepared):
    terms = make_terms(random_slope=False)
    tree, _ = moderation_draws(6, terms=terms)
    with pytest.raises(ModelError, match="needs person-specific slopes"):
        simple_slopes(as_fit(tree, terms, prepared), which="observed_average")


def test_bad_options_are_refused(fit, prepared):
    tree, terms, _ = fit
    with pytest.raises(AmbidexError, match="which must be one of"):
        simple_slopes(as_fit(tree, terms, prepared), which="person")
    with pytest.raises(AmbidexError, match="repeats a value"):
        simple_slopes(as_fit(tree, terms, prepared), at=[3.0, 3.0])
    with pytest.raises(AmbidexError, match="at is empty"):
        simple_slopes(as_fit(tree, terms, prepared), at=[])
    with pytest.raises(AmbidexError, match="finite"):
        simple_slopes(as_fit(tree, terms, prepared), at=[np.nan])


def test_missing_moderator_stats_row_is_explained(prepared):
    from dataclasses import replace

    broken = replace(prepared, moderator_stats=prepared.moderator_stats.rename(index={"sup": "x"}))
    with pytest.raises(ModelError, match="no row for the moderator 'sup'"):
        moderator_grid(make_terms(), broken)
    # explicit raw values need no statistics
    grid = moderator_grid(make_terms(), broken, at=[3.0])
    assert grid["moderator_label"].tolist() == ["at 3"]
