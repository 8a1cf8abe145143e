"""Simulation-based calibration of the latent-centred model with two level-1 predictors: the
data drawn given the parameters, the parameters ranked, the configuration and a small run."""

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

from ambidex_bayes.design.sbc import SBCConfig, sbc_ranks
from ambidex_bayes.design.sbc_latent import latent_template
from ambidex_bayes.errors import SpecError
from ambidex_bayes.model.latent_data import latent_data
from ambidex_bayes.model.latent_ladder import LatentStructure
from ambidex_bayes.model.latent_simulate import draw_latent_data
from ambidex_bayes.simulate import reference_design, simulate_diary

#: The reference design with a second daily predictor (person means of its own).
TWO = {
    "likert": None,
    "predictors": [{"name": "workload", "g10": -0.3, "g02": 0.4, "x_mean": 2.0}],
}


@pytest.fixture(scope="module")
def panel():
    """Two predictors, each missing on some days (with and without an outcome)."""
    design = reference_design(n_persons=15, missing_rate=0.15, missing_rate_x=0.15, **TWO)
    frame = simulate_diary(design, seed=6).data
    frame["w"] = (
        frame["leader_support"] - frame.groupby("person_id")["leader_support"].first().mean()
    )
    return latent_data(
        frame, y="innovation", x="uncertainty", person="person_id", w="w", others=("workload",)
    )


def _values(panel, rng):
    J = panel.n_persons
    values = {
        "Intercept": 0.5,
        "w": 0.2,
        "1|person_id": 0.5 * rng.standard_normal(J),
        "workload_cw|person_id": 0.3 * rng.standard_normal(J),
        "sigma": 0.6,
    }
    for x, within, between, mean, sd in (
        ("uncertainty", 0.3, -0.7, 3.0, 0.8),
        ("workload", -0.4, 0.9, 2.0, 1.1),
    ):
        values |= {
            f"{x}_cw": within,
            f"{x}_pm": between,
            f"{x}_cw:w": 0.25 if x == "uncertainty" else 0.0,
            f"{x}_mu": mean + rng.standard_normal(J),
            f"{x}_mu_mean": mean,
            f"{x}_within_sd": sd,
        }
    return values


def test_drawn_data_of_two_predictors_follow_the_latent_model(panel):
    assert panel.n_predictors == 2 and np.isnan(panel.xs).any(axis=0).all()
    assert np.isnan(panel.others_only).any() and len(panel.x_only) > 0
    # the person slopes on the second predictor, the interaction on the first
    structure = LatentStructure(
        predictors=(0, 1),
        within=(True, True),
        between=(True, True),
        interaction=(True, False),
        slope=1,
    )
    values = _values(panel, np.random.default_rng(1))
    drawn = draw_latent_data(panel, "M3", values, np.random.default_rng(2), structure=structure)
    # same rows, persons and missing values of both predictors
    np.testing.assert_array_equal(drawn.person, panel.person)
    np.testing.assert_array_equal(np.isnan(drawn.xs), np.isnan(panel.xs))
    np.testing.assert_array_equal(np.isnan(drawn.others_only), np.isnan(panel.others_only))
    np.testing.assert_array_equal(np.isnan(drawn.x_only), np.isnan(panel.x_only))
    # the same draws by hand: each predictor (outcome rows, then rows without an outcome),
    # then the outcome's residuals
    rng = np.random.default_rng(2)
    p, q = panel.person, panel.x_only_person
    mu_u, mu_k = values["uncertainty_mu"], values["workload_mu"]
    x_u = mu_u[p] + 0.8 * rng.standard_normal(len(p))
    only_u = mu_u[q] + 0.8 * rng.standard_normal(len(q))
    x_k = mu_k[p] + 1.1 * rng.standard_normal(len(p))
    only_k = mu_k[q] + 1.1 * rng.standard_normal(len(q))
    w = panel.w
    a = 0.5 - 0.7 * (mu_u - 3.0) + 0.9 * (mu_k - 2.0) + values["1|person_id"] + 0.2 * w
    b_u = 0.3 + 0.25 * w
    b_k = -0.4 + values["workload_cw|person_id"]
    y = (
        a[p]
        + b_u[p] * (x_u - mu_u[p])
        + b_k[p] * (x_k - mu_k[p])
        + 0.6 * rng.standard_normal(len(p))
    )
    np.testing.assert_allclose(drawn.y, y)
    seen = ~np.isnan(panel.xs)
    np.testing.assert_allclose(drawn.x[seen[:, 0]], x_u[seen[:, 0]])
    np.testing.assert_allclose(drawn.others[seen[:, 1], 0], x_k[seen[:, 1]])
    seen_only = ~np.isnan(panel.others_only[:, 0])
    np.testing.assert_allclose(drawn.others_only[seen_only, 0], only_k[seen_only])
    np.testing.assert_allclose(
        drawn.x_only[~np.isnan(panel.x_only)], only_u[~np.isnan(panel.x_only)]
    )


@pytest.fixture(scope="module")
def template():
    return latent_template("M3", json.dumps({"n_persons": 20, **TWO}, sort_keys=True), 1, True)


def test_template_ranks_both_predictors_parameters(template):
    assert template.data.n_predictors == 2
    assert template.structure.predictors == (0, 1) and template.structure.slope == 0
    expected = {
        *M3_OUTCOME_RANKED,
        "workload_cw",
        "workload_pm",
        *(f"uncertainty{s}" for s in PREDICTOR_MODEL_RANKED),
        *(f"workload{s}" for s in PREDICTOR_MODEL_RANKED),
    }
    assert set(template.checked) == expected


def test_without_every_predictor_the_ladder_s_model_takes_the_first_predictor():
    template = latent_template("M3", json.dumps({"n_persons": 20, **TWO}, sort_keys=True), 1)
    assert template.data.n_predictors == 1 and len(template.checked) == 16


def test_every_predictor_is_stored_only_when_set_and_needs_further_predictors():
    assert "every_predictor" not in SBCConfig().to_dict()
    config = SBCConfig(centring="latent", every_predictor=True, design=TWO)
    assert SBCConfig.from_dict(config.to_dict()) == config
    with pytest.raises(SpecError, match="Invalid SBC run") as err:
        SBCConfig(centring="latent", every_predictor=True)
    assert "the design has none" in str(err.value)


def test_the_command_passes_the_design_file_and_the_option(monkeypatch, tmp_path):
    from ambidex_bayes.cli import main

    seen = record_sbc_configs(monkeypatch)
    design = tmp_path / "two.toml"
    design.write_text('likert = false\n[[predictors]]\nname = "workload"\nx_mean = 2.0\n')
    args = ["sbc", "--sims", "4", "--rank-draws", "9", "--out", str(tmp_path / "sbc")]
    args += ["--centring", "latent", "--every-predictor", "--design", str(design)]
    assert main([*args, "--no-progress", "--draws", "9", "--persons", "20"]) == 0
    config = seen["config"]
    assert config.latent and config.every_predictor
    assert config.design["predictors"] == [{"name": "workload", "x_mean": 2.0}]
    assert config.design["n_persons"] == 20 and config.design["likert"] is None


@pytest.mark.fit
def test_a_small_run_ranks_both_predictors_parameters(tmp_path):
    pytest.importorskip("nutpie")
    config, results = small_latent_sbc(
        tmp_path, every_predictor=True, simulations=2, design={"n_persons": 20, **TWO}
    )
    ranks = sbc_ranks(results)
    assert ranks["rank"].between(0, config.rank_draws).all()
    assert len(ranks) == 2 * 23
    for x in ("uncertainty", "workload"):
        assert {f"{x}_pm", f"{x}_mu_sd", f"{x}_within_sd", f"{x}_mu[P001]"} <= set(
            ranks["parameter"]
        )
    # each predictor's drawn values vary between simulations (they come from the prior)
    assert results["truth__workload_pm"].nunique() == 2
    assert results["truth__workload_mu_sd"].nunique() == 2
