"""Read a fit file's groups straight from HDF5, with draws not needed held on disk.

A fit file (see :mod:`ambidex_bayes.store`) holds plain arrays: numbers, text, and booleans
stored as ``int8`` with the attribute ``dtype = "bool"``, floats with ``NaN`` as fill value,
every dimension of a group with its coordinate values. For such a file
:func:`read_plain_tree` builds the same :class:`xarray.DataTree` as
``xarray.open_datatree(path, engine="h5netcdf").load()`` (same groups, variables, order,
dtypes, coordinates and attributes), without xarray's decoding machinery. That machinery
is general (times, scales, packed integers, chunked arrays); on the way it imports dask and
numba when they are installed, which costs more than reading the file. A file holding
anything else (any other encoding attribute, nested groups) is left to xarray:
:func:`read_plain_tree` returns ``None``.

Variables chosen by ``lazy`` (the person effects, ``persons x draws`` per chain) are not
read: they are held as lazily indexed arrays read from the file on first use, which is
first checked to be the file that was opened (same size, modification time and inode).
A whole variable read from one file is kept (read-only) until a variable of another file is
read, or :func:`forget_read_draws` is called: the checks read a fit's person effects once
per block of rows, and a job works through its fits one after the other, so the draws of one
fit at a time are held, read once.
:func:`disk_variables` gives such arrays for named variables of a file, so that a fit just
saved can let go of its draws in memory (see
:meth:`ambidex_bayes.engine.result.FitResult.hold_person_effects_on_disk`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing

from ambidex_bayes.errors import FitFileError

if TYPE_CHECKING:
    import h5py

__all__ = [
    "LazyPredicate",
    "disk_file",
    "disk_variables",
    "forget_read_draws",
    "read_plain_tree",
]

#: ``lazy(group, dims)``: hold a variable of ``group`` with these dims on disk until used.
LazyPredicate = Callable[[str, tuple[str, ...]], bool]

#: The attributes a plain variable may carry, all moved out of ``attrs`` by decoding.
_ENCODING_ATTRS = frozenset({"_FillValue", "dtype"})
#: HDF5 and netCDF-4 bookkeeping, never shown as attributes (as h5netcdf hides them).
_HIDDEN_ATTRS = frozenset(
    {
        "REFERENCE_LIST",
        "CLASS",
        "DIMENSION_LIST",
        "NAME",
        "_Netcdf4Dimid",
        "_Netcdf4Coordinates",
        "_nc3_strict",
        "_NCProperties",
    }
)
#: How netCDF-4 names a dimension that has no coordinate variable.
_PHONY = b"This is a netCDF dimension but not a netCDF variable"


class _NotPlain(Exception):
    """The file holds something only xarray's decoder reads as xarray would."""


def _stamp(path: Path) -> tuple[int, int, int]:
    """What identifies a file's content cheaply: size, modification time, inode."""
    info = os.stat(path)
    return info.st_size, info.st_mtime_ns, info.st_ino


#: The whole variables read last, all of one file: ``(path, stamp, variable) -> values``.
_READ: dict[tuple[Path, tuple[int, int, int], str], np.ndarray] = {}


def forget_read_draws() -> None:
    """Let go of the variables kept after their file was read (see the module docstring)."""
    _READ.clear()


class _DiskDraws(BackendArray):
    """One float variable of a fit file, read from the file when indexed."""

    def __init__(self, path: Path, stamp: tuple[int, int, int], dataset: h5py.Dataset) -> None:
        self.path = path
        self.stamp = stamp
        self.name = str(dataset.name)
        self.shape = tuple(dataset.shape)
        self.dtype = np.dtype(dataset.dtype)

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.BASIC, self._read
        )

    def _read(self, key: tuple[Any, ...]) -> np.ndarray:
        import h5py

        if not self.path.is_file() or _stamp(self.path) != self.stamp:
            raise FitFileError(
                f"{self.path}: the fit file changed or disappeared after it was loaded, so "
                f"the draws of {self.name.lstrip('/')!r} cannot be read; load the fit again."
            )
        whole = all(
            isinstance(k, slice) and k.indices(n) == (0, n, 1)
            for k, n in zip(key, self.shape, strict=True)
        )
        kept = _READ.get((self.path, self.stamp, self.name)) if whole else None
        if kept is not None:
            return kept
        if whole and any(path != self.path or stamp != self.stamp for path, stamp, _ in _READ):
            _READ.clear()  # another file's draws go before these are read
        with h5py.File(self.path, "r") as f:
            values = np.asarray(f[self.name][key])
        if whole:
            values.flags.writeable = False  # shared by every reader until forgotten
            _READ[(self.path, self.stamp, self.name)] = values
        return values


def _attr_value(value: Any) -> Any:
    """An attribute as h5netcdf (and so xarray) shows it: text as ``str``, arrays of text
    as lists, one-element arrays as their element."""
    if isinstance(value, bytes):
        raise _NotPlain
    if isinstance(value, np.ndarray) and value.ndim > 0:
        value = value.tolist() if value.dtype.kind == "O" else value
        if any(isinstance(v, bytes) for v in np.ravel(np.asarray(value, dtype=object))):
            raise _NotPlain
        if len(value) == 1:
            return value[0]
    return value


def _attrs(obj: h5py.HLObject) -> dict[str, Any]:
    """The attributes of a group or dataset, bookkeeping left out."""
    return {k: _attr_value(v) for k, v in obj.attrs.items() if k not in _HIDDEN_ATTRS}


def _dims(dataset: h5py.Dataset, is_scale: bool) -> tuple[str, ...]:
    """The netCDF dimensions of a dataset: its own name for a dimension scale, else the
    names of the scales its ``DIMENSION_LIST`` points at."""
    if is_scale:
        return (str(dataset.name).rsplit("/", 1)[-1],)
    if dataset.ndim == 0:
        return ()
    if "DIMENSION_LIST" not in dataset.attrs:
        raise _NotPlain
    refs = dataset.attrs["DIMENSION_LIST"]
    if len(refs) != dataset.ndim:
        raise _NotPlain
    return tuple(str(dataset.file[axis[0]].name).rsplit("/", 1)[-1] for axis in refs)


def _check_fill(dataset: h5py.Dataset, attrs: dict[str, Any]) -> None:
    """Only NaN may fill floats (decoding it changes nothing); nothing else has a fill."""
    fill = attrs.get("_FillValue")
    if fill is not None and not (dataset.dtype.kind == "f" and np.isnan(fill)):
        raise _NotPlain


def _plain_values(dataset: h5py.Dataset, attrs: dict[str, Any]) -> np.ndarray:
    """The decoded values of a dataset."""
    import h5py

    _check_fill(dataset, attrs)
    marker = attrs.get("dtype")
    if h5py.check_string_dtype(dataset.dtype) is not None:
        if marker is not None or h5py.check_string_dtype(dataset.dtype).length is not None:
            raise _NotPlain
        return np.asarray(dataset.asstr()[()], dtype=object).astype(str)
    if dataset.dtype.kind not in "biuf":
        raise _NotPlain
    values = np.asarray(dataset[()])
    if marker is not None:
        if marker != "bool" or values.dtype != np.int8:
            raise _NotPlain
        return values.astype(bool)
    return values


def _index_variable(dim: str, values: np.ndarray) -> xr.IndexVariable:
    """The coordinate of ``dim`` as xarray makes it (a pandas index of the values, keeping
    their numpy dtype), built directly: xarray's conversion of a plain array into an index
    checks on the way whether it is a sparse array, which imports sparse and numba."""
    import pandas as pd

    index = pd.Index(values, dtype="object" if values.dtype.kind == "O" else None)
    return xr.IndexVariable((dim,), indexing.PandasIndexingAdapter(index, dtype=values.dtype))


def _plain_group(
    group: h5py.Group, path: Path, stamp: tuple[int, int, int], lazy: LazyPredicate | None
) -> xr.Dataset:
    """One group (of datasets only) as a Dataset."""
    import h5py

    data_vars: dict[str, xr.Variable] = {}
    coords: dict[str, xr.Variable] = {}
    name_of_group = str(group.name).strip("/")
    for name, dataset in group.items():
        if not isinstance(dataset, h5py.Dataset):
            raise _NotPlain
        attrs = _attrs(dataset)
        if set(attrs) - _ENCODING_ATTRS:
            raise _NotPlain
        is_scale = dataset.attrs.get("CLASS") == b"DIMENSION_SCALE"
        if is_scale and bytes(dataset.attrs.get("NAME", b"")).startswith(_PHONY):
            continue  # a dimension without coordinate values
        dims = _dims(dataset, is_scale)
        if is_scale:
            coords[name] = _index_variable(name, _plain_values(dataset, attrs))
        elif (
            lazy is not None
            and dataset.dtype.kind == "f"
            and set(attrs) <= {"_FillValue"}
            and lazy(name_of_group, dims)
        ):
            data_vars[name] = _disk_variable(dataset, dims, attrs, path, stamp)
        else:
            data_vars[name] = xr.Variable(dims, _plain_values(dataset, attrs), fastpath=True)
    return xr.Dataset(data_vars, coords=coords, attrs=_attrs(group))


def _disk_variable(
    dataset: h5py.Dataset,
    dims: tuple[str, ...],
    attrs: dict[str, Any],
    path: Path,
    stamp: tuple[int, int, int],
) -> xr.Variable:
    """A float dataset as a variable read from the file when indexed."""
    _check_fill(dataset, attrs)
    held = indexing.LazilyIndexedArray(_DiskDraws(path, stamp, dataset))
    return xr.Variable(dims, held, fastpath=True)


def disk_file(variable: xr.Variable) -> Path | None:
    """The file a variable is read from on use, or None for a variable held in memory."""
    data = variable._data
    held = getattr(data, "array", None) if isinstance(data, indexing.LazilyIndexedArray) else None
    return held.path if isinstance(held, _DiskDraws) else None


def disk_variables(path: str | Path, group: str, names: tuple[str, ...]) -> dict[str, xr.Variable]:
    """Float variables of one group of a fit file, each read from the file on use.

    Parameters
    ----------
    path : path
        A fit file of plain arrays (as :func:`ambidex_bayes.store.save_datatree` writes).
    group : str
        The group, e.g. ``"posterior"``.
    names : tuple of str
        The variables.

    Returns
    -------
    dict of str to xarray.Variable
        By name: the variable's dims over a lazily indexed array; reading it checks first
        that the file is still the one opened here.

    Raises
    ------
    FitFileError
        The file lacks a variable, or holds it as anything but plain floats.
    OSError
        The file cannot be opened as HDF5.
    """
    import h5py

    path = Path(path)
    stamp = _stamp(path)
    out: dict[str, xr.Variable] = {}
    with h5py.File(path, "r") as f:
        for name in names:
            dataset = f.get(f"{group}/{name}")
            if not isinstance(dataset, h5py.Dataset) or dataset.dtype.kind != "f":
                raise FitFileError(f"{path}: the fit file holds no float variable {group}/{name}.")
            attrs = _attrs(dataset)
            try:
                if set(attrs) - {"_FillValue"}:
                    raise _NotPlain
                out[name] = _disk_variable(dataset, _dims(dataset, False), attrs, path, stamp)
            except _NotPlain:
                raise FitFileError(
                    f"{path}: {group}/{name} is stored with an encoding this reader does not "
                    "read from disk on use."
                ) from None
    return out


def read_plain_tree(
    path: str | Path, *, skip: tuple[str, ...] = (), lazy: LazyPredicate | None = None
) -> xr.DataTree | None:
    """Read a fit file of plain arrays as a DataTree, or None when xarray must decode it.

    Parameters
    ----------
    path : path
        A NetCDF-4 file whose root holds attributes and one level of groups.
    skip : tuple of str
        Groups not to read.
    lazy : callable, optional
        ``lazy(group, dims)`` is true for float variables to hold on disk until used.

    Returns
    -------
    xarray.DataTree or None
        The tree, with every variable in memory except the ``lazy`` ones; None when the
        file holds nested groups, root variables or an encoding other than a NaN fill
        value or the boolean marker (xarray's decoder then reads it).

    Raises
    ------
    OSError
        The file cannot be opened as HDF5 (truncated, not HDF5, no permission).
    """
    import h5py

    path = Path(path)
    stamp = _stamp(path)
    groups: dict[str, xr.Dataset] = {}
    try:
        with h5py.File(path, "r") as f:
            root_attrs = _attrs(f)
            for name, group in f.items():
                if not isinstance(group, h5py.Group):
                    return None  # a variable on the root
                if name not in skip:
                    groups[name] = _plain_group(group, path, stamp, lazy)
    except _NotPlain:
        return None
    return xr.DataTree.from_dict({"/": xr.Dataset(attrs=root_attrs), **groups})
