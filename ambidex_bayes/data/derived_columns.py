"""Columns derived from a date occasion before validation: the ``weekday`` factor and the
``weekend`` indicator that a mapping's ``derive`` asks for.

:func:`derive_columns` adds them (or says why they cannot be derived); :data:`WEEKDAYS`
names the days, Monday first.
"""

from __future__ import annotations

import pandas as pd

from ambidex_bayes.data.mapping import ColumnMapping
from ambidex_bayes.data.values import to_float

__all__ = ["WEEKDAYS", "derive_columns"]


#: Day names of the derived ``weekday`` factor, Monday first (the reference level).
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def derive_columns(work: pd.DataFrame, mapping: ColumnMapping) -> tuple[pd.DataFrame, str | None]:
    """``work`` with the columns of ``mapping.derive`` added from the date occasion, or a
    problem saying why they cannot be derived (``work`` is not modified).

    ``weekday``: a categorical of :data:`WEEKDAYS` (Monday first); ``weekend``: 1.0 on
    Saturday and Sunday, else 0.0; both missing where the date is.
    """
    occ = mapping.occasion
    assert occ is not None  # the mapping requires an occasion for derive
    clash = [d for d in mapping.derive if d in work.columns]
    if clash:
        return work, (
            f"the mapping derives {', '.join(map(repr, clash))} from the occasion, but the data "
            "already have such a column; rename that column or leave it out of 'derive'."
        )
    if occ not in work.columns:
        return work, None  # reported as a missing column
    dates = _as_dates(work[occ])
    if dates is None:
        return work, (
            f"the mapping derives {', '.join(map(repr, mapping.derive))} from the occasion, but "
            f"column {occ!r} (occasion) does not hold dates; give dates (such as 2024-03-05) "
            "or leave out 'derive'."
        )
    work = work.copy()
    day = dates.dt.day_of_week
    if "weekday" in mapping.derive:
        names = day.map(lambda d: None if pd.isna(d) else WEEKDAYS[int(d)])
        work["weekday"] = pd.Categorical(names, categories=list(WEEKDAYS))
    if "weekend" in mapping.derive:
        work["weekend"] = (day >= 5).astype("float64").where(day.notna())
    return work, None


def _as_dates(raw: pd.Series) -> pd.Series | None:
    """The cells as dates (missing cells NaT), or None when a filled cell is not a date."""
    if pd.api.types.is_datetime64_any_dtype(raw):
        return pd.to_datetime(raw)
    nums, bad = to_float(raw)
    if not bad.any():
        return None  # numbers (day numbers), not dates
    filled = nums.notna() | bad
    text = pd.Series(
        [str(v).strip() if f else None for v, f in zip(raw.astype(object), filled, strict=True)],
        index=raw.index,
        dtype=object,
    )
    try:
        dates = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
    except (ValueError, TypeError, OverflowError):
        return None
    return None if (dates.isna() & filled).any() else dates
