"""Study design by simulation: power analysis and simulation-based calibration.

Both are many independent simulate-and-fit tasks (:mod:`.tasks`), run on a Dask cluster or
in this process (:mod:`.runner`) into a folder that survives interruption (:mod:`.store`).

- :func:`run_power` with a :class:`PowerConfig` (:mod:`.power`): power, interval width,
  bias and coverage of the cross-level interaction per cell of persons x diaries x effect,
  tabulated by :func:`power_table` and drawn by :func:`plot_power_curve` (:mod:`.plots`);
  the configuration's checks and each cell's design are in :mod:`.power_config`, every
  level-1 predictor's effects and their table in :mod:`.power_predictors`;
- :func:`run_sbc` with an :class:`SBCConfig` (:mod:`.sbc`): simulation-based calibration,
  its ranks (:func:`sbc_ranks`), their uniformity test (:func:`sbc_calibration`,
  :mod:`.sbc_stats`) and plots (:func:`plot_sbc_ecdf`, :func:`plot_rank_histograms`,
  :mod:`.sbc_plots`); with ``centring="latent"`` of the latent-centred model
  (:mod:`.sbc_latent`), both ranking their draws in :mod:`.sbc_draws`.

Power analyses fit with observed, latent or automatic person-mean centring
(``PowerConfig.centring``).
"""

from __future__ import annotations

from ambidex_bayes.design.plots import plot_power_curve
from ambidex_bayes.design.power import (
    PowerConfig,
    describe_power,
    power_table,
    power_tasks,
    run_power,
)
from ambidex_bayes.design.runner import RunInterrupted, run_tasks
from ambidex_bayes.design.sbc import SBCConfig, run_sbc, sbc_ranks, sbc_tasks
from ambidex_bayes.design.sbc_plots import plot_rank_histograms, plot_sbc_ecdf
from ambidex_bayes.design.sbc_stats import SBCCalibration, sbc_calibration
from ambidex_bayes.design.store import ResultStore, StoreError
from ambidex_bayes.design.tasks import Task, task_seed

__all__ = [
    "PowerConfig",
    "describe_power",
    "power_table",
    "power_tasks",
    "run_power",
    "plot_power_curve",
    "SBCConfig",
    "sbc_tasks",
    "run_sbc",
    "sbc_ranks",
    "SBCCalibration",
    "sbc_calibration",
    "plot_sbc_ecdf",
    "plot_rank_histograms",
    "RunInterrupted",
    "run_tasks",
    "ResultStore",
    "StoreError",
    "Task",
    "task_seed",
]
