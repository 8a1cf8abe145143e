"""Check a diary table against its column mapping before anything is modelled.

:func:`validate` collects *all* problems of a data set (missing or misspelt columns, text in
numeric columns (a level-2 moderator or control holding only text, or a categorical, is a
factor instead, see :func:`validate`), infinite or absurdly large numbers, missing person ids, a level-2 moderator
that changes within a person or does not differ between persons, duplicated person-occasion
rows, values outside a declared range, an outcome or predictor without variance) and raises
them together in one :class:`ValidationError`, each problem naming the column, the first
offending rows and what to do. Data that pass come back as a clean, typed, sorted copy in
:class:`ValidatedData`.

How cell values are read (numbers, person ids, row numbers) is
:mod:`ambidex_bayes.data.values`, re-exported here; which columns are factors and the order
of their levels is :mod:`ambidex_bayes.data.factor_levels`, and the ``weekday``/``weekend``
columns derived from a date occasion are :mod:`ambidex_bayes.data.derived_columns`
(``level_sort_key`` and ``derive_columns`` are re-exported here).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ambidex_bayes.data.derived_columns import derive_columns
from ambidex_bayes.data.factor_levels import factor_column, level_sort_key
from ambidex_bayes.data.mapping import ROW_COLUMN, ColumnMapping, did_you_mean
from ambidex_bayes.data.values import (
    DECIMAL_COMMA,
    MAX_ABS_VALUE,
    SHOW_ROWS,
    describe_bad_values,
    format_rows,
    format_value,
    person_id_strings,
    row_numbers,
    short_value,
    string_columns,
    to_float,
    too_large,
)
from ambidex_bayes.errors import DataError, ValidationError

__all__ = [
    "ValidatedData",
    "validate",
    "ROW_COLUMN",
    "MAX_ABS_VALUE",
    "person_id_strings",
    "to_float",
    "too_large",
    "string_columns",
    "format_rows",
    "describe_bad_values",
    "row_numbers",
    "level_sort_key",
    "derive_columns",
]


@dataclass(frozen=True, eq=False)
class ValidatedData:
    """A diary table that passed :func:`validate`.

    Attributes
    ----------
    frame
        A copy holding only the mapping's model columns plus ``__row__`` (the source row
        number, header = row 1). Person ids are strings, factor columns hold their level
        names (text), every other model column is float64 (a date occasion becomes days
        since the first date). Sorted by person, then
        occasion, with a fresh ``RangeIndex``. Rows with missing model values are kept.
    mapping
        The column mapping that was checked.
    notes
        Informational messages in plain words.
    source
        Name of the data source (file name or ``"<DataFrame>"``).
    factor_levels
        Factor column (a level-2 moderator or control that is text, categorical or declared
        in ``mapping.factors``) -> its levels in order (category order for a categorical,
        else sorted: numerically when every level is a number). In ``frame`` a factor
        column holds the level names as text (``None`` where missing).
    """

    frame: pd.DataFrame
    mapping: ColumnMapping
    notes: tuple[str, ...]
    source: str
    factor_levels: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def _occasion(raw: pd.Series) -> tuple[pd.Series, pd.Series, str | None]:
    """Occasion as float: numbers as they are, dates as days since the first date."""
    if pd.api.types.is_datetime64_any_dtype(raw):
        dates = pd.to_datetime(raw)
    else:
        nums, bad = to_float(raw)
        if not bad.any():
            return nums, bad, None
        # Text that is not numeric: accept it only if every filled cell is an ISO date.
        # Dates with different UTC offsets are compared in UTC.
        filled = nums.notna() | bad
        # Every filled cell as text (numbers too: pandas would read them as epochs).
        text = pd.Series(
            [
                str(v).strip() if f else None
                for v, f in zip(raw.astype(object), filled, strict=True)
            ],
            index=raw.index,
            dtype=object,
        )
        try:
            dates = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
        except (ValueError, TypeError, OverflowError):
            return nums, bad, None
        if (dates.isna() & filled).any():
            return nums, bad, None
    first = dates.min()
    if pd.isna(first):
        return (
            pd.Series(np.nan, index=raw.index, dtype="float64"),
            pd.Series(False, index=raw.index),
            None,
        )
    days = (dates - first) / pd.Timedelta(days=1)
    note = f"the occasion is a date; it is used as days since the first date ({first.date()})"
    return days.astype("float64"), pd.Series(False, index=raw.index), note


def _natural_order(ids: pd.Series) -> pd.Series:
    """Sort key: numeric when every id is a number (so "2" < "10"), else the text."""
    nums = pd.to_numeric(ids, errors="coerce")
    if nums[ids.notna()].notna().all():
        return nums
    return ids


def validate(df: pd.DataFrame, mapping: ColumnMapping, *, source: str = "data") -> ValidatedData:
    """Check a diary table against a column mapping and return a clean copy.

    Parameters
    ----------
    df
        The data, one row per diary (not modified).
    mapping
        Which column plays which role; scale scores must already be in ``df``.
    source
        Name used in messages (the file name).

    Returns
    -------
    ValidatedData

    Raises
    ------
    ValidationError
        Listing every problem found: missing columns (with a "did you mean" hint), text in a
        numeric column (values and rows), infinite values or values beyond
        +-:data:`MAX_ABS_VALUE` (values and rows), missing person ids, a level-2 moderator
        with more than one value within a person (the persons), with no values, or with the
        same value for every person, a control or occasion with no values, duplicated
        person-occasion rows, values outside a range declared in ``mapping.ranges`` (values
        and rows), an outcome or level-1 predictor without variance, or an outcome or a
        level-1 predictor that never varies within a person.
    DataError
        ``df`` is not a DataFrame, has no rows, has columns with several header levels, or
        has two columns with the same name (once written as text).

    Notes
    -----
    A level-2 moderator or control is a factor when the mapping declares it
    (``[factors.<column>]``), when it is a pandas categorical, or when every filled cell is
    text that is not a number; its levels are in ``factor_levels``. A column mixing numbers
    and text stays numeric (the text is reported, with a hint to declare a factor). A
    level-1 predictor holding text is refused with advice to give it as a control. Columns
    the mapping derives (``derive``) are added from the date occasion first.

    Not errors, but reported in ``notes``: completely empty rows (dropped); missing cells
    in model columns (kept, counted; :func:`ambidex_bayes.prepare.prepare` drops them); a
    level-2 value given on only some of a person's rows (copied to the person's other
    rows); persons with a single diary (kept).
    """
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"{source}: expected a pandas DataFrame, got {type(df).__name__}")
    if not isinstance(mapping, ColumnMapping):
        raise DataError(f"{source}: expected a ColumnMapping, got {type(mapping).__name__}")
    notes: list[str] = []
    problems: list[str] = []

    work = string_columns(df, source).reset_index(drop=True)
    rows = pd.Series(row_numbers(work), index=work.index)
    data_cols = [c for c in work.columns if c != ROW_COLUMN]
    empty = ~work[data_cols].notna().any(axis=1)
    if empty.any():
        notes.append(
            f"{int(empty.sum())} completely empty row(s) were skipped ({format_rows(rows[empty])})."
        )
        work, rows = work[~empty], rows[~empty]
    if len(work) == 0:
        raise DataError(f"{source}: the data have no rows; check the file or the sheet")

    # 0. Columns derived from a date occasion (weekday, weekend).
    if mapping.derive:
        work, problem = derive_columns(work, mapping)
        if problem:
            problems.append(problem)

    # 1. Columns that the mapping names but the data lack.
    range_only = [c for c in mapping.ranges if c not in mapping.model_columns]
    wanted = [*mapping.model_columns, *range_only]
    present = [str(c) for c in work.columns if c != ROW_COLUMN]
    for col in wanted:
        if col not in work.columns:
            shown = ", ".join(short_value(c) for c in present[:20])
            shown += " ..." if len(present) > 20 else ""
            problems.append(
                f"column {col!r} ({mapping.role_of(col)}) is not in the data"
                f"{did_you_mean(col, present)}. The data have: {shown}. Fix the name in the "
                "mapping or in the file."
            )

    # 2. Person ids.
    ids: pd.Series | None = None
    if mapping.person in work.columns:
        ids = person_id_strings(work[mapping.person])
        no_id = ids.isna()
        if no_id.any():
            problems.append(
                f"column {mapping.person!r} (person id) is empty on {format_rows(rows[no_id])}; "
                "fill in the person id or delete those rows."
            )

    # 3. Numeric columns (and the occasion).
    values: dict[str, pd.Series] = {}
    if mapping.occasion is not None and mapping.occasion in work.columns:
        occ, bad, note = _occasion(work[mapping.occasion])
        if bad.any():
            problems.append(
                f"column {mapping.occasion!r} (occasion) must hold day numbers or dates but holds "
                f"{describe_bad_values(work[mapping.occasion], bad, rows)}; replace these with "
                "numbers (or ISO dates such as 2024-03-05), or leave them empty."
            )
        elif too_large(occ).any():
            problems.append(_too_large_problem(mapping, mapping.occasion, work, occ, rows))
        else:
            values[mapping.occasion] = occ
            if note:
                notes.append(note[0].upper() + note[1:] + ".")
    factor_levels: dict[str, tuple[str, ...]] = {}
    for col in dict.fromkeys([*mapping.numeric_columns, *range_only]):
        if col not in work.columns or col == mapping.occasion:
            continue  # the occasion (also a level-1 predictor) is read above
        factor = factor_column(col, work[col], mapping)
        if factor is not None:
            levels, names = factor
            factor_levels[col], values[col] = levels, names
            declared = mapping.factors.get(col)
            if declared is not None and declared.reference is not None and levels:
                if declared.reference not in levels:
                    problems.append(
                        f"column {col!r} ({mapping.role_of(col)}): the reference level "
                        f"{declared.reference!r} given in [factors.{col}] is not among its "
                        f"levels {', '.join(map(repr, levels))}; fix the reference."
                    )
            if len(levels) < 2 and col in mapping.controls:
                problems.append(
                    f"column {col!r} (control) is a factor with "
                    f"{'the single level ' + repr(levels[0]) if levels else 'no values'}; a "
                    "factor needs at least two levels. Check the mapping and the file."
                )
            continue
        nums, bad = to_float(work[col])
        if bad.any():
            raw = work[col]
            hint = ""
            if any(DECIMAL_COMMA.match(str(v).strip()) for v in raw[bad]):
                hint = " Some look like decimal commas (3,5): write them with a point (3.5)."
            elif col in mapping.level1 and nums.notna().sum() == 0:
                hint = (
                    " It holds text only: a level-1 (daily) predictor cannot be a factor "
                    "(within- and between-person parts of a factor are not offered); give it "
                    "as a control (controls = [...]) to use it as a factor."
                )
            elif col in (*mapping.level2, *mapping.controls):
                hint = (
                    " To use it as a factor (categories), declare it in the mapping: "
                    f"[factors.{col}]."
                )
            problems.append(
                f"column {col!r} ({mapping.role_of(col)}) must be numeric but holds "
                f"{describe_bad_values(raw, bad, rows)}; replace these with numbers, or leave the "
                f"cells empty if the value is missing.{hint}"
            )
        elif too_large(nums).any():
            problems.append(_too_large_problem(mapping, col, work, nums, rows))
        else:
            values[col] = nums

    # 4. Level-2 moderators: one value per person, and not the same value for everyone.
    if ids is not None:
        for col in mapping.level2:
            if col not in values:
                continue
            filled, problem, note = _check_level2(
                col, values[col], ids, rows, factor=col in factor_levels
            )
            if problem:
                problems.append(problem)
                continue
            values[col] = filled
            if note:
                notes.append(note)
            problem = _check_between(col, filled, ids)
            if problem:
                problems.append(problem)
    for col in [*mapping.controls, *([mapping.occasion] if mapping.occasion else [])]:
        if col in values and values[col].isna().all():
            problems.append(
                f"column {col!r} ({mapping.role_of(col)}) has no values at all, so every row "
                "would be left out; check the mapping and the file."
            )

    # 5. Duplicated person-occasion rows.
    if ids is not None and mapping.occasion is not None and mapping.occasion in values:
        problem = _check_duplicates(mapping, ids, values[mapping.occasion], rows)
        if problem:
            problems.append(problem)

    # 6. Declared ranges.
    for col, (lo, hi) in mapping.ranges.items():
        if col in factor_levels:
            problems.append(
                f"column {col!r} ({mapping.role_of(col)}) holds text, so it is a factor, but a "
                f"range [{format_value(lo)}, {format_value(hi)}] is declared for it; remove the "
                "range, or correct the column if it should hold numbers."
            )
            continue
        if col not in values:
            continue
        v = values[col]
        out = (v < lo) | (v > hi)
        if out.any():
            shown = ", ".join(
                f"{format_value(x)} (row {int(r)})"
                for x, r in list(zip(v[out], rows[out], strict=True))[:SHOW_ROWS]
            )
            more = f" and {int(out.sum()) - SHOW_ROWS} more" if int(out.sum()) > SHOW_ROWS else ""
            problems.append(
                f"column {col!r} ({mapping.role_of(col)}) has {int(out.sum())} value(s) outside "
                f"its declared range [{format_value(lo)}, {format_value(hi)}]: {shown}{more}. Correct the "
                "values, or the range in the mapping if it is wrong."
            )

    # 7. Variance of the outcome and the level-1 predictors.
    for col in (mapping.outcome, *mapping.level1):
        if col not in values:
            continue
        problem = _check_variance(col, mapping, values[col], ids)
        if problem:
            problems.append(problem)

    # 8. A predictor that is the outcome under another name.
    if mapping.outcome in values:
        y = values[mapping.outcome]
        for col in (*mapping.level1, *mapping.controls):
            if col in values:
                both = y.notna() & values[col].notna()
                if (
                    int(both.sum()) >= 2
                    and y[both].nunique() > 1
                    and y[both].equals(values[col][both])
                ):
                    problems.append(
                        f"column {col!r} ({mapping.role_of(col)}) holds the same value as the "
                        f"outcome {mapping.outcome!r} on every row: the outcome would predict "
                        "itself (a residual SD of 0 and meaningless slopes). Check the mapping; "
                        f"if {col!r} is a copy of the outcome, leave it out."
                    )

    if problems:
        raise ValidationError(
            f"{source}: {len(problems)} problem(s) found in the data; fix them and load again:",
            problems,
        )
    assert ids is not None  # a missing person column is a problem above
    frame = _build_frame(mapping, ids, values, rows)
    notes.extend(_describe(frame, mapping))
    return ValidatedData(
        frame=frame,
        mapping=mapping,
        notes=tuple(notes),
        source=source,
        factor_levels=factor_levels,
    )


def _too_large_problem(
    mapping: ColumnMapping, col: str, work: pd.DataFrame, nums: pd.Series, rows: pd.Series
) -> str:
    big = too_large(nums)
    return (
        f"column {col!r} ({mapping.role_of(col)}) holds infinite or too large values (beyond "
        f"+-{MAX_ABS_VALUE:g}, where sums of squares overflow): "
        f"{describe_bad_values(work[col], big, rows)}; correct them, leave them empty if they "
        "stand for a missing value, or rescale the column (e.g. to other units)."
    )


def _check_between(col: str, filled: pd.Series, ids: pd.Series) -> str | None:
    """A problem when a level-2 moderator has no value, or one value for every person."""
    per_person = filled.groupby(ids, sort=False).first().dropna()
    if per_person.empty:
        return (
            f"column {col!r} (level-2 moderator) has no values at all, so every row would be "
            "left out; check the mapping and the file."
        )
    if per_person.nunique() == 1:
        n = len(per_person)
        return (
            f"column {col!r} (level-2 moderator) has the same value, {format_value(per_person.iloc[0])}, "
            f"for all {n} person(s) who have it; a moderator that does not differ between "
            "persons cannot be modelled. Check the mapping and the file."
        )
    return None


def _check_level2(
    col: str, v: pd.Series, ids: pd.Series, rows: pd.Series, *, factor: bool = False
) -> tuple[pd.Series, str | None, str | None]:
    """Return (values filled within person, problem, note); a factor's values are level
    names (text)."""
    known = pd.DataFrame({"id": ids, "v": v, "row": rows}).dropna()
    n_values = known.groupby("id", sort=False)["v"].nunique()
    varying = n_values[n_values > 1].index.tolist()
    if varying:
        parts = []
        for pid in varying[:3]:
            sub = known[known["id"] == pid]
            vals = "; ".join(
                f"{format_value(val)} ({format_rows(g['row'], limit=3)})"
                for val, g in sub.groupby("v", sort=True)
            )
            parts.append(f"person {short_value(pid)} has {vals}")
        more = f" (and {len(varying) - 3} more persons)" if len(varying) > 3 else ""
        problem = (
            f"column {col!r} (level-2 moderator) must have one value per person, but varies "
            f"within {len(varying)} person(s): " + "; ".join(parts) + more + ". Correct the data, "
            "or map the column as level1 or a control if it is a day-level variable."
        )
        return v, problem, None
    person_value = known.groupby("id", sort=False)["v"].first()
    filled = ids.map(person_value)
    filled = (
        filled.astype(object).where(filled.notna(), None) if factor else filled.astype("float64")
    )
    n_filled = int((v.isna() & filled.notna()).sum())
    note = None
    if n_filled:
        note = (
            f"Level-2 moderator {col!r} was missing on {n_filled} row(s) of persons who have it "
            "on other rows; the person's value was used there."
        )
    return filled, None, note


def _check_duplicates(
    mapping: ColumnMapping, ids: pd.Series, occ: pd.Series, rows: pd.Series
) -> str | None:
    key = pd.DataFrame({"id": ids, "occ": occ, "row": rows}).dropna()
    dup = key[key.duplicated(["id", "occ"], keep=False)]
    if dup.empty:
        return None
    groups = list(dup.groupby(["id", "occ"], sort=False))
    parts = [
        f"person {short_value(pid)}, occasion {format_value(o)}: {format_rows(g['row'])}"
        for (pid, o), g in groups
    ]
    more = f" (and {len(parts) - SHOW_ROWS} more)" if len(parts) > SHOW_ROWS else ""
    return (
        f"columns {mapping.person!r} and {mapping.occasion!r}: {len(parts)} person-occasion "
        f"pair(s) occur more than once: "
        + "; ".join(parts[:SHOW_ROWS])
        + more
        + ". Each person may "
        "have one diary per occasion: delete the duplicate or correct its occasion."
    )


def _check_variance(
    col: str, mapping: ColumnMapping, v: pd.Series, ids: pd.Series | None
) -> str | None:
    role = mapping.role_of(col)
    known = v.dropna()
    if known.empty:
        return f"column {col!r} ({role}) has no values at all; check the mapping and the file."
    if known.nunique() == 1:
        return (
            f"column {col!r} ({role}) has no variance: every filled value is {format_value(known.iloc[0])}. "
            "A constant cannot be modelled; check the mapping and the file."
        )
    if role == "level-1 predictor" and ids is not None:
        within = pd.DataFrame({"id": ids, "v": v}).dropna().groupby("id")["v"].nunique()
        if (within <= 1).all():
            return (
                f"column {col!r} (level-1 predictor) never varies within a person, so it has no "
                "within-person effect; if it is a person-level variable, map it as level2."
            )
    if role == "outcome" and ids is not None:
        within = pd.DataFrame({"id": ids, "v": v}).dropna().groupby("id")["v"].nunique()
        if (within <= 1).all():
            return outcome_never_varies(col)
    return None


def outcome_never_varies(col: str) -> str:
    """The problem of an outcome that is constant within every person."""
    return (
        f"column {col!r} (outcome) never varies within a person: each person's diaries all "
        "hold the same value, so there is no day-to-day variation to model (the residual SD "
        "would be 0 and the sampler cannot converge). If it is a person-level variable, "
        "analyse it at the person level; otherwise check the mapping (is this the right "
        "column?) and the file."
    )


def _build_frame(
    mapping: ColumnMapping, ids: pd.Series, values: dict[str, pd.Series], rows: pd.Series
) -> pd.DataFrame:
    cols: dict[str, pd.Series] = {mapping.person: ids}
    for col in mapping.model_columns[1:]:
        cols[col] = values[col]
    cols[ROW_COLUMN] = rows
    frame = pd.DataFrame(cols)
    # Sort keys in a frame of their own, so that no data column name can clash with them.
    keys = pd.DataFrame({"key": _natural_order(ids), "id": ids, "row": rows})
    by = ["key", "id", "row"]
    if mapping.occasion:
        keys["occ"] = values[mapping.occasion]
        by = ["key", "id", "occ", "row"]
    order = keys.sort_values(by, kind="stable", na_position="last").index
    return frame.loc[order].reset_index(drop=True)


def _describe(frame: pd.DataFrame, mapping: ColumnMapping) -> list[str]:
    notes = []
    model = list(mapping.model_columns)
    miss = frame[model].isna()
    incomplete = miss.any(axis=1)
    if incomplete.any():
        per_col = ", ".join(f"{c!r}: {int(n)}" for c, n in miss.sum().items() if int(n) > 0)
        notes.append(
            f"{int(incomplete.sum())} of {len(frame)} rows have a missing value in a model column "
            f"({per_col}); they are kept here and left out when the data are prepared."
        )
    counts = frame.groupby(mapping.person, sort=False).size()
    single = counts[counts == 1].index.tolist()
    if single:
        shown = ", ".join(short_value(s) for s in single[:10]) + (
            " ..." if len(single) > 10 else ""
        )
        notes.append(
            f"{len(single)} of {len(counts)} persons have a single diary ({shown}). They are kept: "
            "they inform the between-person part (person means, moderator effects) and the "
            "variance of the intercepts, but not the within-person slope."
        )
    return notes
