"""The report's predictive checks hold a bounded number of replicated values."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from ambidex_bayes.checks import report_section
from ambidex_bayes.checks.predictive import MAX_DRAWS


def _fit(rows: int) -> SimpleNamespace:
    return SimpleNamespace(prepared=SimpleNamespace(frame=pd.DataFrame({"y": range(rows)})))


def test_replicated_data_sets_of_the_report_shrink_with_the_rows_beyond_a_budget():
    assert report_section._ppc_max_draws(_fit(397)) == MAX_DRAWS  # the example: unchanged
    assert report_section._ppc_max_draws(_fit(50_000)) == MAX_DRAWS
    assert report_section._ppc_max_draws(_fit(200_000)) == 250
    assert report_section._ppc_max_draws(_fit(10_000_000)) == report_section.REPORT_MIN_PPC_DRAWS
    for rows in (60_000, 200_000, 400_000):
        assert report_section._ppc_max_draws(_fit(rows)) * rows <= (
            report_section.REPORT_PPC_NUMBERS
        )
