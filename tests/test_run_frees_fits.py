"""The main job frees what a fit no longer needs before the next fit starts: a saved fit's
completed person effects are reachable only through reference cycles once the fit reads
them from its file, and Python's cycle collector may not run between two fits."""

from __future__ import annotations

import gc
import importlib
import weakref
from types import SimpleNamespace

import pandas as pd
import pytest

from ambidex_bayes import datasets
from ambidex_bayes.data import ColumnMapping
from ambidex_bayes.errors import AmbidexError

pipeline = importlib.import_module("ambidex_bayes.pipeline")


class _Garbage:
    """Stands for a fit's former posterior tree: held only by a cycle of references."""

    def __init__(self) -> None:
        self.cycle = self


class _SecondFit(AmbidexError):
    """Raised when the second fit starts, saying whether the first fit's garbage lives."""


def test_the_first_fit_s_garbage_is_collected_before_the_second_fit_starts(monkeypatch, tmp_path):
    markers: list[weakref.ref[_Garbage]] = []

    def fake_fit(spec, prepared, **kwargs):
        if markers:
            raise _SecondFit(f"garbage alive: {markers[0]() is not None}")
        markers.append(weakref.ref(_Garbage()))
        return SimpleNamespace(spec=spec)

    monkeypatch.setattr(pipeline, "fit", fake_fit)
    monkeypatch.setattr(pipeline, "posterior_summary", lambda result: pd.DataFrame())
    mapping = ColumnMapping.from_toml(datasets.example_mapping_path())
    enabled = gc.isenabled()
    gc.disable()  # only an explicit collection frees the cycle
    try:
        with pytest.raises(_SecondFit, match="garbage alive: False"):
            pipeline.run_analysis(
                datasets.example_path(),
                mapping,
                cache_dir=tmp_path / "c",
                progressbar=False,
                verbose=False,
            )
    finally:
        if enabled:
            gc.enable()
    assert len(markers) == 1
