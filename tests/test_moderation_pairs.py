"""Moderation for any (level-1 predictor, moderator) pair, and factor moderators.

A model with two level-1 predictors (``unc``, ``str``) and two moderators (``sup``, ``cli``)
on fake draws whose every coefficient has its own known distribution: the pair asked for
must be the pair whose draws come back, checked in closed form on the very same draws.
A factor moderator (hand-made coding, treatment and sum) gives per-level slopes and their
contrasts; the analyses along a numeric moderator refuse it.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from fake_pairs import (
    CLI,
    MEANS,
    PERSONS,
    SECTOR,
    SUP,
    factor_fit,
    first_pair_terms,
    pair_draws,
    pair_fit,
    prepared_pairs,
)
from fake_posterior import as_fit, posterior_tree

from ambidex_bayes.data.mapping import ColumnMapping
from ambidex_bayes.data.validate import validate
from ambidex_bayes.errors import AmbidexError, ModelError
from ambidex_bayes.model.moderation_roles import moderation_pairs, terms_for
from ambidex_bayes.moderation import (
    boundary_draws,
    johnson_neyman,
    moderation_curve,
    moderation_lines,
    person_slopes,
    simple_slopes,
    slope_differences,
    within_between,
)
from ambidex_bayes.prepare import prepare
from ambidex_bayes.terms import ModerationTerms


@pytest.fixture(scope="module", name="pair_fit")
def _pair_fit():
    return pair_fit()


# --- terms of any pair ---------------------------------------------------------------------


def test_the_first_pair_is_the_fit_s_own_terms(pair_fit):
    fit, _ = pair_fit
    assert terms_for(fit) is fit.terms
    assert terms_for(fit, "unc", "sup") is fit.terms
    assert terms_for(fit, "unc_cw", "sup_c") is fit.terms


@pytest.mark.parametrize(
    ("focal", "moderator", "x", "w", "xb"),
    [
        ("str", "cli", "str_cw", "cli_c", "str_pm"),
        ("str", None, "str_cw", "sup_c", "str_pm"),
        (None, "cli", "unc_cw", "cli_c", "unc_pm"),
    ],
)
def test_terms_name_the_pair_asked_for(pair_fit, focal, moderator, x, w, xb):
    fit, _ = pair_fit
    terms = terms_for(fit, focal, moderator)
    assert (terms.x_column, terms.w_column, terms.slope, terms.between) == (x, w, x, xb)
    assert terms.moderator == w
    assert terms.interaction == f"{x}:{w}"
    assert terms.group_slope == f"{x}|pid"
    assert terms.group_slope_sd == f"{x}|pid_sigma"
    assert terms.correlation == f"corr(1|pid,{x}|pid)"
    assert set(terms.fixed) == set(MEANS)  # no fixed effect lost or invented


def test_an_unknown_name_lists_the_choices_with_a_hint(pair_fit):
    fit, _ = pair_fit
    with pytest.raises(AmbidexError, match=r"focal='strs'.*did you mean 'str'.*unc, str"):
        terms_for(fit, focal="strs")
    with pytest.raises(AmbidexError, match=r"moderator='clim'.*did you mean 'cli'.*sup, cli"):
        simple_slopes(fit, moderator="clim")


def test_every_interaction_pair_is_listed(pair_fit):
    fit, _ = pair_fit
    assert moderation_pairs(fit) == [
        ("unc", "sup"),
        ("unc", "cli"),
        ("str", "sup"),
        ("str", "cli"),
    ]
    means = {k: v for k, v in MEANS.items() if k != "str_cw:sup_c"}
    tree = posterior_tree(pair_draws(means), persons=PERSONS)
    fewer = as_fit(tree, first_pair_terms(list(means)), fit.prepared)
    assert ("str", "sup") not in moderation_pairs(fewer)
    assert terms_for(fewer, "str", "sup").interaction is None


# --- the analyses read the pair asked for ---------------------------------------------------


def test_simple_slopes_of_a_chosen_pair_in_closed_form(pair_fit):
    fit, arrays = pair_fit
    prepared = fit.prepared
    at = [15.0, 35.0]
    slopes = simple_slopes(fit, focal="str", moderator="cli", at=at)
    tw = prepared.transforms["cli_c"]
    factor = prepared.slope_to_original("str_cw", "inno")
    for i, value in enumerate(at):
        wc = (value - tw.centre) / tw.scale
        expected = (arrays["str_cw"] + arrays["str_cw:cli_c"] * wc) * factor
        np.testing.assert_allclose(slopes.draws.isel(moderator=i).values, expected)
        assert slopes.table["mean"].iloc[i] == pytest.approx(expected.mean())
    assert slopes.table.attrs["x_name"] == "str"
    assert slopes.table.attrs["moderator_name"] == "cli"
    assert "inno on str" in slopes.description


def test_the_default_pair_is_unchanged(pair_fit):
    fit, _ = pair_fit
    pd.testing.assert_frame_equal(
        simple_slopes(fit).table, simple_slopes(fit, focal="unc", moderator="sup").table
    )


def test_boundary_curve_and_regions_of_a_chosen_pair(pair_fit):
    fit, arrays = pair_fit
    tw = fit.prepared.transforms["sup_c"]
    wstar = boundary_draws(fit, focal="str", moderator="sup")
    expected = tw.centre - tw.scale * arrays["str_cw"] / arrays["str_cw:sup_c"]
    np.testing.assert_allclose(wstar.values, expected)
    curve = moderation_curve(fit, focal="str", moderator="sup", n_points=5)
    low, high = min(SUP.values()), max(SUP.values())
    np.testing.assert_allclose(curve.table["moderator"], np.linspace(low, high, 5))
    wc = (high - tw.centre) / tw.scale
    slope_high = (arrays["str_cw"] + arrays["str_cw:sup_c"] * wc) * fit.prepared.slope_to_original(
        "str_cw", "inno"
    )
    assert curve.table["mean"].iloc[-1] == pytest.approx(slope_high.mean())
    jn = johnson_neyman(fit, focal="str", moderator="sup")
    assert jn.boundary["median"].iloc[0] == pytest.approx(np.nanmedian(expected))


def test_person_slopes_and_within_between_of_a_chosen_pair(pair_fit):
    fit, arrays = pair_fit
    prepared = fit.prepared
    persons = person_slopes(fit, focal="str", moderator="cli")
    tw = prepared.transforms["cli_c"]
    wc = (np.array([CLI[p] for p in PERSONS]) - tw.centre) / tw.scale
    factor = prepared.slope_to_original("str_cw", "inno")
    expected = (
        arrays["str_cw"][..., None] + arrays["str_cw:cli_c"][..., None] * wc + arrays["str_cw|pid"]
    ) * factor
    np.testing.assert_allclose(persons.draws.values, expected)
    np.testing.assert_allclose(persons.table["moderator"], [CLI[p] for p in PERSONS])
    effects = within_between(fit, focal="str")
    tb = prepared.transforms["str_pm"]
    ty, tx = prepared.transforms["inno"], prepared.transforms["str_cw"]
    between = arrays["str_pm"] * ty.scale / tb.scale
    row = effects.table.set_index("effect").loc["between"]
    assert row["mean"] == pytest.approx(between.mean())
    assert effects.table.attrs["x_name"] == "str"
    within = arrays["str_cw"] * ty.scale / tx.scale
    assert effects.table.set_index("effect").loc["within", "mean"] == pytest.approx(within.mean())


def test_moderation_lines_of_a_chosen_pair(pair_fit):
    fit, arrays = pair_fit
    lines = moderation_lines(fit, focal="str", moderator="cli", n_points=3)
    assert lines.attrs["x_name"] == "str"
    assert lines.attrs["moderator_name"] == "cli"
    base = moderation_lines(fit, n_points=3)
    assert not np.allclose(lines["mean"], base["mean"])


# --- factor moderators -----------------------------------------------------------------------


def test_factor_terms_record_the_coding():
    fit, _, coding = factor_fit("treatment")
    c1, c2 = coding.columns
    terms = terms_for(fit, moderator="sector")
    assert terms.factor_moderator and terms.moderated
    assert terms.w_column == "sector"
    assert terms.moderator is None and terms.interaction is None
    assert terms.moderator_levels == ("A", "B", "C")
    assert terms.moderator_reference == "A"
    assert terms.moderator_contrast == "treatment"
    assert terms.moderator_terms == (c1, c2)
    assert terms.interaction_terms == (f"unc_cw:{c1}", f"{c2}:unc_cw")
    assert terms.moderator_coding == ((0.0, 0.0), (1.0, 0.0), (0.0, 1.0))
    saved = json.loads(json.dumps(terms.to_dict()))
    assert ModerationTerms.from_dict(saved) == terms
    assert ("unc", "sector") in moderation_pairs(fit)
    assert ("str", "sector") not in moderation_pairs(fit)


def test_numeric_terms_are_saved_as_before_and_old_dicts_load():
    fit, _ = pair_fit()
    d = fit.terms.to_dict()
    assert "moderator_levels" not in d and "moderator_coding" not in d
    old = {k: v for k, v in json.loads(json.dumps(d)).items()}
    assert ModerationTerms.from_dict(old) == fit.terms


def test_treatment_coded_level_slopes_and_contrasts():
    fit, arrays, coding = factor_fit("treatment")
    c1, c2 = coding.columns
    factor = fit.prepared.slope_to_original("unc_cw", "inno")
    slopes = simple_slopes(fit, moderator="sector")
    g10 = arrays["unc_cw"]
    expected = {
        "A": g10 * factor,
        "B": (g10 + arrays[f"unc_cw:{c1}"]) * factor,
        "C": (g10 + arrays[f"{c2}:unc_cw"]) * factor,
    }
    assert slopes.table["moderator_label"].tolist() == ["A", "B", "C"]
    assert slopes.table["moderator"].isna().all()
    for i, level in enumerate("ABC"):
        np.testing.assert_allclose(slopes.draws.isel(moderator=i).values, expected[level])
        row = slopes.table.iloc[i]
        assert row["mean"] == pytest.approx(expected[level].mean())
        assert row["sd"] == pytest.approx(expected[level].std(ddof=1))
        lo, hi = np.quantile(expected[level], [0.025, 0.975])
        assert (row["ci_lower"], row["ci_upper"]) == (pytest.approx(lo), pytest.approx(hi))
        p = (expected[level] > 0).mean()
        assert row["p_direction"] == pytest.approx(max(p, 1 - p))
    assert slopes.table.attrs["moderator_kind"] == "factor"
    assert slopes.table.attrs["reference"] == "A"
    assert "reference level A" in slopes.description
    contrasts = slope_differences(slopes)
    assert contrasts["contrast"].tolist() == ["B \u2212 A", "C \u2212 A", "C \u2212 B"]
    c_b = expected["C"] - expected["B"]
    assert contrasts["mean"].iloc[2] == pytest.approx(c_b.mean())
    assert contrasts["mean"].iloc[0] == pytest.approx((arrays[f"unc_cw:{c1}"] * factor).mean())
    p = (c_b > 0).mean()
    assert contrasts["p_direction"].iloc[2] == pytest.approx(max(p, 1 - p))


def test_sum_coded_level_slopes():
    fit, arrays, coding = factor_fit("sum")
    c1, c2 = coding.columns
    factor = fit.prepared.slope_to_original("unc_cw", "inno")
    slopes = simple_slopes(fit, moderator="sector")
    g10, g1a, g1b = arrays["unc_cw"], arrays[f"unc_cw:{c1}"], arrays[f"{c2}:unc_cw"]
    expected = [(g10 + g1a) * factor, (g10 + g1b) * factor, (g10 - g1a - g1b) * factor]
    for i, values in enumerate(expected):
        np.testing.assert_allclose(slopes.draws.isel(moderator=i).values, values)
    # the level slopes average to g10 under sum coding
    np.testing.assert_allclose(slopes.draws.mean("moderator").values, g10 * factor)
    assert slopes.table.attrs["contrast"] == "sum"
    assert slopes.table.attrs["reference"] == "C"
    assert "Sum coding" in slopes.description


def test_person_slopes_with_a_factor_moderator_use_each_person_s_level():
    fit, arrays, coding = factor_fit("treatment")
    c1, c2 = coding.columns
    persons = person_slopes(fit, moderator="sector")
    shift = {"A": 0.0, "B": arrays[f"unc_cw:{c1}"], "C": arrays[f"{c2}:unc_cw"]}
    factor = fit.prepared.slope_to_original("unc_cw", "inno")
    for j, pid in enumerate(PERSONS):
        expected = (arrays["unc_cw"] + shift[SECTOR[pid]] + arrays["unc_cw|pid"][..., j]) * factor
        np.testing.assert_allclose(persons.draws.isel(person=j).values, expected)
    assert persons.table.attrs["levels_by_person"] == SECTOR


def test_factor_moderation_lines_have_one_line_per_level():
    fit, arrays, coding = factor_fit("treatment")
    lines = moderation_lines(fit, moderator="sector", n_points=2)
    assert lines["moderator_label"].unique().tolist() == ["A", "B", "C"]


@pytest.mark.parametrize(
    "analysis",
    [
        lambda fit: johnson_neyman(fit, moderator="sector"),
        lambda fit: boundary_draws(fit, moderator="sector"),
        lambda fit: moderation_curve(fit, moderator="sector"),
    ],
)
def test_analyses_along_a_numeric_moderator_refuse_a_factor(analysis):
    fit, _, _ = factor_fit("treatment")
    with pytest.raises(ModelError, match=r"'sector' is a factor \(levels A, B, C\).*per-level"):
        analysis(fit)


def test_values_of_a_factor_are_refused():
    fit, _, _ = factor_fit("treatment")
    with pytest.raises(AmbidexError, match="is a factor: its slopes are given at each"):
        simple_slopes(fit, moderator="sector", at=[1.0])


def test_the_summary_names_the_terms_of_every_predictor_and_moderator(pair_fit):
    from ambidex_bayes.results import posterior_summary

    fit, arrays = pair_fit
    table = posterior_summary(fit).set_index("parameter")
    assert table.loc["unc_cw", "role"] == "within-person slope"  # the first pair as before
    assert table.loc["str_cw", "role"] == "within-person slope of str"
    assert table.loc["str_cw:cli_c", "role"] == "cross-level interaction str × cli"
    assert table.loc["cli_c", "role"] == "effect of cli on the intercept"
    assert table.loc["str_cw|pid_sigma", "role"] == "SD of person slopes of str"
    assert table.loc["corr(unc_cw|pid,str_cw|pid)", "role"] == "correlation of person effects"
    assert table.loc["str_cw|pid_sigma", "mean"] == pytest.approx(arrays["str_cw|pid_sigma"].mean())
    assert table.index[-1] == "sigma"
    fit, _, _ = factor_fit("treatment")
    roles = posterior_summary(fit).set_index("parameter")["role"]
    assert roles["sector_C:unc_cw"] == "cross-level interaction unc × sector (contrast)"


def test_summary_roles_read_without_the_person_effects_draws(pair_fit):
    from ambidex_bayes.results import posterior_summary, summary_roles

    fit, _ = pair_fit
    roles = summary_roles(fit)
    assert list(roles) == posterior_summary(fit)["parameter"].tolist()
    lean = fit.idata["posterior"].to_dataset().drop_vars(["1|pid", "unc_cw|pid", "str_cw|pid"])
    without = as_fit(
        posterior_tree({k: lean[k].values for k in lean.data_vars}), fit.terms, fit.prepared
    )
    assert summary_roles(without) == roles
    assert terms_for(without, "str", "cli").group_slope_sd == "str_cw|pid_sigma"


def test_a_predictor_the_model_leaves_out_is_named():
    means = {k: v for k, v in MEANS.items() if not k.startswith("str_cw")}
    tree = posterior_tree(pair_draws(means), persons=PERSONS)
    fit = as_fit(tree, first_pair_terms(list(means)), prepared_pairs())
    with pytest.raises(ModelError, match=r"no within-person slope of 'str' \(no term 'str_cw'"):
        simple_slopes(fit, focal="str")


def test_the_terms_of_a_built_model_with_a_factor_moderator_name_the_factor():
    """A built model's terms (as a fit file stores them) are read as the factor's, and
    moderation_terms records the factor given the codings (no sampling: only built)."""
    from ambidex_bayes.model import build_model
    from ambidex_bayes.model.moderation_roles import moderation_terms
    from ambidex_bayes.spec import load_spec

    raw = pd.DataFrame(
        [
            {"pid": f"p{j}", "day": d, "x": (j * 7 + d * 3) % 5, "sector": "ABC"[j % 3], "y": d}
            for j in range(9)
            for d in range(4)
        ]
    )
    mapping = ColumnMapping(
        person="pid", occasion="day", outcome="y", level1=("x",), level2=("sector",)
    )
    prepared = prepare(validate(raw, mapping, source="<factor diary>"))
    spec = load_spec("M3")
    built = build_model(spec, prepared).terms
    fixed = list(built.fixed)
    assert {"x_cw:sector_B", "x_cw:sector_C"} <= set(fixed)
    recorded = moderation_terms(
        prepared.formula_fields(),
        fixed,
        {"pid": ["1|pid", "x_cw|pid"]},
        spec,
        factor_codings=prepared.factor_codings,
    )
    tree = posterior_tree(pair_draws(dict.fromkeys(fixed, 0.1)), persons=PERSONS)
    terms = terms_for(as_fit(tree, built, prepared))
    assert terms.interaction_terms == recorded.interaction_terms
    assert terms.factor_moderator
    assert terms.moderator_levels == ("A", "B", "C") and terms.moderator_reference == "A"
    assert terms.interaction_terms == ("x_cw:sector_B", "x_cw:sector_C")
    assert terms.moderator_coding == ((0.0, 0.0), (1.0, 0.0), (0.0, 1.0))
