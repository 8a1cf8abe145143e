"""The engine's one cache and fit-record routine, shared by fit() and compare_priors().

Without sampling: the cache key and file, what is loaded (only a matching key; a damaged
file is reported and sampled again), the model that is sampled (fast path or full NUTS) and
the fit's record. With small real fits: compare_priors under the "default" prior set gives
the draws of fit() with the same spec, data and settings, and a fit saved by either route
is re-used by the other.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ambidex_bayes import constants
from ambidex_bayes.engine.cache import (
    METHODS,
    cache_entry,
    cache_folder,
    fit_key,
    fit_meta,
    sampling_model,
)
from ambidex_bayes.engine.reuse import model_priors
from ambidex_bayes.fit import SamplerSettings, fit
from ambidex_bayes.fit import fit_key as public_fit_key
from ambidex_bayes.priors import PriorSet, compare_priors, read_prior_set
from ambidex_bayes.spec import PriorSpec, load_spec


@pytest.fixture(scope="module")
def tiny_prepared():
    from ambidex_bayes.data import ColumnMapping, load_diary
    from ambidex_bayes.prepare import prepare
    from ambidex_bayes.simulate import reference_design, simulate_diary

    design = reference_design(
        n_persons=16,
        diaries_dist="fixed",
        diaries_mean=4,
        likert=None,
        missing_rate=0.0,
        g10=0.2,
        g11=0.6,
        tau1=0.1,
    )
    study = simulate_diary(design, seed=8)
    return prepare(load_diary(study.data, ColumnMapping.from_dict(study.mapping)))


# --- key, file, loading ------------------------------------------------------------------


def test_entry_is_the_key_and_file_of_the_inputs(tiny_prepared, tmp_path, monkeypatch):
    spec = load_spec("M3").with_priors({}, label="default")
    settings = SamplerSettings(backend="pymc", draws=100, tune=100, chains=2, seed=1).resolved()
    entry = cache_entry(spec, tiny_prepared, settings, tmp_path)
    assert entry.key == fit_key(spec, tiny_prepared, settings)
    assert entry.key == public_fit_key(spec, tiny_prepared, settings)  # fit's name for it
    # the spec's name with only safe characters, then the key's first 16 hex digits
    assert entry.path == tmp_path / f"M3_default_-{entry.key[:16]}.nc"
    assert cache_entry(spec, tiny_prepared, settings, False).path is None
    monkeypatch.setattr(constants, "CACHE_DIR", tmp_path / "default-folder")
    assert cache_folder(None) == cache_folder(True) == tmp_path / "default-folder"
    assert cache_folder(False) is None
    # another seed, another key; the cores used do not change the draws, nor the key
    other = SamplerSettings(backend="pymc", draws=100, tune=100, chains=2, seed=2).resolved()
    assert fit_key(spec, tiny_prepared, other) != entry.key
    cores = SamplerSettings(backend="pymc", draws=100, tune=100, chains=2, seed=1, cores=1)
    assert fit_key(spec, tiny_prepared, cores.resolved()) == entry.key


def test_switching_the_second_try_off_changes_the_key_only_where_it_would_run(tiny_prepared):
    spec = load_spec("M3")
    small = SamplerSettings(backend="pymc", draws=100, tune=100, chains=2, seed=1).resolved()
    assert fit_key(spec, tiny_prepared, small, rescue=False) == fit_key(spec, tiny_prepared, small)
    draws = constants.RESCUE_MIN_DRAWS
    large = SamplerSettings(backend="pymc", draws=draws, tune=100, chains=2, seed=1).resolved()
    assert fit_key(spec, tiny_prepared, large, rescue=False) != fit_key(spec, tiny_prepared, large)


def test_nothing_is_loaded_without_a_sound_file_of_the_same_key(tiny_prepared, tmp_path):
    spec = load_spec("M3")
    settings = SamplerSettings(backend="pymc", draws=100, tune=100, chains=2, seed=1).resolved()
    entry = cache_entry(spec, tiny_prepared, settings, tmp_path)
    assert entry.load() is None  # no file yet
    entry.path.write_bytes(b"not a fit")
    assert entry.load(refit=True) is None  # refit: the file is not even read
    with pytest.warns(UserWarning, match="Sampling again"):
        assert entry.load() is None
    assert cache_entry(spec, tiny_prepared, settings, False).load() is None


# --- the sampled model and its record ----------------------------------------------------


def test_sampled_model_is_the_fast_path_where_it_applies(tiny_prepared, capsys):
    settings = SamplerSettings(backend="pymc").resolved()
    fast = sampling_model(load_spec("M3"), tiny_prepared, settings)
    assert fast.is_marginal and fast.prior_data  # prior values as data: nutpie re-uses it
    slow = sampling_model(load_spec("M3"), tiny_prepared, SamplerSettings(fast_path=False))
    assert not slow.is_marginal and not slow.prior_data  # fit's full model: constants
    swappable = sampling_model(
        load_spec("M3"), tiny_prepared, SamplerSettings(fast_path=False), prior_data=True
    )
    assert model_priors(swappable)["sigma"].dist == "HalfStudentT"
    # a model the fast path cannot take is built for full NUTS, and fit says why
    student = dataclasses.replace(load_spec("M3"), family="t")
    fallback = sampling_model(student, tiny_prepared, settings, verbose=True)
    assert not fallback.is_marginal
    assert "full NUTS (" in capsys.readouterr().out


def test_record_of_a_fit(tiny_prepared):
    spec = load_spec("M3")
    settings = SamplerSettings(backend="pymc", draws=100, tune=100, chains=2, seed=1).resolved()
    built = sampling_model(spec, tiny_prepared, settings)
    meta = fit_meta("abc", settings, tiny_prepared, built, wall_seconds=1.23456, prior_set="x")
    assert list(meta) == [
        "fit_key",
        "settings",
        "versions",
        "data_hash",
        "created",
        "wall_seconds",
        "method",
        "n_rows",
        "person_mean_reliability",
        "prior_set",
    ]
    assert meta["fit_key"] == "abc" and meta["settings"] == settings.to_dict()
    assert meta["wall_seconds"] == 1.235 and meta["n_rows"] == len(tiny_prepared.frame)
    assert meta["method"] == METHODS[True] and meta["method"].startswith("fast path")
    assert meta["prior_set"] == "x" and "pymc" in meta["versions"]
    # the reliability the centring line states, of the level-1 predictor M3's between effect
    # has; not part of the key
    x = tiny_prepared.mapping.level1[0]
    assert meta["person_mean_reliability"] == pytest.approx(
        tiny_prepared.person_mean_reliability[x]
    )
    # the null model has no between-person effect for the reliability to bias
    null = sampling_model(load_spec("M0"), tiny_prepared, settings)
    assert (
        fit_meta("abc", settings, tiny_prepared, null, wall_seconds=1.0)["person_mean_reliability"]
        is None
    )


# --- both routes, real fits --------------------------------------------------------------

WIDE = PriorSet(
    name="wide",
    priors={
        "{x_within}:{w}": PriorSpec("Normal", {"mu": 0.0, "sigma": 1.0}),
        "{x_within}": PriorSpec("Normal", {"mu": 0.0, "sigma": 1.0}),
        "sigma": PriorSpec("HalfStudentT", {"nu": 4.0, "sigma": 1.0}),
    },
)


def _same_draws(a, b) -> None:
    """Every posterior and log-likelihood variable equal, bit for bit."""
    for group in ("posterior", "log_likelihood"):
        first, second = a.idata[group], b.idata[group]
        assert set(first.data_vars) == set(second.data_vars)
        for name in first.data_vars:
            np.testing.assert_array_equal(first[name].values, second[name].values)


# 2 x 100 draws: too few for the R-hat and ESS limits, as expected here
@pytest.mark.filterwarnings("ignore::ambidex_bayes.diagnostics.ConvergenceWarning")
@pytest.mark.fit
def test_default_prior_set_gives_the_draws_of_fit_and_fit_finds_its_file(tiny_prepared, tmp_path):
    pytest.importorskip("nutpie")
    spec = load_spec("M3")
    settings = SamplerSettings(backend="nutpie", draws=100, tune=100, chains=2, seed=21)
    quiet = {"progressbar": False, "verbose": False}
    # compare_priors fits the observed model
    alone = fit(
        spec, tiny_prepared, settings=settings, cache_dir=False, centring="observed", **quiet
    )
    comparison = compare_priors(
        spec, tiny_prepared, ["default"], settings=settings, cache_dir=tmp_path, **quiet
    )
    compared = comparison.fits["default"]
    assert compared.meta["method"] == alone.meta["method"] == METHODS[True]
    _same_draws(compared, alone)
    assert not comparison.timings["cached"].any()

    # fit() of the set's spec finds the file compare_priors saved, under the same key
    labelled = spec.with_priors(read_prior_set("default").resolve(tiny_prepared), label="default")
    again = fit(
        labelled, tiny_prepared, settings=settings, cache_dir=tmp_path, centring="observed", **quiet
    )
    assert again.path == compared.path and again.path.parent == tmp_path
    assert "log_prior" in again.idata.children  # written by compare_priors, not sampled anew
    assert again.meta["fit_key"] == compared.meta["fit_key"]
    assert again.meta["created"] == compared.meta["created"]
    _same_draws(again, alone)


# 2 x 100 draws: too few for the R-hat and ESS limits, as expected here; on tiny data the
# interaction lies far from 0 under the wide prior, so its Bayes factor is approximate
@pytest.mark.filterwarnings("ignore::ambidex_bayes.diagnostics.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore::ambidex_bayes.priors.bayes_factor.BayesFactorWarning")
@pytest.mark.fit
def test_compare_priors_finds_the_file_fit_saved(tiny_prepared, tmp_path):
    spec = load_spec("M3")
    settings = SamplerSettings(backend="pymc", draws=100, tune=100, chains=2, seed=22)
    quiet = {"progressbar": False, "verbose": False}
    labelled = spec.with_priors(WIDE.resolve(tiny_prepared), label="wide")
    saved = fit(
        labelled, tiny_prepared, settings=settings, cache_dir=tmp_path, centring="observed", **quiet
    )
    assert saved.path is not None and saved.path.exists()
    comparison = compare_priors(
        spec, tiny_prepared, {"wide": WIDE}, settings=settings, cache_dir=tmp_path, **quiet
    )
    assert comparison.timings["cached"].all()  # loaded, not sampled: nothing compiled either
    assert comparison.timings["compile_s"].sum() == 0.0
    found = comparison.fits["wide"]
    assert found.path == saved.path and found.meta["created"] == saved.meta["created"]
    _same_draws(found, saved)
