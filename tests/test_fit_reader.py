"""Reading a fit file of plain arrays gives the tree xarray's decoder gives.

:func:`ambidex_bayes.fit_reader.read_plain_tree` reads the files :func:`save_datatree`
writes without xarray's decoding machinery; every tree here is compared with
``xarray.open_datatree(path, engine="h5netcdf").load()``: the same groups and variables in
the same order, dtypes, dims, attributes, coordinates and index types, and
``DataTree.identical``. Files holding anything else go to xarray. Variables held on disk
(``lazy``) are read from the file on first use, and a file changed in between is refused.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import xarray as xr
from fake_posterior import moderation_draws

from ambidex_bayes.errors import FitFileError
from ambidex_bayes.fit_reader import read_plain_tree
from ambidex_bayes.store import load_datatree, save_datatree


def _tree(seed: int = 0) -> xr.DataTree:
    """A fit-like tree: posterior with person effects, sample stats with booleans and
    integers, a table with text and numbers."""
    tree, _ = moderation_draws(seed, chains=2, draws=40, n_persons=5)
    rng = np.random.default_rng(seed)
    tree["posterior"].attrs = {"sample_dims": ["chain", "draw"], "creation_library": "ArviZ"}
    stats = xr.Dataset(
        {
            "diverging": (("chain", "draw"), rng.random((2, 40)) < 0.1),
            "depth": (("chain", "draw"), rng.integers(1, 6, (2, 40)).astype(np.uint64)),
            "energy": (("chain", "draw"), rng.normal(size=(2, 40))),
        },
        coords={"chain": [0, 1], "draw": np.arange(40)},
    )
    table = xr.Dataset(
        {
            "pid": (("__row__",), np.array(["p1", "p1", "p22", "p3"])),
            "y": (("__row__",), [1.0, np.nan, 2.5, 3.0]),
            "n": (("__row__",), np.array([1, 2, 3, 4])),
        },
        coords={"__row__": np.arange(4)},
        attrs={"index_name": ""},
    )
    stats["n_chains"] = ((), 2)  # a scalar
    stats["mass"] = (("chain", "param"), rng.random((2, 3)))  # a dimension without values
    stats.attrs = {"sizes": np.array([1.5, 2.5]), "one": np.array([7]), "note": "ünïcode"}
    table["label"] = (("__row__",), np.array(["ä", "bb", "", "ccc"]))
    tree["sample_stats"] = stats
    tree["prepared_data"] = table
    return tree


def _xarray_tree(path) -> xr.DataTree:
    with xr.open_datatree(path, engine="h5netcdf") as tree:
        return tree.load()


def _assert_same_tree(ours: xr.DataTree, theirs: xr.DataTree) -> None:
    assert list(ours.children) == list(theirs.children)
    assert ours.attrs == theirs.attrs
    for group in theirs.children:
        a, b = ours[group].to_dataset(), theirs[group].to_dataset()
        assert list(a.variables) == list(b.variables)
        assert list(a.coords) == list(b.coords) and list(a.indexes) == list(b.indexes)
        assert a.attrs == b.attrs
        for name in b.variables:
            assert a[name].dtype == b[name].dtype, (group, name)
            assert a[name].dims == b[name].dims and a[name].attrs == b[name].attrs
            assert type(a.variables[name]) is type(b.variables[name])
            assert type(a.indexes.get(name)) is type(b.indexes.get(name))
            assert a.indexes.get(name) is None or a.indexes[name].equals(b.indexes[name])
    assert ours.identical(theirs)


def test_a_saved_tree_reads_as_xarray_reads_it(tmp_path):
    path = save_datatree(_tree(), tmp_path / "fit.nc", {"meta": {"a": 1}, "formula": "y ~ x"})
    ours = read_plain_tree(path)
    assert ours is not None
    _assert_same_tree(ours, _xarray_tree(path))
    assert ours["sample_stats"]["diverging"].dtype == bool
    tree, attrs = load_datatree(path)
    _assert_same_tree(tree, _xarray_tree(path))
    assert attrs["meta"] == {"a": 1} and attrs["formula"] == "y ~ x"


def test_skipped_groups_are_not_read(tmp_path):
    path = save_datatree(_tree(), tmp_path / "fit.nc", {})
    ours = read_plain_tree(path, skip=("sample_stats",))
    assert ours is not None and "sample_stats" not in ours.children
    theirs = _xarray_tree(path)
    del theirs["sample_stats"]
    _assert_same_tree(ours, theirs)


def test_files_with_other_encodings_are_left_to_xarray(tmp_path):
    tree = _tree()
    posterior = tree["posterior"].to_dataset()
    posterior["sigma"].encoding = {"scale_factor": 0.5, "dtype": "int16", "_FillValue": -1}
    tree["posterior"] = posterior
    path = save_datatree(tree, tmp_path / "packed.nc", {})
    assert read_plain_tree(path) is None
    loaded, _ = load_datatree(path)
    assert loaded.identical(_xarray_tree(path))
    assert loaded["posterior"]["sigma"].dtype.kind == "f"


def test_lazy_variables_are_read_from_the_file_on_first_use(tmp_path):
    path = save_datatree(_tree(1), tmp_path / "fit.nc", {})
    person = lambda group, dims: any(d.endswith("__factor_dim") for d in dims)  # noqa: E731
    lazy = read_plain_tree(path, lazy=person)
    eager = read_plain_tree(path)
    assert lazy is not None and eager is not None
    _assert_same_tree(lazy, eager)  # identical() reads the held variables here
    # a held variable is not in memory: replacing the file makes reading it fail
    again = read_plain_tree(path, lazy=person)
    assert again is not None
    shutil.copyfile(path, tmp_path / "copy.nc")
    save_datatree(_tree(2), path, {})
    posterior = again["posterior"].to_dataset()
    np.testing.assert_array_equal(posterior["Intercept"].values, eager["posterior"]["Intercept"])
    with pytest.raises(FitFileError, match="changed or disappeared after it was loaded"):
        _ = posterior["1|pid"].values
