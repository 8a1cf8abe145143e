"""Centring, decomposition, detrending and standardising of validated diary data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ambidex_bayes import constants
from ambidex_bayes.data import ColumnMapping, load_diary, validate
from ambidex_bayes.errors import DataError, SpecError
from ambidex_bayes.prepare import PreparedData, Transform, person_mean_reliability, prepare


@pytest.fixture
def mapping() -> ColumnMapping:
    return ColumnMapping(
        person="pid", occasion="day", outcome="y", level1=("x",), level2=("w",), controls=("c",)
    )


@pytest.fixture
def unbalanced() -> pd.DataFrame:
    """Person 'a': 1 diary, w = 0; person 'b': 3 diaries, w = 4; person 'c': 2 diaries, w = 2."""
    return pd.DataFrame(
        {
            "pid": ["a", "b", "b", "b", "c", "c"],
            "day": [1, 1, 2, 3, 1, 2],
            "y": [2.0, 3.0, 4.0, 6.0, 1.0, 2.0],
            "x": [1.0, 2.0, 4.0, 6.0, 3.0, 5.0],
            "w": [0.0, 4.0, 4.0, 4.0, 2.0, 2.0],
            "c": [0.5, 1.0, 0.0, 1.0, 0.0, 1.0],
        }
    )


@pytest.fixture
def simulated() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    rows = []
    for p in range(40):
        mu, w = rng.normal(3, 1), rng.normal(0, 1)
        for day in range(1, int(rng.integers(1, 8)) + 1):
            x = mu + rng.normal()
            y = 2 + (0.3 + 0.2 * w) * (x - mu) + 0.1 * day + rng.normal(0, 0.5)
            rows.append({"pid": p, "day": day, "y": y, "x": x, "w": w, "c": rng.normal()})
    return pd.DataFrame(rows)


def test_within_person_columns_have_person_means_zero(unbalanced, mapping):
    p = prepare(validate(unbalanced, mapping))
    means = p.frame.groupby("pid")["x_cw"].mean()
    assert np.allclose(means, 0.0)
    assert p.frame["x_cw"].tolist() == pytest.approx([0.0, -2.0, 0.0, 2.0, -1.0, 1.0])


def test_moderator_is_centred_at_the_mean_over_persons_not_rows(unbalanced, mapping):
    p = prepare(validate(unbalanced, mapping))
    # over persons: (0 + 4 + 2) / 3 = 2; over rows it would be 16 / 6
    assert p.transforms["w_c"].centre == pytest.approx(2.0)
    assert p.transforms["w_c"].kind == "grand_centred"
    assert p.frame["w_c"].tolist() == pytest.approx([-2.0, 2.0, 2.0, 2.0, 0.0, 0.0])
    assert p.moderator_stats.loc["w", "mean_over_persons"] == pytest.approx(2.0)
    assert p.moderator_stats.loc["w", "sd_over_persons"] == pytest.approx(2.0)


def test_person_mean_column_is_centred_over_persons(unbalanced, mapping):
    p = prepare(validate(unbalanced, mapping))
    # person means of x: a 1, b 4, c 4 -> centre 3 (over rows it would be 3.5)
    assert p.person_means["x"].to_dict() == {"a": 1.0, "b": 4.0, "c": 4.0}
    assert p.transforms["x_pm"].centre == pytest.approx(3.0)
    assert p.frame["x_pm"].tolist() == pytest.approx([-2.0, 1.0, 1.0, 1.0, 1.0, 1.0])


def test_roles_and_formula_fields(unbalanced, mapping):
    p = prepare(validate(unbalanced, mapping))
    assert p.roles == {
        "y": "y",
        "person": "pid",
        "occasion": "day",
        "x_within": "x_cw",
        "x_between": "x_pm",
        "x0_within": "x_cw",
        "x0_between": "x_pm",
        "w": "w_c",
        "w0": "w_c",
        "c0": "c",
    }
    template = "{y} ~ {x_within}*{w} + {x_between} + ({x_within} | {person})"
    assert template.format(**p.formula_fields()) == "y ~ x_cw*w_c + x_pm + (x_cw | pid)"


def test_several_predictors_and_moderators_get_numbered_roles(unbalanced):
    df = unbalanced.assign(x2=[1.0, 3.0, 2.0, 1.0, 2.0, 2.5], v=[1.0, 2.0, 2.0, 2.0, 3.0, 3.0])
    m = ColumnMapping(person="pid", outcome="y", level1=("x", "x2"), level2=("w", "v"))
    p = prepare(validate(df, m))
    assert p.roles["x1_within"] == "x2_cw" and p.roles["x1_between"] == "x2_pm"
    assert p.roles["w1"] == "v_c" and p.roles["w"] == "w_c"
    assert "occasion" not in p.roles
    assert list(p.person_means.columns) == ["x", "x2"]


def test_without_level2_there_is_no_w_role(unbalanced):
    m = ColumnMapping(person="pid", outcome="y", level1=("x",))
    p = prepare(validate(unbalanced, m))
    assert "w" not in p.roles and p.moderator_stats.empty


def test_apply_on_the_original_rows_reproduces_the_prepared_columns(simulated, mapping):
    data = validate(simulated, mapping)
    for detrend in (False, True):
        for standardize in (False, True):
            p = prepare(data, detrend=detrend, standardize=standardize)
            again = p.apply(simulated)
            # __row__ is the source row (header = row 1), i.e. position + 2
            again = again.iloc[p.frame["__row__"].to_numpy() - 2].reset_index(drop=True)
            assert again["pid"].tolist() == p.frame["pid"].tolist()
            for col in p.transforms:
                np.testing.assert_allclose(again[col], p.frame[col], err_msg=col)


def test_apply_uses_stored_means_for_known_and_own_means_for_new_persons(unbalanced, mapping):
    p = prepare(validate(unbalanced, mapping))
    new = pd.DataFrame(
        {"pid": ["b", "z", "z"], "x": [10.0, 1.0, 3.0], "w": [4.0, 5.0, 5.0], "day": [4, 1, 2]}
    )
    before = new.copy(deep=True)
    out = p.apply(new)
    pd.testing.assert_frame_equal(new, before)
    # b: stored mean 4; z: mean of its own rows, 2
    assert out["x_cw"].tolist() == pytest.approx([6.0, -1.0, 1.0])
    assert out["x_pm"].tolist() == pytest.approx([1.0, -1.0, -1.0])
    assert out["w_c"].tolist() == pytest.approx([2.0, 3.0, 3.0])
    assert "y" not in out.columns


def test_apply_needs_the_level1_and_level2_columns(unbalanced, mapping):
    p = prepare(validate(unbalanced, mapping))
    with pytest.raises(DataError, match=r"lack column\(s\) 'w'"):
        p.apply(pd.DataFrame({"pid": ["a"], "x": [1.0]}))


def test_to_original_inverts_the_transforms(simulated, mapping):
    p = prepare(validate(simulated, mapping), standardize=True)
    f = p.frame
    np.testing.assert_allclose(p.to_original("y_z", f["y_z"]), f["y"])
    np.testing.assert_allclose(p.to_original("w_c", f["w_c"]), f["w"])
    np.testing.assert_allclose(p.to_original("c_z", f["c_z"]), f["c"])
    raw_means = f["pid"].map(p.person_means["x"])
    np.testing.assert_allclose(p.to_original("x_pm", f["x_pm"]), raw_means)
    np.testing.assert_allclose(p.to_original("x_cw", f["x_cw"]), f["x"] - raw_means)
    assert p.to_original("w_c", [0.0, 1.0]) == pytest.approx(
        [p.transforms["w_c"].centre, p.transforms["w_c"].centre + p.transforms["w_c"].scale]
    )
    with pytest.raises(DataError, match=r"no transform is recorded for column 'x_c'"):
        p.to_original("x_c", 1.0)


def test_standardize_is_recorded_with_the_documented_sds(simulated, mapping):
    p = prepare(validate(simulated, mapping), standardize=True)
    f = p.frame
    assert p.roles["y"] == "y_z" and p.roles["c0"] == "c_z"
    assert p.standardize is True
    # over rows for y, controls and the within part
    assert p.transforms["y_z"].scale == pytest.approx(f["y"].std(ddof=1))
    assert p.transforms["c_z"].scale == pytest.approx(f["c"].std(ddof=1))
    within = f["x"] - f.groupby("pid")["x"].transform("mean")
    assert p.transforms["x_cw"].scale == pytest.approx(within.std(ddof=1))
    assert f["y_z"].std(ddof=1) == pytest.approx(1.0)
    # over persons for person means and moderators
    per_person = f.groupby("pid")[["x_pm", "w_c"]].first()
    assert per_person.std(ddof=1).to_numpy() == pytest.approx([1.0, 1.0])
    assert per_person.mean().to_numpy() == pytest.approx([0.0, 0.0])
    assert p.transforms["w_c"].scale == pytest.approx(p.moderator_stats.loc["w", "sd_over_persons"])
    assert p.slope_to_original("x_cw", "y_z") == pytest.approx(
        p.transforms["y_z"].scale / p.transforms["x_cw"].scale
    )
    assert any("Standardised" in n for n in p.notes)
    # the raw columns are kept
    assert {"y", "x", "w", "c"} <= set(f.columns)


def test_slope_to_original_is_one_without_standardising(unbalanced, mapping):
    p = prepare(validate(unbalanced, mapping))
    assert p.slope_to_original("x_cw", "y") == 1.0


def test_detrend_removes_a_pooled_trend_and_records_it(mapping):
    # x = person level + 0.5 * day exactly, y = person level + 2 * day + noise-free wiggle
    rows = []
    for pid, level in [("p", 1.0), ("q", 3.0), ("r", 0.0)]:
        for day in range(1, 5):
            rows.append(
                {
                    "pid": pid,
                    "day": day,
                    "x": level + 0.5 * day,
                    "y": level + 2.0 * day + (1.0 if day == 2 else 0.0),
                    "w": level,
                    "c": 0.0 + day,
                }
            )
    df = pd.DataFrame(rows)
    p = prepare(validate(df, mapping), detrend=True)
    assert p.transforms["x_cw"].detrend_slope == pytest.approx(0.5)
    assert p.frame["x_cw"].abs().max() == pytest.approx(0.0, abs=1e-12)
    # hand computation for y: centred day -1.5, -0.5, 0.5, 1.5 (sum of squares 5 per person);
    # the wiggle (+1 on day 2, centred 0.75 / -0.25) adds sum(t_c * wiggle_c) = -0.5 per person
    assert p.transforms["y_dt"].detrend_slope == pytest.approx(2.0 - 0.5 / 5)
    assert p.roles["y"] == "y_dt"
    assert p.frame["y_dt"].groupby(p.frame["pid"]).mean().to_numpy() == pytest.approx(
        df.groupby("pid")["y"].mean().to_numpy()
    )
    assert p.occasion_means.to_dict() == {"p": 2.5, "q": 2.5, "r": 2.5}
    assert any("pooled linear trend" in n for n in p.notes)
    # a new day of a known person is detrended with the stored mean occasion
    out = p.apply(pd.DataFrame({"pid": ["p"], "day": [6], "x": [1.0 + 0.5 * 6], "w": [1.0]}))
    assert out["x_cw"].iloc[0] == pytest.approx(0.0)


def test_detrend_that_leaves_no_within_variance_cannot_standardise(unbalanced, mapping):
    # in the unbalanced example x rises by exactly 2 per day within every person
    p = prepare(validate(unbalanced, mapping), detrend=True)
    assert p.transforms["x_cw"].detrend_slope == pytest.approx(2.0)
    with pytest.raises(DataError, match="cannot standardise the within-person part of 'x'"):
        prepare(validate(unbalanced, mapping), detrend=True, standardize=True)


def test_detrend_needs_an_occasion(unbalanced):
    m = ColumnMapping(person="pid", outcome="y", level1=("x",))
    with pytest.raises(SpecError, match="detrend=True needs an occasion column"):
        prepare(validate(unbalanced, m), detrend=True)


def test_missing_rows_are_dropped_and_person_means_use_the_rest(unbalanced, mapping):
    df = unbalanced.copy()
    df.loc[3, "y"] = np.nan  # person b, x = 6
    data = validate(df, mapping)
    p = prepare(data)
    assert len(p.frame) == 5
    assert p.person_means.loc["b", "x"] == pytest.approx(3.0)  # (2 + 4) / 2, not 4
    assert p.frame.loc[p.frame["pid"] == "b", "x_cw"].tolist() == pytest.approx([-1.0, 1.0])
    (note,) = [n for n in p.notes if "left out because" in n]
    assert (
        "1 of 6 row(s) were left out because a model value is missing ('y': 1; source row 5)"
        in note
    )
    assert p.frame["__row__"].tolist() == [2, 3, 4, 6, 7]
    assert len(data.frame) == 6  # the validated data are unchanged


def test_no_complete_row_is_an_error(unbalanced, mapping):
    df = unbalanced.copy()
    # y still varies within person b and x within person c, but no row has both
    df.loc[[0, 3, 4, 5], "y"] = np.nan
    df.loc[[1, 2], "x"] = np.nan
    with pytest.raises(DataError, match=r"no row has every model column filled in.*'y': 4, 'x': 2"):
        prepare(validate(df, mapping))


def test_single_diary_persons_are_kept_with_a_note(unbalanced, mapping):
    d = load_diary(unbalanced, mapping)
    p = prepare(d)
    assert (p.frame["pid"] == "a").sum() == 1
    assert any("single diary" in n and "within-person slope" in n for n in p.notes)
    assert p.frame.loc[p.frame["pid"] == "a", "x_cw"].iloc[0] == 0.0


def test_caller_data_are_unchanged(simulated, mapping):
    raw = simulated.copy(deep=True)
    data = validate(simulated, mapping)
    validated = data.frame.copy(deep=True)
    prepare(data, detrend=True, standardize=True)
    pd.testing.assert_frame_equal(simulated, raw)
    pd.testing.assert_frame_equal(data.frame, validated)


def test_created_name_clashing_with_a_column_is_an_error(unbalanced):
    df = unbalanced.assign(x_cw=1.0)
    m = ColumnMapping(person="pid", outcome="y", level1=("x",), controls=("x_cw",))
    with pytest.raises(DataError, match=r"would create column\(s\) 'x_cw'.*already a column"):
        prepare(validate(df, m))


def test_person_mean_reliability_against_anova(mapping):
    # balanced: lambda = (MSB - MSW) / MSB
    x = pd.Series([1.0, 2.0, 3.0, 2.0, 4.0, 6.0, 5.0, 5.0, 8.0])
    g = pd.Series(["a"] * 3 + ["b"] * 3 + ["c"] * 3)
    # means 2, 4, 6; grand 4; MSB = 3 * (4 + 0 + 4) / 2 = 12; MSW = (2 + 8 + 6) / 6 = 8/3
    rel = person_mean_reliability(x, g)
    assert rel["reliability"] == pytest.approx((12 - 8 / 3) / 12)
    assert rel["icc"] == pytest.approx(((12 - 8 / 3) / 3) / ((12 - 8 / 3) / 3 + 8 / 3))
    assert rel["n_bar"] == 3.0


def test_ludtke_warning_when_person_means_are_unreliable(mapping, monkeypatch):
    rng = np.random.default_rng(5)
    persons = np.repeat(np.arange(30), 3)
    df = pd.DataFrame(
        {
            "pid": persons,
            "day": np.tile([1, 2, 3], 30),
            "y": rng.normal(size=90),
            "x": rng.normal(size=30)[persons] * 0.2 + rng.normal(size=90),  # ICC about 0.04
            "w": rng.normal(size=30)[persons],
            "c": rng.normal(size=90),
        }
    )
    p = prepare(validate(df, mapping))
    (warning,) = p.warnings
    lam = p.person_mean_reliability["x"]
    assert lam < constants.PERSON_MEAN_RELIABILITY_MIN
    assert f"lambda = {lam:.2f}" in warning
    assert "between-person effect of 'x' and the contextual effect are biased" in warning
    assert "within-person effect and the cross-level interaction are not affected" in warning
    assert "more diaries" in warning and "latent person-mean centring" in warning
    # the threshold is read when prepare runs
    monkeypatch.setattr(constants, "PERSON_MEAN_RELIABILITY_MIN", lam / 2)
    assert prepare(validate(df, mapping)).warnings == ()


def test_no_warning_when_person_means_are_reliable(simulated, mapping):
    p = prepare(validate(simulated, mapping))
    assert p.person_mean_reliability["x"] > constants.PERSON_MEAN_RELIABILITY_MIN
    assert p.warnings == ()
    assert any("Reliability of the observed person means of 'x'" in n for n in p.notes)


def test_to_dict_is_json_and_round_trips(simulated, mapping):
    p = prepare(validate(simulated, mapping), detrend=True, standardize=True)
    d = json.loads(json.dumps(p.to_dict()))
    q = PreparedData.from_dict(d)
    assert q.mapping == p.mapping and q.roles == p.roles and q.transforms == p.transforms
    assert q.notes == p.notes and q.warnings == p.warnings
    assert (q.detrend, q.standardize) == (True, True)
    pd.testing.assert_frame_equal(q.person_means, p.person_means)
    pd.testing.assert_frame_equal(q.moderator_stats, p.moderator_stats)
    assert list(q.frame.columns) == list(p.frame.columns) and len(q.frame) == 0
    # the restored object transforms new rows exactly like the original
    new = simulated.head(12)
    pd.testing.assert_frame_equal(q.apply(new), p.apply(new))
    assert isinstance(q.transforms["x_cw"], Transform)


def test_from_dict_rejects_other_dicts():
    with pytest.raises(DataError, match="not a saved PreparedData"):
        PreparedData.from_dict({"roles": {}})
