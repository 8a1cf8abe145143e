"""Property tests of the whole data path: DataFrame or file -> load_diary -> prepare.

Every generated input must end either in a correct prepared table (rows, person means, centred
and scaled values checked against an exact oracle; the caller's frame untouched; no value
silently changed) or in an AmbidexError whose message names the column or file -- never in
another exception type, and never with a warning. See ``hypothesis_support``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from hypothesis_support import (
    counted,
    describe,
    diary_cases,
    examples,
    judge,
    oracle,
    run_pipeline,
)


@examples(200)
@given(case=diary_cases("frame"), detrend=st.booleans(), standardize=st.booleans())
@counted
def test_dataframe_is_prepared_exactly_or_refused_readably(case, detrend, standardize):
    show = describe(case, detrend=detrend, standardize=standardize)
    original = case.df.copy(deep=True)
    out = run_pipeline(case.df, case.mapping, detrend=detrend, standardize=standardize, show=show)
    exp = oracle(case, path="frame", detrend=detrend, standardize=standardize)
    judge(case, exp, out, source="<DataFrame>", show=show, original=original)


@examples(80)
@given(
    data=st.data(),
    fmt=st.sampled_from(["csv", "csv_bom", "csv_semicolon", "tsv", "parquet"]),
    detrend=st.booleans(),
    standardize=st.booleans(),
)
@counted
def test_file_round_trip_is_prepared_exactly_or_refused_readably(data, fmt, detrend, standardize):
    kind = {"parquet": "parquet", "csv_semicolon": "csv_comma_decimal"}.get(fmt, "csv")
    case = data.draw(diary_cases(kind), label="case")
    show = describe(case, detrend=detrend, standardize=standardize, fmt=fmt)
    original = case.df.copy(deep=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("diary.parquet" if fmt == "parquet" else f"diary.{fmt[:3]}")
        if fmt == "parquet":
            case.df.to_parquet(path, index=False)
        elif fmt == "csv_semicolon":
            case.df.to_csv(path, index=False, sep=";", decimal=",")
        elif fmt == "tsv":
            case.df.to_csv(path, index=False, sep="\t")
        else:
            encoding = "utf-8-sig" if fmt == "csv_bom" else "utf-8"
            case.df.to_csv(path, index=False, encoding=encoding)
        out = run_pipeline(path, case.mapping, detrend=detrend, standardize=standardize, show=show)
    path_kind = "frame" if fmt == "parquet" else "text"
    exp = oracle(case, path=path_kind, detrend=detrend, standardize=standardize)
    judge(case, exp, out, source=str(path), show=show, original=original)
