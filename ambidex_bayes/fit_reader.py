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
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing

from ambidex_bayes.errors import FitFileError

__all__ = ["LazyPredicate", "read_plain_tree"]

#: ``lazy(group, dims)``: hold a variable of ``group`` with these dims on disk until used.
LazyPredicate = Callable[[str, tuple[str, ...]], bool]

#: The attributes a plain variable may carry, all moved out of ``attrs`` by decoding.
_ENCODING_ATTRS = frozenset({"_FillValue", "dtype"})


def _stamp(path: Path) -> tuple[int, int, int]:
    """What identifies a file's content cheaply: size, modification time, inode."""
    info = os.stat(path)
    return info.st_size, info.st_mtime_ns, info.st_ino


class _DiskDraws(BackendArray):
    """One float variable of a fit file, read from the file when indexed."""

    def __init__(self, path: Path, stamp: tuple[int, int, int], name: str, var: Any) -> None:
        self.path = path
        self.stamp = stamp
        self.name = name
        self.shape = tuple(var.shape)
        self.dtype = np.dtype(var.dtype)

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.BASIC, self._read
        )

    def _read(self, key: tuple[Any, ...]) -> np.ndarray:
        import h5py

        if not self.path.is_file() or _stamp(self.path) != self.stamp:
            raise FitFileError(
                f"{self.path}: the fit file changed or disappeared after it was loaded, so "
                f"the draws of {self.name!r} cannot be read; load the fit again."
            )
        with h5py.File(self.path, "r") as f:
            return np.asarray(f[self.name][key])


def _plain_values(var: Any) -> np.ndarray | None:
    """The decoded values of a variable, or None when it is not plain."""
    attrs = dict(var.attrs)
    fill = attrs.get("_FillValue")
    if fill is not None and not (var.dtype.kind == "f" and np.isnan(fill)):
        return None
    values = var[...]
    marker = attrs.get("dtype")
    if marker is not None:
        if marker != "bool" or values.dtype != np.int8:
            return None
        return values.astype(bool)
    if values.dtype.kind == "O":  # variable-length text
        if not all(isinstance(v, str) for v in values.flat):
            return None
        return values.astype(str)
    return values


def _index_variable(dim: str, values: np.ndarray) -> xr.IndexVariable:
    """The coordinate of ``dim`` as xarray makes it (a pandas index of the values, keeping
    their numpy dtype), built directly: xarray's conversion of a plain array into an index
    checks on the way whether it is a sparse array, which imports sparse and numba."""
    import pandas as pd

    index = pd.Index(values, dtype="object" if values.dtype.kind == "O" else None)
    return xr.IndexVariable((dim,), indexing.PandasIndexingAdapter(index, dtype=values.dtype))


def _plain_group(
    group: Any, path: Path, stamp: tuple[int, int, int], lazy: LazyPredicate | None
) -> xr.Dataset | None:
    """One group as a Dataset, or None when something in it is not plain."""
    data_vars: dict[str, xr.Variable] = {}
    coords: dict[str, xr.Variable] = {}
    for name, var in group.variables.items():
        if set(var.attrs) - _ENCODING_ATTRS:
            return None
        dims = tuple(var.dimensions)
        held = (
            lazy is not None
            and name not in group.dimensions
            and var.dtype.kind == "f"
            and set(var.attrs) <= {"_FillValue"}
            and lazy(group.name.strip("/"), dims)
        )
        if held:
            array = _DiskDraws(path, stamp, var.name, var)
            data: Any = indexing.LazilyIndexedArray(array)
        else:
            data = _plain_values(var)
            if data is None:
                return None
        if name in group.dimensions:
            coords[name] = _index_variable(name, data)
        else:
            data_vars[name] = xr.Variable(dims, data, fastpath=True)
    return xr.Dataset(data_vars, coords=coords, attrs=dict(group.attrs))


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
        The file cannot be opened as HDF5.
    """
    import h5netcdf

    path = Path(path)
    stamp = _stamp(path)
    with h5netcdf.File(path, "r", decode_vlen_strings=True) as f:
        if f.variables or f.dimensions:
            return None
        groups: dict[str, xr.Dataset] = {}
        for name, group in f.groups.items():
            if name in skip:
                continue
            if group.groups:
                return None
            dataset = _plain_group(group, path, stamp, lazy)
            if dataset is None:
                return None
            groups[name] = dataset
        root = xr.Dataset(attrs=dict(f.attrs))
    return xr.DataTree.from_dict({"/": root, **groups})
