"""Simulation-based calibration of the latent-centred model: configuration, the data drawn
given the parameters, the run's fixed priors, and a small run whose ranks are computed."""

from __future__ import annotations

import json

import numpy as np
import pytest
from latent_design_runs import (
    M3_OUTCOME_RANKED,
    PREDICTOR_MODEL_RANKED,
    record_sbc_configs,
    small_latent_sbc,
)

from ambidex_bayes.design.sbc import SBCConfig, run_sbc, sbc_ranks
from ambidex_bayes.design.sbc_latent import _with_priors, latent_template
from ambidex_bayes.errors import SpecError
from ambidex_bayes.model.latent_data import latent_data
from ambidex_bayes.model.latent_simulate import draw_latent_data, simulate_latent_panel


def test_centring_is_stored_only_when_set():
    assert "centring" not in SBCConfig().to_dict()
    assert SBCConfig(centring="observed") == SBCConfig()  # the same run, resumed either way
    config = SBCConfig(centring="latent")
    assert config.latent and config.to_dict()["centring"] == "latent"
    assert SBCConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"centring": "auto"}, "centring must be observed or latent, got 'auto'"),
    ],
)
def test_centring_an_sbc_cannot_check_is_refused(kwargs, words):
    with pytest.raises(SpecError, match="Invalid SBC run") as err:
        SBCConfig(**kwargs)
    assert words in str(err.value)


@pytest.fixture(scope="module")
def panel():
    frame = simulate_latent_panel(15, (1, 5), seed=4, missing_x=0.2, missing_y=0.2)
    frame["w"] = frame["w"] - frame.groupby("person")["w"].first().mean()
    return latent_data(frame, y="y", x="x", person="person", w="w")


def _values(panel, rng):
    J = panel.n_persons
    nm = panel.names
    return {
        "Intercept": 0.5,
        nm.within: 0.3,
        nm.between: -0.7,
        nm.w: 0.2,
        nm.interaction: 0.4,
        nm.mu: 3.0 + rng.standard_normal(J),
        nm.mu_mean: 3.0,
        nm.within_sd: 0.8,
        nm.intercept_effect: 0.5 * rng.standard_normal(J),
        nm.slope_effect: 0.2 * rng.standard_normal(J),
        "sigma": 0.6,
    }


def test_drawn_data_follow_the_latent_model(panel):
    values = _values(panel, np.random.default_rng(1))
    drawn = draw_latent_data(panel, "M3", values, np.random.default_rng(2))
    # same rows, persons, moderator and missing predictors
    np.testing.assert_array_equal(drawn.person, panel.person)
    np.testing.assert_array_equal(drawn.missing, panel.missing)
    assert drawn.w is panel.w and len(drawn.x_only) == len(panel.x_only)
    # the same draws by hand: the predictor first (outcome rows, then x-only rows), then
    # the outcome's residuals
    rng = np.random.default_rng(2)
    mu, p = values[panel.names.mu], panel.person
    x = mu[p] + 0.8 * rng.standard_normal(len(p))
    x_only = mu[panel.x_only_person] + 0.8 * rng.standard_normal(len(panel.x_only))
    c = x - mu[p]
    nm = panel.names
    a = 0.5 - 0.7 * (mu - 3.0) + 0.2 * panel.w + values[nm.intercept_effect]
    b = 0.3 + 0.4 * panel.w + values[nm.slope_effect]
    y = a[p] + b[p] * c + 0.6 * rng.standard_normal(len(p))
    np.testing.assert_allclose(drawn.y, y)
    np.testing.assert_allclose(drawn.x[~panel.missing], x[~panel.missing])
    assert np.isnan(drawn.x[panel.missing]).all()
    np.testing.assert_allclose(drawn.x_only, x_only)


def test_m1_draws_no_person_slopes(panel):
    values = _values(panel, np.random.default_rng(1))
    values[panel.names.slope_effect] = np.full(panel.n_persons, 100.0)
    values[panel.names.interaction] = 100.0
    drawn = draw_latent_data(panel, "M1", values, np.random.default_rng(2))
    assert np.abs(drawn.y).max() < 50  # neither the slopes nor the interaction entered


@pytest.fixture(scope="module")
def template():
    return latent_template("M3", json.dumps({"n_persons": 20}), 1)


def test_template_checks_the_shared_and_the_predictor_model_s_parameters(template):
    checked = set(template.checked)
    assert M3_OUTCOME_RANKED | {f"uncertainty{s}" for s in PREDICTOR_MODEL_RANKED} == checked
    assert template.level == "M3" and template.data.n_persons == 20


def test_template_keeps_the_rows_a_latent_fit_takes():
    """Days with a missing predictor (imputed) or outcome (person means only) stay in."""
    with_gaps = latent_template("M3", json.dumps({"n_persons": 30, "missing_rate_x": 0.1}), 1)
    assert with_gaps.data.n_imputed > 0 and len(with_gaps.data.x_only) > 0


def test_every_fit_takes_the_run_s_priors_not_its_data_s(template):
    """The latent model scales its default priors by the data; an SBC fit must keep the
    priors that generated its data, so they are set from the template."""
    from ambidex_bayes.model.latent_centring import build_latent_model

    shifted = draw_latent_data(
        template.data,
        "M3",
        _values(template.data, np.random.default_rng(3)) | {"Intercept": 40.0, "sigma": 9.0},
        np.random.default_rng(4),
    )
    model = build_latent_model(shifted, "M3", marginal=True)
    own = {v.name: np.asarray(v.get_value()) for v in model.pymc_model.data_vars}
    assert float(own["_prior_Intercept_mu"]) != pytest.approx(
        float(template.prior_values["_prior_Intercept_mu"])
    )
    _with_priors(model, template.prior_values)
    for name, value in template.prior_values.items():
        np.testing.assert_array_equal(model.pymc_model[name].get_value(), value)


def test_a_spec_latent_centring_cannot_fit_is_refused_before_any_fit(tmp_path):
    config = SBCConfig(centring="latent", spec="M0", design={"n_persons": 20}, simulations=1)
    with pytest.raises(SpecError, match="latent centring cannot fit"):
        run_sbc(config, tmp_path / "sbc", scheduler="serial", progressbar=False, verbose=False)


def test_the_command_passes_the_centring(monkeypatch, tmp_path):
    from ambidex_bayes.cli import main

    seen = record_sbc_configs(monkeypatch)
    args = ["sbc", "--sims", "4", "--rank-draws", "9", "--out", str(tmp_path / "sbc")]
    assert main([*args, "--centring", "latent", "--no-progress", "--draws", "9"]) == 0
    assert seen["config"].latent
    with pytest.raises(SystemExit):
        main([*args, "--centring", "auto"])


@pytest.mark.fit
def test_a_small_latent_run_ranks_every_parameter(tmp_path):
    pytest.importorskip("nutpie")
    from ambidex_bayes.design.sbc_stats import sbc_calibration

    config, results = small_latent_sbc(tmp_path, simulations=3, design={"n_persons": 20})
    assert results["centring"].eq("latent").all()
    ranks = sbc_ranks(results)
    assert ranks["rank"].between(0, config.rank_draws).all()
    assert len(ranks) == 3 * 16
    assert {"uncertainty_mu_sd", "uncertainty_mu[P001]"} <= set(ranks["parameter"])
    # the drawn values vary between simulations (they come from the prior)
    assert results["truth__uncertainty_pm"].nunique() == 3
    calibration = sbc_calibration(ranks, config.rank_draws)
    assert len(calibration.table) == 16


def test_without_a_set_the_latent_model_keeps_its_own_priors():
    assert SBCConfig().priors == "weakly_informative"  # the observed model needs a set
    assert SBCConfig().to_dict()["priors"] == "weakly_informative"  # stored as before
    assert SBCConfig(centring="latent").priors is None
    assert SBCConfig(centring="latent").fit_prior_set is None


def test_prior_sets_are_taken_with_latent_centring():
    from ambidex_bayes.design.sbc import _latent_fields

    config = SBCConfig(centring="latent", priors="sceptical", fit_priors="weakly_informative")
    assert SBCConfig.from_dict(config.to_dict()) == config
    fields = _latent_fields(config)
    assert (fields["priors"], fields["fit_priors"]) == ("sceptical", "weakly_informative")


#: The cross-level interaction's prior on the reference design's 1-5 scales: the sceptical
#: set's relative SD 0.2 (range per range) is 0.2 * 4 / (4 * 4) = 0.05 per scale point
#: squared; the weakly informative set's 1.0 is 0.25.
SCEPTICAL_INTERACTION_SD = 0.05
WEAK_INTERACTION_SD = 0.25
INTERACTION = "uncertainty_cw:leader_support_c"


@pytest.fixture(scope="module")
def sceptical():
    return latent_template("M3", json.dumps({"n_persons": 20}), 1, False, "sceptical")


def _prior_draws(template, n):
    import pymc as pm

    drawn = pm.sample_prior_predictive(
        draws=n,
        model=template.simulator.pymc_model,
        random_seed=5,
        var_names=[INTERACTION, "Intercept"],
    )
    return drawn["prior"]


def test_truths_are_drawn_from_the_run_s_prior_set(template, sceptical):
    n = 2000
    tolerance = 4 / np.sqrt(2 * (n - 1))  # relative, about 4 standard errors of a sample SD
    drawn = _prior_draws(sceptical, n)
    sd = float(drawn[INTERACTION].std())
    assert sd == pytest.approx(SCEPTICAL_INTERACTION_SD, rel=tolerance)
    # the set's intercept, Normal(3, 1) on 1-5 scales
    assert float(drawn["Intercept"].mean()) == pytest.approx(3.0, abs=4 / np.sqrt(n))
    assert float(drawn["Intercept"].std()) == pytest.approx(1.0, rel=tolerance)
    # the latent model's own data-scaled prior on the interaction is far wider
    assert float(_prior_draws(template, n)[INTERACTION].std()) > 10 * SCEPTICAL_INTERACTION_SD
    # the same parameters are ranked, and the set's priors are recorded as the spec's
    assert set(sceptical.checked) == set(template.checked)
    assert sceptical.simulator.priors[INTERACTION]["source"] == "spec"
    assert sceptical.fit_values is sceptical.prior_values


class _Sampled(Exception):
    """Raised in place of sampling, with the model a task would sample."""


def _fitted_model(monkeypatch, template_args):
    """The model a latent SBC task fits (its sampling replaced by raising _Sampled)."""
    from ambidex_bayes.design.sbc_latent import run_latent_sbc_task
    from ambidex_bayes.design.tasks import Task
    from ambidex_bayes.engine import latent_sampling

    def fake_sample(model, settings, **kwargs):
        raise _Sampled(model)

    monkeypatch.setattr(latent_sampling, "sample_latent", fake_sample)
    with pytest.raises(_Sampled) as caught:
        run_latent_sbc_task(
            Task(task_id="sim000000", seed=11, params={"simulation": 0}),
            spec="M3",
            design={"n_persons": 20},
            design_seed=1,
            rank_draws=9,
            fast_path=True,
            backend="nutpie",
            draws=10,
            tune=10,
            chains=1,
            **template_args,
        )
    return caught.value.args[0]


def _value(model, name):
    return float(model.pymc_model[name].get_value())


@pytest.mark.parametrize(
    ("fit_priors", "sd"),
    [(None, SCEPTICAL_INTERACTION_SD), ("weakly_informative", WEAK_INTERACTION_SD)],
)
def test_every_fit_takes_the_fitting_set(monkeypatch, sceptical, fit_priors, sd):
    model = _fitted_model(monkeypatch, {"priors": "sceptical", "fit_priors": fit_priors})
    assert _value(model, f"_prior_{INTERACTION}_sigma") == pytest.approx(sd)
    assert model.priors[INTERACTION]["source"] == "spec"
    # the predictor model's data-scaled defaults stay those of the covariate study
    name = "_prior_uncertainty_mu_sd_sigma"
    assert _value(model, name) == pytest.approx(float(sceptical.prior_values[name]))
    assert model.priors["uncertainty_mu_sd"]["source"] == "data"


@pytest.mark.fit
def test_a_small_latent_run_with_a_prior_set(tmp_path):
    pytest.importorskip("nutpie")
    config, results = small_latent_sbc(
        tmp_path, priors="sceptical", simulations=2, design={"n_persons": 20}
    )
    ranks = sbc_ranks(results)
    assert len(ranks) == 2 * 16 and ranks["rank"].between(0, config.rank_draws).all()
    # the interactions drawn from the set's Normal(0, 0.05), within 4 SDs
    truths = results[f"truth__{INTERACTION}"]
    assert truths.nunique() == 2 and (truths.abs() < 4 * SCEPTICAL_INTERACTION_SD).all()


def test_a_large_latent_sbc_fit_takes_the_large_model_target_and_keeps_its_tuning(
    monkeypatch, tmp_path
):
    pytest.importorskip("nutpie")
    from latent_fits import recording_nutpie

    from ambidex_bayes import constants
    from ambidex_bayes.engine.latent_sampling import LOW_RANK_MAX_PARAMETERS

    calls = recording_nutpie(monkeypatch)
    for persons, target in (
        (20, constants.TARGET_ACCEPT),
        (LOW_RANK_MAX_PARAMETERS + 1, constants.LARGE_LATENT_TARGET_ACCEPT),
    ):
        config, _ = small_latent_sbc(
            tmp_path / str(persons), simulations=1, design={"n_persons": persons}
        )
        assert calls[-1]["target_accept"] == target
        assert calls[-1]["tune"] == config.tune  # the run's tuning was chosen: it is kept
