"""A saved latent fit keeps its partial rows, and its checks read the same after loading.

- saving a latent fit writes its partial rows (the days with a predictor but no outcome) as a
  group of plain arrays, and loading gives back the same rows, note and notes;
- the latent model's rows rebuilt from the loaded fit, its integrated log-likelihood, its
  PSIS-LOO and its R² equal the fit's in memory;
- a file saved before fit files kept the partial rows still loads, with a note that they are
  unavailable; damaged or hostile partial rows are refused with a message naming the file.
"""

from __future__ import annotations

import json
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from ambidex_bayes.errors import FitFileError
from ambidex_bayes.fit import FitResult, SamplerSettings
from ambidex_bayes.partial_rows import latent_rows, unsaved_partial_rows_note
from ambidex_bayes.spec import load_spec
from ambidex_bayes.store import PARTIAL_ROWS_GROUP, partial_rows_parts

sys.path.insert(0, str(Path(__file__).parent))
from latent_fits import prepare_panel, quiet_fit  # noqa: E402
from test_latent_partial_rows import _counts, _panel  # noqa: E402

pytestmark = pytest.mark.fit


@pytest.fixture(scope="module")
def latent_fit_saved(tmp_path_factory) -> tuple[FitResult, Path]:
    """A latent M3 fit of a panel with partial rows, saved once."""
    from ambidex_bayes.diagnostics import ConvergenceWarning

    settings = SamplerSettings(backend="nutpie", draws=200, tune=200, chains=2, seed=11)
    # few draws: plumbing only
    result = quiet_fit(
        load_spec("M3"), prepare_panel(_panel()), settings, quiet=ConvergenceWarning, rescue=False
    )
    path = result.save(tmp_path_factory.mktemp("latent") / "m3_latent.nc")
    return result, path


def _load(path: Path) -> FitResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return FitResult.load(path)


def test_saved_latent_fit_keeps_its_partial_rows(latent_fit_saved):
    result, path = latent_fit_saved
    _, n_x_only = _counts(_panel())
    assert len(result.prepared.partial_rows) == n_x_only > 0
    loaded = _load(path)
    pd.testing.assert_frame_equal(loaded.prepared.partial_rows, result.prepared.partial_rows)
    assert loaded.prepared.partial_rows_note == result.prepared.partial_rows_note
    assert loaded.prepared.notes == result.prepared.notes
    pd.testing.assert_frame_equal(latent_rows(loaded.prepared), latent_rows(result.prepared))
    # the partial rows are no posterior group of the loaded fit
    assert PARTIAL_ROWS_GROUP not in loaded.idata.children
    with xr.open_datatree(path, engine="h5netcdf") as tree:
        assert tree[PARTIAL_ROWS_GROUP].sizes["__partial_row__"] == n_x_only
        assert json.loads(tree.attrs["partial_rows"])["rows"] == n_x_only


def test_checks_of_the_loaded_latent_fit_equal_those_in_memory(latent_fit_saved):
    from ambidex_bayes.checks.log_likelihood import integrated_log_likelihood
    from ambidex_bayes.checks.loo import psis_loo
    from ambidex_bayes.checks.r2 import explained_variance

    result, path = latent_fit_saved
    loaded = _load(path)
    np.testing.assert_array_equal(
        integrated_log_likelihood(loaded).to_numpy(), integrated_log_likelihood(result).to_numpy()
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Pareto k of 400 draws
        before = psis_loo(result, remedy="integrated")
        after = psis_loo(loaded, remedy="integrated")
    assert after.elpd.elpd == before.elpd.elpd
    pd.testing.assert_frame_equal(explained_variance(loaded), explained_variance(result))


def _rewrite(source: Path, target: Path, edit) -> Path:
    with xr.open_datatree(source, engine="h5netcdf") as tree:
        tree = tree.load()
    edit(tree)
    tree.to_netcdf(target, engine="h5netcdf")
    return target


def _without_partial_rows(tree: xr.DataTree) -> None:
    del tree[PARTIAL_ROWS_GROUP]
    tree.attrs = {k: v for k, v in tree.attrs.items() if k != "partial_rows"}


def test_older_fit_file_without_partial_rows_loads_with_a_note(latent_fit_saved, tmp_path):
    result, path = latent_fit_saved
    older = _rewrite(path, tmp_path / "older.nc", _without_partial_rows)
    loaded = _load(older)
    assert loaded.prepared.partial_rows is None
    note = loaded.prepared.notes[-1]
    _, n_x_only = _counts(_panel())
    assert "partial rows are unavailable" in note and f"{n_x_only} day(s)" in note
    # the outcome rows are there as before
    pd.testing.assert_frame_equal(loaded.prepared.frame, result.prepared.frame)


def test_note_on_unsaved_partial_rows_reads_old_and_new_records():
    old = {"centring": "latent", "imputed": {"x_imputed": 3, "x_only": 7}}
    assert "7 day(s)" in unsaved_partial_rows_note(old)
    words = {"centring": "latent", "imputed": "3 values were imputed"}
    assert "the days with a predictor" in unsaved_partial_rows_note(words)
    none = {"centring": "latent", "imputed": {"x_imputed": 3, "x_only": 0}}
    assert unsaved_partial_rows_note(none) is None
    assert unsaved_partial_rows_note({"imputed": {"x_only": 7}}) is None  # observed fit


def test_fit_without_partial_rows_saves_no_group(latent_fit_saved):
    import dataclasses

    result, _ = latent_fit_saved
    plain = dataclasses.replace(result.prepared, partial_rows=None, partial_rows_note=None)
    rows, record = partial_rows_parts(plain)
    assert rows is None and record == {"rows": 0, "note": None, "note_at": None}


def _set_record(**changes: object):
    def edit(tree: xr.DataTree) -> None:
        record = {**json.loads(tree.attrs["partial_rows"]), **changes}
        tree.attrs = {**tree.attrs, "partial_rows": json.dumps(record)}

    return edit


def _edit_rows(change):
    def edit(tree: xr.DataTree) -> None:
        tree[PARTIAL_ROWS_GROUP] = xr.DataTree(change(tree[PARTIAL_ROWS_GROUP].to_dataset()))

    return edit


def _drop_record(tree: xr.DataTree) -> None:
    tree.attrs = {k: v for k, v in tree.attrs.items() if k != "partial_rows"}


def _drop_group(tree: xr.DataTree) -> None:
    del tree[PARTIAL_ROWS_GROUP]


def _text_in(column: str):
    def change(ds: xr.Dataset) -> xr.Dataset:
        return ds.assign({column: ds[column].astype(str)})

    return change


def _record_not_a_table(tree: xr.DataTree) -> None:
    tree.attrs = {**tree.attrs, "partial_rows": json.dumps(["pickle", "me"])}


def _two_dims(ds: xr.Dataset) -> xr.Dataset:
    values = np.zeros((ds.sizes["__partial_row__"], 2))
    return ds.assign(x=(("__partial_row__", "extra"), values))


_DAMAGE = {
    "rows miscounted": (_set_record(rows=3), "are not 3 rows"),
    "count not a number": (_set_record(rows="many"), "counts 'many' rows"),
    "note not text": (_set_record(note={"code": 1}), "note that is not text"),
    "group without record": (_drop_record, "no 'partial_rows' record"),
    "record without group": (_drop_group, "lacks its 'partial_rows' group"),
    "text predictor": (_edit_rows(_text_in("x")), "'x' holds text"),
    "outcome column missing": (_edit_rows(lambda ds: ds.drop_vars("y")), "lack the column(s) y"),
    "two-dimensional column": (_edit_rows(_two_dims), "rows along '__partial_row__'"),
    "record not a table": (_record_not_a_table, "'partial_rows' record is a list"),
}


@pytest.mark.parametrize("case", list(_DAMAGE))
def test_damaged_partial_rows_are_refused_naming_the_file(latent_fit_saved, tmp_path, case):
    _, path = latent_fit_saved
    edit, words = _DAMAGE[case]
    damaged = _rewrite(path, tmp_path / "damaged.nc", edit)
    with pytest.raises(FitFileError) as info:
        _load(damaged)
    message = str(info.value)
    assert str(damaged) in message and "damaged" in message and "fit the model again" in message
    assert words in message, message


def test_undamaged_rewrite_still_loads(latent_fit_saved, tmp_path):
    result, path = latent_fit_saved
    copy = Path(shutil.copy(path, tmp_path / "copy.nc"))
    pd.testing.assert_frame_equal(_load(copy).prepared.partial_rows, result.prepared.partial_rows)
