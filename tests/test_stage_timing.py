"""Stage timings: recorded by the main job and the report writer, announced as each stage
starts (unless progress is off), printed at the end and shown in the report."""

from __future__ import annotations

import importlib
import time

import pytest
from fake_posterior import raw_diary
from report_fakes import fake_fit

from ambidex_bayes import pipeline
from ambidex_bayes.spec import load_spec
from ambidex_bayes.stage_timing import StageTimes, format_seconds


def test_stages_are_recorded_in_order_with_their_time(capsys):
    timings = StageTimes(progress=True)
    with timings.stage("first"):
        time.sleep(0.05)
    with timings.stage("second"):
        pass
    assert [r.stage for r in timings.records] == ["first", "second"]
    assert timings.records[0].seconds >= 0.05
    assert timings.total == pytest.approx(sum(r.seconds for r in timings.records))
    printed = capsys.readouterr().out.splitlines()
    assert printed == ["[stage 1] first ...", "[stage 2] second ..."]
    table = timings.table()
    assert list(table["stage"]) == ["first", "second", "total"]
    assert table["share"].iloc[:2].sum() == pytest.approx(1.0)
    assert "first" in timings.text() and "total" in timings.text()


def test_no_lines_without_progress_and_a_failed_stage_is_recorded(capsys):
    timings = StageTimes(progress=False)
    with pytest.raises(ValueError), timings.stage("breaks"):
        raise ValueError("boom")
    assert capsys.readouterr().out == ""
    assert [r.stage for r in timings.records] == ["breaks"]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.123, "0.12 s"), (12.34, "12.3 s"), (125, "2 min 05 s"), (3725, "1 h 02 min")],
)
def test_durations_read_at_a_glance(seconds, text):
    assert format_seconds(seconds) == text


def _fake_fitting(monkeypatch):
    """run_analysis with every fit replaced by a fit of known draws (no sampling)."""

    def fit(spec, prepared, **kwargs):
        return fake_fit(name=spec.name)

    monkeypatch.setattr(pipeline, "fit", fit)


def _mapping():
    from ambidex_bayes.data import ColumnMapping

    return ColumnMapping(
        person="pid", occasion="day", outcome="inno", level1=("unc",), level2=("sup",)
    )


def test_run_analysis_times_and_announces_each_stage(monkeypatch, capsys):
    _fake_fitting(monkeypatch)
    analysis = pipeline.run_analysis(
        raw_diary(), _mapping(), specs=[load_spec("M3")], progressbar=True, verbose=False
    )
    stages = [r.stage for r in analysis.timings.records]
    assert stages[:2] == ["read and check the data", "prepare the data (centring, person means)"]
    assert "fit M3" in stages and "posterior summary of M3" in stages
    assert stages[-1] == "ICC, simple slopes and figure data"
    printed = capsys.readouterr().out
    assert "[stage 4] fit M3 ..." in printed


def test_no_progress_means_no_stage_lines(monkeypatch, capsys):
    _fake_fitting(monkeypatch)
    analysis = pipeline.run_analysis(
        raw_diary(), _mapping(), specs=[load_spec("M3")], progressbar=False, verbose=False
    )
    assert "[stage" not in capsys.readouterr().out
    assert len(analysis.timings.records) == 6


def test_the_report_adds_its_stages_and_prints_the_table_at_the_end(monkeypatch, capsys, tmp_path):
    report = importlib.import_module("ambidex_bayes.report")
    _fake_fitting(monkeypatch)
    monkeypatch.setattr(report, "REPORT_SECTIONS", ())
    analysis = pipeline.run_analysis(
        raw_diary(), _mapping(), specs=[load_spec("M3")], progressbar=True, verbose=True
    )
    capsys.readouterr()
    path = report.write_report(analysis, tmp_path / "report")
    printed = capsys.readouterr().out
    stages = [r.stage for r in analysis.timings.records]
    assert "fit M3" in stages and "report: the HTML page" in stages
    assert printed.index("[stage") < printed.index("Time per stage:")
    assert printed.rstrip().splitlines()[-1].startswith("total")
    text = path.read_text()
    assert "## Stage timings" in text
    for stage in stages[:-1]:  # all but the HTML page, written after the Markdown
        assert stage in text
    html = (tmp_path / "report" / "report.html").read_text()
    assert "fit M3" in html and "Sampling time recorded with each fit" in html


def test_parts_are_listed_under_their_stage_and_not_counted_twice(capsys):
    from ambidex_bayes.stage_timing import PART_MARK, part

    timings = StageTimes(progress=True)
    with part("outside any stage"):  # nothing is timed
        pass
    assert timings.records == []
    with timings.stage("first"):
        with part("a"):
            time.sleep(0.02)
            with part("a.1"):
                time.sleep(0.02)
        with part("b"):
            pass
    with timings.stage("second"):
        pass
    records = [(r.stage, r.depth) for r in timings.records]
    assert records == [("first", 0), ("a", 1), ("a.1", 2), ("b", 1), ("second", 0)]
    seconds = {r.stage: r.seconds for r in timings.records}
    assert seconds["first"] >= seconds["a"] + seconds["b"] >= seconds["a.1"] + seconds["b"]
    assert seconds["a.1"] >= 0.02 and seconds["a"] >= 0.04
    assert timings.total == pytest.approx(seconds["first"] + seconds["second"])
    assert [r.stage for r in timings.stages] == ["first", "second"]
    # parts are not announced, and the stages keep their numbers
    assert capsys.readouterr().out.splitlines() == ["[stage 1] first ...", "[stage 2] second ..."]
    table = timings.table()
    assert list(table["stage"]) == [
        "first",
        f"{PART_MARK}a",
        f"{PART_MARK * 2}a.1",
        f"{PART_MARK}b",
        "second",
        "total",
    ]
    assert table["share"].iloc[[0, 4]].sum() == pytest.approx(1.0)
    assert table["seconds"].iloc[-1] == pytest.approx(timings.total, abs=1e-3)


def test_a_failed_part_is_recorded_and_the_stage_goes_on():
    from ambidex_bayes.stage_timing import part

    timings = StageTimes(progress=False)
    with timings.stage("stage"):
        with pytest.raises(ValueError), part("breaks"):
            raise ValueError("boom")
        with part("after"):
            pass
    assert [(r.stage, r.depth) for r in timings.records] == [
        ("stage", 0),
        ("breaks", 1),
        ("after", 1),
    ]
    with part("later"):  # the stage is over: not timed
        pass
    assert len(timings.records) == 3


def test_the_report_times_the_parts_of_its_sections(tmp_path):
    """The checks section and the moderation section (one part per pair, each with its
    steps) show their parts in the report's table of stage times."""
    from fake_fit_results import pair_result
    from report_fakes import fake_analysis

    from ambidex_bayes.report import write_report

    analysis = fake_analysis(pair_result())
    path = write_report(analysis, tmp_path / "report")
    records = [(r.stage, r.depth) for r in analysis.timings.records]
    stages = [r.stage for r in analysis.timings.stages]
    checks = stages.index("report: model checks (PPC, LOO, R²)")
    moderation = [s for s in stages if s.startswith("report: moderation in depth")][0]
    # the parts follow their stage, before the next stage
    at = records.index((moderation, 0))
    assert records[at + 1 : at + 8] == [
        ("unc × sup", 1),
        ("curve and Johnson–Neyman region", 2),
        ("simple slopes", 2),
        ("person slopes", 2),
        ("within- and between-person effects", 2),
        ("figures and tables", 2),
        ("unc × cli", 1),
    ]
    at = records.index((stages[checks], 0))
    assert records[at + 1 : at + 6] == [
        ("posterior predictive checks and LOO-PIT", 1),
        ("LOO-PIT", 2),
        ("PSIS-LOO and model comparison", 1),
        ("explained variance (R²)", 1),
        (stages[checks + 1], 0),
    ]
    text = path.read_text()
    assert "| · · person slopes" in text and "| · PSIS-LOO and model comparison" in text
