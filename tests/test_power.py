"""Power tables from stored results (no fits), configuration checks, tasks and the figure."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ambidex_bayes.design.plots import plot_power_curve
from ambidex_bayes.design.power import (
    PowerConfig,
    cell_design,
    describe_power,
    power_table,
    power_tasks,
)
from ambidex_bayes.errors import SpecError


def fake_results(config: PowerConfig, intervals: dict) -> pd.DataFrame:
    """Rows as run_power_task stores them, with chosen (lower, mean, upper) per cell."""
    rows = []
    for (n, d, e), cells in intervals.items():
        for r, (lower, mean, upper, p_pos) in enumerate(cells):
            rows.append(
                {
                    "task_id": f"{n}-{d}-{e}-{r}",
                    "n_persons": n,
                    "diaries": d,
                    "effect": e,
                    "replicate": r,
                    "lower": lower,
                    "mean": mean,
                    "upper": upper,
                    "p_positive": p_pos,
                    "n_rows": n * 4,
                    "rhat": 1.0,
                    "ess_bulk": 400.0,
                    "max_rhat": 1.0,
                    "min_ess_bulk": 500.0,
                    "divergent": 0,
                    "error": "",
                }
            )
    return pd.DataFrame(rows)


def test_power_table_closed_form():
    config = PowerConfig(persons=(40, 97), diaries=(4.0,), effects=(0.25,), simulations=4)
    results = fake_results(
        config,
        {
            (40, 4.0, 0.25): [
                (-0.1, 0.10, 0.30, 0.80),  # covers 0 and the truth
                (0.05, 0.20, 0.35, 0.99),  # excludes 0, covers the truth
                (0.30, 0.40, 0.50, 1.00),  # excludes 0, misses the truth
                (-0.2, 0.00, 0.20, 0.50),
            ],
            (97, 4.0, 0.25): [(0.1, 0.25, 0.4, 0.999)] * 4,
        },
    )
    table = power_table(results, config)
    small = table.iloc[0]
    assert small["simulations"] == 4 and small["failed"] == 0
    assert small["power"] == pytest.approx(0.5)
    assert small["power_se"] == pytest.approx(math.sqrt(0.5 * 0.5 / 4))
    assert small["power_prob"] == pytest.approx(0.5)  # 0.99 and 1.00 reach 0.95
    assert small["mean_width"] == pytest.approx((0.4 + 0.3 + 0.2 + 0.4) / 4)
    assert small["bias"] == pytest.approx(np.mean([0.1, 0.2, 0.4, 0.0]) - 0.25)
    assert small["rmse"] == pytest.approx(
        math.sqrt(np.mean(np.square(np.array([0.1, 0.2, 0.4, 0.0]) - 0.25)))
    )
    assert small["coverage"] == pytest.approx(0.5)
    big = table.iloc[1]
    assert big["power"] == 1.0 and big["power_se"] == 0.0 and big["bias"] == pytest.approx(0.0)
    text = describe_power(table, config)
    assert "80% power first reached with 97 persons" in text


def test_failed_fits_are_counted_not_used():
    config = PowerConfig(persons=(40,), diaries=(4.0,), effects=(0.25,), simulations=3)
    results = fake_results(config, {(40, 4.0, 0.25): [(0.1, 0.2, 0.3, 0.99)] * 3})
    results.loc[2, ["lower", "mean", "upper", "p_positive"]] = np.nan
    results.loc[2, "error"] = "ModelError: broken"
    row = power_table(results, config).iloc[0]
    assert row["simulations"] == 2 and row["failed"] == 1 and row["power"] == 1.0
    assert "1 fits failed" in describe_power(power_table(results, config), config)


def test_a_grid_where_every_fit_failed_is_described_not_a_traceback():
    config = PowerConfig(persons=(40,), diaries=(4.0,), effects=(0.25,), simulations=2)
    results = fake_results(config, {(40, 4.0, 0.25): [(0.1, 0.2, 0.3, 0.99)] * 2})
    results[["lower", "mean", "upper", "p_positive"]] = np.nan
    results["error"] = "ModelError: broken"
    table = power_table(results, config)
    assert "power" not in table and int(table["failed"].sum()) == 2
    text = describe_power(table, config)
    assert "Effect 0.25: no cell of the grid reaches 80% power." in text
    assert "2 fits failed" in text


def test_negative_effects_count_intervals_below_zero():
    config = PowerConfig(persons=(40,), diaries=(4.0,), effects=(-0.25,), simulations=2)
    results = fake_results(
        config, {(40, 4.0, -0.25): [(-0.4, -0.25, -0.1, 0.001), (-0.3, -0.1, 0.1, 0.2)]}
    )
    assert power_table(results, config).iloc[0]["power"] == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"persons": (1,)}, "persons must be whole numbers of at least 2"),
        ({"diaries": (1.0,)}, "mean diaries per person must be above 1"),
        ({"simulations": 0}, "simulations must be a whole number"),
        ({"level": 1.0}, "level must lie in"),
        ({"design": {"g11": 0.3}}, "set by the grid; use persons, diaries and effects"),
    ],
)
def test_bad_configuration_is_refused(kwargs, message):
    with pytest.raises(SpecError, match=message):
        PowerConfig(**kwargs)


def test_config_round_trips_through_json_form():
    config = PowerConfig(persons=[40, 97], diaries=[4.2], effects=[0.1, 0.25], design={"tau1": 0.2})
    assert PowerConfig.from_dict(config.to_dict()) == config


def test_tasks_cover_the_grid_with_distinct_seeds():
    config = PowerConfig(persons=(40, 97), diaries=(3.0, 6.0), effects=(0.25,), simulations=5)
    tasks = power_tasks(config)
    assert len(tasks) == 2 * 2 * 1 * 5
    assert len({t.task_id for t in tasks}) == len(tasks)
    assert len({t.seed for t in tasks}) == len(tasks)
    # a task's seed depends on its cell and replicate, not on the rest of the grid
    other = PowerConfig(persons=(97,), diaries=(6.0,), effects=(0.25,), simulations=5)
    seeds = {t.task_id: t.seed for t in tasks}
    assert all(seeds[t.task_id] == t.seed for t in power_tasks(other))


def test_cell_design_sets_the_grid_values():
    config = PowerConfig(design={"tau1": 0.2})
    design = cell_design(config, 150, 9.0, 0.4)
    assert (design.n_persons, design.diaries_mean, design.g11, design.tau1) == (150, 9.0, 0.4, 0.2)
    assert design.diaries_max >= 18  # room for the count to vary around its mean


def test_power_curve_has_one_panel_per_effect():
    config = PowerConfig(persons=(40, 97), diaries=(4.0,), effects=(0.1, 0.25), simulations=2)
    cells = {
        (n, 4.0, e): [(0.1, 0.2, 0.3, 0.99), (-0.1, 0.1, 0.3, 0.8)]
        for n in (40, 97)
        for e in (0.1, 0.25)
    }
    fig = plot_power_curve(power_table(fake_results(config, cells), config))
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["interaction = 0.1", "interaction = 0.25"]
    with pytest.raises(Exception, match="lacks"):
        plot_power_curve(pd.DataFrame({"n_persons": [1]}))


def test_sbc_ranks_explains_when_every_simulation_failed():
    from ambidex_bayes.design.sbc import sbc_ranks
    from ambidex_bayes.errors import ModelError

    results = pd.DataFrame(
        {"task_id": ["a", "b"], "simulation": [0, 1], "error": ["SpecError: bad prior", "x"]}
    )
    with pytest.raises(ModelError, match="None of the 2 simulations succeeded.*bad prior"):
        sbc_ranks(results)


def test_sbc_ranks_long_form_keeps_parameter_order_and_drops_failures():
    from ambidex_bayes.design.sbc import sbc_ranks

    results = pd.DataFrame(
        {
            "task_id": ["a", "b", "c"],
            "simulation": [0, 1, 2],
            "rank__sigma": [3, 5, np.nan],
            "rank__Intercept": [1, 2, np.nan],
            "error": ["", "", "ModelError: failed"],
        }
    )
    long = sbc_ranks(results)
    assert list(long["parameter"]) == ["sigma", "sigma", "Intercept", "Intercept"]
    assert list(long["rank"]) == [3, 5, 1, 2]


def test_flagged_counts_the_interactions_own_diagnostics_and_divergences():
    config = PowerConfig(persons=(40,), diaries=(4.0,), effects=(0.25,), simulations=4)
    results = fake_results(config, {(40, 4.0, 0.25): [(0.1, 0.2, 0.3, 0.99)] * 4})
    results.loc[0, "rhat"] = 1.05  # the interaction mixed badly
    results.loc[1, "divergent"] = 2
    results.loc[2, ["max_rhat", "min_ess_bulk"]] = (1.2, 20.0)  # another parameter: not flagged
    results.loc[3, "ess_bulk"] = 50.0  # too few effective draws of the interaction
    assert power_table(results, config).iloc[0]["flagged"] == pytest.approx(0.75)


def test_sbc_refuses_priors_that_scale_with_the_data():
    import json

    from ambidex_bayes.design.sbc import SBCConfig, _template

    config = SBCConfig(priors="default", design={"n_persons": 20})
    with pytest.raises(SpecError, match="SBC needs priors that do not depend on the data"):
        _template(json.dumps(config.to_dict(), sort_keys=True))


def test_sbc_command_reads_stored_ranks_and_strict_fails_on_miscalibration(tmp_path, capsys):
    """The command resumes from a complete store (no fits), writes its files, and with
    --strict exits 3 when the ranks pile at both ends (posteriors too narrow)."""
    from ambidex_bayes.cli import main
    from ambidex_bayes.design import ResultStore
    from ambidex_bayes.design.sbc import SBCConfig, sbc_tasks

    config = SBCConfig(
        simulations=60, design={"n_persons": 97}, draws=500, tune=500, chains=2, rank_draws=99
    )
    rng = np.random.default_rng(0)
    rows = [
        {
            "task_id": t.task_id,
            "simulation": t.params["simulation"],
            "rank__sigma": int(rng.integers(0, 100)),
            "rank__Intercept": int(rng.choice([0, 1, 98, 99])),  # too narrow
            "error": "",
        }
        for t in sbc_tasks(config)
    ]
    out = tmp_path / "sbc"
    ResultStore(out, kind="sbc", config=config.to_dict()).append(rows)
    args = ["sbc", "--sims", "60", "--out", str(out), "--scheduler", "serial", "--no-progress"]
    assert main(args) == 0
    assert main([*args, "--strict"]) == 3
    printed = capsys.readouterr().out
    assert "Resuming: 60 of 60" in printed and "Not calibrated" in printed
    table = pd.read_csv(out / "sbc_table.csv")
    assert table.set_index("parameter").loc["Intercept", "passes"] == False  # noqa: E712
    assert (out / "sbc_ecdf.png").stat().st_size > 5000


def test_unknown_design_field_is_refused_before_anything_runs():
    with pytest.raises(
        SpecError, match="unknown design field 'tau_1' \\(did you mean 'tau1'\\?\\)"
    ):
        PowerConfig(design={"tau_1": 0.2})
    from ambidex_bayes.design.sbc import SBCConfig

    with pytest.raises(SpecError, match="rho"):
        SBCConfig(design={"rho": 3.0})


def test_set_option_changes_the_design_of_the_run(tmp_path):
    from ambidex_bayes.cli import build_parser
    from ambidex_bayes.commands._simulation import design_overrides

    args = build_parser().parse_args(
        ["power", "--set", "tau1=0.15", "--set", "icc=0.3", "--set", "likert=none"]
    )
    assert design_overrides(args) == {"tau1": 0.15, "icc": 0.3, "likert": None}
    config = PowerConfig(design=design_overrides(args))
    design = cell_design(config, 50, 4.0, 0.2)
    assert (design.tau1, design.icc, design.likert, design.g11) == (0.15, 0.3, None, 0.2)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["sbc", "--set", "tau1"])


class _Fitted(Exception):
    """Raised by a stand-in fit, carrying the centring it was asked for."""


def test_power_and_sbc_fit_one_model_for_every_data_set(monkeypatch):
    """The bundled M3's own centring, "auto", would choose per data set; power and SBC fit
    observed centring unless their configuration asks for another."""
    from ambidex_bayes.data import ColumnMapping, load_diary
    from ambidex_bayes.design import power, sbc
    from ambidex_bayes.design.power import _spec
    from ambidex_bayes.design.tasks import Task
    from ambidex_bayes.prepare import prepare
    from ambidex_bayes.simulate import reference_design, simulate_diary
    from ambidex_bayes.spec import load_spec

    assert load_spec("M3").centring == "auto"
    study = simulate_diary(reference_design(n_persons=15), seed=2)
    prepared = prepare(load_diary(study.data, ColumnMapping.from_dict(study.mapping)))
    assert _spec(PowerConfig(persons=(15,)), prepared).centring == "observed"

    def fake_fit(*args, centring=None, **kwargs):
        raise _Fitted(centring)

    monkeypatch.setattr(sbc, "fit_simulated", fake_fit)
    config = sbc.SBCConfig(simulations=1, design={"n_persons": 15}, draws=100, chains=1)
    task = Task(task_id="sim-0", seed=3, params={})
    with pytest.raises(_Fitted) as asked:
        sbc.run_sbc_task(task, config)
    assert asked.value.args == ("observed",)
    monkeypatch.setattr(power, "fit_simulated", fake_fit)
    for centring in (None, "auto"):
        config = PowerConfig(persons=(15,), simulations=1, centring=centring)
        with pytest.raises(_Fitted) as asked:
            power.run_power_task(power.power_tasks(config)[0], config)
        spec_centring = _spec(config, prepared).centring
        assert (asked.value.args[0] or spec_centring) == (centring or "observed")
