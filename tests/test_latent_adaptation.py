"""Latent-centred fits sample with nutpie's diagonal mass-matrix adaptation, and their second
try, up to LOW_RANK_MAX_PARAMETERS free parameters, with the low-rank one; observed fits keep
the diagonal one."""

from __future__ import annotations

import warnings

import pytest
from latent_fits import failing_once, recording_nutpie

from ambidex_bayes.model.latent_data import latent_data
from ambidex_bayes.model.latent_simulate import simulate_latent_panel

pytestmark = pytest.mark.fit
nutpie = pytest.importorskip("nutpie")


def _adaptations(calls: list[dict]) -> list[str]:
    """The adaptation of each recorded nutpie run."""
    return [kwargs.get("adaptation", "diag") for kwargs in calls]


def test_only_a_small_model_s_second_try_adapts_a_low_rank_mass_matrix():
    from ambidex_bayes.engine.latent_sampling import LOW_RANK_MAX_PARAMETERS, adaptation_for

    assert adaptation_for(10) == "diag"
    assert adaptation_for(10, second_try=True) == "low_rank"
    assert adaptation_for(LOW_RANK_MAX_PARAMETERS, second_try=True) == "low_rank"
    assert adaptation_for(LOW_RANK_MAX_PARAMETERS + 1, second_try=True) == "diag"
    assert adaptation_for(LOW_RANK_MAX_PARAMETERS + 1) == "diag"


def test_a_small_latent_fit_adapts_a_diagonal_mass_matrix(monkeypatch):
    from ambidex_bayes.engine.latent_sampling import fit_latent_model

    calls = recording_nutpie(monkeypatch)
    df = simulate_latent_panel(30, (2, 4), seed=3)
    data = latent_data(df, y="y", x="x", person="person", w="w")
    _, idata = fit_latent_model(data, "M3", backend="nutpie", draws=50, tune=50, chains=1, seed=1)
    assert _adaptations(calls) == ["diag"]
    assert idata.posterior.sizes["draw"] == 50
    # the tuning draws are not kept (no route reads them)
    assert not {"warmup_posterior", "warmup_sample_stats"} & set(idata.children)


@pytest.mark.parametrize("persons", [30, 130])
def test_the_second_try_of_a_small_latent_fit_adapts_a_low_rank_mass_matrix_announced(
    monkeypatch, capsys, persons
):
    from latent_fits import prepare_panel

    import ambidex_bayes.centring as centring
    from ambidex_bayes.diagnostics import ConvergenceWarning
    from ambidex_bayes.fit import SamplerSettings, fit
    from ambidex_bayes.spec import load_spec

    checks = failing_once(monkeypatch, centring)
    calls = recording_nutpie(monkeypatch)
    prepared = prepare_panel(simulate_latent_panel(persons, (2, 3), seed=3))
    settings = SamplerSettings(backend="nutpie", draws=500, tune=100, chains=4, seed=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fit(
            load_spec("M3"),
            prepared,
            settings=settings,
            cache_dir=False,
            progressbar=False,
            log_likelihood=False,
            centring="latent",
        )
    out = capsys.readouterr().out
    announced = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert "Sampling once more" in str(announced[0].message)
    small = persons == 30
    assert len(checks) == 2 and result.meta["rescue"]["settings"]["target_accept"] == 0.99
    assert _adaptations(calls) == ["diag", "low_rank" if small else "diag"]
    said = "a mass matrix that follows the correlations between the hyperparameters"
    assert (said in out) is small
    assert "second try" in out


def test_a_large_latent_fit_adapts_a_diagonal_mass_matrix(monkeypatch):
    from ambidex_bayes.engine.latent_sampling import LOW_RANK_MAX_PARAMETERS, fit_latent_model

    calls = recording_nutpie(monkeypatch)
    df = simulate_latent_panel(LOW_RANK_MAX_PARAMETERS + 1, (2, 2), seed=3)
    data = latent_data(df, y="y", x="x", person="person", w="w")
    _, idata = fit_latent_model(data, "M3", backend="nutpie", draws=20, tune=20, chains=1, seed=1)
    assert _adaptations(calls) == ["diag"]
    assert idata.posterior.sizes["draw"] == 20


def test_an_observed_fit_keeps_the_diagonal_mass_matrix(monkeypatch, small_prepared):
    from ambidex_bayes.diagnostics import ConvergenceWarning
    from ambidex_bayes.engine.settings import SamplerSettings
    from ambidex_bayes.fit import fit
    from ambidex_bayes.spec import load_spec

    calls = recording_nutpie(monkeypatch)
    settings = SamplerSettings(backend="nutpie", draws=50, tune=50, chains=1, seed=1)
    with pytest.warns(ConvergenceWarning):  # 50 draws of one chain, as intended
        fit(
            load_spec("M3"),
            small_prepared,
            settings=settings,
            cache_dir=False,
            verbose=False,
            centring="observed",
            progressbar=False,
            rescue=False,
        )
    assert _adaptations(calls) == ["diag"]


def test_a_large_latent_model_samples_at_the_lower_target_and_tunes_less_unless_chosen():
    from ambidex_bayes import constants
    from ambidex_bayes.engine.latent_sampling import LOW_RANK_MAX_PARAMETERS, latent_settings
    from ambidex_bayes.engine.settings import SamplerSettings

    default = SamplerSettings().resolved()
    assert default.target_accept == constants.TARGET_ACCEPT
    small = latent_settings(default, LOW_RANK_MAX_PARAMETERS, target_accept_given=False)
    large = latent_settings(default, LOW_RANK_MAX_PARAMETERS + 1, target_accept_given=False)
    chosen = latent_settings(default, LOW_RANK_MAX_PARAMETERS + 1, target_accept_given=True)
    assert small == default
    assert large.target_accept == constants.LARGE_LATENT_TARGET_ACCEPT < default.target_accept
    assert large.tune == constants.LARGE_LATENT_TUNE < default.tune
    assert large.draws == default.draws and large.seed == default.seed
    assert chosen.target_accept == default.target_accept
    assert chosen.tune == constants.LARGE_LATENT_TUNE
    tune_chosen = latent_settings(
        default, LOW_RANK_MAX_PARAMETERS + 1, target_accept_given=False, tune_given=True
    )
    assert tune_chosen.tune == default.tune
    assert tune_chosen.target_accept == constants.LARGE_LATENT_TARGET_ACCEPT


def test_a_large_latent_fit_records_the_target_and_tuning_it_sampled_with(monkeypatch):
    from latent_fits import prepare_panel, quiet_fit

    from ambidex_bayes import constants
    from ambidex_bayes.engine.latent_sampling import LOW_RANK_MAX_PARAMETERS
    from ambidex_bayes.fit import SamplerSettings
    from ambidex_bayes.spec import load_spec

    calls = recording_nutpie(monkeypatch)
    prepared = prepare_panel(simulate_latent_panel(LOW_RANK_MAX_PARAMETERS + 1, (2, 2), seed=3))
    spec = load_spec("M3")
    for given_target, given_tune in ((None, 20), (0.85, 20), (None, None)):
        settings = SamplerSettings(
            backend="nutpie",
            draws=20,
            tune=given_tune,
            chains=1,
            seed=1,
            target_accept=given_target,
        )
        result = quiet_fit(spec, prepared, settings, rescue=False)
        target = constants.LARGE_LATENT_TARGET_ACCEPT if given_target is None else given_target
        tune = constants.LARGE_LATENT_TUNE if given_tune is None else given_tune
        assert calls[-1]["target_accept"] == target
        assert calls[-1]["tune"] == tune
        assert result.meta["settings"]["target_accept"] == target
        assert result.meta["settings"]["tune"] == tune


def _recording_pymc(monkeypatch):
    """Record the keywords of every pm.sample call (the call itself goes ahead)."""
    import pymc as pm

    calls = []
    sample = pm.sample

    def recorded(*args, **kwargs):
        calls.append(kwargs)
        return sample(*args, **kwargs)

    monkeypatch.setattr(pm, "sample", recorded)
    return calls


def test_pymc_keeps_its_diagonal_mass_matrix_for_a_small_latent_model(monkeypatch):
    from ambidex_bayes.engine.latent_sampling import (
        LOW_RANK_MAX_PARAMETERS,
        fit_latent_model,
        free_parameters,
    )

    calls = _recording_pymc(monkeypatch)
    df = simulate_latent_panel(30, (2, 3), seed=3)
    data = latent_data(df, y="y", x="x", person="person", w="w")
    model, idata = fit_latent_model(
        data, "M3", backend="pymc", draws=20, tune=20, chains=1, seed=1, cores=1
    )
    assert free_parameters(model) <= LOW_RANK_MAX_PARAMETERS
    assert "init" not in calls[-1]
    assert idata.posterior.sizes["draw"] == 20


@pytest.mark.parametrize("persons", [30, 130])
def test_numpyro_adapts_a_dense_mass_matrix_for_small_latent_models_only(monkeypatch, persons):
    pytest.importorskip("numpyro")
    from ambidex_bayes.engine.latent_sampling import (
        LOW_RANK_MAX_PARAMETERS,
        fit_latent_model,
        free_parameters,
    )

    calls = _recording_pymc(monkeypatch)
    df = simulate_latent_panel(persons, (2, 3), seed=3)
    data = latent_data(df, y="y", x="x", person="person", w="w")
    model, _ = fit_latent_model(data, "M3", backend="numpyro", draws=20, tune=20, chains=1, seed=1)
    small = free_parameters(model) <= LOW_RANK_MAX_PARAMETERS
    assert small == (persons == 30)
    assert calls[-1].get("nuts", {}).get("dense_mass", False) is small


def test_the_observed_fast_path_keeps_numpyro_s_diagonal_mass_matrix(monkeypatch):
    import pymc as pm

    from ambidex_bayes.engine.sampling import sample_pymc
    from ambidex_bayes.engine.settings import SamplerSettings

    calls = []
    monkeypatch.setattr(pm, "sample", lambda *args, **kwargs: calls.append(kwargs))
    with pm.Model() as model:
        pm.Normal("a")
    for backend in ("pymc", "numpyro"):
        settings = SamplerSettings(backend=backend, draws=5, tune=5, chains=1, seed=1).resolved()
        sample_pymc(model, settings, False, dense_mass=True)
    pymc_call, numpyro_call = calls
    assert pymc_call["init"] == "jitter+adapt_full"
    assert "init" not in numpyro_call and "dense_mass" not in numpyro_call.get("nuts", {})
