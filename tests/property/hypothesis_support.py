"""Strategies, an exact oracle and the judge shared by the property tests of the data layer.

A generated :class:`Case` is a diary table as a caller might hand it over -- random column
names (unicode, very long), person ids of many kinds (numbers, numeric text with spaces,
``1`` next to ``"1"``, unicode, very long text, booleans), numeric columns stored as floats,
text with spaces around the numbers, nullable integers, booleans, categories, complex
numbers, extreme values (1e300, -0.0, subnormals, inf), missing cells of every kind, bad
text, constant and empty columns, junk columns, empty rows, a single person, one diary per
person -- together with what each cell *means* (a number, missing, or not a number).

:func:`oracle` works out from those meanings, in exact rational arithmetic, what the data
layer must do: refuse the data (and why, naming which column) or prepare them (and which
rows, which person means, which centred and scaled values). :func:`judge` runs
``load_diary`` and ``prepare`` and compares. An exception that is not an
:class:`~ambidex_bayes.errors.AmbidexError`, or any warning (a RuntimeWarning from a NaN
computation, say), fails the test with the input shown.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import os
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, event, note, settings
from hypothesis import strategies as st

from ambidex_bayes.data import load_diary
from ambidex_bayes.errors import AmbidexError, SpecError, ValidationError
from ambidex_bayes.prepare import prepare

#: Largest magnitude the data layer accepts (its ``validate.MAX_ABS_VALUE``; the oracle keeps
#: its own copy so that it does not just repeat the code under test).
MAX_ABS_VALUE = 1e100

# --------------------------------------------------------------------------- profiles

settings.register_profile(
    "ambidex-dev",
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
#: CI (env CI=true): the same examples on every run, no example database.
settings.register_profile(
    "ambidex-ci", parent=settings.get_profile("ambidex-dev"), derandomize=True, database=None
)
PROFILE = "ambidex-ci" if os.environ.get("CI", "").lower() in ("true", "1") else "ambidex-dev"
_SCALE = float(os.environ.get("AMBIDEX_HYPOTHESIS_SCALE", "1"))


def examples(n: int) -> settings:
    """Settings of the active profile with ``n`` examples (times AMBIDEX_HYPOTHESIS_SCALE)."""
    return settings(settings.get_profile(PROFILE), max_examples=max(1, round(n * _SCALE)))


# --------------------------------------------------------------------------- counting

#: Examples run per test function (read by the conftest's summary).
CASES: Counter[str] = Counter()


def counted(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Count in :data:`CASES` every example that runs to its end, passing or failing (not
    those hypothesis abandons while generating them)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            result = fn(*args, **kwargs)
        except AssertionError:
            CASES[fn.__name__] += 1
            raise
        CASES[fn.__name__] += 1
        return result

    return wrapper


# --------------------------------------------------------------------------- cell meanings


@dataclass(frozen=True)
class Bad:
    """A cell that is not a number (the text or object stored in it)."""

    cell: object


#: Missing-value tokens of pandas' text reader (a text file cell holding one is missing).
NA_TOKENS = frozenset(
    ["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN"]
    + ["<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"]
)

# Text that is never a number: every string holds a letter that no number spelling uses.
_SAFE_LETTERS = "bcdghjkmopqrstuvwxyzBCDGHJKMOPQRSTUVWXYZéøßλψжд漢字日記😀"
_TEXT = st.text(alphabet=_SAFE_LETTERS + "aefin0123456789 _-./", min_size=1, max_size=12).filter(
    lambda s: any(c in _SAFE_LETTERS for c in s) and s.strip() not in NA_TOKENS
)
BAD_TEXT = st.one_of(
    _TEXT,
    st.sampled_from(["n/b", "3 4", "--1", "1..2", "12abc", "ωmega", "x" * 3000, "é" * 70000]),
)
COLUMN_NAMES = st.one_of(
    st.text(alphabet=_SAFE_LETTERS + "aefin0123456789_", min_size=1, max_size=10),
    st.sampled_from(["pid", "day", "y", "x", "w", "c", "x 1", "日記", "ψ", "1", "2.5", "v" * 200]),
).filter(lambda s: s == s.strip() and s != "__row__")

MODERATE = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
SMALL_INT = st.integers(-2, 5).map(float)
EXTREME = st.sampled_from(
    [1e300, -1e300, 1e100, -1e100, 1.0000000000000002e100, 1.7976931348623157e308]
    + [5e-324, -5e-324, 1e-300, 2.2250738585072014e-308, 1e-200, -0.0, 0.0, math.inf, -math.inf]
)
TINY = st.floats(-1e-300, 1e-300, allow_nan=False, allow_subnormal=True)
#: Extreme values that are still allowed (within +-MAX_ABS_VALUE).
EXTREME_OK = st.sampled_from(
    [1e100, -1e100, 9.999999999999999e99, 5e-324, -5e-324, 1e-300, 2.2250738585072014e-308]
    + [1e-200, -0.0, 0.0, 1e15 + 0.5, 123456789.123456789]
)
VALUE_KINDS = {
    "ints": SMALL_INT,
    "moderate": st.one_of(MODERATE, SMALL_INT),
    "extreme": st.one_of(EXTREME, SMALL_INT),
    "extreme_ok": st.one_of(EXTREME_OK, SMALL_INT, MODERATE),
    "tiny": st.one_of(TINY, st.just(0.0)),
}
_KIND_NAMES = ["ints", "ints", "moderate", "moderate", "moderate", "extreme", "tiny"]
#: Value kinds of a clean case (one that the data layer should prepare).
_CLEAN_KIND_NAMES = ["ints", "moderate", "moderate", "moderate", "extreme_ok", "tiny"]
PADS = ["", "", " ", "  ", "\t", "\u00a0 "]

FRAME_ENCODINGS = ["float64", "object", "string", "Int64", "bool", "complex", "category", "float32"]
CSV_ENCODINGS = ["float64", "object", "string", "Int64", "bool", "category"]
PARQUET_ENCODINGS = ["float64", "string", "Int64", "bool", "category"]


# --------------------------------------------------------------------------- the case


@dataclass
class Case:
    """A generated diary table, its mapping and what every model cell means.

    ``numbers[col][i]`` is the number in row ``i`` (a float), None (missing) or a
    :class:`Bad`; the occasion's entry holds days (dates already turned into days since the
    first date). ``ids[i]`` is the person id as the data layer must write it, or None.
    ``filled[i]`` says whether row ``i`` holds anything at all (else it is an empty row);
    ``filled_text[i]`` the same once written to a text file (an empty string is then missing).
    """

    df: pd.DataFrame
    mapping: dict[str, Any]
    ids: list[str | None]
    numbers: dict[str, list[Any]]
    filled: list[bool]
    filled_text: list[bool]
    kind: str = "frame"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def occasion(self) -> str | None:
        return self.mapping.get("occasion")

    def model_columns(self) -> list[str]:
        m = self.mapping
        occ = [m["occasion"]] if m.get("occasion") else []
        return [m["person"], *occ, m["outcome"], *m["level1"], *m.get("level2", [])] + list(
            m.get("controls", [])
        )


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(case: Case, **options: Any) -> str:
    """The case in words for a failure report (long cells shortened)."""
    cols = {
        str(c): [_short(v) for v in case.df[c].tolist()] + [f"<{case.df[c].dtype}>"]
        for c in case.df.columns
    }
    return (
        f"mapping={case.mapping!r}\noptions={options!r}\nkind={case.kind} {case.extra!r}\n"
        f"index={list(case.df.index)[:12]!r}\ncolumns={cols!r}"
    )


# --------------------------------------------------------------------------- encoding


def _pad(draw: st.DrawFn, text: str) -> str:
    return draw(st.sampled_from(PADS)) + text + draw(st.sampled_from(PADS))


def _missing_cell(draw: st.DrawFn, encoding: str, text_file: bool, parquet: bool) -> object:
    if parquet:
        return None  # a Parquet column holds one type, and nulls
    if encoding in ("object", "bool"):
        choices: list[object] = [None, np.nan, "", "   "] + ([] if text_file else [pd.NA])
        return draw(st.sampled_from(choices))
    if encoding == "string":
        return draw(st.sampled_from([pd.NA, "", "  "]))
    return None  # typed columns: filled in by the constructor


def _number_cell(draw: st.DrawFn, v: float, encoding: str) -> object:
    if encoding == "string":
        return _pad(draw, repr(v))
    if encoding != "object":
        return v
    options = ["float", "text", "numpy"]
    if math.isfinite(v) and v.is_integer() and abs(v) < 1e15:
        options += ["int", "numpy_int"]
    if math.isfinite(v):
        options.append("decimal")
    how = draw(st.sampled_from(options))
    if how == "float":
        return float(v)
    if how == "numpy":
        return np.float64(v)
    if how == "int":
        return int(v)
    if how == "numpy_int":
        return np.int64(int(v))
    if how == "decimal":
        return Decimal(repr(v))
    return _pad(draw, repr(v))


def _usable(encoding: str, meanings: list[Any]) -> bool:
    nums = [v for v in meanings if isinstance(v, float)]
    has_bad = any(isinstance(v, Bad) for v in meanings)
    if has_bad and encoding not in ("object", "string", "complex"):
        return False
    if encoding == "Int64":
        return all(math.isfinite(v) and v.is_integer() and abs(v) < 2**53 for v in nums)
    if encoding == "bool":
        return all(v in (0.0, 1.0) for v in nums)
    if encoding == "float32":
        return all(abs(v) < 1e30 and float(np.float32(v)) == v for v in nums)
    if encoding == "complex":
        return all(isinstance(v.cell, complex) for v in meanings if isinstance(v, Bad))
    if encoding == "string":
        return all(isinstance(v.cell, str) for v in meanings if isinstance(v, Bad))
    return True


def build_column(
    draw: st.DrawFn,
    meanings: list[Any],
    encodings: list[str],
    *,
    text_file: bool = False,
    parquet: bool = False,
) -> pd.Series:
    """A column whose cells mean ``meanings`` (float, None or Bad), in a drawn encoding."""
    usable = [e for e in encodings if _usable(e, meanings)] or ["object"]
    enc = draw(st.sampled_from(usable))
    if enc == "float64":
        return pd.Series([np.nan if v is None else v for v in meanings], dtype="float64")
    if enc == "float32":
        return pd.Series([np.nan if v is None else v for v in meanings], dtype="float32")
    if enc == "Int64":
        return pd.Series([pd.NA if v is None else int(v) for v in meanings], dtype="Int64")
    if enc == "complex":
        return pd.Series(
            [
                complex(np.nan, 0.0) if v is None else v.cell if isinstance(v, Bad) else complex(v)
                for v in meanings
            ],
            dtype="complex128",
        )
    if enc == "category":
        return pd.Series(pd.Categorical([np.nan if v is None else v for v in meanings]))
    if enc == "bool":
        if any(v is None for v in meanings):
            cells = [
                _missing_cell(draw, "bool", text_file, parquet) if v is None else bool(v)
                for v in meanings
            ]
            return pd.Series(cells, dtype=object)
        return pd.Series([bool(v) for v in meanings], dtype=bool)
    cells = []
    for v in meanings:
        if v is None:
            cells.append(_missing_cell(draw, enc, text_file, parquet))
        elif isinstance(v, Bad):
            cells.append(v.cell)
        else:
            cells.append(_number_cell(draw, v, enc))
    if enc == "string":
        return pd.Series(pd.array(cells, dtype="string"))
    return pd.Series(cells, dtype=object)


def _is_filled(cell: object, *, text_file: bool) -> bool:
    try:
        missing = bool(pd.isna(cell))
    except (TypeError, ValueError):
        missing = False
    if missing:
        return False
    if text_file and isinstance(cell, str) and cell.strip() in NA_TOKENS and cell == cell.strip():
        return False
    if text_file and isinstance(cell, str) and cell == "":
        return False
    return True


# --------------------------------------------------------------------------- ids


@st.composite
def _person_ids(draw: st.DrawFn, n: int, kind: str) -> tuple[str, list[str], list[object]]:
    """(style, canonical ids, one raw value per person) for ``n`` persons."""
    styles = ["int", "str_int", "mixed", "text", "long", "float_frac"]
    if n <= 2:
        styles.append("bool")
    if kind == "csv_comma_decimal":
        styles = [s for s in styles if s != "float_frac"]
    style = draw(st.sampled_from(styles))
    if style == "bool":
        raw = [True, False][:n]
        return style, [str(v) for v in raw], raw
    if style == "text":
        texts = draw(
            st.lists(_TEXT, min_size=n, max_size=n, unique_by=str.strip).filter(
                lambda xs: all(t.strip() and t.strip() not in NA_TOKENS for t in xs)
            )
        )
        return style, [t.strip() for t in texts], texts
    if style == "long":
        base = draw(st.lists(_TEXT, min_size=n, max_size=n, unique_by=str.strip))
        texts = [(b.strip() or "q") * (2000 // max(1, len(b.strip())) + 1) for b in base]
        texts = [t + f"#{k}" for k, t in enumerate(texts)]
        return style, texts, texts
    ints = draw(st.lists(st.integers(-5, 10**12), min_size=n, max_size=n, unique=True))
    if style == "float_frac":
        raw = [k + 0.5 for k in ints]
        return style, [str(v) for v in raw], raw
    return style, [str(k) for k in ints], ints


def _id_cell(draw: st.DrawFn, style: str, raw: object) -> object:
    if style == "str_int":
        k = int(raw)
        text = draw(st.sampled_from([str(k), f"{k}.0", f"{k}.00"] + ([f"+{k}"] if k >= 0 else [])))
        return _pad(draw, text)
    if style == "mixed":
        k = int(raw)
        return draw(st.sampled_from([k, float(k), str(k), f" {k} ", f"{k}.0", np.int64(k)]))
    if style == "text":
        return _pad(draw, str(raw))
    return raw


def _id_column(
    draw: st.DrawFn, style: str, cells: list[object], kind: str
) -> pd.Series:  # cells: raw per row, None = missing
    if kind == "parquet":
        if style in ("int", "float_frac") and not any(c is None for c in cells):
            return pd.Series(cells)
        if style in ("int", "float_frac"):
            return pd.Series([np.nan if c is None else float(c) for c in cells], dtype="float64")
        if style == "bool" and not any(c is None for c in cells):
            return pd.Series(cells, dtype=bool)
        return pd.Series(pd.array([pd.NA if c is None else str(c) for c in cells], dtype="string"))
    if kind == "csv_comma_decimal" and style == "int" and any(c is None for c in cells):
        return pd.Series(cells, dtype=object)  # a float column would be written "1,0"
    if style in ("int", "float_frac", "bool") and not any(c is None for c in cells):
        return pd.Series(cells)
    missing = [None, np.nan, "", "  "] if kind == "frame" else [None, "", "  "]
    return pd.Series(
        [draw(st.sampled_from(missing)) if c is None else c for c in cells], dtype=object
    )


# --------------------------------------------------------------------------- the strategy

_BASE_DAY = dt.datetime(2024, 3, 4, tzinfo=dt.UTC)


@st.composite
def diary_cases(draw: st.DrawFn, kind: str = "frame") -> Case:
    """A diary table with its mapping and meanings; ``kind`` is ``"frame"`` (handed over as a
    DataFrame), ``"csv"``, ``"csv_comma_decimal"`` (written with ``;`` and decimal commas)
    or ``"parquet"`` (what survives writing such a file)."""
    text_file = kind.startswith("csv")
    parquet = kind == "parquet"
    # A clean case has none of the deliberate faults below (bad text, values too large,
    # constant columns, missing ids, duplicated occasions, a moderator that varies within a
    # person), so that most clean cases get prepared and their values checked.
    clean = draw(st.booleans())

    def chance(k: int) -> bool:
        """A deliberate fault, with probability 1/k (never in a clean case)."""
        return not clean and draw(st.integers(0, k - 1)) == 0

    encodings = {
        "frame": FRAME_ENCODINGS,
        "csv": CSV_ENCODINGS,
        "csv_comma_decimal": CSV_ENCODINGS,
        "parquet": PARQUET_ENCODINGS,
    }[kind]
    n_persons = draw(st.integers(1, 5))
    per_person = draw(st.lists(st.integers(1, 4), min_size=n_persons, max_size=n_persons))
    n_x, n_w, n_c = draw(st.integers(1, 2)), draw(st.integers(0, 2)), draw(st.integers(0, 1))
    if clean and n_persons == 1:
        n_w = 0
    occ_style = draw(st.sampled_from(["none", "int", "float", "iso", "datetime", "iso_tz"]))
    if kind == "parquet" and occ_style == "datetime":
        occ_style = "iso"
    n_junk = draw(st.integers(0, 2))
    n_names = 2 + n_x + n_w + n_c + (occ_style != "none") + n_junk
    names = draw(st.lists(COLUMN_NAMES, min_size=n_names, max_size=n_names, unique=True))
    it = iter(names)
    person, outcome = next(it), next(it)
    xs = [next(it) for _ in range(n_x)]
    ws = [next(it) for _ in range(n_w)]
    cs = [next(it) for _ in range(n_c)]
    occ = next(it) if occ_style != "none" else None
    junk = [next(it) for _ in range(n_junk)]

    # rows: person index per row, in a drawn order
    person_of = [p for p, k in enumerate(per_person) for _ in range(k)]
    order = draw(st.permutations(range(len(person_of))))
    person_of = [person_of[i] for i in order]
    n = len(person_of)

    id_style, canon, raw_ids = draw(_person_ids(n_persons, kind))
    ids: list[str | None] = [canon[p] for p in person_of]
    id_cells: list[object] = [_id_cell(draw, id_style, raw_ids[p]) for p in person_of]

    numbers: dict[str, list[Any]] = {}
    columns: dict[str, pd.Series] = {}

    def values(col: str, size: int) -> list[float]:
        kind_name = draw(st.sampled_from(_CLEAN_KIND_NAMES if clean else _KIND_NAMES))
        return draw(st.lists(VALUE_KINDS[kind_name], min_size=size, max_size=size))

    def with_missing(vals: list[Any]) -> list[Any]:
        if draw(st.integers(0, 3)) == 0:
            return [None if draw(st.integers(0, 4)) == 0 else v for v in vals]
        return vals

    def spoil(col: str, vals: list[Any], *, allow_complex: bool = True) -> list[Any]:
        if chance(8) and vals:
            i = draw(st.integers(0, len(vals) - 1))
            vals = list(vals)
            if allow_complex and kind == "frame" and draw(st.booleans()):
                vals[i] = Bad(complex(1.0, 2.0))
            else:
                text = draw(BAD_TEXT)
                vals[i] = Bad(text if kind == "frame" else text.replace("1,5", "1;5"))
        return vals

    # a pandas categorical moderator or control is a factor by design (tests/test_factors.py
    # covers it); here those columns hold numbers in every other encoding
    numeric_encodings = [e for e in encodings if e != "category"]
    for col in [outcome, *xs, *cs]:
        vals = values(col, n)
        if chance(8):  # a constant column
            vals = [vals[0]] * n
        vals = spoil(col, with_missing(vals))
        numbers[col] = vals
        col_encodings = numeric_encodings if col in cs else encodings
        columns[col] = build_column(draw, vals, col_encodings, text_file=text_file, parquet=parquet)

    for w in ws:
        per = values(w, n_persons)
        if chance(8):
            per = [per[0]] * n_persons
        vals: list[Any] = [per[p] for p in person_of]
        if draw(st.integers(0, 2)) == 0:  # given on only some of a person's rows
            vals = [None if draw(st.integers(0, 2)) == 0 else v for v in vals]
        if chance(8) and n:  # varies within a person
            i = draw(st.integers(0, n - 1))
            vals[i] = draw(VALUE_KINDS["ints"])
        vals = spoil(w, vals)
        numbers[w] = vals
        columns[w] = build_column(
            draw, vals, numeric_encodings, text_file=text_file, parquet=parquet
        )

    if occ is not None:
        day_numbers: list[Any] = []
        for k in per_person:
            days = draw(st.permutations(range(1, k + 1)))
            day_numbers.append(list(days))
        seen: dict[int, int] = defaultdict(int)
        occ_days: list[Any] = []
        for p in person_of:
            occ_days.append(float(day_numbers[p][seen[p]]))
            seen[p] += 1
        if chance(8) and n >= 2:  # a duplicated occasion
            i, j = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
            if i != j and person_of[i] == person_of[j]:
                occ_days[i] = occ_days[j]
        occ_days = with_missing(occ_days)
        if occ_style in ("int", "float"):
            if occ_style == "float":
                scale = draw(st.sampled_from([0.5, 1.0, 1e-3, 7.25]))
                occ_days = [None if v is None else v * scale for v in occ_days]
            occ_days = spoil(occ, occ_days, allow_complex=False)
            numbers[occ] = occ_days
            columns[occ] = build_column(
                draw, occ_days, encodings, text_file=text_file, parquet=parquet
            )
        else:
            offsets = [draw(st.sampled_from([0, 1, -2, 5])) for _ in range(n)]
            stamps: list[dt.datetime | None] = []
            cells: list[object] = []
            for v, off in zip(occ_days, offsets, strict=True):
                if v is None:
                    stamps.append(None)
                    cells.append(None)
                    continue
                local = _BASE_DAY.replace(tzinfo=None) + dt.timedelta(days=v)
                if occ_style == "iso_tz":
                    tz = dt.timezone(dt.timedelta(hours=off))
                    aware = local.replace(tzinfo=tz)
                    stamps.append(aware.astimezone(dt.UTC))
                    cells.append(_pad(draw, aware.isoformat()))
                else:
                    stamps.append(local.replace(tzinfo=dt.UTC))
                    text = local.date().isoformat()
                    cells.append(text if occ_style == "datetime" else _pad(draw, text))
            known = [s for s in stamps if s is not None]
            first = min(known) if known else None
            numbers[occ] = [
                None if s is None else (s - first).total_seconds() / 86400 for s in stamps
            ]
            if occ_style == "datetime":
                columns[occ] = pd.Series(pd.to_datetime(cells))
            elif kind == "parquet":
                columns[occ] = pd.Series(pd.array(cells, dtype="string"))
            else:
                columns[occ] = pd.Series(cells, dtype=object)
            if chance(8):
                numbers[occ] = spoil_dates(draw, numbers[occ], columns, occ)

    # a person id left empty
    if chance(8) and n:
        i = draw(st.integers(0, n - 1))
        ids[i] = None
        id_cells[i] = None
    columns = {person: _id_column(draw, id_style, id_cells, kind), **columns}

    for name in junk:
        columns[name] = _junk_column(draw, n, kind)

    # entirely empty rows
    n_empty = draw(st.integers(0, 2)) if draw(st.integers(0, 4)) == 0 else 0
    for _ in range(n_empty):
        at = draw(st.integers(0, n))
        for col, s in columns.items():
            blank = np.nan if s.dtype.kind in "fc" else pd.NA if s.dtype == "string" else None
            if s.dtype == bool or s.dtype.kind in "iu":
                s = s.astype(object)
                blank = None
            if isinstance(s.dtype, pd.CategoricalDtype):
                blank = np.nan
            if s.dtype == "Int64":
                blank = pd.NA
            if pd.api.types.is_datetime64_any_dtype(s):
                blank = pd.NaT
            values_ = list(s)
            values_.insert(at, blank)
            columns[col] = pd.Series(values_, dtype=s.dtype)
        ids.insert(at, None)
        for col in numbers:
            numbers[col].insert(at, None)
        n += 1

    # column order: drawn; the index: default, shuffled labels or text
    order_cols = draw(st.permutations(list(columns)))
    df = pd.DataFrame({c: columns[c].reset_index(drop=True) for c in order_cols})
    index_kind = draw(st.sampled_from(["range", "range", "labels", "text"]))
    if index_kind == "labels":
        df.index = pd.Index(draw(st.permutations([10 * i for i in range(n)])))
    elif index_kind == "text":
        df.index = pd.Index([f"r{i}" for i in range(n)])

    mapping: dict[str, Any] = {"person": person, "outcome": outcome, "level1": xs}
    if occ is not None:
        mapping["occasion"] = occ
    if ws:
        mapping["level2"] = ws
    if cs:
        mapping["controls"] = cs
    if draw(st.integers(0, 5)) == 0:  # a declared range for the outcome
        known = [v for v in numbers[outcome] if isinstance(v, float) and math.isfinite(v)]
        if known:
            lo, hi = min(known), max(known)
            if not clean and draw(st.booleans()) and hi > lo:
                hi = lo + (hi - lo) / 2  # too narrow: some values fall outside
            if hi > lo:
                mapping["ranges"] = {outcome: [lo, hi]}
    filled = [any(_is_filled(df[c].iloc[i], text_file=False) for c in df.columns) for i in range(n)]
    filled_text = [
        any(_is_filled(df[c].iloc[i], text_file=True) for c in df.columns) for i in range(n)
    ]
    return Case(
        df=df,
        mapping=mapping,
        ids=ids,
        numbers=numbers,
        filled=filled,
        filled_text=filled_text,
        kind=kind,
        extra={"id_style": id_style, "occ_style": occ_style, "clean": clean},
    )


def spoil_dates(
    draw: st.DrawFn, days: list[Any], columns: dict[str, pd.Series], occ: str
) -> list[Any]:
    """Sometimes put a text that is neither a number nor a date in a date column."""
    s = columns[occ]
    if s.dtype != object or not days:
        return days
    i = draw(st.integers(0, len(days) - 1))
    text = draw(_TEXT)
    cells = list(s)
    cells[i] = text
    columns[occ] = pd.Series(cells, dtype=object)
    days = list(days)
    days[i] = Bad(text)
    return days


def _junk_column(draw: st.DrawFn, n: int, kind: str) -> pd.Series:
    what = draw(st.sampled_from(["nan_only", "long_text", "bool", "dates", "mixed", "unicode"]))
    if what == "nan_only":
        return pd.Series([np.nan] * n, dtype="float64")
    if what == "long_text":
        return pd.Series(
            pd.array(
                [draw(st.sampled_from(["é" * 5000, "λ" * 700, "z" * 40000])) for _ in range(n)]
            )
        )
    if what == "bool":
        return pd.Series(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    if what == "dates":
        return pd.Series(pd.date_range("2020-01-01", periods=n, freq="D"))
    cells = draw(st.lists(st.one_of(st.integers(-3, 3), _TEXT, st.none()), min_size=n, max_size=n))
    if kind == "parquet" or what == "unicode":
        return pd.Series(pd.array([None if c is None else str(c) for c in cells], dtype="string"))
    return pd.Series(cells, dtype=object)


# --------------------------------------------------------------------------- the oracle


@dataclass
class Expected:
    """What the data layer must do with a case."""

    reasons: list[tuple[str, str]] = field(default_factory=list)
    either: list[str] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    complete: list[int] = field(default_factory=list)
    raw: dict[str, dict[int, Fraction]] = field(default_factory=dict)
    ids: dict[int, str] = field(default_factory=dict)
    within: dict[str, dict[int, Fraction]] = field(default_factory=dict)
    person_mean: dict[str, dict[str, Fraction]] = field(default_factory=dict)
    centre: dict[str, Fraction] = field(default_factory=dict)
    sd: dict[str, float] = field(default_factory=dict)
    outcome: dict[int, Fraction] = field(default_factory=dict)
    ref: dict[str, float] = field(default_factory=dict)
    #: level-1 predictors whose person means are all equal: no ``{x}_pm`` column
    no_between: set[str] = field(default_factory=set)

    @property
    def fails(self) -> bool:
        return bool(self.reasons)


def _mean(values: list[Fraction]) -> Fraction:
    return sum(values, Fraction(0)) / len(values)


def _var(values: list[Fraction]) -> Fraction | None:
    if len(values) < 2:
        return None
    m = _mean(values)
    return sum(((v - m) ** 2 for v in values), Fraction(0)) / (len(values) - 1)


def _sqrt(value: Fraction) -> float:
    """Square root of an exact non-negative number, as a float (no overflow or underflow)."""
    with localcontext() as ctx:
        ctx.prec = 40
        return float((Decimal(value.numerator) / Decimal(value.denominator)).sqrt())


def _mag(values: Any) -> float:
    return max((abs(float(v)) for v in values), default=0.0)


def oracle(case: Case, *, path: str, detrend: bool, standardize: bool) -> Expected:
    """What ``load_diary`` + ``prepare`` must do with the case read through ``path``
    (``"frame"`` or ``"text"``, where an empty string is a missing cell)."""
    exp = Expected()
    m = case.mapping
    person, y, xs = m["person"], m["outcome"], list(m["level1"])
    ws, cs, occ = list(m.get("level2", [])), list(m.get("controls", [])), m.get("occasion")
    filled = case.filled if path == "frame" else case.filled_text
    rows = [i for i, f in enumerate(filled) if f]
    exp.rows = rows

    def fail(col: str, why: str) -> Expected:
        exp.reasons.append((col, why))
        return exp

    if not rows:
        return fail("", "no rows")

    ok: dict[str, dict[int, Fraction | None]] = {}
    for col in [*([occ] if occ else []), y, *xs, *ws, *cs]:
        vals = {i: case.numbers[col][i] for i in rows}
        if any(isinstance(v, Bad) for v in vals.values()):
            fail(col, "not a number")
        elif any(v is not None and not abs(v) <= MAX_ABS_VALUE for v in vals.values()):
            fail(col, "too large")
        else:
            ok[col] = {i: None if v is None else Fraction(v) for i, v in vals.items()}
    ids = {i: case.ids[i] for i in rows}
    with_id = [i for i in rows if ids[i] is not None]
    if len(with_id) < len(rows):
        fail(person, "empty person id")

    person_w: dict[str, dict[str, Fraction]] = {}
    for w in ws:
        if w not in ok:
            continue
        per: dict[str, set[Fraction]] = defaultdict(set)
        for i in with_id:
            if ok[w][i] is not None:
                per[ids[i]].add(ok[w][i])
        if any(len(s) > 1 for s in per.values()):
            fail(w, "varies within a person")
            continue
        pv = {p: next(iter(s)) for p, s in per.items()}
        if not pv:
            fail(w, "no values")
        elif len(set(pv.values())) == 1:
            fail(w, "same value for all persons")
        person_w[w] = pv
    for col in [*cs, *([occ] if occ else [])]:
        if col in ok and all(v is None for v in ok[col].values()):
            fail(col, "no values")
    if occ and occ in ok:
        keys = Counter((ids[i], ok[occ][i]) for i in with_id if ok[occ][i] is not None)
        if any(k > 1 for k in keys.values()):
            fail(person, "duplicated person-occasion")
    for col, (lo, hi) in m.get("ranges", {}).items():
        if col in ok and any(v is not None and not lo <= v <= hi for v in ok[col].values()):
            fail(col, "outside its range")
    for col in [y, *xs]:
        if col not in ok:
            continue
        known = {v for v in ok[col].values() if v is not None}
        if not known:
            fail(col, "no values")
        elif len(known) == 1:
            fail(col, "no variance")
        else:  # the outcome and every level-1 predictor must vary within some person
            within: dict[str, set[Fraction]] = defaultdict(set)
            for i in with_id:
                if ok[col][i] is not None:
                    within[ids[i]].add(ok[col][i])
            if all(len(s) <= 1 for s in within.values()):
                fail(col, "never varies within a person")
    for col in [*xs, *cs]:  # a predictor that is the outcome under another name
        if y in ok and col in ok:
            pairs = [(ok[y][i], ok[col][i]) for i in rows]
            pairs = [(a, b) for a, b in pairs if a is not None and b is not None]
            if len(pairs) >= 2 and len({a for a, _ in pairs}) > 1 and all(a == b for a, b in pairs):
                fail(col, "the same values as the outcome")
    if exp.fails:
        return exp

    # ---- prepare
    if detrend and not occ:
        return fail("occasion", "detrend needs an occasion")
    day_cols = [y, *xs, *cs, *([occ] if occ else [])]
    complete = [
        i
        for i in rows
        if all(ok[c][i] is not None for c in day_cols) and all(ids[i] in person_w[w] for w in ws)
    ]
    exp.complete = complete
    if not complete:
        return fail("", "no complete row")
    persons = list(dict.fromkeys(ids[i] for i in complete))
    raw = {c: {i: ok[c][i] for i in complete} for c in day_cols}
    for w in ws:
        raw[w] = {i: person_w[w][ids[i]] for i in complete}
    exp.raw, exp.ids = raw, {i: ids[i] for i in complete}

    def per_person(col: str) -> dict[str, list[Fraction]]:
        out: dict[str, list[Fraction]] = defaultdict(list)
        for i in complete:
            out[ids[i]].append(raw[col][i])
        return out

    if len(complete) < len(rows):
        if len(set(raw[y].values())) < 2:
            fail(y, "no variance in the rows used")
        elif all(len(set(v)) < 2 for v in per_person(y).values()):
            fail(y, "never varies within a person in the rows used")
        for x in xs:
            if all(len(set(v)) < 2 for v in per_person(x).values()):
                fail(x, "never varies within a person in the rows used")
        for w in ws:
            if len({person_w[w][p] for p in persons}) < 2:
                fail(w, "same value for all persons in the rows used")
        if exp.fails:
            return exp

    y_col = f"{y}_z" if standardize else (f"{y}_dt" if detrend else y)
    created = [n for x in xs for n in (f"{x}_cw", f"{x}_pm")] + [f"{w}_c" for w in ws]
    created += [y_col] if y_col != y else []
    created += [f"{c}_z" for c in cs] if standardize else []
    existing = set(case.model_columns()) | {"__row__"}
    clashes = sorted({n for n in created if n in existing or created.count(n) > 1})
    if clashes:
        return fail(clashes[0], "name would be created twice")

    # exact centring (and detrending)
    t_c: dict[int, Fraction] = {}
    if detrend:
        occ_mean = {p: _mean(v) for p, v in per_person(occ).items()}
        t_c = {i: raw[occ][i] - occ_mean[ids[i]] for i in complete}
        top = _mag(t_c.values())
        if top == 0 and all(v == 0 for v in t_c.values()):
            return fail(occ, "cannot detrend")
        if top <= 1e-9 * _mag(raw[occ].values()):
            exp.either.append(occ)
    ss_t = sum((v * v for v in t_c.values()), Fraction(0))

    def trend(centred: dict[int, Fraction]) -> Fraction:
        return sum((t_c[i] * centred[i] for i in complete), Fraction(0)) / ss_t

    def needs_sd(source: str, col: str, values: list[Fraction], ref: float) -> float:
        """Exact SD of created ``col`` for standardising; a reason naming ``source`` when it
        is 0, a borderline mark when it is rounding-noise small."""
        var = _var(values)
        if var is None or var == 0:
            fail(source, "cannot standardise")
            return 1.0
        sd = _sqrt(var)
        # Rounding noise, or subnormal numbers (few significant bits: their means round).
        if not sd > 1e-6 * ref or ref < 1e-290:
            exp.either.append(col)
        return sd

    for x in xs:
        pms = {p: _mean(v) for p, v in per_person(x).items()}
        within = {i: raw[x][i] - pms[ids[i]] for i in complete}
        ref = _mag(raw[x].values())
        if detrend:
            slope = trend(within)
            if abs(float(slope)) > 1e300:
                exp.either.append(x)
            within = {i: within[i] - slope * t_c[i] for i in complete}
            ref += _mag(slope * t for t in t_c.values())
        cw, pmc = f"{x}_cw", f"{x}_pm"
        exp.within[cw], exp.person_mean[x], exp.ref[cw], exp.ref[pmc] = within, pms, ref, ref
        exp.centre[pmc] = _mean([pms[p] for p in persons])
        means = [pms[p] for p in persons]
        spread = max(means) - min(means)
        if spread == 0:
            # the same person mean for everyone (one person, or the same days for all):
            # no between part, nothing of it to standardise
            exp.no_between.add(x)
        elif not spread > 1e-9 * _mag(pms.values()):
            exp.either.append(pmc)  # equal but for rounding: with or without a between part
        if standardize:
            exp.sd[cw] = needs_sd(x, cw, list(within.values()), ref)
            if x not in exp.no_between:
                exp.sd[pmc] = needs_sd(x, pmc, means, _mag(pms.values()))
    for w in ws:
        vals = [person_w[w][p] for p in persons]
        exp.centre[f"{w}_c"] = _mean(vals)
        exp.ref[f"{w}_c"] = _mag(vals)
        if standardize:
            exp.sd[f"{w}_c"] = needs_sd(w, f"{w}_c", vals, _mag(vals))
    yv = dict(raw[y])
    ref = _mag(yv.values())
    if detrend:
        ym = {p: _mean(v) for p, v in per_person(y).items()}
        slope = trend({i: yv[i] - ym[ids[i]] for i in complete})
        if abs(float(slope)) > 1e300:
            exp.either.append(y)
        yv = {i: yv[i] - slope * t_c[i] for i in complete}
        ref += _mag(slope * t for t in t_c.values())
    exp.outcome, exp.ref[y_col] = yv, ref
    if standardize:
        exp.centre[y_col] = _mean(list(yv.values()))
        exp.sd[y_col] = needs_sd(y, y_col, list(yv.values()), ref)
        for c in cs:
            exp.centre[f"{c}_z"] = _mean(list(raw[c].values()))
            exp.ref[f"{c}_z"] = _mag(raw[c].values())
            exp.sd[f"{c}_z"] = needs_sd(c, f"{c}_z", list(raw[c].values()), exp.ref[f"{c}_z"])
    return exp


# --------------------------------------------------------------------------- running and judging


@dataclass
class Outcome:
    diary: Any = None
    prepared: Any = None
    error: AmbidexError | None = None
    warnings: list[str] = field(default_factory=list)


def run_pipeline(
    source: Any, mapping: Any, *, detrend: bool, standardize: bool, show: str
) -> Outcome:
    """``load_diary`` then ``prepare``; any exception but an AmbidexError fails the test."""
    out = Outcome()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out.diary = load_diary(source, mapping)
            out.prepared = prepare(out.diary, detrend=detrend, standardize=standardize)
        except AmbidexError as exc:
            out.error = exc
        except Exception as exc:  # noqa: BLE001 - the point: any other type is a bug
            raise AssertionError(
                f"unexpected {type(exc).__name__} (not an AmbidexError): {exc}\n--- input:\n{show}"
            ) from exc
    out.warnings = [f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})" for w in caught]
    return out


def check_message(error: AmbidexError, names: list[str], source: str, show: str) -> None:
    """The error names a column (every problem of a ValidationError does) or the file."""
    msg = str(error)
    quoted = [repr(n) for n in names]
    assert "Traceback" not in msg, show
    if isinstance(error, ValidationError):
        assert error.problems, f"ValidationError without problems: {msg}\n{show}"
        for problem in error.problems:
            assert any(q in problem for q in quoted), f"problem names no column: {problem}\n{show}"
            assert len(problem) < 2500, f"unreadably long problem ({len(problem)} chars)\n{show}"
    elif isinstance(error, SpecError):
        # A mapping error names the mapping (its file) and the key; detrend names the option.
        assert msg.startswith("<mapping>") or "occasion" in msg or any(q in msg for q in quoted), (
            f"{msg}\n{show}"
        )
    else:
        assert any(q in msg for q in quoted) or source in msg, f"names no column: {msg}\n{show}"
        assert len(msg) < 2500, f"unreadably long message ({len(msg)} chars)\n{show}"


def _close(got: float, want: Fraction | float, tol: float) -> bool:
    return math.isfinite(got) and abs(got - float(want)) <= tol


def judge(
    case: Case, exp: Expected, out: Outcome, *, source: str, show: str, original: pd.DataFrame
) -> None:
    """Fail unless the outcome is what the oracle expects (see the module docstring)."""
    note(show)
    event(f"outcome: {'prepared' if out.error is None else type(out.error).__name__}")
    event(
        f"oracle: {exp.reasons[0][1] if exp.reasons else 'prepared'} (clean={case.extra.get('clean')})"
    )
    pd.testing.assert_frame_equal(case.df, original, check_exact=True)  # caller's frame
    assert not out.warnings, f"warnings: {out.warnings}\n{show}"
    names = case.model_columns() + [n for n in exp.sd] + list(case.mapping.get("ranges", {}))
    if out.error is not None:
        check_message(out.error, names, source, show)
        assert exp.fails or exp.either, (
            f"refused data the oracle accepts: {type(out.error).__name__}: {out.error}\n{show}"
        )
        named = [col for col, _ in exp.reasons if col]
        if named and not exp.either:
            assert any(repr(c) in str(out.error) for c in named) or (
                "occasion" in str(out.error)
            ), f"expected a message about {exp.reasons}, got: {out.error}\n{show}"
        return
    assert not exp.fails, f"accepted data the oracle refuses ({exp.reasons})\n{show}"
    _check_prepared(case, exp, out, show)


def _check_prepared(case: Case, exp: Expected, out: Outcome, show: str) -> None:
    m = case.mapping
    person, y = m["person"], m["outcome"]
    diary, p = out.diary, out.prepared
    f = p.frame
    assert len(diary.frame) == len(exp.rows), f"validated rows {len(diary.frame)}\n{show}"
    pos = [int(r) - 2 for r in f["__row__"]]
    assert sorted(pos) == sorted(exp.complete), f"prepared rows {sorted(pos)}\n{show}"
    assert len(f) == len(exp.complete)
    assert [f[person].iloc[k] for k in range(len(f))] == [exp.ids[i] for i in pos], show
    # no silent change of values
    for col, want in exp.raw.items():
        got = f[col].to_numpy(dtype=float)
        for k, i in enumerate(pos):
            if col == m.get("occasion"):
                assert _close(got[k], want[i], 1e-9 * (1 + abs(float(want[i])))), show
            else:
                assert got[k] == float(want[i]), f"{col!r} row {i}: {got[k]} != {want[i]}\n{show}"
    numeric = [c for c in f.columns if c not in (person,)]
    assert np.isfinite(f[numeric].to_numpy(dtype=float)).all(), f"non-finite values\n{show}"
    skip = set(exp.either)
    g = f[person]
    for x in m["level1"]:
        cw, pmc = f"{x}_cw", f"{x}_pm"
        tw = p.transforms[cw]
        tol = 1e-8 * exp.ref[cw] + 1e-300
        # person means of the within-person part are 0; person means use complete rows only
        within_raw = f[cw] * tw.scale
        assert (within_raw.groupby(g).mean().abs() <= tol).all(), f"{cw} means\n{show}"
        for pid, want in exp.person_mean[x].items():
            assert _close(float(p.person_means.loc[pid, x]), want, tol), f"mean {x} {pid}\n{show}"
        if x in exp.no_between:
            assert pmc not in f.columns and pmc not in p.transforms, f"{pmc} made\n{show}"
        elif pmc not in skip:
            assert pmc in p.transforms, f"no between part {pmc}\n{show}"
        if cw in skip or pmc in skip or x in skip or x in exp.no_between:
            continue
        tb = p.transforms[pmc]
        if cw in exp.sd:
            assert abs(tw.scale - exp.sd[cw]) <= 1e-6 * exp.sd[cw], f"sd {cw}\n{show}"
            assert abs(tb.scale - exp.sd[pmc]) <= 1e-6 * exp.sd[pmc], f"sd {pmc}\n{show}"
            tol = 1e-6 * exp.ref[cw] + 1e-300
        for k, i in enumerate(pos):
            assert _close(float(within_raw.iloc[k]), exp.within[cw][i], tol), f"{cw}\n{show}"
            pm = f[pmc].iloc[k] * tb.scale + tb.centre
            assert _close(float(pm), exp.person_mean[x][exp.ids[i]], tol), f"{pmc}\n{show}"
    for w in m.get("level2", []):
        col = f"{w}_c"
        t = p.transforms[col]
        tol = (1e-6 if col in exp.sd else 1e-9) * exp.ref[col] + 1e-300
        assert _close(t.centre, exp.centre[col], tol), f"centre {col}\n{show}"
        if col in exp.sd and col not in skip:
            assert abs(t.scale - exp.sd[col]) <= 1e-6 * exp.sd[col], f"sd {col}\n{show}"
        back = f[col] * t.scale + t.centre
        for k, i in enumerate(pos):
            assert _close(float(back.iloc[k]), exp.raw[w][i], tol), f"{col}\n{show}"
    y_col = p.roles["y"]
    t = p.transforms[y_col]
    if y_col not in skip and y not in skip:
        tol = (1e-6 if y_col in exp.sd else 1e-8) * exp.ref[y_col] + 1e-300
        back = f[y_col] * t.scale + t.centre
        for k, i in enumerate(pos):
            assert _close(float(back.iloc[k]), exp.outcome[i], tol), f"{y_col}\n{show}"
    if len(exp.complete) < len(exp.rows):
        assert any("left out because a model value is missing" in n for n in p.notes), show
