"""The data layer: read a diary file, score scales, validate it and summarise compliance.

:func:`load_diary` does it all in one call; the steps are :func:`read_table` (CSV, Parquet,
Excel, SPSS), :func:`score_scales` (scale scores from items, with their reliabilities),
:func:`validate` (every problem named by column and rows) and :func:`compliance_summary`.
A :class:`ColumnMapping` (a TOML file or a dict) says which column plays which role.

Examples
--------
>>> import ambidex_bayes as ab
>>> mapping = ab.ColumnMapping.from_toml(ab.example_mapping_path())
>>> mapping.person, mapping.outcome, mapping.level1
('person_id', 'innovation', ('uncertainty',))
>>> diary = ab.load_diary(ab.example_path(), mapping)
>>> print(diary.compliance)  # doctest: +ELLIPSIS
97 persons wrote 405 diaries (397 complete, from 97 persons).
Diaries per person: min 1, median 4, mean 4.18, max 7; 4 person(s) with one diary.
...
"""

from __future__ import annotations

from ambidex_bayes.data.compliance import ComplianceSummary, compliance_summary
from ambidex_bayes.data.io import SUPPORTED_EXTENSIONS, read_table
from ambidex_bayes.data.load import DiaryData, load_diary
from ambidex_bayes.data.mapping import ColumnMapping, ScaleSpec
from ambidex_bayes.data.scales import score_scales
from ambidex_bayes.data.validate import ROW_COLUMN, ValidatedData, validate

__all__ = [
    "ColumnMapping",
    "ScaleSpec",
    "read_table",
    "SUPPORTED_EXTENSIONS",
    "score_scales",
    "validate",
    "ValidatedData",
    "ROW_COLUMN",
    "compliance_summary",
    "ComplianceSummary",
    "load_diary",
    "DiaryData",
]
