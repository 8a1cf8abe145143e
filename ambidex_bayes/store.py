"""Save and load fits: one NetCDF file per fit, written atomically.

The file is the fit's ``xarray.DataTree`` (posterior, sample stats, observed data,
log-likelihood) plus two groups holding the prepared data (``prepared_data``) and the
observed person means (``person_means``), and, when the prepared data have them, a third
holding their partial rows (``partial_rows``: the rows only latent centring uses, see
:mod:`ambidex_bayes.partial_rows`; :func:`partial_rows_parts` and
:func:`restore_partial_rows`). Root attributes hold, as JSON, the resolved spec,
the formula, every prior used, the roles of the parameters, the data transformations, the
package versions, the sampler settings, the seed and a hash of the data. Every part is data
(arrays, text and JSON), never code.

Writing goes to a temporary file in the same folder that is renamed over the target only
once complete, so an interrupted save never leaves a half-written fit behind and never
destroys the previous one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from ambidex_bayes.errors import FitFileError
from ambidex_bayes.fit_reader import LazyPredicate, read_plain_tree

if TYPE_CHECKING:
    from ambidex_bayes.prepared_data import PreparedData

__all__ = [
    "FORMAT_VERSION",
    "PARTIAL_ROWS_DIM",
    "PARTIAL_ROWS_GROUP",
    "partial_rows_parts",
    "restore_partial_rows",
    "atomic_write",
    "copy_file",
    "data_hash",
    "package_versions",
    "save_datatree",
    "load_datatree",
    "frame_to_dataset",
    "dataset_to_frame",
]

#: Version of the fit-file layout; files of another version are refused on load.
FORMAT_VERSION = 1
_MARKER = "ambidex_bayes_fit"
#: The group of a fit file holding the prepared data's partial rows, and its dimension.
PARTIAL_ROWS_GROUP = "partial_rows"
PARTIAL_ROWS_DIM = "__partial_row__"


def package_versions() -> dict[str, str]:
    """Versions of the packages that determine a fit's result."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in (
        "ambidex_bayes",
        "bambi",
        "pymc",
        "pytensor",
        "arviz",
        "arviz-stats",
        "numpy",
        "pandas",
        "nutpie",
        "numpyro",
        "jax",
    ):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            continue
    return out


def data_hash(frame: pd.DataFrame) -> str:
    """SHA-256 of a table's values, column names and dtypes (row order matters)."""
    h = hashlib.sha256()
    h.update(json.dumps([str(c) for c in frame.columns]).encode())
    h.update(json.dumps([str(t) for t in frame.dtypes]).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()


def current_umask() -> int:
    """The process's file-creation mask (read without changing it for long)."""
    current = os.umask(0)
    os.umask(current)
    return current


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` and rename the result over ``path`` only on success.

    The file gets the permissions a newly created file gets (``0o666`` less the umask), not
    the owner-only ones of a temporary file, so that colleagues and cluster workers can
    read it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        os.chmod(tmp_path, 0o666 & ~current_umask())
        os.replace(tmp_path, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
    return path


def copy_file(source: str | Path, path: str | Path) -> Path:
    """Copy ``source`` to ``path`` atomically (see :func:`atomic_write`): the same bytes,
    without reading the file's content into memory.

    Where the file system allows it, the copy is a hard link (a second name of the same
    file, nothing written): fit files are never changed in place, only replaced as a whole
    by :func:`atomic_write`, so the two names cannot drift apart through this package. Else
    (another file system, no links there) the bytes are copied.
    """

    def link_or_copy(tmp: Path) -> None:
        tmp.unlink()
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)

    return atomic_write(path, link_or_copy)


def frame_to_dataset(frame: pd.DataFrame, dim: str) -> xr.Dataset:
    """Store a table as a Dataset along ``dim`` (strings kept as strings)."""
    data_vars = {}
    for col in frame.columns:
        values = frame[col].to_numpy()
        if values.dtype == object or pd.api.types.is_string_dtype(frame[col]):
            values = frame[col].astype(str).to_numpy(dtype=str)
        data_vars[str(col)] = ((dim,), values)
    index = (
        frame.index.astype(str).to_numpy(dtype=str)
        if frame.index.dtype == object or pd.api.types.is_string_dtype(frame.index)
        else frame.index.to_numpy()
    )
    return xr.Dataset(
        data_vars, coords={dim: index}, attrs={"index_name": str(frame.index.name or "")}
    )


def dataset_to_frame(ds: xr.Dataset, dim: str) -> pd.DataFrame:
    """Inverse of :func:`frame_to_dataset`."""
    # .values, not .to_numpy(): the latter checks for sparse arrays, importing sparse and numba
    frame = pd.DataFrame({name: np.asarray(ds[name].values) for name in ds.data_vars})
    index = np.asarray(ds[dim].values)
    frame.index = pd.Index(index, name=ds.attrs.get("index_name") or None)
    for col in frame.columns:
        if frame[col].dtype.kind == "U":
            frame[col] = frame[col].astype(object)
    if frame.index.dtype.kind == "U":
        frame.index = frame.index.astype(object)
    return frame


def save_datatree(tree: xr.DataTree, path: str | Path, attrs: dict[str, Any]) -> Path:
    """Write ``tree`` with JSON ``attrs`` on its root to ``path`` atomically.

    Before it writes, xarray asks whether a client of dask's ``distributed`` is running,
    importing ``distributed`` to find out (about half a CPU-second); none can run unless
    ``distributed`` was imported before, so the package is not importable while the file is
    written (:func:`ambidex_bayes.light_imports.not_importable`) and the answer is the same.
    """
    from ambidex_bayes.light_imports import not_importable

    tree = tree.copy()
    root_attrs = {k: json.dumps(v, default=_json_default) for k, v in attrs.items()}
    root_attrs[_MARKER] = str(FORMAT_VERSION)
    tree.attrs = {
        **{k: v for k, v in tree.attrs.items() if isinstance(v, str | int | float)},
        **root_attrs,
    }
    for node in tree.subtree:
        node.attrs = {k: _clean_attr(v) for k, v in node.attrs.items()}

    def write(tmp: Path) -> None:
        with not_importable("distributed"):
            tree.to_netcdf(tmp, engine="h5netcdf")

    return atomic_write(path, write)


def load_datatree(
    path: str | Path, *, skip: tuple[str, ...] = (), lazy: LazyPredicate | None = None
) -> tuple[xr.DataTree, dict[str, Any]]:
    """Read a fit file into memory; refuse anything truncated, corrupt or foreign.

    A file of plain arrays (every file :func:`save_datatree` writes) is read by
    :func:`ambidex_bayes.fit_reader.read_plain_tree`, anything else by xarray's decoder;
    both give the same tree.

    Parameters
    ----------
    path : path
    skip : tuple of str
        Groups (children of the root) not to read, e.g. ``("log_likelihood",)``, the largest
        group of a fit and needed only for LOO; the tree is returned without them.
    lazy : callable, optional
        ``lazy(group, dims)`` is true for float variables to leave on disk, read from the
        file on first use (e.g. the person effects, which a summary does not use).

    Returns
    -------
    tree, attrs
        The DataTree and the decoded JSON attributes written by :func:`save_datatree`.

    Raises
    ------
    FitFileError
        The file is missing, unreadable, not a fit file of this toolkit, or of another
        format version.
    """
    path = Path(path)
    if not path.exists():
        raise FitFileError(f"{path}: no such fit file.")
    try:
        tree = read_plain_tree(path, skip=skip, lazy=lazy)
        if tree is None:
            with xr.open_datatree(path, engine="h5netcdf") as tree:
                for group in skip:
                    if group in tree.children:
                        del tree[group]
                tree = tree.load()
    except PermissionError:
        raise FitFileError(
            f"{path}: the fit file cannot be read (permission denied); ask its owner to share "
            "it, or copy it to a folder of yours."
        ) from None
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        raise FitFileError(
            f"{path}: cannot be read as a fit file ({type(err).__name__}: {err}). It may be "
            "truncated or corrupt; delete it and fit again."
        ) from None
    version = tree.attrs.get(_MARKER)
    if version is None:
        raise FitFileError(f"{path}: not a fit file written by ambidex_bayes.")
    if str(version) != str(FORMAT_VERSION):
        raise FitFileError(_version_message(path, version))
    attrs = {}
    for key, value in tree.attrs.items():
        if key == _MARKER or not isinstance(value, str):
            continue
        try:
            attrs[key] = json.loads(value)
        except json.JSONDecodeError:
            attrs[key] = value
    return tree, attrs


def _version_message(path: Path, version: Any) -> str:
    """What to do with a fit file of another layout version."""
    try:
        newer = int(str(version)) > FORMAT_VERSION
    except ValueError:
        return (
            f"{path}: the fit file is damaged: its format version is {str(version)[:40]!r}, "
            f"not a number (this version of ambidex_bayes reads format {FORMAT_VERSION}). "
            "Delete it and fit the model again."
        )
    if newer:
        return (
            f"{path}: the fit file was written by a newer version of ambidex_bayes (fit-file "
            f"format {version}; this version reads format {FORMAT_VERSION}). Update "
            "ambidex_bayes to read it, or fit the model again with this version."
        )
    return (
        f"{path}: the fit file was written by an older version of ambidex_bayes (fit-file "
        f"format {version}; this version reads format {FORMAT_VERSION}). Fit the model again."
    )


def _clean_attr(value: Any) -> Any:
    if isinstance(value, str | int | float | np.integer | np.floating):
        return value
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return list(value)
    return json.dumps(value, default=_json_default)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, tuple):
        return list(obj)
    raise TypeError(f"cannot store {type(obj).__name__} in a fit file")


def partial_rows_parts(prepared: PreparedData) -> tuple[xr.Dataset | None, dict[str, Any]]:
    """What a fit file keeps of the prepared data's partial rows.

    The rows (:attr:`PreparedData.partial_rows`: of a latent fit, the days with a predictor
    but no outcome, which informed the person means) are stored as a group of plain arrays
    along :data:`PARTIAL_ROWS_DIM`, as the prepared rows are; their note and its place among
    the notes go into the root record ``partial_rows``. Neither is part of
    :meth:`PreparedData.to_dict` (nor, therefore, of an observed fit's cache key).

    Parameters
    ----------
    prepared : PreparedData

    Returns
    -------
    rows : xarray.Dataset or None
        The group :data:`PARTIAL_ROWS_GROUP` (None when the data have no partial rows; an
        empty table is kept as a group of 0 rows).
    record : dict
        ``{"rows": n, "note": text or None, "note_at": position or None}``, ``n`` the
        number of rows (0 without any), ``note_at`` the note's position in
        :attr:`PreparedData.notes`.
    """
    rows = prepared.partial_rows
    note = prepared.partial_rows_note
    note_at = prepared.notes.index(note) if note is not None and note in prepared.notes else None
    record = {"rows": 0 if rows is None else int(len(rows)), "note": note, "note_at": note_at}
    if rows is None:
        return None, record
    return frame_to_dataset(rows.reset_index(drop=True), PARTIAL_ROWS_DIM), record


def restore_partial_rows(
    prepared: PreparedData,
    tree: xr.DataTree,
    record: Mapping[str, Any] | None,
    meta: Mapping[str, Any],
) -> PreparedData:
    """``prepared`` with the partial rows and note a fit file keeps (see
    :func:`partial_rows_parts`).

    Parameters
    ----------
    prepared : PreparedData
        Rebuilt from the file's ``prepared`` record and prepared rows.
    tree : xarray.DataTree
        The file's content (checked by
        :func:`~ambidex_bayes.engine.fit_file.check_fit_records`).
    record : mapping or None
        The root record ``partial_rows``; None for a file saved before fit files kept the
        partial rows.
    meta : mapping
        The fit's ``meta``: for such an older file of a latent fit, the note says how many
        partial rows the fit used that are now unavailable
        (:func:`~ambidex_bayes.partial_rows.unsaved_partial_rows_note`).

    Returns
    -------
    PreparedData
    """
    from ambidex_bayes.partial_rows import unsaved_partial_rows_note

    if record is None:
        note = unsaved_partial_rows_note(meta)
        if note is None:
            return prepared
        return dataclasses.replace(prepared, notes=(*prepared.notes, note))
    rows = None
    if PARTIAL_ROWS_GROUP in tree.children:
        rows = dataset_to_frame(tree[PARTIAL_ROWS_GROUP].to_dataset(), PARTIAL_ROWS_DIM)
        rows.index = pd.RangeIndex(len(rows))
    note = record.get("note")
    notes = list(prepared.notes)
    if note is not None:
        at = record.get("note_at")
        notes.insert(len(notes) if at is None else min(int(at), len(notes)), note)
    return dataclasses.replace(
        prepared, notes=tuple(notes), partial_rows=rows, partial_rows_note=note
    )
