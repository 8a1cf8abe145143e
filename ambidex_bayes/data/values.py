"""Cell values of a diary table: numbers, person ids and row numbers, read the same way
everywhere, and bad values described in words.

:func:`to_float` reads a column as numbers and flags the cells that are not (text, a
decimal comma); :func:`too_large` flags magnitudes above :data:`MAX_ABS_VALUE`;
:func:`person_id_strings` turns person ids into the labels they are compared as;
:func:`row_numbers`, :func:`format_rows` and :func:`describe_bad_values` name the rows and
values a message is about. :mod:`ambidex_bayes.data.validate`, the scale scoring and the
preparation of the data all use them, so a value means the same at every step.

Row numbers
-----------
Rows are named by their number in the source file counting the header line as row 1, so the
first data row is row 2 -- the number a spreadsheet program shows. For a DataFrame passed in
directly the same convention applies to its row positions (position 0 is "row 2"). A frame
that already has a ``__row__`` column of whole numbers keeps those numbers.

Person ids
----------
Person ids are labels, compared as text after :func:`person_id_strings`: ``12``, ``12.0``,
``"12"``, ``"12.0"``, ``"+12"`` and ``" 12 "`` are one person; ``"012"`` is another.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ambidex_bayes.data.mapping import ROW_COLUMN
from ambidex_bayes.errors import DataError

__all__ = [
    "MAX_ABS_VALUE",
    "describe_bad_values",
    "format_rows",
    "person_id_strings",
    "row_numbers",
    "string_columns",
    "to_float",
    "too_large",
]

#: Largest magnitude accepted in a numeric column. Centring, variances and sums of squares
#: over many rows square the values; above this they could overflow to infinity.
MAX_ABS_VALUE = 1e100

_FIRST_DATA_ROW = 2
#: How many offending rows a message names before "and N more".
SHOW_ROWS = 5
_SHORT = 40
#: A number written with a decimal comma (``"3,5"``), which is read as text, not as 3.5.
DECIMAL_COMMA = re.compile(r"^[+-]?\d*,\d+$")
_INTEGER_TEXT = re.compile(r"([+-]?)([0-9]+)(?:\.0*)?")


def format_rows(rows: Sequence[int] | np.ndarray, *, limit: int = SHOW_ROWS) -> str:
    """Describe row numbers for a message: ``"rows 3, 7 and 12 more"``."""
    rows = [int(r) for r in rows]
    if not rows:
        return "no rows"
    shown = ", ".join(str(r) for r in rows[:limit])
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    return f"row{'s' if len(rows) > 1 else ''} {shown}{more}"


def format_value(value: object) -> str:
    """A value for a message; a whole float without its ``.0`` (``3.0`` -> ``"3"``)."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def short_value(value: object, limit: int = _SHORT) -> str:
    """``repr`` of ``str(value)``, shortened for messages (very long texts are cut)."""
    text = str(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return repr(text)


def string_columns(df: pd.DataFrame, source: str = "data") -> pd.DataFrame:
    """A shallow copy of ``df`` whose column names are strings (and whose sparse columns are
    dense), or a DataError. ``df`` itself is not modified.

    Raises
    ------
    DataError
        The columns have more than one header level, or two columns have the same name
        once written as text (``1`` and ``"1"``).
    """
    if isinstance(df.columns, pd.MultiIndex):
        raise DataError(
            f"{source}: the columns have {df.columns.nlevels} header levels; give the data a "
            "single header row (one name per column)"
        )
    names = [str(c) for c in df.columns]
    counts: dict[str, int] = {}
    for n in names:
        counts[n] = counts.get(n, 0) + 1
    dup = [n for n, k in counts.items() if k > 1]
    if dup:
        raise DataError(
            f"{source}: column name(s) {', '.join(short_value(n) for n in dup)} occur more than once; "
            "give every column a distinct name"
        )
    out = df.copy(deep=False)
    out.columns = pd.Index(names, dtype=object)
    for col in out.columns:
        if isinstance(out[col].dtype, pd.SparseDtype):
            out[col] = out[col].sparse.to_dense()
    return out


def person_id_strings(values: pd.Series) -> pd.Series:
    """Turn person ids into strings: ``12``, ``12.0``, ``"12.0"``, ``"+12"`` and ``" 12 "``
    all become ``"12"``.

    Numbers with a whole value lose their decimals; text is stripped, and text that is a
    whole number written with trailing decimal zeros or a plus sign loses those (leading zeros
    are kept: ``"007"`` stays ``"007"``). Missing ids and empty strings become missing (NaN).
    The index is kept.
    """

    def one(v: object) -> object:
        if v is None or (isinstance(v, float | np.floating) and np.isnan(v)) or v is pd.NA:
            return np.nan
        if v is pd.NaT:
            return np.nan
        if isinstance(v, float | np.floating) and float(v).is_integer():
            return str(int(v))
        text = str(v).strip()
        whole = _INTEGER_TEXT.fullmatch(text)
        if whole:
            sign, digits = whole.groups()
            return ("-" if sign == "-" and digits.strip("0") else "") + digits
        return text if text else np.nan

    # a diary repeats each id on every row: text, whole numbers and floats are converted once
    # per distinct value (keyed with their type, so 1, 1.0 and "1" are converted each)
    converted: dict[tuple[type, object], object] = {}

    def cached(v: object) -> object:
        if type(v) not in (str, int, float):
            return one(v)
        key = (type(v), v)
        if key not in converted:
            converted[key] = one(v)
        return converted[key]

    s = pd.Series(values)
    return pd.Series([cached(v) for v in s.astype(object)], index=s.index, dtype="str")


def to_float(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Convert a column to float64 without guessing.

    Numbers are taken as they are, booleans as 1 and 0 (also single ``True``/``False``
    cells in a text column), text as the number it spells after stripping spaces
    (``" 3.5 "`` is 3.5; ``"inf"`` is infinite, see :func:`too_large`). Complex numbers count
    only when their imaginary part is 0.

    Returns
    -------
    (numbers, bad)
        ``numbers``: float64 with NaN for missing or unconvertible cells; ``bad``: a boolean
        mask of cells that hold something (not empty) that is not a number.
    """
    s = pd.Series(values)
    if pd.api.types.is_complex_dtype(s):
        arr = s.to_numpy(dtype="complex128", na_value=np.nan)
        bad = (arr.imag != 0) & ~np.isnan(arr.imag)
        real = np.where(bad, np.nan, arr.real)
        return pd.Series(real, index=s.index, dtype="float64"), pd.Series(bad, index=s.index)
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
        nums = pd.Series(s.to_numpy(dtype="float64", na_value=np.nan), index=s.index)
        return nums, pd.Series(False, index=s.index)

    def cell(v: object) -> object:
        if isinstance(v, bool | np.bool_):
            return "1" if v else "0"
        if _is_missing(v):
            return np.nan
        return str(v).strip()

    text = pd.Series([cell(v) for v in s.astype(object)], index=s.index, dtype=object)
    empty = text.isna() | (text == "")
    nums = pd.to_numeric(text.where(~empty), errors="coerce").astype("float64")
    return nums, (~empty) & nums.isna()


def _is_missing(v: object) -> bool:
    """True for None, NaN, NA and NaT (scalars only)."""
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def too_large(numbers: pd.Series) -> pd.Series:
    """Mask of values that are infinite or larger in magnitude than :data:`MAX_ABS_VALUE`."""
    return numbers.abs() > MAX_ABS_VALUE


def describe_bad_values(raw: pd.Series, bad: pd.Series, rows: pd.Series) -> str:
    """``"'abc' (row 5), 'n/a' (rows 7, 9)"`` for the first few distinct bad values."""
    groups: dict[str, list[int]] = {}
    for value, row in zip(raw[bad].astype(object), rows[bad], strict=True):
        groups.setdefault(str(value), []).append(int(row))
    parts = [
        f"{short_value(v)} ({format_rows(r, limit=3)})" for v, r in list(groups.items())[:SHOW_ROWS]
    ]
    more = f" and {len(groups) - SHOW_ROWS} other values" if len(groups) > SHOW_ROWS else ""
    return ", ".join(parts) + more


def row_numbers(df: pd.DataFrame) -> np.ndarray:
    """Source row numbers of ``df``'s rows: its ``__row__`` column, else position + 2."""
    if ROW_COLUMN in df.columns:
        nums, bad = to_float(df[ROW_COLUMN])
        if not bad.any() and nums.notna().all() and (nums % 1 == 0).all() and nums.is_unique:
            return nums.to_numpy(dtype="int64")
    return np.arange(_FIRST_DATA_ROW, _FIRST_DATA_ROW + len(df), dtype="int64")
