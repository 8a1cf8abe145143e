"""Study design by simulation: power analysis and simulation-based calibration.

Both are many independent simulate-and-fit tasks (:mod:`.tasks`), run on a Dask cluster or
in this process (:mod:`.runner`) into a folder that survives interruption (:mod:`.store`).
"""

from __future__ import annotations

from ambidex_bayes.design.power import PowerConfig, describe_power, power_table, power_tasks
from ambidex_bayes.design.runner import RunInterrupted, run_tasks
from ambidex_bayes.design.store import ResultStore, StoreError
from ambidex_bayes.design.tasks import Task, task_seed

__all__ = [
    "PowerConfig",
    "describe_power",
    "power_table",
    "power_tasks",
    "RunInterrupted",
    "run_tasks",
    "ResultStore",
    "StoreError",
    "Task",
    "task_seed",
]
