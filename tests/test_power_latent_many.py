"""Power analyses of designs with several level-1 predictors, each with true person means:
the configuration, the model with every predictor, the per-predictor table (known answers
on made-up results) and a small run with two latent-centred predictors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from latent_design_runs import small_latent_power

from ambidex_bayes.design.power import (
    EFFECT_PREFIX,
    PowerConfig,
    describe_power,
    power_table,
    predictor_effects,
    predictor_table,
)
from ambidex_bayes.errors import SpecError

#: A second daily predictor with person means of its own, correlated with the first's.
TWO = {
    "likert": None,
    "predictors": [
        {"name": "workload", "g10": -0.3, "g02": 0.4, "x_mean": 2.0, "x_sd_between": 0.8,
         "x_sd_within": 0.7},
    ],
    "mean_corr": [[1.0, 0.3], [0.3, 1.0]],
}  # fmt: skip


def test_latent_centring_takes_further_predictors():
    config = PowerConfig(design=TWO, centring="latent", every_predictor=True)
    assert config.to_dict()["every_predictor"] is True
    assert PowerConfig.from_dict(config.to_dict()) == config
    assert "every_predictor" not in PowerConfig(design=TWO, centring="latent").to_dict()


def test_every_predictor_needs_further_predictors():
    with pytest.raises(SpecError, match="Invalid power analysis") as err:
        PowerConfig(every_predictor=True)
    assert "the design has none" in str(err.value)


def test_the_run_s_spec_holds_every_predictor():
    from ambidex_bayes.data import ColumnMapping, load_diary
    from ambidex_bayes.design.power import _spec
    from ambidex_bayes.model.latent_ladder import latent_structure
    from ambidex_bayes.prepare import prepare
    from ambidex_bayes.simulate import reference_design, simulate_diary

    study = simulate_diary(reference_design(n_persons=15, **TWO), seed=2)
    prepared = prepare(load_diary(study.data, ColumnMapping.from_dict(study.mapping)))
    config = PowerConfig(design=TWO, centring="latent", every_predictor=True, persons=(15,))
    spec = _spec(config, prepared)
    assert spec.name == "M3" and "{x1_within} + {x1_between}" in spec.formula
    structure = latent_structure(spec, prepared)
    assert structure.predictors == (0, 1) and structure.between == (True, True)
    # without the option the bundled M3 uses the first predictor only
    plain = _spec(PowerConfig(design=TWO, centring="latent", persons=(15,)), prepared)
    assert "x1" not in plain.formula


def test_predictor_effects_name_every_predictor_s_effects_with_their_truth():
    from ambidex_bayes.simulate import reference_design

    effects = predictor_effects(reference_design(**TWO))
    assert effects == [
        ("uncertainty_cw", "uncertainty", "within", 0.15),
        ("uncertainty_pm", "uncertainty", "between", 0.10),
        ("uncertainty_cw:leader_support_c", "uncertainty", "interaction", 0.25),
        ("workload_cw", "workload", "within", -0.3),
        ("workload_pm", "workload", "between", 0.4),
        ("workload_cw:leader_support_c", "workload", "interaction", 0.0),
    ]


def _effect(name: str, means, lower, upper, truth) -> dict[str, list[float]]:
    k = f"{EFFECT_PREFIX}{name}__"
    return {
        f"{k}mean": means,
        f"{k}sd": [0.1] * len(means),
        f"{k}lower": lower,
        f"{k}upper": upper,
        f"{k}truth": [truth] * len(means),
    }


def _results() -> pd.DataFrame:
    """Four fits of one cell (one failed) with made-up intervals of two predictors'
    effects."""
    return pd.DataFrame(
        {
            "task_id": ["a", "b", "c", "d"],
            "n_persons": 40,
            "diaries": 5.0,
            "effect": 0.25,
            "replicate": range(4),
            **_effect(
                "workload_pm",
                [0.5, 0.2, 0.6, np.nan],
                [0.1, -0.1, 0.45, np.nan],
                [0.9, 0.5, 0.75, np.nan],
                0.4,
            ),
            **_effect(
                "uncertainty_cw",
                [0.1, 0.2, 0.3, np.nan],
                [-0.1, 0.05, 0.2, np.nan],
                [0.3, 0.35, 0.4, np.nan],
                0.15,
            ),
            "person_mean_rmse__workload": [0.2, 0.3, 0.4, np.nan],
            "error": ["", "", "", "RuntimeError: no"],
        }
    )


def test_the_predictor_table_sums_up_each_effect_per_cell():
    config = PowerConfig(
        persons=(40,), diaries=(5.0,), design=TWO, centring="latent", every_predictor=True
    )
    table = predictor_table(_results(), config)
    # in the order of predictor_effects; effects no fit estimated are left out
    assert table["parameter"].tolist() == ["uncertainty_cw", "workload_pm"]
    between = table.set_index("parameter").loc["workload_pm"]
    assert between["predictor"] == "workload" and between["role"] == "between"
    assert between["simulations"] == 3  # the failed fit is left out
    # intervals (0.1, 0.9), (-0.1, 0.5), (0.45, 0.75): two of three exclude 0
    assert between["power"] == pytest.approx(2 / 3)
    assert between["power_se"] == pytest.approx(math.sqrt(2 / 3 * 1 / 3 / 3))
    assert between["bias"] == pytest.approx((0.1 - 0.2 + 0.2) / 3)
    assert between["rmse"] == pytest.approx(math.sqrt((0.01 + 0.04 + 0.04) / 3))
    # 0.4 lies in the first two intervals, not in (0.45, 0.75)
    assert between["coverage"] == pytest.approx(2 / 3)
    assert between["mean_width"] == pytest.approx((0.8 + 0.6 + 0.3) / 3)
    assert between["person_mean_rmse"] == pytest.approx(0.3)
    within = table.set_index("parameter").loc["uncertainty_cw"]
    assert within["power"] == pytest.approx(2 / 3)
    # 0.15 lies in (-0.1, 0.3) and (0.05, 0.35), not in (0.2, 0.4)
    assert within["coverage"] == pytest.approx(2 / 3)
    assert np.isnan(within["person_mean_rmse"])  # not recorded in these results


def test_results_without_predictor_effects_give_an_empty_table():
    config = PowerConfig(persons=(40,), diaries=(5.0,))
    results = _results()[["task_id", "n_persons", "diaries", "effect", "error"]]
    table = predictor_table(results, config)
    assert table.empty and "power" in table.columns


def test_the_summary_says_what_the_fits_make_of_further_predictors():
    table = pd.DataFrame([{"n_persons": 40, "diaries": 5.0, "effect": 0.25, "failed": 0}])
    every = PowerConfig(design=TWO, every_predictor=True)
    assert "power, bias and coverage of each predictor" in describe_power(table, every)
    plain = PowerConfig(design=TWO)
    assert "--every-predictor" in describe_power(table, plain)
    assert "workload" not in describe_power(table, PowerConfig())


def test_the_command_passes_the_option_and_writes_the_predictor_table(monkeypatch, tmp_path):
    from ambidex_bayes.cli import main
    from ambidex_bayes.design import power as power_module

    seen = {}

    def fake_run(config, folder, **options):
        seen["config"] = config
        results = _results()
        for column, value in {
            "lower": 0.05, "mean": 0.25, "upper": 0.45, "p_positive": 0.99, "n_rows": 200,
            "rhat": 1.0, "ess_bulk": 400.0, "divergent": 0,
        }.items():  # fmt: skip
            results[column] = value
        return results

    monkeypatch.setattr(power_module, "run_power", fake_run)
    design = tmp_path / "two.toml"
    design.write_text(
        "likert = false\nmean_corr = [[1.0, 0.3], [0.3, 1.0]]\n"
        '[[predictors]]\nname = "workload"\ng10 = -0.3\ng02 = 0.4\nx_mean = 2.0\n'
    )
    out = tmp_path / "power"
    args = ["power", "--persons", "40", "--diaries", "5", "--sims", "4", "--out", str(out)]
    args += ["--design", str(design), "--centring", "latent", "--every-predictor"]
    assert main([*args, "--no-progress"]) == 0
    config = seen["config"]
    assert config.every_predictor and config.centring == "latent"
    assert config.design["mean_corr"] == [[1.0, 0.3], [0.3, 1.0]]
    written = pd.read_csv(out / "power_predictors.csv")
    assert written["parameter"].tolist() == ["uncertainty_cw", "workload_pm"]


@pytest.mark.fit
def test_a_small_run_with_two_latent_predictors_reports_each(tmp_path):
    pytest.importorskip("nutpie")
    config, results = small_latent_power(tmp_path, diaries=(4.0,), design=TWO, every_predictor=True)
    table = predictor_table(results, config)
    # both predictors' within and between effects, and the first one's interaction (the
    # ladder's M3 gives the further predictor none)
    assert table["parameter"].tolist() == [
        "uncertainty_cw",
        "uncertainty_pm",
        "uncertainty_cw:leader_support_c",
        "workload_cw",
        "workload_pm",
    ]
    assert (table["simulations"] == 1).all()
    truths = table.set_index("parameter")["truth"]
    assert truths["workload_pm"] == 0.4 and truths["workload_cw"] == -0.3
    assert table["power"].between(0, 1).all() and table["coverage"].isin([0.0, 1.0]).all()
    # the latent person means of each predictor lie near its true ones (SD 0.55 and 0.8)
    rmse = table.groupby("predictor")["person_mean_rmse"].first()
    assert 0 < rmse["uncertainty"] < 0.55 and 0 < rmse["workload"] < 0.8
    assert power_table(results, config).loc[0, "latent"] == 1.0
