"""The main job says, before sampling, how much memory it expects to need at its peak and
how much the machine has, and still refuses, with what to do, a job that cannot fit."""

from __future__ import annotations

import importlib

import pytest

from ambidex_bayes import cli, datasets, memory
from ambidex_bayes.data import ColumnMapping
from ambidex_bayes.errors import AmbidexError, ResourceError
from ambidex_bayes.fit import SamplerSettings

pipeline = importlib.import_module("ambidex_bayes.pipeline")


class _Sampled(AmbidexError):
    """Raised where the first fit would start sampling."""


def _stop_at_sampling(monkeypatch) -> None:
    def no_sampling(*args, **kwargs):
        raise _Sampled("sampling would start here")

    monkeypatch.setattr(pipeline, "fit", no_sampling)


def _example_estimate() -> str:
    """The job's estimate for the example (397 rows, 97 persons, M0..M3), as printed."""
    settings = SamplerSettings().resolved()
    parts = memory.analysis_bytes(
        rows=397,
        persons=97,
        effects=[1, 1, 2, 2],
        draws=int(settings.draws),
        chains=int(settings.chains),
        log_likelihood=pipeline.STORE_LOG_LIKELIHOOD,
    )
    assert "person slopes" in parts
    return memory.format_bytes(sum(parts.values()))


def test_the_job_prints_its_memory_estimate_before_sampling(monkeypatch, capsys, tmp_path):
    _stop_at_sampling(monkeypatch)
    monkeypatch.setattr(memory, "available_memory", lambda: 64_000_000_000)
    mapping = ColumnMapping.from_toml(datasets.example_mapping_path())
    with pytest.raises(_Sampled):
        pipeline.run_analysis(
            datasets.example_path(), mapping, cache_dir=tmp_path / "c", progressbar=False
        )
    printed = capsys.readouterr().out.splitlines()
    line = (
        f"Memory: about {_example_estimate()} expected at the peak (this machine has 64 GB "
        "available)."
    )
    assert line in printed
    # quiet runs print nothing
    with pytest.raises(_Sampled):
        pipeline.run_analysis(
            datasets.example_path(),
            mapping,
            cache_dir=tmp_path / "c",
            progressbar=False,
            verbose=False,
        )
    assert "Memory:" not in capsys.readouterr().out


def test_the_run_command_prints_the_estimate_and_refuses_what_cannot_fit(
    monkeypatch, capsys, tmp_path
):
    _stop_at_sampling(monkeypatch)
    monkeypatch.delenv(memory.SKIP_VARIABLE, raising=False)
    command = ["run", "--example", "--out", str(tmp_path / "r"), "--cache-dir", str(tmp_path)]
    monkeypatch.setattr(memory, "available_memory", lambda: 64_000_000_000)
    assert cli.main([*command, "--no-progress"]) == 2
    out, err = capsys.readouterr()
    assert f"Memory: about {_example_estimate()} expected at the peak" in out
    assert "sampling would start here" in err
    # too little memory: the estimate is printed, then the refusal says what to do
    monkeypatch.setattr(memory, "available_memory", lambda: 1_000_000)
    assert cli.main([*command, "--no-progress"]) == 2
    out, err = capsys.readouterr()
    assert "(this machine has 1 MB available)" in out
    assert "sampling would start here" not in err
    assert "The main job on 397 rows and 97 persons" in err and "--draws" in err
    assert memory.SKIP_VARIABLE in err


def test_the_estimate_line_says_when_the_available_memory_is_unknown(monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: None)
    assert memory.peak_line(5.6e9) == (
        "Memory: about 5.6 GB expected at the peak (the memory available on this machine is "
        "unknown)."
    )
    monkeypatch.setattr(memory, "available_memory", lambda: 1)
    monkeypatch.delenv(memory.SKIP_VARIABLE, raising=False)
    with pytest.raises(ResourceError):
        memory.check_analysis_memory(rows=100, persons=20, effects=[2], draws=100, chains=2)
