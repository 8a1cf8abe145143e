"""Scale scores, reverse-keying and within/between-person reliability."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ambidex_bayes.data import ScaleSpec, score_scales
from ambidex_bayes.data.scales import cronbach_alpha, omega_one_factor
from ambidex_bayes.errors import SpecError, ValidationError


def test_scores_with_reverse_keying_against_hand_computation():
    df = pd.DataFrame(
        {"pid": [1, 1, 2], "a": [1.0, 2.0, 5.0], "b": [2.0, 4.0, 5.0], "c": [5.0, 1.0, 3.0]}
    )
    before = df.copy(deep=True)
    spec = ScaleSpec(items=("a", "b", "c"), reverse=("c",), range=(1, 5))
    out, _ = score_scales(df, {"s": spec}, person="pid")
    # c reversed as 1 + 5 - c: 1, 5, 3
    assert out["s"].tolist() == pytest.approx([(1 + 2 + 1) / 3, (2 + 4 + 5) / 3, (5 + 5 + 3) / 3])
    pd.testing.assert_frame_equal(df, before)  # the caller's frame is unchanged
    assert list(out.columns) == ["pid", "a", "b", "c", "s"]


def test_score_is_missing_when_more_than_half_of_items_are_missing():
    nan = np.nan
    df = pd.DataFrame(
        {
            "pid": [1, 1, 2, 2],
            "a": [1.0, 1.0, nan, nan],
            "b": [3.0, nan, nan, 2.0],
            "c": [nan, nan, nan, 4.0],
            "d": [5.0, 3.0, 4.0, nan],
        }
    )
    out, _ = score_scales(df, {"s": ScaleSpec(items=("a", "b", "c", "d"))}, person="pid")
    # 1 missing -> mean of 3; 2 of 4 missing (exactly half) -> mean of 2; 3 missing -> NaN
    assert out["s"].iloc[0] == pytest.approx(3.0)
    assert out["s"].iloc[1] == pytest.approx(2.0)
    assert np.isnan(out["s"].iloc[2])
    assert out["s"].iloc[3] == pytest.approx(3.0)


def test_alpha_within_and_between_against_hand_computation():
    # person 1: a = 1, 3; b = 2, 4 -> centred a = -1, 1; b = -1, 1
    # person 2: a = 2, 2; b = 1, 3 -> centred a = 0, 0;  b = -1, 1
    # person 3: a = 4, 4; b = 4, 4 -> centred all 0
    # within: SS_a = 2, SS_b = 4, SS_sum = 4 + 4 + 1 + 1 = 10 -> alpha = 2 (1 - 6/10) = 0.8
    # between: means a = 2, 2, 4; b = 3, 2, 4; sums 5, 4, 8
    #   SS_a = 24/9, SS_b = 18/9, SS_sum = 78/9 -> alpha = 2 (1 - 42/78) = 12/13
    df = pd.DataFrame(
        {
            "pid": ["p1", "p1", "p2", "p2", "p3", "p3"],
            "a": [1, 3, 2, 2, 4, 4],
            "b": [2, 4, 1, 3, 4, 4],
        }
    )
    _, rel = score_scales(df, {"s": ScaleSpec(items=("a", "b"))}, person="pid")
    row = rel.iloc[0]
    assert row["scale"] == "s"
    assert row["n_items"] == 2 and row["n_rows"] == 6 and row["n_persons"] == 3
    assert row["alpha_within"] == pytest.approx(0.8)
    assert row["alpha_between"] == pytest.approx(12 / 13)
    # omega needs three items
    assert np.isnan(row["omega_within"]) and np.isnan(row["omega_between"])


def test_alpha_uses_reverse_keyed_items():
    # b is a mirror image of a; after reversing it agrees perfectly with a
    df = pd.DataFrame({"pid": [1, 2, 3, 4], "a": [1, 2, 4, 5], "b": [5, 4, 2, 1]})
    _, raw = score_scales(df, {"s": ScaleSpec(items=("a", "b"))}, person="pid")
    _, keyed = score_scales(
        df, {"s": ScaleSpec(items=("a", "b"), reverse=("b",), range=(1, 5))}, person="pid"
    )
    assert np.isnan(raw["alpha_between"].iloc[0])  # the raw sum has no variance
    assert keyed["alpha_between"].iloc[0] == pytest.approx(1.0)


def test_person_level_scale_has_no_within_reliability():
    df = pd.DataFrame(
        {"pid": [1, 1, 2, 2, 3], "a": [1, 1, 3, 3, 5], "b": [2, 2, 3, 3, 4], "c": [1, 1, 4, 4, 4]}
    )
    _, rel = score_scales(df, {"s": ScaleSpec(items=("a", "b", "c"))}, person="pid")
    assert np.isnan(rel["alpha_within"].iloc[0])
    assert rel["alpha_between"].iloc[0] == pytest.approx(
        cronbach_alpha(np.array([[1, 2, 1], [3, 3, 4], [5, 4, 4]]))
    )


def test_omega_of_three_items_matches_the_closed_form():
    # With three items the one-factor model is just identified: lambda_1^2 = r12 r13 / r23.
    rng = np.random.default_rng(7)
    f = rng.normal(size=400)
    x = np.column_stack(
        [
            0.8 * f + 0.6 * rng.normal(size=400),
            2 * (0.7 * f + 0.7 * rng.normal(size=400)),
            0.6 * f + 0.8 * rng.normal(size=400),
        ]
    )
    r = np.corrcoef(x, rowvar=False)
    lam2 = np.array(
        [r[0, 1] * r[0, 2] / r[1, 2], r[0, 1] * r[1, 2] / r[0, 2], r[0, 2] * r[1, 2] / r[0, 1]]
    )
    sd = x.std(axis=0, ddof=1)
    lam = np.sqrt(lam2) * sd
    psi = (1 - lam2) * sd**2
    expected = lam.sum() ** 2 / (lam.sum() ** 2 + psi.sum())
    assert omega_one_factor(x) == pytest.approx(expected, rel=1e-6)


def test_omega_within_is_computed_on_centred_items():
    rng = np.random.default_rng(3)
    persons = np.repeat(np.arange(400), 5)
    shift = rng.normal(size=400)[persons] * 3  # large person differences, same for all items
    f = rng.normal(size=persons.size)
    items = {f"i{k}": shift + f + rng.normal(size=persons.size) for k in range(3)}
    df = pd.DataFrame({"pid": persons, **items})
    _, rel = score_scales(df, {"s": ScaleSpec(items=("i0", "i1", "i2"))}, person="pid")
    centred = pd.DataFrame(items) - pd.DataFrame(items).groupby(persons).transform("mean")
    assert rel["omega_within"].iloc[0] == pytest.approx(omega_one_factor(centred.to_numpy()))
    assert rel["alpha_within"].iloc[0] == pytest.approx(cronbach_alpha(centred.to_numpy()))
    # true within reliability of the sum of 3 items with loading 1 and noise 1: 9 / (9 + 3)
    assert rel["omega_within"].iloc[0] == pytest.approx(0.75, abs=0.03)
    # raw items would mix in the person differences
    assert cronbach_alpha(pd.DataFrame(items).to_numpy()) > 0.95


def test_missing_item_column_gets_a_hint():
    df = pd.DataFrame({"pid": [1], "sup1": [1], "sup_2": [2]})
    with pytest.raises(ValidationError) as err:
        score_scales(df, {"support": ScaleSpec(items=("sup1", "sup2"))}, person="pid")
    (problem,) = err.value.problems
    assert "scale 'support': item column 'sup2' is not in the data (did you mean 'sup_2'" in problem


def test_non_numeric_item_shows_value_and_row():
    df = pd.DataFrame({"pid": [1, 1, 2], "a": [1, 2, 3], "b": ["2", "x", "4"]})
    with pytest.raises(ValidationError) as err:
        score_scales(df, {"s": ScaleSpec(items=("a", "b"))}, person="pid", source="f.csv")
    assert str(err.value).startswith("f.csv: cannot score the scales")
    (problem,) = err.value.problems
    assert "item 'b' must be numeric but holds 'x' (row 3)" in problem


def test_scale_name_clashing_with_a_column():
    df = pd.DataFrame({"pid": [1], "a": [1], "b": [2], "s": [0]})
    with pytest.raises(ValidationError, match=r"scale 's': the data already have a column 's'"):
        score_scales(df, {"s": ScaleSpec(items=("a", "b"))}, person="pid")


def test_reverse_items_without_range():
    df = pd.DataFrame({"pid": [1], "a": [1], "b": [2]})
    with pytest.raises(SpecError, match=r"'s' have reverse-keyed items but no range"):
        score_scales(df, {"s": ScaleSpec(items=("a", "b"), reverse=("b",))}, person="pid")


def test_item_outside_scale_range_names_rows():
    df = pd.DataFrame({"pid": [1, 1, 2], "a": [1, 6, 3], "b": [2, 2, 2]})
    with pytest.raises(ValidationError, match=r"item 'a' has values outside .*\[1, 5\] on row 3"):
        score_scales(df, {"s": ScaleSpec(items=("a", "b"), range=(1, 5))}, person="pid")


def test_no_scales_returns_a_copy_and_an_empty_table():
    df = pd.DataFrame({"pid": [1], "a": [1]})
    out, rel = score_scales(df, {}, person="pid")
    assert out is not df and out.equals(df)
    assert rel.empty and "alpha_within" in rel.columns
