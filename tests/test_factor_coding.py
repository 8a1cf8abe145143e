"""Factor coding: contrast columns, names, coding new values, save/load."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ambidex_bayes.errors import DataError, SpecError
from ambidex_bayes.factor_coding import (
    FactorCoding,
    contrast_column_name,
    factor_coding,
    level_strings,
)


def test_treatment_coding_first_level_is_reference_by_default() -> None:
    f = factor_coding("sector", ["Catholic", "Public"])
    assert f.reference == "Catholic"
    assert f.columns == ("sector_Public",)
    coded = f.code(pd.Series(["Public", "Catholic", None, " Public "]))
    np.testing.assert_array_equal(coded["sector_Public"].to_numpy()[[0, 1, 3]], [1.0, 0.0, 1.0])
    assert np.isnan(coded["sector_Public"].iloc[2])


def test_treatment_coding_with_chosen_reference_three_levels() -> None:
    f = factor_coding("g", ["a", "b", "c"], reference="b")
    assert f.columns == ("g_a", "g_c")
    assert f.coded_levels == ("a", "c")
    m = f.code(pd.Series(["a", "b", "c"])).to_numpy()
    np.testing.assert_array_equal(m, [[1, 0], [0, 0], [0, 1]])


def test_sum_coding_last_level_is_minus_one() -> None:
    f = factor_coding("g", ["a", "b", "c"], contrast="sum")
    assert f.reference is None
    assert f.columns == ("g_a", "g_b")
    m = f.code(pd.Series(["a", "b", "c"])).to_numpy()
    np.testing.assert_array_equal(m, [[1, 0], [0, 1], [-1, -1]])
    # sum-coded columns sum to zero over a balanced set of levels
    np.testing.assert_array_equal(m.sum(axis=0), [0, 0])


def test_names_are_plain_and_distinct() -> None:
    assert contrast_column_name("sector", "Catholic school") == "sector_Catholic_school"
    assert contrast_column_name("Sector (2)", "a-b") == "Sector_2_a_b"
    assert contrast_column_name("_x", "1") == "f_x_1"
    f = factor_coding("s", ["z", "a b", "a-b"], reference="z")
    assert f.columns == ("s_a_b", "s_a_b_2")


def test_errors_name_the_column_and_list_the_levels() -> None:
    with pytest.raises(SpecError, match=r"'sector' has no level 'Privat'.*'Catholic', 'Public'"):
        factor_coding("sector", ["Catholic", "Public"], reference="Privat")
    with pytest.raises(SpecError, match="at least two"):
        factor_coding("sector", ["Public"])
    with pytest.raises(SpecError, match="sum coding has no reference"):
        factor_coding("sector", ["a", "b"], reference="a", contrast="sum")
    with pytest.raises(SpecError, match="unknown contrast"):
        factor_coding("sector", ["a", "b"], contrast="helmert")
    f = factor_coding("sector", ["Catholic", "Public"])
    with pytest.raises(
        DataError, match=r"'sector' holds level\(s\) 'Private'.*'Catholic', 'Public'"
    ):
        f.code(pd.Series(["Public", "Private"]), what="apply()")


def test_level_strings_of_numbers_and_text() -> None:
    s = level_strings(pd.Series([1.0, 2, 2.5, np.nan, "  x ", ""], dtype=object))
    assert list(s) == ["1", "2", "2.5", None, "x", None]


def test_to_dict_round_trip() -> None:
    f = factor_coding("g", ["a", "b", "c"], contrast="sum")
    assert FactorCoding.from_dict(f.to_dict()) == f
    t = factor_coding("g", ["a", "b"], reference="b")
    assert FactorCoding.from_dict(t.to_dict()) == t
