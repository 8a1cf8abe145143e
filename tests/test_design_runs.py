"""Real simulate-and-fit runs: a local two-worker cluster, interruption, and SBC verdicts."""

from __future__ import annotations

import pandas as pd
import pytest

from ambidex_bayes.design import PowerConfig, ResultStore, RunInterrupted, power_tasks, run_tasks
from ambidex_bayes.design.power import power_table, power_work
from ambidex_bayes.design.sbc import SBCConfig, sbc_ranks, sbc_tasks, sbc_work
from ambidex_bayes.design.sbc_stats import sbc_calibration

pytestmark = pytest.mark.fit

#: What a task computes (timings and order of arrival aside).
RESULT_COLUMNS = ["task_id", "seed", "mean", "sd", "lower", "upper", "p_positive", "n_rows"]


@pytest.fixture(scope="module")
def tiny_power():
    pytest.importorskip("nutpie")
    return PowerConfig(
        persons=(20, 30),
        diaries=(3.0,),
        effects=(0.25,),
        simulations=3,
        backend="nutpie",
        draws=100,
        tune=100,
        chains=2,
        seed=5,
    )


@pytest.mark.slow
def test_cluster_run_equals_an_interrupted_and_resumed_serial_run(tiny_power, tmp_path):
    """Two workers over loopback, and one process stopped half-way then resumed, give the
    same results row for row: each task's seed is its own, not the worker's."""
    pytest.importorskip("distributed")
    tasks = power_tasks(tiny_power)
    work = power_work(tiny_power)
    config = tiny_power.to_dict()

    on_cluster = run_tasks(
        tasks,
        work,
        ResultStore(tmp_path / "cluster", kind="power", config=config),
        n_workers=2,
        progressbar=False,
    )
    assert (on_cluster["error"] == "").all(), on_cluster["error"].tolist()
    assert len(on_cluster) == 6

    arrived = []

    def stop_half_way(row):
        arrived.append(row)
        if len(arrived) == 3:
            raise KeyboardInterrupt

    cut = tmp_path / "cut"
    with pytest.raises(RunInterrupted, match="3 of 6 results are saved"):
        run_tasks(
            tasks,
            work,
            ResultStore(cut, kind="power", config=config),
            scheduler="serial",
            progressbar=False,
            on_result=stop_half_way,
        )
    resumed = run_tasks(
        tasks,
        work,
        ResultStore(cut, kind="power", config=config),
        scheduler="serial",
        progressbar=False,
    )
    pd.testing.assert_frame_equal(resumed[RESULT_COLUMNS], on_cluster[RESULT_COLUMNS])
    pd.testing.assert_frame_equal(
        power_table(resumed, tiny_power), power_table(on_cluster, tiny_power)
    )


def _sbc(tmp_path, fit_priors):
    pytest.importorskip("nutpie")
    config = SBCConfig(
        simulations=40,
        design={"n_persons": 30},
        fit_priors=fit_priors,
        backend="nutpie",
        draws=150,
        tune=200,
        chains=2,
        rank_draws=29,
        # a correct model fails the family-wise test with probability alpha = 0.05 for a
        # given seed; seed 11 is such a case (its prior draws of the person intercepts
        # average 2.5 standard errors below zero), so the test uses another fixed seed
        seed=12,
    )
    store = ResultStore(tmp_path, kind="sbc", config=config.to_dict())
    results = run_tasks(
        sbc_tasks(config), sbc_work(config), store, scheduler="serial", progressbar=False
    )
    assert (results["error"] == "").all(), results["error"].tolist()
    return sbc_calibration(sbc_ranks(results), config.rank_draws)


@pytest.mark.slow
def test_sbc_passes_for_the_correct_model(tmp_path):
    calibration = _sbc(tmp_path, fit_priors=None)
    assert calibration.calibrated, calibration.verdict
    assert len(calibration.table) == 11  # 5 fixed, 2 SDs, correlation, sigma, 2 person effects


@pytest.mark.slow
def test_sbc_fails_when_the_fit_prior_differs_from_the_simulation_prior(tmp_path):
    """Data simulated with a wide interaction prior, fitted with a narrow (sceptical) one:
    the posteriors of the interaction are pulled toward 0, so its ranks pile at the ends."""
    calibration = _sbc(tmp_path, fit_priors="sceptical")
    assert not calibration.calibrated
    failing = set(calibration.table.loc[~calibration.table["passes"], "parameter"])
    assert "uncertainty_cw:leader_support_c" in failing
    assert "Not calibrated" in calibration.verdict
