"""Markdown tables of the report: counts print as counts, shares and means as numbers."""

from __future__ import annotations

import pandas as pd

from ambidex_bayes.markdown import markdown_table


def _rows(table: str) -> dict[str, str]:
    cells = [line.strip("|").split("|") for line in table.splitlines()[2:]]
    return {name.strip(): value.strip() for name, value in cells}


def test_a_statistic_table_of_counts_and_shares_prints_counts_without_decimals():
    # as the data summary holds it: Python ints and floats in one object column
    frame = pd.DataFrame(
        {
            "statistic": ["persons", "diaries per person: mean", "missing: share", "diaries"],
            "value": pd.Series([97, 4.175, 0.02, 405.0], dtype=object),
        }
    )
    rows = _rows(markdown_table(frame))
    assert rows == {
        "persons": "97",
        "diaries per person: mean": "4.17",
        "missing: share": "0.02",
        "diaries": "405",
    }


def test_other_tables_keep_the_fixed_number_of_digits():
    frame = pd.DataFrame({"parameter": ["a|b"], "mean": [1.0], "sd": [0.12345]})
    table = markdown_table(frame)
    assert "1.000" in table and "0.123" in table
    assert "a\\|b" in table  # a pipe in a name is escaped
