"""Small real fits: sampling, saving, loading, re-use, and Bambi compatibility."""

from __future__ import annotations

import numpy as np
import pytest

from ambidex_bayes.errors import BackendUnavailableError, FitFileError
from ambidex_bayes.fit import FitResult, SamplerSettings, fit, require_backend
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
    )
    assert again.path.parent == fit_cache
    assert again.meta["created"] == m3_fit.meta["created"]  # loaded, not sampled again
    assert again.meta["fit_key"] == m3_fit.meta["fit_key"]


def test_corrupt_saved_fit_is_detected(m3_fit, tmp_path):
    path = m3_fit.save(tmp_path / "m3.nc")
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(FitFileError, match="truncated or corrupt"):
        FitResult.load(path)


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
        )
        for _ in range(2)
    ]
    assert runs[0].meta["method"].startswith("fast path")
    for name in runs[0].posterior.data_vars:
        np.testing.assert_array_equal(
            runs[0].posterior[name].values, runs[1].posterior[name].values
        )
