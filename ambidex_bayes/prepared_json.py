"""JSON form of the prepared data's tables: person means, moderator statistics, occasions.

:meth:`ambidex_bayes.prepare.PreparedData.to_dict` and
:meth:`~ambidex_bayes.prepare.PreparedData.from_dict` store everything but the frame's rows
in a fit file. Tables of floats are written as ``{"index": [...], "columns": {name:
[...]}}`` and series as ``{"index": [...], "values": [...]}``, index labels as strings and
NaN as ``null`` (JSON has no NaN); reading turns ``null`` back into NaN.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

__all__ = [
    "PREPARED_FORMAT",
    "PREPARED_VERSION",
    "table_to_json",
    "table_from_json",
    "series_to_json",
    "series_from_json",
    "floats_to_json",
    "floats_from_json",
]

#: The ``format`` entry of a saved PreparedData.
PREPARED_FORMAT = "ambidex_bayes.PreparedData"

#: The ``version`` entry of a saved PreparedData this code writes and reads.
PREPARED_VERSION = 1


def _json_float(value: float) -> float | None:
    """A JSON-safe float (NaN becomes None)."""
    value = float(value)
    return None if math.isnan(value) else value


def _float_from_json(value: float | None) -> float:
    """The float of a JSON value written by :func:`_json_float` (None becomes NaN)."""
    return float("nan") if value is None else float(value)


def _labels(index: Iterable[Any]) -> list[str]:
    return [str(i) for i in index]


def table_to_json(table: pd.DataFrame) -> dict[str, Any]:
    """``{"index": labels, "columns": {name: floats}}`` of a table of floats."""
    return {
        "index": _labels(table.index),
        "columns": {c: [_json_float(v) for v in table[c]] for c in table.columns},
    }


def table_from_json(
    d: Mapping[str, Any],
    *,
    index_name: str | None = None,
    columns_if_none: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The table of :func:`table_to_json`, index labels as strings.

    Parameters
    ----------
    d : mapping
        ``{"index": labels, "columns": {name: floats}}``.
    index_name : str, optional
        Name of the rebuilt index.
    columns_if_none : sequence of str, optional
        Column names of the empty table rebuilt when ``d`` holds no column.

    Raises
    ------
    KeyError, TypeError
        ``d`` lacks an entry or holds one of the wrong kind.
    """
    data = {c: [_float_from_json(v) for v in vals] for c, vals in d["columns"].items()}
    index = pd.Index(d["index"], dtype="str", name=index_name)
    if columns_if_none is None:
        return pd.DataFrame(data, index=index)
    return pd.DataFrame(data, index=index, columns=list(d["columns"]) or list(columns_if_none))


def series_to_json(series: pd.Series | None) -> dict[str, Any] | None:
    """``{"index": labels, "values": floats}`` of a series of floats (None stays None)."""
    if series is None:
        return None
    return {"index": _labels(series.index), "values": [_json_float(v) for v in series]}


def series_from_json(d: Mapping[str, Any] | None, *, index_name: str | None) -> pd.Series | None:
    """The float series of :func:`series_to_json`, index labels as strings (None stays None)."""
    if d is None:
        return None
    return pd.Series(
        [_float_from_json(v) for v in d["values"]],
        index=pd.Index(d["index"], dtype="str", name=index_name),
        dtype="float64",
    )


def floats_to_json(values: Mapping[str, float]) -> dict[str, float | None]:
    """A mapping of floats with NaN written as None."""
    return {k: _json_float(v) for k, v in values.items()}


def floats_from_json(values: Mapping[str, float | None]) -> dict[str, float]:
    """The mapping of :func:`floats_to_json`, None read back as NaN."""
    return {k: _float_from_json(v) for k, v in values.items()}
