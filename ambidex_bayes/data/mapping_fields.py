"""Reading and checking the fields of a column mapping.

The small helpers that :mod:`ambidex_bayes.data.mapping` uses to read a mapping's values:
column names (:func:`column_names`, refusing sets and the reserved :data:`ROW_COLUMN`),
response ranges (:func:`value_range`), repeated names (:func:`duplicates`), unknown keys
(:func:`check_keys`) and the "did you mean ...?" hint (:func:`did_you_mean`) and shortened
values (:func:`show_value`) of its error messages. ``ROW_COLUMN`` and ``did_you_mean`` are
re-exported from :mod:`ambidex_bayes.data.mapping`.
"""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Iterable, Mapping, Set
from typing import Any

import numpy as np

from ambidex_bayes.errors import SpecError

__all__ = [
    "ROW_COLUMN",
    "check_keys",
    "column_names",
    "did_you_mean",
    "duplicates",
    "show_value",
    "value_range",
]

#: Column holding the source row number (header = row 1, first data row = row 2). Reserved:
#: a mapping may not give this name a role.
ROW_COLUMN = "__row__"


def show_value(value: Any, limit: int = 80) -> str:
    """``repr(value)``, shortened to ``limit`` characters for messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """Return a hint such as ``" (did you mean 'pid'?)"``, or ``""`` when nothing is close.

    Parameters
    ----------
    name
        The misspelt name.
    candidates
        The names that exist.
    """
    pool = [str(c) for c in candidates]
    close = difflib.get_close_matches(str(name), pool, n=3, cutoff=0.6)
    if not close:
        # Case-insensitive match catches "PID" vs "pid", which difflib scores low.
        close = [c for c in pool if c.lower() == str(name).lower()]
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(c) for c in close) + "?)"


def column_names(value: Any, what: str) -> tuple[str, ...]:
    """Turn a string or a list of strings into a tuple of names, or raise SpecError.

    Sets are refused: their order changes from run to run, and the order of the names fixes
    the numbered roles (``x0``, ``x1``, ...).
    """
    if isinstance(value, str):
        value = (value,)
    elif isinstance(value, Set):
        raise SpecError(
            f"{what} must be a list of column names, not a set (a set has no fixed order); "
            f"got {show_value(value)}"
        )
    elif not isinstance(value, Iterable) or isinstance(value, Mapping | bytes | bytearray):
        raise SpecError(
            f"{what} must be a column name or a list of column names; got {show_value(value)}"
        )
    out = tuple(value)
    bad = [v for v in out if not isinstance(v, str) or not v]
    if bad:
        raise SpecError(f"{what} must be column names (non-empty strings); got {show_value(bad)}")
    reserved = [v for v in out if v == ROW_COLUMN]
    if reserved:
        raise SpecError(
            f"{what}: the name {ROW_COLUMN!r} is reserved for the source row numbers; "
            "rename that column in the data and the mapping"
        )
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def value_range(value: Any, what: str) -> tuple[float, float]:
    """Turn ``[lo, hi]`` into a float pair with lo < hi, or raise SpecError."""
    ok = isinstance(value, list | tuple) and len(value) == 2 and all(map(_is_number, value))
    if not ok:
        raise SpecError(f"{what} must be two numbers [lowest, highest]; got {show_value(value)}")
    try:
        lo, hi = float(value[0]), float(value[1])
    except OverflowError:
        raise SpecError(
            f"{what} holds a number too large for a float; got {show_value(value)}"
        ) from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise SpecError(f"{what} must have lowest < highest (both finite); got {show_value(value)}")
    return (lo, hi)


def duplicates(names: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    dup: list[str] = []
    for n in names:
        if n in seen and n not in dup:
            dup.append(n)
        seen.add(n)
    return dup


def check_keys(d: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    unknown = [k for k in d if k not in allowed]
    if unknown:
        msgs = [f"unknown key {show_value(k)}{did_you_mean(k, allowed)}" for k in unknown]
        raise SpecError(f"{where}: " + "; ".join(msgs) + f". Allowed keys: {', '.join(allowed)}.")
