"""Fit files: atomic writes, round trips, refusing corrupt or foreign files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from ambidex_bayes.errors import FitFileError
from ambidex_bayes.store import (
    atomic_write,
    data_hash,
    dataset_to_frame,
    frame_to_dataset,
    load_datatree,
    save_datatree,
)


def _tree() -> xr.DataTree:
    rng = np.random.default_rng(0)
    post = xr.Dataset({"a": (("chain", "draw"), rng.normal(size=(2, 50)))})
    return xr.DataTree.from_dict({"posterior": post})


def test_round_trip_keeps_values_and_attrs(tmp_path: Path):
    tree = _tree()
    path = save_datatree(tree, tmp_path / "fit.nc", {"spec": {"name": "M3", "x": [1, 2]}})
    loaded, attrs = load_datatree(path)
    np.testing.assert_array_equal(loaded["posterior"]["a"].values, tree["posterior"]["a"].values)
    assert attrs["spec"] == {"name": "M3", "x": [1, 2]}


def test_truncated_file_is_refused(tmp_path: Path):
    path = save_datatree(_tree(), tmp_path / "fit.nc", {"spec": {}})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(FitFileError, match="truncated or corrupt"):
        load_datatree(path)


def test_foreign_netcdf_is_refused(tmp_path: Path):
    path = tmp_path / "other.nc"
    _tree().to_netcdf(path, engine="h5netcdf")
    with pytest.raises(FitFileError, match="not a fit file written by ambidex_bayes"):
        load_datatree(path)


def test_missing_file(tmp_path: Path):
    with pytest.raises(FitFileError, match="no such fit file"):
        load_datatree(tmp_path / "nope.nc")


def test_failed_write_keeps_previous_file(tmp_path: Path):
    target = tmp_path / "out.txt"
    target.write_text("previous")

    def broken(tmp: Path) -> None:
        tmp.write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, broken)
    assert target.read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_frame_round_trip_with_strings():
    frame = pd.DataFrame({"pid": ["a", "é", "3"], "y": [1.0, np.nan, 2.5]})
    back = dataset_to_frame(frame_to_dataset(frame, "__row__"), "__row__")
    assert back["pid"].tolist() == ["a", "é", "3"]
    np.testing.assert_array_equal(back["y"].to_numpy(), frame["y"].to_numpy())


def test_data_hash_changes_with_one_value():
    frame = pd.DataFrame({"pid": ["a", "b"], "y": [1.0, 2.0]})
    other = frame.copy()
    other.loc[1, "y"] = 2.0000001
    assert data_hash(frame) == data_hash(frame.copy())
    assert data_hash(frame) != data_hash(other)


def test_written_files_get_the_usual_permissions(tmp_path):
    import os

    from ambidex_bayes.store import atomic_write

    old = os.umask(0o022)
    try:
        path = atomic_write(tmp_path / "table.csv", lambda p: p.write_text("a,b\n"))
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
