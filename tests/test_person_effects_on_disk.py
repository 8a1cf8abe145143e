"""A saved fit holds the draws of its person effects in its file, read on use.

The fit cache saves every new fit and then lets go of the person effects' draws in memory
(:meth:`FitResult.hold_person_effects_on_disk`); a fit loaded from the cache leaves them in
the file. The results read from them (person slopes, the draws themselves) are the same as
from the copy in memory, the fit's memory drops by their size, and a file changed in between
is refused. No sampling: the fits are made of known draws.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from fake_fit_results import pair_result, person_effect_names, with_sample_stats
from report_fakes import fake_fit

from ambidex_bayes.engine.cache import CacheEntry
from ambidex_bayes.errors import FitFileError
from ambidex_bayes.fit import FitResult
from ambidex_bayes.fit_reader import disk_file
from ambidex_bayes.moderation import person_slopes, simple_slopes


def _bytes_in_memory(tree: xr.DataTree) -> int:
    """Bytes of the posterior arrays held in memory (not those read from a file on use)."""
    posterior = tree["posterior"].to_dataset()
    return sum(
        v.variable._data.nbytes
        for v in posterior.data_vars.values()
        if isinstance(v.variable._data, np.ndarray)
    )


def test_a_saved_fit_reads_the_same_person_slopes_from_its_file(tmp_path):
    result = with_sample_stats(pair_result())
    effects = person_effect_names(result)
    assert len(effects) == 3
    in_memory = {n: result.posterior[n].values.copy() for n in effects}
    slopes = person_slopes(result, focal="str", moderator="cli")
    standardised = person_slopes(result, focal="str", moderator="cli", scale="standardised")
    fixed = simple_slopes(result, focal="str", moderator="cli")
    held_before = _bytes_in_memory(result.idata)

    result.save(tmp_path / "fit.nc")
    held = result.hold_person_effects_on_disk()

    assert sorted(held) == sorted(effects)
    # the draws left memory: the fit now holds only the fixed effects and scales
    per_effect = in_memory[effects[0]].nbytes
    assert _bytes_in_memory(result.idata) == held_before - 3 * per_effect
    for name in effects:
        assert not isinstance(result.posterior[name].variable._data, np.ndarray)
        read = result.posterior[name].values
        assert read.dtype == np.float64
        np.testing.assert_array_equal(read, in_memory[name])
    pd.testing.assert_frame_equal(
        person_slopes(result, focal="str", moderator="cli").table, slopes.table
    )
    pd.testing.assert_frame_equal(
        person_slopes(result, focal="str", moderator="cli", scale="standardised").table,
        standardised.table,
    )
    pd.testing.assert_frame_equal(
        simple_slopes(result, focal="str", moderator="cli").table, fixed.table
    )
    # saved again in place: the draws are written and then read from the new file
    result.save(tmp_path / "fit.nc")
    for name in effects:
        assert not isinstance(result.posterior[name].variable._data, np.ndarray)
        np.testing.assert_array_equal(result.posterior[name].values, in_memory[name])
    # saved elsewhere: the copy holds the same draws, and the fit reads them from its own
    # file still (the copy may be changed or removed; see
    # test_a_fit_saved_elsewhere_does_not_depend_on_the_copy)
    result.save(tmp_path / "other.nc")
    copy = FitResult.load(tmp_path / "other.nc")
    for name in effects:
        np.testing.assert_array_equal(copy.posterior[name].values, in_memory[name])
        assert disk_file(result.posterior[name].variable) == tmp_path / "fit.nc"


def test_a_fit_without_a_file_keeps_its_draws(tmp_path):
    result = pair_result()
    before = _bytes_in_memory(result.idata)
    assert result.hold_person_effects_on_disk() == ()
    assert _bytes_in_memory(result.idata) == before


def test_a_file_changed_after_saving_is_refused_when_the_draws_are_read(tmp_path):
    result = pair_result()
    path = result.save(tmp_path / "fit.nc")
    result.hold_person_effects_on_disk()
    other = pair_result()
    other.idata["posterior"]["1|pid"] = other.idata["posterior"]["1|pid"] + 1.0
    other.save(path)  # replaced in place (a new file under the same name)
    with pytest.raises(FitFileError, match="changed or disappeared"):
        person_slopes(result, focal="str", moderator="cli")


def test_the_cache_saves_and_loads_fits_with_their_person_effects_on_disk(tmp_path):
    result = with_sample_stats(fake_fit())
    effects = person_effect_names(result)
    values = {n: result.posterior[n].values.copy() for n in effects}
    entry = CacheEntry(key="k" * 64, path=tmp_path / "M3-kkkk.nc")
    result.meta["fit_key"] = entry.key
    assert entry.save(result) == entry.path
    loaded = entry.load()
    assert loaded is not None
    for fit in (result, loaded):
        for name in effects:
            assert not isinstance(fit.posterior[name].variable._data, np.ndarray)
            np.testing.assert_array_equal(fit.posterior[name].values, values[name])
    unsaved = CacheEntry(key="k" * 64, path=None)
    again = fake_fit()
    assert unsaved.save(again) is None
    assert all(isinstance(again.posterior[n].variable._data, np.ndarray) for n in effects)


def test_a_variable_read_whole_is_read_once_until_another_file_is_read(tmp_path, monkeypatch):
    import h5py

    from ambidex_bayes import fit_reader

    fit_reader.forget_read_draws()
    first, second = pair_result(), pair_result()
    first.save(tmp_path / "first.nc")
    second.save(tmp_path / "second.nc")
    first.hold_person_effects_on_disk()
    second.hold_person_effects_on_disk()
    opened: list[str] = []
    real_file = h5py.File

    def counting_file(path, *args, **kwargs):
        opened.append(str(path))
        return real_file(path, *args, **kwargs)

    monkeypatch.setattr(h5py, "File", counting_file)
    a = first.posterior["1|pid"].values
    again = first.posterior["1|pid"].values
    assert np.shares_memory(again, a) and len(opened) == 1  # read once, then kept
    assert not a.flags.writeable  # shared: nobody may change it in place
    part = first.posterior["1|pid"].isel(draw=slice(0, 5)).values
    np.testing.assert_array_equal(part, a[:, :5])
    assert len(opened) == 2  # a part is read from the file, not kept
    b = second.posterior["1|pid"].values
    assert len(opened) == 3
    assert not np.shares_memory(first.posterior["1|pid"].values, a)  # read again
    assert len(opened) == 4
    np.testing.assert_array_equal(b, first.posterior["1|pid"].values)
    fit_reader.forget_read_draws()
    np.testing.assert_array_equal(first.posterior["1|pid"].values, a)
    assert len(opened) == 5


def test_a_fit_saved_elsewhere_does_not_depend_on_the_copy(tmp_path):
    result = pair_result()
    result.save(tmp_path / "fit.nc")
    result.hold_person_effects_on_disk()
    before = person_slopes(result, focal="str", moderator="cli").table
    copy = result.save(tmp_path / "copy.nc")
    copy.write_bytes(b"damaged")  # the copy is spoilt; the fit reads from its own file
    pd.testing.assert_frame_equal(person_slopes(result, focal="str", moderator="cli").table, before)
