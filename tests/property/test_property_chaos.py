"""Property tests with columns of any dtype and any cell: no oracle, only the invariants.

Columns are drawn from many pandas dtypes (float16, uint64, nullable and Arrow-backed types,
datetimes with and without time zone, timedeltas, periods, intervals, categories, sparse
arrays) and from object columns holding anything (None, NaN, inf, huge integers, Decimals,
Fractions, complex numbers, dates, bytes, lists, text). Whatever the mapping picks, the result
is a prepared table that keeps its promises, or an AmbidexError that names a column.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import event, given
from hypothesis import strategies as st
from hypothesis_support import check_message, counted, examples, run_pipeline

N_ROWS = st.integers(1, 9)

ANY_CELL = st.one_of(
    st.none(),
    st.just(np.nan),
    st.just(pd.NA),
    st.just(pd.NaT),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**30), 10**30),
    st.integers(-3, 3),
    st.booleans(),
    st.text(max_size=8),
    st.sampled_from(["", " ", " 1 ", "1.0", "+2", "1e400", "-inf", "nan", "NA", "0x1", "1,5"]),
    st.decimals(allow_nan=True, allow_infinity=True).filter(lambda d: not d.is_snan()),
    st.fractions(max_denominator=7),
    st.complex_numbers(max_magnitude=1e3),
    st.datetimes(),
    st.timedeltas(),
    st.binary(max_size=4),
    st.lists(st.integers(), max_size=2),
)

DTYPES = [
    "object",
    "float16",
    "float64",
    "uint64",
    "int8",
    "Float64",
    "Int64",
    "boolean",
    "string",
    "category",
    "datetime64[ns]",
    "datetime64[ns, UTC]",
    "timedelta64[ns]",
    "period",
    "interval",
    "sparse",
    "float64[pyarrow]",
    "int64[pyarrow]",
    "string[pyarrow]",
    "bool[pyarrow]",
]


@st.composite
def any_column(draw, n: int) -> pd.Series:
    dtype = draw(st.sampled_from(DTYPES))
    small = st.lists(st.integers(-3, 3), min_size=n, max_size=n)
    if dtype == "object":
        return pd.Series(draw(st.lists(ANY_CELL, min_size=n, max_size=n)), dtype=object)
    if dtype in ("float16", "float64", "Float64", "float64[pyarrow]"):
        cells = draw(
            st.lists(
                st.one_of(st.floats(width=16 if dtype == "float16" else 64), st.integers(-3, 3)),
                min_size=n,
                max_size=n,
            )
        )
        if dtype in ("Float64", "float64[pyarrow]"):
            cells = [None if isinstance(c, float) and math.isnan(c) else c for c in cells]
        return pd.Series(cells, dtype=dtype)
    if dtype == "uint64":
        return pd.Series(
            draw(st.lists(st.integers(0, 2**64 - 1), min_size=n, max_size=n)), dtype=dtype
        )
    if dtype in ("int8", "Int64", "int64[pyarrow]"):
        cells = draw(st.lists(st.one_of(st.integers(-128, 127), st.none()), min_size=n, max_size=n))
        if dtype == "int8":
            cells = [0 if c is None else c for c in cells]
        return pd.Series(cells, dtype=dtype)
    if dtype in ("boolean", "bool[pyarrow]"):
        return pd.Series(
            draw(st.lists(st.one_of(st.booleans(), st.none()), min_size=n, max_size=n)), dtype=dtype
        )
    if dtype in ("string", "string[pyarrow]"):
        cells = draw(
            st.lists(
                st.one_of(st.none(), st.text(max_size=6), st.integers(-3, 3).map(str)),
                min_size=n,
                max_size=n,
            )
        )
        return pd.Series(cells, dtype=dtype)
    if dtype == "category":
        return pd.Series(
            pd.Categorical(
                draw(
                    st.lists(
                        st.one_of(st.integers(-3, 3), st.text(max_size=3)), min_size=n, max_size=n
                    )
                )
            )
        )
    if dtype.startswith("datetime64"):
        cells = draw(
            st.lists(
                st.datetimes(
                    min_value=pd.Timestamp("1700-01-01").to_pydatetime(),
                    max_value=pd.Timestamp("2200-01-01").to_pydatetime(),
                ),
                min_size=n,
                max_size=n,
            )
        )
        s = pd.Series(pd.to_datetime(cells))
        return s.dt.tz_localize("UTC") if "UTC" in dtype else s
    if dtype == "timedelta64[ns]":
        return pd.Series(pd.to_timedelta(draw(small), unit="D"))
    if dtype == "period":
        return pd.Series(pd.period_range("2024-01-01", periods=n, freq="D"))
    if dtype == "interval":
        return pd.Series(pd.interval_range(0, n))
    return pd.Series(pd.arrays.SparseArray(draw(small), fill_value=0), dtype="Sparse[float64]")


FRIENDLY = [
    "float16",
    "float64",
    "Float64",
    "uint8",
    "int8",
    "Int64",
    "boolean",
    "sparse",
    "category",
    "string",
    "object",
    "float64[pyarrow]",
    "int64[pyarrow]",
    "bool[pyarrow]",
    "string[pyarrow]",
]


def friendly(draw, values: list, dtype: str) -> pd.Series:
    """``values`` (small whole numbers or None) stored in ``dtype``."""
    if dtype in ("boolean", "bool[pyarrow]"):
        return pd.Series([None if v is None else v % 2 == 1 for v in values], dtype=dtype)
    if dtype in ("uint8", "int8"):
        return pd.Series([0 if v is None else abs(v) for v in values], dtype=dtype)
    if dtype == "sparse":
        filled = [0.0 if v is None else float(v) for v in values]
        return pd.Series(pd.arrays.SparseArray(filled, fill_value=0.0))
    if dtype == "category":
        return pd.Series(pd.Categorical(values))
    if dtype in ("string", "string[pyarrow]"):
        pads = st.sampled_from(["", " ", "\t"])
        cells = [None if v is None else draw(pads) + str(v) + draw(pads) for v in values]
        return pd.Series(cells, dtype=dtype)
    if dtype == "object":
        how = st.sampled_from([int, float, str, np.float32, np.int16])
        return pd.Series([None if v is None else draw(how)(v) for v in values], dtype=object)
    return pd.Series(values, dtype=dtype)


@st.composite
def any_table(draw):
    n = draw(N_ROWS)
    names = draw(
        st.lists(
            st.sampled_from(["p", "d", "y", "x", "x2", "w", "c", "z"]),
            min_size=5,
            max_size=8,
            unique=True,
        )
    )
    df = pd.DataFrame({name: draw(any_column(n)).reset_index(drop=True) for name in names})
    roles = draw(st.permutations(names))
    mapping = {"person": roles[0], "outcome": roles[1], "level1": [roles[2]]}
    rest = list(roles[3:])
    if rest and draw(st.booleans()):
        mapping["occasion"] = rest.pop()
    if rest and draw(st.booleans()):
        mapping["level2"] = [rest.pop()]
    if rest and draw(st.booleans()):
        mapping["controls"] = [rest.pop()]
    # Most model columns get friendly contents, so that many tables are prepared.
    persons = draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    if draw(st.integers(0, 5)):
        df[roles[0]] = friendly(
            draw,
            persons,
            draw(st.sampled_from(["Int64", "string", "object", "category", "int64[pyarrow]"])),
        )
    cell = st.integers(-4, 6).flatmap(lambda v: st.sampled_from([v] * 7 + [None]))
    for col in [mapping["outcome"], *mapping["level1"], *mapping.get("controls", [])]:
        if draw(st.integers(0, 3)):
            values = draw(st.lists(cell, min_size=n, max_size=n))
            df[col] = friendly(draw, values, draw(st.sampled_from(FRIENDLY)))
    if mapping.get("occasion") and draw(st.integers(0, 3)):
        seen: dict[int, int] = {}
        days = []
        for p in persons:
            seen[p] = seen.get(p, 0) + 1
            days.append(seen[p])
        df[mapping["occasion"]] = friendly(draw, days, draw(st.sampled_from(FRIENDLY[:7])))
    for w in mapping.get("level2", []):
        if draw(st.integers(0, 3)):
            per = draw(st.lists(st.integers(-3, 3), min_size=3, max_size=3))
            df[w] = friendly(draw, [per[p] for p in persons], draw(st.sampled_from(FRIENDLY)))
    return df, mapping


def _show(df: pd.DataFrame, mapping: dict, **options) -> str:
    cols = {c: [repr(v)[:40] for v in df[c]] + [str(df[c].dtype)] for c in df.columns}
    return f"mapping={mapping!r}\noptions={options!r}\ncolumns={cols!r}"


@examples(150)
@given(table=any_table(), detrend=st.booleans(), standardize=st.booleans())
@counted
def test_columns_of_any_dtype_are_prepared_or_refused_readably(table, detrend, standardize):
    df, mapping = table
    show = _show(df, mapping, detrend=detrend, standardize=standardize)
    original = df.copy(deep=True)
    out = run_pipeline(df, mapping, detrend=detrend, standardize=standardize, show=show)
    event(f"outcome: {'prepared' if out.error is None else type(out.error).__name__}")
    if out.error is not None:
        first = getattr(out.error, "problems", None) or [str(out.error)]
        event("first problem: " + first[0].split(";")[0].split(":")[0][:70])
    pd.testing.assert_frame_equal(df, original)
    assert not out.warnings, f"warnings: {out.warnings}\n{show}"
    names = [mapping["person"], mapping["outcome"], *mapping["level1"]]
    names += [mapping.get("occasion")] if mapping.get("occasion") else []
    names += mapping.get("level2", []) + mapping.get("controls", [])
    if out.error is not None:
        check_message(out.error, names, "<DataFrame>", show)
        return
    f, valid = out.prepared.frame, out.diary.frame
    model = [c for c in names if c != mapping["person"]]
    # rows: the complete validated rows, no more, no less
    complete = valid[model].notna().all(axis=1) & valid[mapping["person"]].notna()
    assert sorted(f["__row__"]) == sorted(valid.loc[complete, "__row__"]), show
    numeric = [c for c in f.columns if c != mapping["person"]]
    assert np.isfinite(f[numeric].to_numpy(dtype=float)).all(), show
    g = f[mapping["person"]]
    for x in mapping["level1"]:
        t = out.prepared.transforms[f"{x}_cw"]
        within = f[f"{x}_cw"] * t.scale
        tol = 1e-8 * float(f[x].abs().max()) + 1e-300
        assert (within.groupby(g).mean().abs() <= tol).all(), show
        means = f.groupby(mapping["person"])[x].mean()
        for pid, v in means.items():
            got = float(out.prepared.person_means.loc[pid, x])
            assert abs(got - v) <= tol, show
    # values are the validated ones (nothing changed on the way)
    by_row = valid.set_index("__row__")
    for col in model:
        assert (f[col].to_numpy() == by_row.loc[f["__row__"], col].to_numpy()).all(), show
