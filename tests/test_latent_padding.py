"""Padding persons of latent centring's fast path (one compiled model for nearby sizes).

The padded model's log density must be the real model's plus the standard normal prior of
the padding persons' latent means, exactly; a fit must report the real persons with their
own labels, also when its compiled model was compiled from another data set.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from test_latent_many import two_predictor_frame

from ambidex_bayes.engine.latent_sampling import free_parameters, model_persons
from ambidex_bayes.model.latent_centring import build_latent_model
from ambidex_bayes.model.latent_data import latent_data, with_padding_persons
from ambidex_bayes.model.latent_fast_path import latent_sums
from ambidex_bayes.model.latent_simulate import simulate_latent_panel


@pytest.mark.parametrize(
    ("persons", "padded"),
    [(1, 1), (15, 15), (16, 16), (17, 18), (85, 88), (88, 88), (89, 96), (100, 104), (2000, 2048)],
)
def test_model_persons_rounds_up_to_eight_sizes_per_doubling(persons, padded):
    assert model_persons(persons) == padded


def test_model_persons_never_adds_an_eighth():
    for persons in range(1, 5000):
        padded = model_persons(persons)
        assert persons <= padded < persons * 9 / 8 + 1, persons
    # eight sizes from 65 to 128 persons: the re-use it exists for
    assert sorted({model_persons(j) for j in range(65, 129)}) == list(range(72, 129, 8))


def test_padding_persons_have_no_rows_and_labels_of_their_own():
    df = simulate_latent_panel(9, (1, 4), seed=2, missing_x=0.2, missing_y=0.2)
    df["person"] = df["person"].astype(str)
    df.loc[df["person"] == df["person"].iloc[0], "person"] = "_padding_0"  # a taken label
    data = latent_data(df, y="y", x="x", person="person", w="w")
    padded = with_padding_persons(data, 12)
    assert padded.n_persons == 12 and padded.levels[:9] == data.levels
    assert len(set(padded.levels)) == 12 and "_padding_0" not in padded.levels[9:]
    np.testing.assert_array_equal(padded.w[9:], 0.0)
    np.testing.assert_array_equal(padded.w[:9], data.w)
    real, more = latent_sums(data), latent_sums(padded)
    for name in ("n", "Sx", "Sxx", "Sy", "Sxy", "Syy", "nx", "Sx_all", "Sxx_all"):
        np.testing.assert_array_equal(getattr(more, name)[:9], getattr(real, name))
        np.testing.assert_array_equal(getattr(more, name)[9:], 0.0)
    assert with_padding_persons(data, 9) is data
    with pytest.raises(ValueError, match="cannot pad"):
        with_padding_persons(data, 8)


def _one_predictor():
    df = simulate_latent_panel(11, (1, 5), seed=6, missing_x=0.2, missing_y=0.1)
    return latent_data(df, y="y", x="x", person="person", w="w"), {}


def _two_predictors():
    frame = two_predictor_frame(n_persons=11)
    data = latent_data(frame, y="y", x="x", person="person", w="w", controls=("k",), others=("z",))
    return data, {}


@pytest.mark.parametrize("make", [_one_predictor, _two_predictors], ids=["one", "two"])
@pytest.mark.parametrize("level", ["M1", "M3"])
def test_padded_log_density_is_the_real_one_plus_the_padding_prior(make, level):
    data, _ = make()
    J, extra = data.n_persons, 5
    real = build_latent_model(data, level)
    padded = build_latent_model(data, level, model_persons=J + extra)
    assert padded.n_padding == extra and real.n_padding == 0
    assert padded.structure_key != real.structure_key
    rng = np.random.default_rng(1)
    point = {
        k: v + 0.3 * rng.standard_normal(np.shape(v))
        for k, v in real.pymc_model.initial_point().items()
    }
    more = dict(point)
    prior = 0.0
    # the padding persons' standardised means (conditional coordinates: the same, see
    # test_latent_means) follow N(0, 1)
    for name in [k for k in point if k.startswith(("_mu_z", "_mu_eta"))]:
        z_pad = rng.standard_normal(extra)
        more[name] = np.concatenate([point[name], z_pad])
        prior += stats.norm.logpdf(z_pad).sum()
    assert set(more) == set(padded.pymc_model.initial_point())
    logp_real = real.pymc_model.compile_logp()(point)
    logp_padded = padded.pymc_model.compile_logp()(more)
    np.testing.assert_allclose(logp_padded, logp_real + prior, rtol=1e-10, atol=1e-8)
    # the padding persons' latent means are not counted as the model's parameters
    assert free_parameters(padded) == free_parameters(real)


def test_priors_are_scaled_by_the_real_persons_only():
    data, _ = _one_predictor()
    real = build_latent_model(data, "M3")
    padded = build_latent_model(data, "M3", model_persons=data.n_persons + 7)
    assert padded.priors == real.priors


def test_full_nuts_is_never_padded():
    data, _ = _one_predictor()
    model = build_latent_model(data, "M3", marginal=False, model_persons=data.n_persons + 3)
    assert model.n_padding == 0
    assert len(model.pymc_model.coords[data.names.person_dim]) == data.n_persons


@pytest.mark.fit
def test_fits_of_nearby_sizes_share_a_compiled_model_and_keep_their_persons():
    from latent_fits import prepare_panel, quiet_fit

    from ambidex_bayes.engine.sampling import clear_compiled_cache, compiled_cache_info
    from ambidex_bayes.fit import SamplerSettings
    from ambidex_bayes.spec import load_spec

    settings = SamplerSettings(backend="nutpie", draws=150, tune=150, chains=2, seed=3)
    first = simulate_latent_panel(21, (2, 4), seed=11)
    second = simulate_latent_panel(22, (2, 4), seed=12)
    second["person"] = "q" + second["person"].astype(str)  # other labels, another size
    assert model_persons(21) == model_persons(22) == 22  # one padding person, then none
    clear_compiled_cache()
    before = compiled_cache_info()
    fits = [quiet_fit(load_spec("M3"), prepare_panel(df), settings) for df in (first, second)]
    info = compiled_cache_info()
    assert info["misses"] - before["misses"] == 1 and info["hits"] - before["hits"] >= 1
    for fit, df in zip(fits, (first, second), strict=True):
        post = fit.posterior
        labels = [str(v) for v in post["x_mu"].coords["person__factor_dim"].values]
        assert sorted(labels) == sorted(df["person"].astype(str).unique())
        for name in ("x_mu", "1|person", "x_cw|person"):
            assert post[name].sizes["person__factor_dim"] == df["person"].nunique()
        assert not any(name.startswith("_") for name in post.data_vars)
    # the second study's person means follow its own data, not the first study's
    means = fits[1].posterior["x_mu"].mean(("chain", "draw")).to_numpy()
    labels = fits[1].posterior["x_mu"].coords["person__factor_dim"].values
    own = second.groupby("person")["x"].mean().loc[labels].to_numpy()
    assert np.corrcoef(means, own)[0, 1] > 0.8
