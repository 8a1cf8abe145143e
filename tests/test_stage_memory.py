"""The stage table's peak memory: each stage and part records the process's peak resident
memory when it ended, the printed table shows it, the report's table does not."""

from __future__ import annotations

import importlib
import sys

import pytest

from ambidex_bayes.stage_timing import StageTimes, format_peak, part, peak_resident_bytes

stage_timing = importlib.import_module("ambidex_bayes.stage_timing")


def test_each_stage_records_the_peak_when_it_ended(monkeypatch):
    peaks = iter([300_000_000, 1_250_000_000, 1_250_000_000])
    monkeypatch.setattr(stage_timing, "peak_resident_bytes", lambda: next(peaks))
    timings = StageTimes(progress=False)
    with timings.stage("read"):
        pass
    with timings.stage("report"):
        with part("person slopes"):
            pass
    assert [(r.stage, r.peak_bytes) for r in timings.records] == [
        ("read", 300_000_000),
        ("report", 1_250_000_000),  # ended after its part
        ("person slopes", 1_250_000_000),
    ]
    table = timings.table()
    assert list(table["peak_bytes"]) == [300_000_000, 1_250_000_000, 1_250_000_000, 1_250_000_000]
    text = timings.text()
    assert "peak memory so far" in text
    assert "300 MB" in text and "1.25 GB" in text
    # the report's table keeps its columns
    assert list(timings.readable().columns) == ["stage", "time", "share"]


def test_without_a_reported_peak_the_table_shows_the_times_only(monkeypatch):
    monkeypatch.setattr(stage_timing, "peak_resident_bytes", lambda: None)
    timings = StageTimes(progress=False)
    with timings.stage("read"):
        pass
    assert timings.table()["peak_bytes"].isna().all()
    assert "peak memory" not in timings.text()
    assert format_peak(None) == "" and format_peak(float("nan")) == ""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_the_peak_is_the_process_s_high_water_mark():
    with open("/proc/self/status") as fh:
        fields = dict(line.split(":", 1) for line in fh)
    resident = int(fields["VmRSS"].split()[0]) * 1024
    peak = peak_resident_bytes()
    # the kernel's counters behind getrusage catch up with VmRSS in steps of a few pages
    assert peak is not None and peak >= 0.95 * resident > 0
