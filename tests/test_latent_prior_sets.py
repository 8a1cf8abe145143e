"""Prior sets apply to latent-centred fits, parameter by parameter.

- a prior set (by name, resolved against the declared ranges, or a file) replaces the latent
  model's default priors of the parameters it shares with the observed model (fixed effects,
  SDs of person effects, residual SD, the correlation's LKJ shape); the predictor model's
  own parameters keep their data-scaled defaults unless the set names them;
- the fast path and full NUTS use the same priors (records, prior parameters and draws);
- a prior without a counterpart in the latent model, or a non-positive prior on one of
  its SDs, is refused before anything is sampled;
- a spec named after its prior set (``M3[sceptical]``) is fitted with latent centring, and
  the fit records, saves and reloads the priors it used.
"""

from __future__ import annotations

import warnings

import numpy as np
import pymc as pm
import pytest
from latent_fits import prepare_panel, quiet_fit
from test_latent_partial_rows import _panel

from ambidex_bayes.centring import _latent_key, latent_model_for, latent_unavailable_reason
from ambidex_bayes.engine.settings import SamplerSettings
from ambidex_bayes.errors import SpecError
from ambidex_bayes.priors.sets import load_prior_set
from ambidex_bayes.spec import load_spec

#: the set's keys and the latent model's parameters they name
SHARED = {
    "Intercept": "Intercept",
    "{x_within}": "x_cw",
    "{x_between}": "x_pm",
    "{w}": "w_c",
    "{x_within}:{w}": "x_cw:w_c",
    "1|{person}_sigma": "1|person_sigma",
    "{x_within}|{person}_sigma": "x_cw|person_sigma",
    "sigma": "sigma",
    "corr": "corr(1|person,x_cw|person)",
}
PREDICTOR_MODEL = ("x_mu_mean", "x_mu_sd", "x_within_sd", "x_mu:w_c")


@pytest.fixture(scope="module")
def prepared():
    """The partial-rows panel with declared ranges (for the sets' relative priors)."""
    ranges = {"x": [-2, 8], "y": [-4, 4], "w": [-3, 3]}
    return prepare_panel(_panel(), ranges=ranges)


def _with_set(prepared, source, label: str = "set"):
    return load_spec("M3").with_priors(load_prior_set(source, prepared=prepared), label=label)


def _set_file(tmp_path, text: str):
    path = tmp_path / "mine.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_prior_set_replaces_the_latent_priors_it_names(prepared):
    resolved = load_prior_set("sceptical", prepared=prepared)
    spec = _with_set(prepared, "sceptical", "sceptical")
    assert spec.name == "M3[sceptical]" and latent_unavailable_reason(spec, prepared) is None
    _, _, model = latent_model_for(spec, prepared, marginal=True)
    _, _, plain = latent_model_for(load_spec("M3"), prepared, marginal=True)
    for key, name in SHARED.items():
        assert model.priors[name] == {"prior": str(resolved[key]), "source": "spec"}, name
    # the interaction is shrunk as the set says, not as the data-scaled default
    sd = resolved["{x_within}:{w}"].params["sigma"]
    held = model.pymc_model["_prior_x_cw:w_c_sigma"].get_value()
    assert (
        held == pytest.approx(sd)
        and sd < 0.1 * plain.pymc_model["_prior_x_cw:w_c_sigma"].get_value()
    )
    assert type(model.pymc_model["sigma"].owner.op).__name__ == "HalfStudentTRV"
    assert model.pymc_model["_prior_sigma_nu"].get_value() == pytest.approx(4.0)
    # the predictor model keeps its defaults
    for name in PREDICTOR_MODEL:
        assert model.priors[name] == plain.priors[name] and model.priors[name]["source"] == "data"
    # a new set is a new compiled structure and a new fit
    assert model.structure_key != plain.structure_key
    settings = SamplerSettings(backend="nutpie", draws=100, tune=100, chains=2, seed=1)
    assert _latent_key(spec, prepared, settings, rescue=True) != _latent_key(
        load_spec("M3"), prepared, settings, rescue=True
    )


def _draws(model, name: str, seed: int = 3) -> np.ndarray:
    return np.asarray(pm.draw(model.pymc_model[name], draws=20_000, random_seed=seed))


def test_fast_path_and_full_nuts_use_the_same_priors(prepared):
    spec = _with_set(prepared, "sceptical", "sceptical")
    resolved = load_prior_set("sceptical", prepared=prepared)
    models = {m: latent_model_for(spec, prepared, marginal=m)[2] for m in (True, False)}
    assert models[True].priors == models[False].priors
    assert models[True].prior_structure == models[False].prior_structure
    for name in ("x_cw:w_c", "x_cw", "sigma", "x_cw|person_sigma", "x_mu_sd"):
        fast, full = _draws(models[True], name), _draws(models[False], name)
        q = [0.1, 0.5, 0.9]
        np.testing.assert_allclose(np.quantile(fast, q), np.quantile(full, q), rtol=0.06)
    interaction = _draws(models[True], "x_cw:w_c")
    assert np.std(interaction) == pytest.approx(
        resolved["{x_within}:{w}"].params["sigma"], rel=0.03
    )


def test_a_set_file_may_name_the_predictor_models_parameters(prepared, tmp_path):
    path = _set_file(
        tmp_path,
        "[priors]\n"
        '"{x_within}" = { dist = "StudentT", nu = 3, mu = 0, sigma = 0.5 }\n'
        'x_mu_sd = { dist = "HalfNormal", sigma = 0.7 }\n'
        'x_within_sd = { dist = "Exponential", lam = 2 }\n',
    )
    _, _, model = latent_model_for(_with_set(prepared, path), prepared, marginal=False)
    assert model.priors["x_cw"] == {"prior": "StudentT(nu=3, mu=0, sigma=0.5)", "source": "spec"}
    assert model.priors["x_mu_sd"] == {"prior": "HalfNormal(sigma=0.7)", "source": "spec"}
    assert model.priors["x_within_sd"] == {"prior": "Exponential(lam=2)", "source": "spec"}
    assert model.priors["x_mu_mean"]["source"] == "data"  # not named: the default
    assert model.pymc_model["_prior_x_within_sd_lam"].get_value() == pytest.approx(2.0)


def test_the_default_set_leaves_the_latent_priors_as_they_are(prepared):
    _, _, model = latent_model_for(_with_set(prepared, "default"), prepared, marginal=True)
    _, _, plain = latent_model_for(load_spec("M3"), prepared, marginal=True)
    assert model.priors == plain.priors


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('x_typo_sd = { dist = "HalfNormal", sigma = 1 }', "'x_typo_sd' has no counterpart"),
        ('nu = { dist = "Gamma", alpha = 2, beta = 0.1 }', "'nu' has no counterpart"),
        ('x_within_sd = { dist = "Normal", mu = 0, sigma = 1 }', "needs a positive distribution"),
    ],
)
def test_a_prior_without_counterpart_is_refused(prepared, tmp_path, text, words):
    spec = _with_set(prepared, _set_file(tmp_path, f"[priors]\n{text}\n"), "mine")
    with pytest.raises(SpecError, match=r"\(M3\[mine\]\)") as info:
        latent_model_for(spec, prepared, marginal=True)
    assert words in str(info.value), str(info.value)


def test_a_set_for_m3_on_latent_m1_refuses_what_m1_lacks(prepared):
    priors = load_prior_set("weakly_informative", prepared=prepared)
    spec = load_spec("M1").with_priors(priors, label="wi")
    with pytest.raises(SpecError, match="no counterpart in the latent-centred M1"):
        latent_model_for(spec, prepared, marginal=True)


@pytest.mark.fit
def test_latent_fit_with_a_prior_set_records_saves_and_reloads_it(prepared, tmp_path):
    from ambidex_bayes.fit import FitResult

    spec = _with_set(prepared, "sceptical", "sceptical")
    settings = SamplerSettings(backend="nutpie", draws=150, tune=150, chains=2, seed=4)
    result = quiet_fit(spec, prepared, settings, rescue=False)  # 300 draws: a low ESS
    assert result.meta["centring"] == "latent" and result.spec.name == "M3[sceptical]"
    assert result.priors["x_cw:w_c"]["source"] == "spec"
    # the interaction's posterior stays within the sceptical prior's reach
    sd = load_prior_set("sceptical", prepared=prepared)["{x_within}:{w}"].params["sigma"]
    assert float(np.abs(result.posterior["x_cw:w_c"]).mean()) < 3 * sd
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        loaded = FitResult.load(result.save(tmp_path / "m3_sceptical.nc"))
    assert loaded.priors == result.priors
