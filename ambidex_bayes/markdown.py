"""GitHub-flavoured Markdown tables for the report and its sections.

A leaf of the package: the report (:mod:`ambidex_bayes.report`) and its sections
(:mod:`ambidex_bayes.moderation.report_section`, :mod:`ambidex_bayes.checks.report_section`)
import it, and it imports none of them.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["markdown_table"]


def markdown_table(frame: pd.DataFrame, *, digits: int = 3) -> str:
    """A DataFrame as a GitHub-flavoured Markdown table."""
    from tabulate import tabulate

    def escape(value: object) -> object:
        return value.replace("|", "\\|") if isinstance(value, str) else value

    def count_or_number(value: object) -> object:
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return f"{value:.{digits}g}" if isinstance(value, float) else value

    shown = frame.copy()
    for col in shown.columns:
        if shown[col].dtype == object or pd.api.types.is_string_dtype(shown[col]):
            shown[col] = shown[col].map(escape).astype(object)
    as_text = "value" in shown.columns and (
        shown["value"].dtype.kind == "f"
        or all(isinstance(v, int | float) and not isinstance(v, bool) for v in shown["value"])
    )
    if as_text:  # a statistic/value table mixes counts and shares: print each as it is
        shown["value"] = shown["value"].map(count_or_number).astype(object)
    headers = [escape(str(c)) for c in shown.columns]
    return tabulate(
        shown,
        headers=headers,
        tablefmt="github",
        floatfmt=f".{digits}f",
        showindex=False,
        disable_numparse=as_text,
    )
