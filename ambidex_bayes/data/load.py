"""Load a diary data set in one call: read, score scales, validate, summarise compliance."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ambidex_bayes.data.compliance import ComplianceSummary, compliance_summary
from ambidex_bayes.data.io import read_table
from ambidex_bayes.data.mapping import ColumnMapping
from ambidex_bayes.data.scales import score_scales
from ambidex_bayes.data.validate import validate
from ambidex_bayes.errors import DataError, SpecError

__all__ = ["DiaryData", "load_diary"]


@dataclass(frozen=True, eq=False)
class DiaryData:
    """A loaded, scored and validated diary data set.

    Attributes
    ----------
    frame
        The validated frame (see :class:`~ambidex_bayes.data.validate.ValidatedData`).
    mapping
        The column mapping used.
    notes
        Informational messages from validation, in plain words.
    compliance
        Diaries per person and missingness.
    reliability
        Reliability of the mapping's scales (see
        :func:`~ambidex_bayes.data.scales.score_scales`), or None when it defines none.
    source
        The file name (with the sheet, if one was given) or ``"<DataFrame>"``.
    factor_levels
        Factor column -> its levels in order (see
        :class:`~ambidex_bayes.data.validate.ValidatedData`).
    """

    frame: pd.DataFrame
    mapping: ColumnMapping
    notes: tuple[str, ...]
    compliance: ComplianceSummary
    reliability: pd.DataFrame | None
    source: str
    factor_levels: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def _as_mapping(mapping: Any) -> ColumnMapping:
    if isinstance(mapping, ColumnMapping):
        return mapping
    if isinstance(mapping, Mapping):
        return ColumnMapping.from_dict(mapping)
    if isinstance(mapping, str | os.PathLike):
        return ColumnMapping.from_toml(mapping)
    raise SpecError(
        f"mapping must be a ColumnMapping, a dict or the path of a mapping TOML file; "
        f"got {type(mapping).__name__}"
    )


def load_diary(
    source: str | os.PathLike[str] | pd.DataFrame,
    mapping: ColumnMapping | Mapping[str, Any] | str | os.PathLike[str],
    *,
    sheet: str | int | None = None,
) -> DiaryData:
    """Read a diary file (or take a DataFrame), score its scales, validate and summarise it.

    Parameters
    ----------
    source : path or DataFrame
        A file path (see :func:`~ambidex_bayes.data.io.read_table` for the formats) or a
        DataFrame (not modified).
    mapping : ColumnMapping, dict or path
        A :class:`ColumnMapping`, a dict for :meth:`ColumnMapping.from_dict`, or the path of
        a mapping TOML file.
    sheet : str or int, optional
        Excel only: sheet name or 0-based position.

    Returns
    -------
    DiaryData
        The validated frame, the mapping, notes, the compliance summary and the scales'
        reliabilities.

    Raises
    ------
    DataError
        The file cannot be read, or two columns have the same name.
    SpecError
        The mapping is invalid.
    ValidationError
        The data break one or more rules; every problem is listed.

    Examples
    --------
    The bundled (synthetic) example with its mapping file:

    >>> diary = ab.load_diary(ab.example_path(), ab.example_mapping_path())
    >>> diary.mapping.person, diary.mapping.outcome
    ('person_id', 'innovation')
    >>> diary.compliance.n_persons, diary.compliance.n_diaries
    (97, 405)
    >>> print(diary.compliance)  # doctest: +ELLIPSIS
    97 persons wrote 405 diaries (397 complete, from 97 persons).
    ...

    A DataFrame and a dict for the mapping work as well:

    >>> frame = ab.load_example()
    >>> mapping = {"person": "person_id", "occasion": "day", "outcome": "innovation",
    ...            "level1": ["uncertainty"], "level2": ["leader_support"]}
    >>> len(ab.load_diary(frame, mapping).frame)
    405
    """
    cmap = _as_mapping(mapping)
    if isinstance(source, pd.DataFrame):
        if sheet is not None:
            raise DataError("sheet= applies to Excel files, but a DataFrame was given")
        df, name = source, "<DataFrame>"
    else:
        # Person ids are labels: read them from text files as written ("007" is not 7).
        df = read_table(source, sheet=sheet, text_columns=(cmap.person,))
        name = str(Path(source)) + (f" [sheet {sheet!r}]" if sheet is not None else "")
    reliability = None
    if cmap.scales:
        df, reliability = score_scales(df, cmap.scales, person=cmap.person, source=name)
    checked = validate(df, cmap, source=name)
    return DiaryData(
        frame=checked.frame,
        mapping=cmap,
        notes=checked.notes,
        compliance=compliance_summary(checked.frame, cmap),
        reliability=reliability,
        source=name,
        factor_levels=checked.factor_levels,
    )
