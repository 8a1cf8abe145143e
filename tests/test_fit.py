"""Small real fits: sampling, saving, loading, re-use, and Bambi compatibility."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from ambidex_bayes.errors import BackendUnavailableError, FitFileError
from ambidex_bayes.fit import FitResult, SamplerSettings, fit, require_backend
from ambidex_bayes.model import build_model
from ambidex_bayes.spec import load_spec

pytestmark = pytest.mark.fit


def test_m3_posterior_has_expected_variables(m3_fit):
    post = m3_fit.posterior
    for name in m3_fit.terms.fixed + m3_fit.terms.random_sds:
        assert post[name].dims == ("chain", "draw")
    assert post[m3_fit.terms.correlation].dims == ("chain", "draw")
    assert post[m3_fit.terms.group_slope].dims == ("chain", "draw", "person_id__factor_dim")
    assert not [v for v in post.data_vars if v.startswith("_")]
    assert "log_likelihood" in m3_fit.idata.children
    assert m3_fit.idata["log_likelihood"]["innovation"].shape == (2, 300, 300)
    corr = post[m3_fit.terms.correlation].values
    assert np.all(np.abs(corr) <= 1)


def test_person_effects_add_up_to_bambi_prediction(m3_fit):
    """Bambi's predict reads our posterior: mu equals the hand-computed linear predictor."""
    pred = m3_fit.bambi_model.predict(m3_fit.idata, kind="response_params", inplace=False)
    mu = pred["posterior"]["mu"].values
    post = m3_fit.posterior
    frame = m3_fit.prepared.frame
    t = m3_fit.terms
    levels = list(post[t.person_dim].values)
    idx = np.array([levels.index(p) for p in frame["person_id"].astype(str)])
    x = frame[t.x_column].to_numpy()
    hand = post["Intercept"].values[..., None] + post[t.slope].values[..., None] * x
    hand = hand + post[t.between].values[..., None] * frame["uncertainty_pm"].to_numpy()
    hand = hand + post[t.moderator].values[..., None] * frame[t.w_column].to_numpy()
    hand = hand + post[t.interaction].values[..., None] * x * frame[t.w_column].to_numpy()
    hand = hand + post[t.group_intercept].values[..., idx]
    hand = hand + post[t.group_slope].values[..., idx] * x
    np.testing.assert_allclose(mu, hand, rtol=1e-8, atol=1e-8)


def test_save_load_round_trip(m3_fit, tmp_path):
    path = m3_fit.save(tmp_path / "m3.nc")
    loaded = FitResult.load(path)
    assert loaded.spec == m3_fit.spec
    assert loaded.terms == m3_fit.terms
    assert loaded.formula == m3_fit.formula
    assert loaded.meta["data_hash"] == m3_fit.meta["data_hash"]
    assert loaded.meta["settings"]["seed"] == 5
    assert "pymc" in loaded.meta["versions"]
    np.testing.assert_array_equal(
        loaded.posterior["uncertainty_cw:leader_support_c"].values,
        m3_fit.posterior["uncertainty_cw:leader_support_c"].values,
    )
    assert (
        loaded.prepared.frame["person_id"].tolist()
        == m3_fit.prepared.frame["person_id"].astype(str).tolist()
    )
    np.testing.assert_allclose(
        loaded.prepared.frame["uncertainty_cw"], m3_fit.prepared.frame["uncertainty_cw"]
    )
    assert loaded.prepared.transforms == m3_fit.prepared.transforms
    # the rebuilt Bambi model predicts from the loaded posterior
    pred = loaded.bambi_model.predict(loaded.idata, kind="response_params", inplace=False)
    assert pred["posterior"]["mu"].shape == (2, 300, len(loaded.prepared.frame))


def test_unchanged_inputs_reuse_the_saved_fit(m3_fit, small_prepared, small_settings, fit_cache):
    again = fit(
        load_spec("M3"),
        small_prepared,
        settings=small_settings,
        cache_dir=fit_cache,
        progressbar=False,
        verbose=False,
        centring="observed",
    )
    assert again.path.parent == fit_cache
    assert again.meta["created"] == m3_fit.meta["created"]  # loaded, not sampled again
    assert again.meta["fit_key"] == m3_fit.meta["fit_key"]


def test_corrupt_saved_fit_is_detected(m3_fit, tmp_path):
    # a copy: saving records the path in the fit, and the shared fit must keep a sound file
    path = copy.copy(m3_fit).save(tmp_path / "m3.nc")
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(FitFileError, match="truncated or corrupt"):
        FitResult.load(path)


# tiny fits: too few draws for the R-hat and ESS limits, as expected here
@pytest.mark.filterwarnings("ignore::ambidex_bayes.diagnostics.ConvergenceWarning")
def test_same_seed_same_draws(small_prepared, tmp_path):
    spec = load_spec("M0")
    settings = SamplerSettings(backend="pymc", draws=50, tune=50, chains=2, seed=99)
    a = fit(
        spec, small_prepared, settings=settings, cache_dir=False, progressbar=False, verbose=False
    )
    b = fit(
        spec, small_prepared, settings=settings, cache_dir=False, progressbar=False, verbose=False
    )
    np.testing.assert_array_equal(a.posterior["Intercept"].values, b.posterior["Intercept"].values)


def test_unknown_backend_message():
    with pytest.raises(BackendUnavailableError, match="Unknown backend 'stan'"):
        require_backend("stan")


def test_missing_backend_message(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "nutpie" else real(name, *a)
    )
    with pytest.raises(BackendUnavailableError, match=r"pip install 'ambidex_bayes\[nutpie\]'"):
        require_backend("nutpie")


# small fits, compared draw for draw: too few draws for the R-hat limit, as expected here
@pytest.mark.filterwarnings("ignore::ambidex_bayes.diagnostics.ConvergenceWarning")
@pytest.mark.slow
@pytest.mark.parametrize("backend", ["numpyro", "nutpie"])
def test_other_backends_reproduce_draws_bit_for_bit(small_prepared, backend):
    pytest.importorskip({"numpyro": "numpyro", "nutpie": "nutpie"}[backend])
    settings = SamplerSettings(backend=backend, draws=100, tune=100, chains=2, seed=9)
    runs = [
        fit(
            load_spec("M2"),
            small_prepared,
            settings=settings,
            cache_dir=False,
            progressbar=False,
            verbose=False,
            centring="observed",
        )
        for _ in range(2)
    ]
    assert runs[0].meta["method"].startswith("fast path")
    if backend == "numpyro":  # the compiled sampler was kept in the on-disk cache
        import os
        from pathlib import Path

        assert any(Path(os.environ["AMBIDEX_JAX_CACHE_DIR"]).iterdir())
    for name in runs[0].posterior.data_vars:
        np.testing.assert_array_equal(
            runs[0].posterior[name].values, runs[1].posterior[name].values
        )


# small fits, compared draw for draw: too few draws for the R-hat limit, as expected here
@pytest.mark.filterwarnings("ignore::ambidex_bayes.diagnostics.ConvergenceWarning")
@pytest.mark.slow
def test_compiled_model_is_reused_across_sizes_with_the_same_draws(small_study, small_prepared):
    """nutpie compiles the fast path once per structure; a data set with another number of
    persons re-uses it, and a data set gets the same draws whichever data set the model was
    compiled from (the start point follows the new data's prior values too)."""
    pytest.importorskip("nutpie")
    from ambidex_bayes.data import ColumnMapping, load_diary
    from ambidex_bayes.engine import sampling
    from ambidex_bayes.prepare import prepare

    ids = small_study.data["person_id"].unique()[:35]
    fewer = small_study.data[small_study.data["person_id"].isin(ids)]
    other = prepare(load_diary(fewer, ColumnMapping.from_dict(small_study.mapping)))
    settings = SamplerSettings(backend="nutpie", draws=100, tune=100, chains=2, seed=4)

    def run(prepared):
        return fit(
            load_spec("M1"),
            prepared,
            settings=settings,
            cache_dir=False,
            progressbar=False,
            verbose=False,
            centring="observed",
        )

    first = run(other)  # compiled from this data set (unless an earlier test compiled M1)
    before = sampling.compiled_cache_info()
    bigger = run(small_prepared)
    again = run(other)  # the compiled model last fed the 60-person data set
    after = sampling.compiled_cache_info()
    assert (after["hits"], after["misses"]) == (before["hits"] + 2, before["misses"])
    assert bigger.posterior.sizes["person_id__factor_dim"] == 60
    assert again.posterior.sizes["person_id__factor_dim"] == 35
    for name in first.posterior.data_vars:
        np.testing.assert_array_equal(first.posterior[name].values, again.posterior[name].values)


@pytest.mark.slow
def test_reused_compiled_model_starts_where_the_new_model_starts(small_study, small_prepared):
    """The start point depends on the prior values (data-scaled priors), so a re-used
    compiled model must start from the new model's point, not the one it was compiled from."""
    pytest.importorskip("nutpie")
    from pymc.initial_point import make_initial_point_fn

    from ambidex_bayes.data import ColumnMapping, load_diary
    from ambidex_bayes.engine import sampling
    from ambidex_bayes.prepare import prepare

    shifted = small_study.data.assign(innovation=small_study.data["innovation"] + 10.0)
    other = prepare(load_diary(shifted, ColumnMapping.from_dict(small_study.mapping)))
    settings = SamplerSettings(backend="nutpie")

    def start(built, seed=3):
        model = built.pymc_model
        point = make_initial_point_fn(
            model=model, jitter_rvs=set(model.free_RVs), return_transformed=True
        )(seed)
        return np.concatenate(
            [np.ravel(point[model.rvs_to_values[v].name]) for v in model.free_RVs]
        )

    spec = load_spec("M1")
    first = build_model(spec, small_prepared, marginal=True, prior_data=True)
    second = build_model(spec, other, marginal=True, prior_data=True)
    assert not np.allclose(start(first), start(second))  # the outcome's prior moved by 10

    sampling.compiled_for(first, settings)
    reused = sampling.compiled_for(second, settings)
    np.testing.assert_array_equal(reused.initial_point_func(3), start(second))


@pytest.mark.parametrize(
    ("platform", "n_devices", "expected"),
    [
        ("gpu", 1, "vectorized"),
        ("gpu", 4, "parallel"),
        ("cpu", 1, "parallel"),
        ("tpu", 2, "vectorized"),
    ],
)
def test_numpyro_vectorises_chains_on_one_accelerator(platform, n_devices, expected):
    from ambidex_bayes.engine.sampling import numpyro_chain_method

    assert numpyro_chain_method(4, platform, n_devices) == expected


# a tiny fit: too few draws for the R-hat and ESS limits, as expected here
@pytest.mark.filterwarnings("ignore::ambidex_bayes.diagnostics.ConvergenceWarning")
def test_numpyro_fit_passes_the_chain_method_to_the_sampler(small_prepared, monkeypatch):
    """With vectorised chains (what a single GPU gets), the fit runs and its chains differ."""
    pytest.importorskip("numpyro")
    import pymc.sampling.jax as pymc_jax

    from ambidex_bayes.engine import sampling

    seen: list[str] = []
    original = pymc_jax.sample_jax_nuts

    def spy(*args, **kwargs):
        seen.append(kwargs.get("chain_method", "parallel"))
        return original(*args, **kwargs)

    monkeypatch.setattr(pymc_jax, "sample_jax_nuts", spy)
    monkeypatch.setattr(sampling, "numpyro_chain_method", lambda chains: "vectorized")
    settings = SamplerSettings(backend="numpyro", draws=60, tune=60, chains=2, seed=4)
    result = fit(
        load_spec("M2"),
        small_prepared,
        settings=settings,
        cache_dir=False,
        progressbar=False,
        verbose=False,
    )
    assert seen == ["vectorized"]
    sigma = result.posterior["sigma"].values
    assert sigma.shape == (2, 60)
    assert not np.array_equal(sigma[0], sigma[1])


def test_fit_key_changes_with_the_model_code_version(small_prepared, monkeypatch):
    """Fits saved by earlier model code (another parameterisation) are not re-used."""
    from ambidex_bayes.engine import cache
    from ambidex_bayes.fit import fit_key

    spec = load_spec("M3")
    settings = SamplerSettings(backend="pymc").resolved()
    before = fit_key(spec, small_prepared, settings)
    assert fit_key(spec, small_prepared, settings) == before
    monkeypatch.setattr(cache, "MODEL_CODE_VERSION", cache.MODEL_CODE_VERSION + 1)
    assert fit_key(spec, small_prepared, settings) != before
