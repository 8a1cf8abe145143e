"""Factor columns of a diary table: which level-2 or control column is a factor, and the
order of its levels.

:func:`factor_column` decides whether a column is a factor (declared in the mapping's
``factors``, a pandas categorical, or text only) and returns its levels and the level name
of each cell; :func:`level_sort_key` orders the levels of a non-categorical factor (numbers
first, in numeric order, then text). Both are used by :func:`ambidex_bayes.data.validate.validate`.
"""

from __future__ import annotations

import pandas as pd

from ambidex_bayes.data.mapping import ColumnMapping
from ambidex_bayes.data.values import to_float
from ambidex_bayes.factor_coding import level_strings

__all__ = ["factor_column", "level_sort_key"]


def factor_column(
    col: str, raw: pd.Series, mapping: ColumnMapping
) -> tuple[tuple[str, ...], pd.Series] | None:
    """``(levels, level names per cell)`` when ``col`` is a factor, else None.

    A level-2 or control column is a factor when ``mapping.factors`` declares it, when it
    is a pandas categorical, or when every filled cell is text that is not a number (a
    column mixing numbers and text stays numeric, so that a typo is reported, not coded).
    """
    if col not in (*mapping.level2, *mapping.controls):
        return None
    categorical = isinstance(raw.dtype, pd.CategoricalDtype)
    if col not in mapping.factors and not categorical:
        if pd.api.types.is_numeric_dtype(raw) or pd.api.types.is_bool_dtype(raw):
            return None
        nums, bad = to_float(raw)
        if not bad.any() or nums.notna().any():
            return None
    names = level_strings(raw)
    present = {n for n in names if n is not None}
    if categorical:
        order = [n for n in level_strings(pd.Series(raw.cat.categories)) if n is not None]
        levels = tuple(dict.fromkeys(order))
    else:
        levels = tuple(sorted(present, key=level_sort_key))
    return levels, names


def level_sort_key(level: str) -> tuple[int, float, str]:
    """Numbers first, in numeric order, then text in sorted order."""
    try:
        return (0, float(level), level)
    except ValueError:
        return (1, 0.0, level)
