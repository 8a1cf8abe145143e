"""The data layer: read a diary file, score scales, validate it and summarise compliance.

Typical use::

    from ambidex_bayes.data import ColumnMapping, load_diary

    mapping = ColumnMapping.from_toml("mapping.toml")
    diary = load_diary("diaries.sav", mapping)
    print(diary.compliance)
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
