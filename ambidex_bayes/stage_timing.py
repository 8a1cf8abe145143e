"""The wall-clock time of each stage of the main job, and a line as each stage starts.

:func:`ambidex_bayes.pipeline.run_analysis` times its stages (reading and preparing the
data, each fit and its summary, the simple slopes) in a :class:`StageTimes`, which travels
with the :class:`~ambidex_bayes.pipeline.Analysis`; :func:`ambidex_bayes.report.write_report`
adds the report's stages (each report section, the tables and files) to the same record,
shows the table in the report and prints it at the end.

A stage may be broken down into parts: inside a stage, ``with part("name"):`` (the module
function :func:`part`) times a part of whatever stage is running, so that code which does not
hold the :class:`StageTimes` (a report section, say) can still name its parts. Parts are
recorded with their depth (1 for a part of a stage, 2 for a part of a part), listed under
their stage in the table, and do not count again in the total. Outside any stage
:func:`part` times nothing.

Each record also keeps the process's peak resident memory when it ended (the high-water mark
the operating system reports, so it never falls): the stage at which it rises is the one that
needed the memory. The printed table (:meth:`StageTimes.text`) shows it; the report's table
shows the times only.

A leaf module: it imports nothing of the package.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TextIO

import pandas as pd

__all__ = [
    "StageTime",
    "StageTimes",
    "format_seconds",
    "format_peak",
    "peak_resident_bytes",
    "part",
]

#: Marks a part's name in the tables, once per level of depth.
PART_MARK = "· "


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


def peak_resident_bytes() -> int | None:
    """The peak resident memory of this process so far, in bytes, or None where the
    operating system does not report it (``resource.getrusage``: kilobytes on Linux, bytes
    on macOS)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return peak if sys.platform == "darwin" else peak * 1024


def format_peak(n: float | None) -> str:
    """``1.23 GB``, ``456 MB`` (powers of 1000), or an empty string when unknown."""
    if n is None or n != n:
        return ""
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


@dataclass(frozen=True)
class StageTime:
    """One finished stage (``depth`` 0) or part of a stage (``depth`` 1 and more): its name,
    wall-clock seconds and the process's peak resident memory when it ended (bytes; None
    when unknown)."""

    stage: str
    seconds: float
    depth: int = 0
    peak_bytes: int | None = None


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
        The finished stages and their parts, in the order they started (a part after its
        stage).
    stream : file, optional
        Where the lines go (default standard output, looked up at print time).
    """

    progress: bool = True
    print_table: bool = True
    records: list[StageTime] = field(default_factory=list)
    stream: TextIO | None = None

    def _print(self, text: str) -> None:
        print(text, file=self.stream or sys.stdout, flush=True)

    @property
    def stages(self) -> list[StageTime]:
        """The finished stages, without their parts."""
        return [r for r in self.records if r.depth == 0]

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the ``with`` block as stage ``name`` (recorded also when it fails).

        While it runs, :func:`part` times parts of it.
        """
        if self.progress:
            self._print(f"[stage {len(self.stages) + 1}] {name} ...")
        with self._timed(name, depth=0):
            yield

    @contextmanager
    def part(self, name: str) -> Iterator[None]:
        """Time the ``with`` block as a part of the stage (or part) running now; outside
        any stage, as a stage of its own (without the line announcing it)."""
        opened = _OPEN.get()
        depth = opened[1] if opened is not None and opened[0] is self else 0
        with self._timed(name, depth=depth):
            yield

    @contextmanager
    def _timed(self, name: str, *, depth: int) -> Iterator[None]:
        """Record the block at the place it started (before the parts it holds)."""
        place = len(self.records)
        token = _OPEN.set((self, depth + 1))
        start = time.perf_counter()
        try:
            yield
        finally:
            _OPEN.reset(token)
            seconds = time.perf_counter() - start
            self.records.insert(place, StageTime(name, seconds, depth, peak_resident_bytes()))

    @property
    def total(self) -> float:
        """Seconds of all recorded stages together (their parts are inside them)."""
        return float(sum(r.seconds for r in self.stages))

    def table(self) -> pd.DataFrame:
        """One row per stage: ``stage, seconds, share`` (share of the total) and
        ``peak_bytes`` (the process's peak resident memory when it ended), then ``total``
        (with the largest peak).

        A part's row follows its stage, its name marked by :data:`PART_MARK` once per level.
        """
        total = self.total
        rows = [
            {
                "stage": PART_MARK * r.depth + r.stage,
                "seconds": round(r.seconds, 3),
                "share": r.seconds / total if total > 0 else float("nan"),
                "peak_bytes": r.peak_bytes,
            }
            for r in self.records
        ]
        peaks = [r.peak_bytes for r in self.records if r.peak_bytes is not None]
        rows.append(
            {
                "stage": "total",
                "seconds": round(total, 3),
                "share": 1.0,
                "peak_bytes": max(peaks) if peaks else None,
            }
        )
        return pd.DataFrame(rows, columns=["stage", "seconds", "share", "peak_bytes"])

    def readable(self, *, memory: bool = False) -> pd.DataFrame:
        """:meth:`table` with durations in words and shares in percent, for reading; with
        ``memory`` also the peak resident memory so far at the end of each stage."""
        table = self.table()
        out = pd.DataFrame(
            {
                "stage": table["stage"],
                "time": [format_seconds(s) for s in table["seconds"]],
                "share": [f"{s:.0%}" if s == s else "" for s in table["share"]],
            }
        )
        if memory:
            out["peak memory so far"] = [format_peak(n) for n in table["peak_bytes"]]
        return out

    def text(self) -> str:
        """The stages as a small plain-text table, with the peak memory so far when known."""
        from tabulate import tabulate

        memory = any(r.peak_bytes is not None for r in self.records)
        readable = self.readable(memory=memory)
        align = ("left", *("right",) * (readable.shape[1] - 1))
        return tabulate(readable, headers="keys", showindex=False, colalign=align)


#: The :class:`StageTimes` whose stage (or part) is running in this context, and the depth a
#: part started now gets.
_OPEN: ContextVar[tuple[StageTimes, int] | None] = ContextVar("open_stage", default=None)


@contextmanager
def part(name: str) -> Iterator[None]:
    """Time the ``with`` block as a part of the stage running now, if any.

    Code that runs inside a stage (:meth:`StageTimes.stage`) names its parts without holding
    the :class:`StageTimes`; outside any stage the block runs untimed.

    Parameters
    ----------
    name : str
        The part's name in the table of stage times.

    Examples
    --------
    >>> timings = StageTimes(progress=False)
    >>> with timings.stage("report"):
    ...     with part("figures"):
    ...         pass
    >>> [(r.stage, r.depth) for r in timings.records]
    [('report', 0), ('figures', 1)]
    """
    opened = _OPEN.get()
    if opened is None:
        yield
        return
    with opened[0].part(name):
        yield
