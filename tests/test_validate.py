"""Column mappings, validation of diary tables, the compliance summary and load_diary."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ambidex_bayes.data import (
    ColumnMapping,
    ScaleSpec,
    ValidatedData,
    compliance_summary,
    load_diary,
    validate,
)
from ambidex_bayes.errors import DataError, SpecError, ValidationError

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def mapping() -> ColumnMapping:
    return ColumnMapping(
        person="pid",
        occasion="day",
        outcome="y",
        level1=("x",),
        level2=("w",),
        ranges={"y": (1, 5)},
    )


@pytest.fixture
def diary() -> pd.DataFrame:
    # Data row i (0-based) is row i + 2 of a file with a header line.
    return pd.DataFrame(
        {
            "pid": [10, 10, 10, 2, 2, 7],
            "day": [1, 2, 3, 1, 2, 1],
            "y": [1.0, 2.0, 3.0, 4.0, np.nan, 5.0],
            "x": [2.0, 3.0, 5.0, 1.0, 2.0, 4.0],
            "w": [3.0, 3.0, 3.0, 1.0, 1.0, 2.0],
            "extra": ["a", "b", "c", "d", "e", "f"],
        }
    )


def _problems(df, mapping) -> list[str]:
    with pytest.raises(ValidationError) as err:
        validate(df, mapping, source="diary.csv")
    assert str(err.value).startswith("diary.csv:")
    return err.value.problems


# --------------------------------------------------------------------------- mapping


def test_mapping_from_toml_matches_the_documented_example():
    m = ColumnMapping.from_toml(FIXTURES / "mapping_small.toml")
    assert m.person == "pid" and m.occasion == "day" and m.outcome == "innovation"
    assert m.level1 == ("uncertainty",) and m.level2 == ("support",) and m.controls == ()
    assert m.ranges == {"innovation": (1.0, 5.0), "uncertainty": (1.0, 5.0)}
    assert m.scales == {
        "support": ScaleSpec(items=("sup1", "sup2", "sup3"), reverse=("sup3",), range=(1, 5))
    }
    assert m.model_columns == ("pid", "day", "innovation", "uncertainty", "support")


def test_mapping_to_dict_round_trips_through_json(mapping):
    m = ColumnMapping.from_toml(FIXTURES / "mapping_small.toml")
    for original in (m, mapping):
        again = ColumnMapping.from_dict(json.loads(json.dumps(original.to_dict())))
        assert again == original
        assert hash(again) == hash(original)


def test_mapping_unknown_key_gets_a_hint():
    with pytest.raises(SpecError, match=r"my\.toml: unknown key 'levl2' \(did you mean 'level2'"):
        ColumnMapping.from_dict(
            {"person": "p", "outcome": "y", "level1": ["x"], "levl2": ["w"]}, source="my.toml"
        )


def test_mapping_unknown_scale_key_gets_a_hint():
    d = {"person": "p", "outcome": "y", "level1": ["x"], "scales": {"s": {"item": ["a"]}}}
    with pytest.raises(
        SpecError, match=r"scale 's': unknown key 'item' \(did you mean 'items'\?\)"
    ):
        ColumnMapping.from_dict(d)


def test_mapping_missing_required_key_is_named():
    with pytest.raises(SpecError, match=r"required key\(s\) 'level1' are missing"):
        ColumnMapping.from_dict({"person": "p", "outcome": "y"})


def test_mapping_column_with_two_roles_is_an_error():
    with pytest.raises(SpecError, match=r"'x' are given more than one role"):
        ColumnMapping(person="p", outcome="y", level1=("x",), level2=("x",))


def test_mapping_range_for_unknown_column_gets_a_hint():
    with pytest.raises(SpecError, match=r"range is declared for 'yy'.*did you mean 'y'"):
        ColumnMapping(person="p", outcome="y", level1=("x",), ranges={"yy": (1, 5)})


def test_mapping_reverse_item_must_be_an_item():
    with pytest.raises(SpecError, match=r"'c' are not among the scale's items"):
        ScaleSpec(items=("a", "b"), reverse=("c",), range=(1, 5))


def test_mapping_toml_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('person = "p"\noutcome = \n')
    with pytest.raises(SpecError, match=r"bad\.toml: not valid TOML"):
        ColumnMapping.from_toml(bad)
    with pytest.raises(SpecError, match=r"absent\.toml: no such mapping file"):
        ColumnMapping.from_toml(tmp_path / "absent.toml")
    typo = tmp_path / "typo.toml"
    typo.write_text('person = "p"\noutcome = "y"\nlevel1 = ["x"]\nocasion = "day"\n')
    with pytest.raises(SpecError, match=r"typo\.toml: unknown key 'ocasion'.*'occasion'"):
        ColumnMapping.from_toml(typo)


# --------------------------------------------------------------------------- validate: errors


def test_missing_column_with_hint(diary, mapping):
    df = diary.rename(columns={"x": "X"})
    (problem,) = _problems(df, mapping)
    assert "column 'x' (level-1 predictor) is not in the data (did you mean 'X'?)" in problem
    assert "Fix the name" in problem


def test_non_numeric_values_are_shown_with_rows(diary, mapping):
    df = diary.astype({"x": object})
    df.loc[1, "x"] = "three"
    df.loc[4, "x"] = "2,5"
    (problem,) = _problems(df, mapping)
    assert "column 'x' (level-1 predictor) must be numeric" in problem
    assert "'three' (row 3)" in problem
    assert "'2,5' (row 6)" in problem
    assert "decimal commas" in problem


def test_missing_person_id_rows_are_named(diary, mapping):
    df = diary.astype({"pid": object})
    df.loc[2, "pid"] = "  "
    df.loc[3, "pid"] = None
    (problem,) = _problems(df, mapping)
    assert "column 'pid' (person id) is empty on rows 4, 5" in problem


def test_level2_varying_within_a_person_names_the_person(diary, mapping):
    df = diary.copy()
    df.loc[2, "w"] = 4.0
    (problem,) = _problems(df, mapping)
    assert "column 'w' (level-2 moderator) must have one value per person" in problem
    assert "person '10' has 3 (rows 2, 3); 4 (row 4)" in problem


def test_duplicated_person_occasion_rows(diary, mapping):
    df = diary.copy()
    df.loc[1, "day"] = 1
    (problem,) = _problems(df, mapping)
    assert "person-occasion pair(s) occur more than once" in problem
    assert "person '10', occasion 1: rows 2, 3" in problem


def test_out_of_range_values_name_rows(diary, mapping):
    df = diary.copy()
    df.loc[0, "y"] = 0.0
    df.loc[5, "y"] = 7.5
    (problem,) = _problems(df, mapping)
    assert "column 'y' (outcome) has 2 value(s) outside its declared range [1, 5]" in problem
    assert "0 (row 2), 7.5 (row 7)" in problem


def test_outcome_without_variance(diary, mapping):
    df = diary.assign(y=3.0)
    (problem,) = _problems(df, mapping)
    assert "column 'y' (outcome) has no variance: every filled value is 3" in problem


def test_level1_that_never_varies_within_person(diary, mapping):
    df = diary.assign(x=diary["w"])
    (problem,) = _problems(df, mapping)
    assert "'x' (level-1 predictor) never varies within a person" in problem
    assert "map it as level2" in problem


def test_all_problems_are_collected_in_one_error(diary, mapping):
    df = diary.rename(columns={"day": "Day"})
    df.loc[0, "y"] = 9.0
    df.loc[1, "w"] = 8.0
    problems = _problems(df, mapping)
    assert len(problems) == 3
    assert any("'day'" in p and "did you mean 'Day'" in p for p in problems)
    assert any("'y'" in p and "row 2" in p for p in problems)
    assert any("'w'" in p and "person '10'" in p for p in problems)


def test_not_a_dataframe():
    with pytest.raises(DataError, match="expected a pandas DataFrame"):
        validate([1, 2], ColumnMapping(person="p", outcome="y", level1=("x",)))


# --------------------------------------------------------------------------- validate: success


def test_validated_frame_is_typed_sorted_and_numbered(diary, mapping):
    before = diary.copy(deep=True)
    out = validate(diary, mapping, source="diary.csv")
    pd.testing.assert_frame_equal(diary, before)  # the caller's frame is unchanged
    assert isinstance(out, ValidatedData)
    f = out.frame
    assert list(f.columns) == ["pid", "day", "y", "x", "w", "__row__"]
    assert f["pid"].tolist() == ["2", "2", "7", "10", "10", "10"]  # numeric ids: 2 < 7 < 10
    assert f["__row__"].tolist() == [5, 6, 7, 2, 3, 4]
    assert all(f[c].dtype == np.float64 for c in ["day", "y", "x", "w"])
    assert pd.api.types.is_string_dtype(f["pid"])
    assert list(f.index) == list(range(6))


def test_missing_values_are_kept_and_counted(diary, mapping):
    out = validate(diary, mapping)
    assert len(out.frame) == 6
    assert any(
        "1 of 6 rows have a missing value in a model column ('y': 1)" in n for n in out.notes
    )


def test_single_diary_persons_are_kept_with_a_note(diary, mapping):
    out = validate(diary, mapping)
    assert (out.frame["pid"] == "7").sum() == 1
    (note,) = [n for n in out.notes if "single diary" in n]
    assert "1 of 3 persons have a single diary ('7')" in note
    assert "not the within-person slope" in note


def test_level2_given_once_per_person_is_filled_in(diary, mapping):
    df = diary.copy()
    df.loc[[1, 2], "w"] = np.nan
    out = validate(df, mapping)
    assert out.frame.loc[out.frame["pid"] == "10", "w"].tolist() == [3.0, 3.0, 3.0]
    assert any("'w' was missing on 2 row(s)" in n for n in out.notes)


def test_empty_rows_are_skipped_and_row_numbers_stay_true(tmp_path, mapping):
    path = tmp_path / "d.csv"
    path.write_text("pid,day,y,x,w\n1,1,2,3,1\n\n1,2,9,4,1\n2,1,3,2,2\n")
    with pytest.raises(ValidationError, match=r"9 \(row 4\)"):
        load_diary(path, mapping)
    path.write_text("pid,day,y,x,w\n1,1,2,3,1\n\n1,2,4,4,1\n2,1,3,2,2\n2,2,1,1,2\n")
    out = load_diary(path, mapping)
    assert out.frame["__row__"].tolist() == [2, 4, 5, 6]
    assert any("1 completely empty row(s) were skipped (row 3)" in n for n in out.notes)


def test_date_occasion_becomes_days(diary, mapping):
    df = diary.assign(day=pd.to_datetime(["2024-03-04", "2024-03-05", "2024-03-07"] * 2))
    out = validate(df, mapping)
    assert out.frame["day"].tolist() == [0.0, 1.0, 3.0, 0.0, 1.0, 3.0]
    assert any("days since the first date (2024-03-04)" in n for n in out.notes)


def test_iso_date_text_occasion_becomes_days(diary, mapping):
    df = diary.assign(day=["2024-03-04", "2024-03-05", "2024-03-07"] * 2)
    out = validate(df, mapping)
    assert sorted(out.frame["day"].unique()) == [0.0, 1.0, 3.0]


# --------------------------------------------------------------------------- compliance


def test_compliance_summary_counts(diary, mapping):
    out = validate(diary, mapping)
    c = compliance_summary(out.frame, mapping)
    assert (c.n_persons, c.n_diaries) == (3, 6)
    assert (c.n_complete_persons, c.n_complete_diaries) == (3, 5)
    assert (c.diaries_min, c.diaries_median, c.diaries_mean, c.diaries_max) == (1, 2.0, 2.0, 3)
    assert c.n_single == 1
    assert c.diaries_table.to_dict("list") == {"n_diaries": [1, 2, 3], "n_persons": [1, 1, 1]}
    assert c.missing.loc["y", "n_missing"] == 1
    assert c.missing.loc["y", "share_missing"] == pytest.approx(1 / 6)
    assert c.missing.loc["x", "n_missing"] == 0

    tidy = c.to_frame()
    assert list(tidy.columns) == ["statistic", "value"]
    values = dict(zip(tidy["statistic"], tidy["value"], strict=True))
    assert values["persons"] == 3
    assert values["persons with exactly 3 diaries"] == 1
    assert values["missing y: share"] == pytest.approx(1 / 6)
    text = str(c)
    assert "3 persons wrote 6 diaries" in text
    assert "min 1, median 2, mean 2.00, max 3" in text


# --------------------------------------------------------------------------- load_diary


def test_load_diary_end_to_end_from_files():
    d = load_diary(FIXTURES / "diary_small.csv", FIXTURES / "mapping_small.toml")
    assert d.source.endswith("diary_small.csv")
    assert d.frame["pid"].unique().tolist() == ["1", "2", "10"]
    # support = mean(sup1, sup2, 6 - sup3): person 1 -> (4 + 4 + 4) / 3, person 2 -> 2
    support = d.frame.groupby("pid")["support"].first()
    assert support["1"] == pytest.approx(4.0)
    assert support["2"] == pytest.approx(2.0)
    assert support["10"] == pytest.approx(5.0)
    assert d.compliance.n_diaries == 9 and d.compliance.n_complete_diaries == 8
    assert list(d.reliability["scale"]) == ["support"]
    assert d.mapping == ColumnMapping.from_toml(FIXTURES / "mapping_small.toml")


def test_load_diary_without_scales_has_no_reliability(diary, mapping):
    before = diary.copy(deep=True)
    d = load_diary(diary, mapping)
    assert d.reliability is None
    assert d.source == "<DataFrame>"
    pd.testing.assert_frame_equal(diary, before)


def test_load_diary_reports_the_file_in_errors(tmp_path, mapping):
    path = tmp_path / "d.csv"
    path.write_text("pid,day,y,x\n1,1,2,3\n1,2,3,4\n")
    with pytest.raises(ValidationError, match=r"(?s)d\.csv: 1 problem.*'w' \(level-2 moderator\)"):
        load_diary(path, mapping)
