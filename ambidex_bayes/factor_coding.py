r"""Factor columns (text or categories) coded as numeric contrast columns for the model.

A factor with levels :math:`L_1, \dots, L_K` enters the model as :math:`K - 1` numeric
columns, one per coded level:

treatment (the default)
    One level is the *reference*; the column of level :math:`L` is 1 on rows of :math:`L`
    and 0 elsewhere, so each coefficient is the difference of its level from the reference.
sum
    The columns belong to :math:`L_1, \dots, L_{K-1}`; the column of :math:`L_k` is 1 on
    rows of :math:`L_k`, -1 on rows of the last level :math:`L_K` and 0 elsewhere, so each
    coefficient is the difference of its level from the unweighted mean of the level means.
    There is no reference level.

Column names are ``f"{column}_{level}"`` made plain, so a formula reads each as one name
without quoting: every run of characters other than ASCII letters, digits and ``_`` becomes
one ``_``, repeated ``_`` become one and trailing ``_`` are dropped, a name not starting with a letter gets the prefix
``f_``, and a name that two levels would share gets ``_2``, ``_3``, ... in level order
(``sector`` with levels ``Public``, ``Catholic school`` gives ``sector_Public``,
``sector_Catholic_school``).

Cell values become level names by :func:`level_strings` (text stripped of surrounding
spaces, whole numbers without ``.0``), both when the coding is made and when new rows are
coded (:meth:`FactorCoding.code`).
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from ambidex_bayes.errors import DataError, SpecError

__all__ = [
    "CONTRASTS",
    "FactorCoding",
    "factor_coding",
    "contrast_column_name",
    "level_strings",
    "level_name",
]

#: The contrasts a factor may be coded with.
CONTRASTS: tuple[str, ...] = ("treatment", "sum")

Contrast = Literal["treatment", "sum"]

_NOT_PLAIN = re.compile(r"[^A-Za-z0-9_]+")


def level_name(value: object) -> str | None:
    """The level name of one cell (None for a missing cell); see :func:`level_strings`."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, numbers.Real):
        v = float(value)
        if math.isnan(v):
            return None
        if v.is_integer() and abs(v) < 1e15:
            return str(int(v))
        return repr(v)
    text = str(value).strip()
    return text if text else None


def level_strings(values: pd.Series) -> pd.Series:
    """The level name of every cell, as text; missing cells (and blank text) stay missing.

    Text is stripped of surrounding spaces; numbers that are whole are written without a
    decimal point (``2.0`` and ``2`` are the level ``"2"``), others by their shortest repr.

    Parameters
    ----------
    values : pandas.Series
        A column of text, categories, numbers or booleans.

    Returns
    -------
    pandas.Series
        Object dtype, same index; ``None`` where the cell is missing.
    """
    return pd.Series(
        [level_name(v) for v in values.astype(object)], index=values.index, dtype=object
    )


def contrast_column_name(column: str, level: str) -> str:
    """The plain name ``f"{column}_{level}"`` (see the module docstring for the rule),
    before duplicates are told apart."""
    name = re.sub("__+", "_", _NOT_PLAIN.sub("_", f"{column}_{level}")).rstrip("_")
    if not name or not name[0].isalpha() or not name[0].isascii():
        name = "f_" + name.lstrip("_")
    return name


def _unique_names(names: Sequence[str]) -> tuple[str, ...]:
    out: list[str] = []
    for name in names:
        candidate, k = name, 2
        while candidate in out:
            candidate, k = f"{name}_{k}", k + 1
        out.append(candidate)
    return tuple(out)


@dataclass(frozen=True)
class FactorCoding:
    """How one factor column is coded as numeric contrast columns.

    Attributes
    ----------
    column : str
        The source column (text, categories or a declared factor).
    levels : tuple of str
        The levels in order (category order, else sorted), each as :func:`level_strings`
        writes it.
    reference : str or None
        The reference level of treatment coding; None for sum coding.
    contrast : {"treatment", "sum"}
        The coding (module docstring).
    columns : tuple of str
        The contrast columns added to the prepared frame, one per coded level
        (:attr:`coded_levels`), in level order.
    """

    column: str
    levels: tuple[str, ...]
    reference: str | None
    contrast: Contrast
    columns: tuple[str, ...]

    @property
    def coded_levels(self) -> tuple[str, ...]:
        """The level of each contrast column: every level but the reference (treatment) or
        every level but the last (sum)."""
        if self.contrast == "sum":
            return self.levels[:-1]
        return tuple(level for level in self.levels if level != self.reference)

    def matrix(self) -> pd.DataFrame:
        """The contrast matrix: index the levels, columns :attr:`columns`, float values."""
        rows = []
        for level in self.levels:
            if self.contrast == "sum" and level == self.levels[-1]:
                rows.append([-1.0] * len(self.columns))
            else:
                rows.append([1.0 if level == c else 0.0 for c in self.coded_levels])
        return pd.DataFrame(rows, index=pd.Index(self.levels, dtype=object), columns=self.columns)

    def code(self, values: pd.Series, *, what: str = "") -> pd.DataFrame:
        """The contrast columns of ``values`` (a column of this factor, new rows allowed).

        Parameters
        ----------
        values : pandas.Series
            Cells of the factor column; missing cells give missing (NaN) contrast values.
        what : str, optional
            Where the values come from, for messages (e.g. ``"apply()"``).

        Returns
        -------
        pandas.DataFrame
            Same index as ``values``, one float column per name in :attr:`columns`.

        Raises
        ------
        DataError
            A value that is not one of :attr:`levels`; the message names the column, the
            unknown values and the known levels.
        """
        names = level_strings(values)
        unknown = sorted({n for n in names if n is not None and n not in self.levels})
        if unknown:
            prefix = f"{what}: " if what else ""
            raise DataError(
                f"{prefix}the factor column {self.column!r} holds level(s) "
                f"{', '.join(map(repr, unknown[:10]))}{' ...' if len(unknown) > 10 else ''} "
                f"that the prepared data do not have; its levels are "
                f"{', '.join(map(repr, self.levels))}"
            )
        table = self.matrix()
        coded = table.reindex(names.where(names.notna(), None).to_numpy())
        coded.index = values.index
        return coded.astype("float64")

    def describe(self) -> str:
        """One sentence saying how the factor is coded (for notes)."""
        levels = ", ".join(map(repr, self.levels))
        if self.contrast == "sum":
            return (
                f"{self.column!r} is a factor with levels {levels}, sum-coded as "
                f"{', '.join(map(repr, self.columns))} (the last level, {self.levels[-1]!r}, "
                "is -1 in every column; each coefficient is a level's difference from the "
                "mean of the level means)"
            )
        return (
            f"{self.column!r} is a factor with levels {levels}, coded as "
            f"{', '.join(map(repr, self.columns))} against the reference level "
            f"{self.reference!r} (each coefficient is a level's difference from "
            f"{self.reference!r})"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON form; :meth:`from_dict` reads it back."""
        return {
            "column": self.column,
            "levels": list(self.levels),
            "reference": self.reference,
            "contrast": self.contrast,
            "columns": list(self.columns),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FactorCoding:
        """The coding saved by :meth:`to_dict`."""
        contrast = str(d["contrast"])
        if contrast not in CONTRASTS:
            raise SpecError(f"unknown contrast {contrast!r}; known: {', '.join(CONTRASTS)}")
        return cls(
            column=str(d["column"]),
            levels=tuple(str(v) for v in d["levels"]),
            reference=None if d["reference"] is None else str(d["reference"]),
            contrast="sum" if contrast == "sum" else "treatment",
            columns=tuple(str(c) for c in d["columns"]),
        )


def factor_coding(
    column: str,
    levels: Sequence[str],
    *,
    reference: str | None = None,
    contrast: str = "treatment",
) -> FactorCoding:
    """Code a factor with the given levels.

    Parameters
    ----------
    column : str
        The source column.
    levels : sequence of str
        The levels in order (at least two, no repeats).
    reference : str, optional
        The reference level of treatment coding; default the first level. Not allowed
        with sum coding.
    contrast : {"treatment", "sum"}
        The coding.

    Returns
    -------
    FactorCoding

    Raises
    ------
    SpecError
        Fewer than two levels, an unknown contrast, a reference that is not a level (the
        message lists the levels), or a reference with sum coding.
    """
    levels = tuple(str(v) for v in levels)
    if len(set(levels)) != len(levels):
        raise SpecError(f"the factor {column!r} lists a level twice: {list(levels)}")
    if len(levels) < 2:
        raise SpecError(
            f"the factor {column!r} has {len(levels)} level(s) "
            f"({', '.join(map(repr, levels)) or 'none'}); a factor needs at least two"
        )
    if contrast not in CONTRASTS:
        raise SpecError(
            f"the factor {column!r}: unknown contrast {contrast!r}; use "
            + " or ".join(map(repr, CONTRASTS))
        )
    if contrast == "sum":
        if reference is not None:
            raise SpecError(
                f"the factor {column!r}: sum coding has no reference level; remove "
                f"reference = {reference!r} or use contrast = 'treatment'"
            )
        coded = levels[:-1]
        ref = None
    else:
        ref = levels[0] if reference is None else str(reference)
        if ref not in levels:
            raise SpecError(
                f"the factor {column!r} has no level {ref!r}; its levels are "
                f"{', '.join(map(repr, levels))}"
            )
        coded = tuple(level for level in levels if level != ref)
    names = _unique_names([contrast_column_name(column, level) for level in coded])
    return FactorCoding(
        column=column,
        levels=levels,
        reference=ref,
        contrast="sum" if contrast == "sum" else "treatment",
        columns=names,
    )
