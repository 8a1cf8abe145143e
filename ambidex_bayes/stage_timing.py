"""The wall-clock time of each stage of the main job, and a line as each stage starts.

:func:`ambidex_bayes.pipeline.run_analysis` times its stages (reading and preparing the
data, each fit and its summary, the simple slopes) in a :class:`StageTimes`, which travels
with the :class:`~ambidex_bayes.pipeline.Analysis`; :func:`ambidex_bayes.report.write_report`
adds the report's stages (each report section, the tables and files) to the same record,
shows the table in the report and prints it at the end.

A leaf module: it imports nothing of the package.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TextIO

import pandas as pd

__all__ = ["StageTime", "StageTimes", "format_seconds"]


def format_seconds(seconds: float) -> str:
    """A duration in words a reader takes in at a glance: ``0.42 s``, ``12.3 s``, ``4 min 05 s``."""
    if seconds < 1:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


@dataclass(frozen=True)
class StageTime:
    """One finished stage: its name and wall-clock seconds."""

    stage: str
    seconds: float


@dataclass
class StageTimes:
    """Stages in the order they ran, each with its wall-clock time.

    Attributes
    ----------
    progress : bool
        Print a line as each stage starts (``run --no-progress`` switches it off).
    print_table : bool
        Whether the whole table is printed at the end of the job (by the report writer).
    records : list of StageTime
        The finished stages.
    stream : file, optional
        Where the lines go (default standard output, looked up at print time).
    """

    progress: bool = True
    print_table: bool = True
    records: list[StageTime] = field(default_factory=list)
    stream: TextIO | None = None

    def _print(self, text: str) -> None:
        print(text, file=self.stream or sys.stdout, flush=True)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the ``with`` block as stage ``name`` (recorded also when it fails)."""
        if self.progress:
            self._print(f"[stage {len(self.records) + 1}] {name} ...")
        start = time.perf_counter()
        try:
            yield
        finally:
            self.records.append(StageTime(name, time.perf_counter() - start))

    @property
    def total(self) -> float:
        """Seconds of all recorded stages together."""
        return float(sum(r.seconds for r in self.records))

    def table(self) -> pd.DataFrame:
        """One row per stage: ``stage, seconds, share`` (share of the total), then ``total``."""
        total = self.total
        rows = [
            {
                "stage": r.stage,
                "seconds": round(r.seconds, 3),
                "share": r.seconds / total if total > 0 else float("nan"),
            }
            for r in self.records
        ]
        rows.append({"stage": "total", "seconds": round(total, 3), "share": 1.0})
        return pd.DataFrame(rows, columns=["stage", "seconds", "share"])

    def readable(self) -> pd.DataFrame:
        """:meth:`table` with durations in words and shares in percent, for reading."""
        table = self.table()
        return pd.DataFrame(
            {
                "stage": table["stage"],
                "time": [format_seconds(s) for s in table["seconds"]],
                "share": [f"{s:.0%}" if s == s else "" for s in table["share"]],
            }
        )

    def text(self) -> str:
        """The stages as a small plain-text table."""
        from tabulate import tabulate

        return tabulate(
            self.readable(), headers="keys", showindex=False, colalign=("left", "right", "right")
        )
