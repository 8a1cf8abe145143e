"""Seeds, the result store and the runner, with a cheap stand-in for the fits."""

from __future__ import annotations

import json
from functools import partial

import numpy as np
import pandas as pd
import pytest

from ambidex_bayes.design import ResultStore, RunInterrupted, StoreError, Task, run_tasks
from ambidex_bayes.design.tasks import task_seed


def draw_numbers(task: Task, *, fail_on: frozenset = frozenset()) -> dict:
    """A stand-in for simulate-and-fit: numbers from the task's own seed."""
    if task.params["i"] in fail_on:
        raise ValueError(f"cannot fit data set {task.params['i']}")
    rng = np.random.default_rng(task.seed)
    return {"value": float(rng.normal()), "count": int(rng.integers(0, 100))}


def make_tasks(n: int, base_seed: int = 3) -> list[Task]:
    return [Task(f"t{i:03d}", task_seed(base_seed, "test", i), {"i": i}) for i in range(n)]


def test_task_seed_depends_on_identity_not_order():
    assert task_seed(1, "power", 97, 4.2, 0.25, 3) == task_seed(1, "power", 97, 4.2, 0.25, 3)
    seeds = {task_seed(1, "power", 97, 4.2, 0.25, r) for r in range(1000)}
    assert len(seeds) == 1000
    assert task_seed(1, "x", 0) != task_seed(2, "x", 0)
    assert 0 <= task_seed(2**40, "x") < 2**63


def test_task_seed_is_stable_across_versions():
    # a fixed value: seeds must not change between releases (stored runs resume with them)
    assert task_seed(20261126, "sbc", 0) == task_seed(20261126, "sbc", 0)
    first = task_seed(20261126, "sbc", 0)
    import hashlib

    digest = int.from_bytes(hashlib.sha256(repr(("sbc", 0)).encode()).digest()[:16], "little")
    low, high = np.random.SeedSequence([20261126, digest]).generate_state(2, dtype=np.uint32)
    assert first == (int(high) << 32 | int(low)) >> 1


def test_store_appends_parts_and_reads_them_back(tmp_path):
    store = ResultStore(tmp_path / "run", kind="power", config={"a": 1})
    store.append([{"task_id": "b", "x": 2.0}, {"task_id": "a", "x": 1.0}])
    store.append([{"task_id": "c", "x": 3.0}])
    assert sorted(p.name for p in (tmp_path / "run").glob("part-*.parquet")) == [
        "part-000001.parquet",
        "part-000002.parquet",
    ]
    again = ResultStore(tmp_path / "run", kind="power", config={"a": 1})
    table = again.read()
    assert list(table["task_id"]) == ["a", "b", "c"]
    assert list(table["x"]) == [1.0, 2.0, 3.0]
    assert again.done_ids() == {"a", "b", "c"}
    again.append([{"task_id": "d", "x": 4.0}])
    assert (tmp_path / "run" / "part-000003.parquet").exists()  # numbering continues


def test_store_refuses_another_run(tmp_path):
    ResultStore(tmp_path, kind="power", config={"sims": 10, "seed": 1})
    with pytest.raises(StoreError, match=r"other settings \(differing: sims\).*--restart"):
        ResultStore(tmp_path, kind="power", config={"sims": 20, "seed": 1})
    with pytest.raises(StoreError, match="holds a 'power' run, not a 'sbc' run"):
        ResultStore(tmp_path, kind="sbc", config={"sims": 10, "seed": 1})


def test_store_config_with_tuples_resumes(tmp_path):
    ResultStore(tmp_path, kind="power", config={"persons": (40, 97)})
    ResultStore(tmp_path, kind="power", config={"persons": (40, 97)})  # JSON turns it to a list


def test_store_refuses_a_foreign_folder(tmp_path):
    (tmp_path / "thesis.docx").write_text("important")
    with pytest.raises(StoreError, match="not a result folder"):
        ResultStore(tmp_path, kind="power", config={})
    assert (tmp_path / "thesis.docx").read_text() == "important"


def test_restart_deletes_only_the_run(tmp_path):
    store = ResultStore(tmp_path, kind="power", config={"sims": 10})
    store.append([{"task_id": "a", "x": 1.0}])
    (tmp_path / "power_table.csv").write_text("kept")
    fresh = ResultStore(tmp_path, kind="power", config={"sims": 20}, restart=True)
    assert fresh.done_ids() == set()
    assert (tmp_path / "power_table.csv").read_text() == "kept"
    assert json.loads((tmp_path / "run.json").read_text())["config"] == {"sims": 20}


def test_leftover_temporary_files_are_ignored(tmp_path):
    store = ResultStore(tmp_path, kind="power", config={})
    store.append([{"task_id": "a", "x": 1.0}])
    (tmp_path / ".part-000002.parquet.abc.tmp").write_bytes(b"half a file")
    assert ResultStore(tmp_path, kind="power", config={}).done_ids() == {"a"}


def test_failed_write_leaves_no_part(tmp_path, monkeypatch):
    store = ResultStore(tmp_path, kind="power", config={})

    def broken(self, path, **kwargs):
        path.write_bytes(b"PAR1 partial")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", broken)
    with pytest.raises(OSError, match="disk full"):
        store.append([{"task_id": "a", "x": 1.0}])
    assert not list(tmp_path.glob("part-*")) and not list(tmp_path.glob(".*.tmp"))


def test_serial_run_records_failures_and_keeps_going(tmp_path):
    tasks = make_tasks(6)
    store = ResultStore(tmp_path, kind="test", config={})
    work = partial(draw_numbers, fail_on=frozenset({2}))
    table = run_tasks(tasks, work, store, scheduler="serial", progressbar=False)
    assert len(table) == 6
    failed = table[table["error"] != ""]
    assert list(failed["task_id"]) == ["t002"]
    assert failed["error"].iloc[0].startswith("ValueError: cannot fit data set 2")
    ok = table[table["error"] == ""]
    expected = [draw_numbers(t)["value"] for t in tasks if t.params["i"] != 2]
    np.testing.assert_array_equal(ok["value"].to_numpy(), expected)


def test_interrupted_run_resumes_to_the_uninterrupted_table(tmp_path):
    tasks = make_tasks(20)
    full = run_tasks(
        tasks,
        draw_numbers,
        ResultStore(tmp_path / "full", kind="t", config={}),
        scheduler="serial",
        progressbar=False,
    )
    store = ResultStore(tmp_path / "cut", kind="t", config={})
    seen = []

    def stop_after_seven(row):
        seen.append(row["task_id"])
        if len(seen) == 7:
            raise KeyboardInterrupt

    with pytest.raises(RunInterrupted, match="7 of 20 results are saved"):
        run_tasks(
            tasks,
            draw_numbers,
            store,
            scheduler="serial",
            progressbar=False,
            on_result=stop_after_seven,
        )
    assert len(ResultStore(tmp_path / "cut", kind="t", config={}).done_ids()) == 7
    computed = []
    resumed = run_tasks(
        tasks,
        draw_numbers,
        ResultStore(tmp_path / "cut", kind="t", config={}),
        scheduler="serial",
        progressbar=False,
        on_result=lambda row: computed.append(row),
    )
    assert len(computed) == 13  # only the missing ones
    columns = ["task_id", "seed", "i", "value", "count", "error"]
    pd.testing.assert_frame_equal(resumed[columns], full[columns])


def test_duplicate_task_ids_are_refused(tmp_path):
    tasks = make_tasks(2) + make_tasks(1)
    with pytest.raises(Exception, match="unique"):
        run_tasks(
            tasks,
            draw_numbers,
            ResultStore(tmp_path, kind="t", config={}),
            scheduler="serial",
            progressbar=False,
        )


def test_unreachable_scheduler_message(tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    from ambidex_bayes.design import runner

    monkeypatch.setattr(runner, "CONNECT_TIMEOUT", "2s")
    with pytest.raises(Exception, match="Cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'"):
        run_tasks(
            make_tasks(1),
            draw_numbers,
            ResultStore(tmp_path, kind="t", config={}),
            scheduler="tcp://127.0.0.1:9",
            progressbar=False,
        )


def draw_numbers_slowly(task: Task) -> dict:
    """The stand-in, taking a little time (so that a run can be killed in the middle)."""
    import time

    time.sleep(0.02)
    return draw_numbers(task)


def test_a_killed_process_resumes_to_the_uninterrupted_table(tmp_path):
    """SIGKILL (no chance to clean up) in the middle of a run; the next run completes it."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    script = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from test_design_store import draw_numbers_slowly, make_tasks\n"
        "from ambidex_bayes.design import ResultStore, run_tasks\n"
        "run_tasks(make_tasks(400), draw_numbers_slowly,\n"
        "          ResultStore(sys.argv[2], kind='t', config={}),\n"
        "          scheduler='serial', progressbar=False)\n"
    )
    folder = tmp_path / "killed"
    tests_dir = str(Path(__file__).resolve().parent)
    process = subprocess.Popen([sys.executable, "-c", script, tests_dir, str(folder)])
    deadline = time.monotonic() + 120
    while not len(list(folder.glob("part-*.parquet"))) >= 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    stored = len(ResultStore(folder, kind="t", config={}).done_ids())
    assert 0 < stored < 400  # killed in the middle

    tasks = make_tasks(400)
    resumed = run_tasks(
        tasks,
        draw_numbers,
        ResultStore(folder, kind="t", config={}),
        scheduler="serial",
        progressbar=False,
    )
    full = run_tasks(
        tasks,
        draw_numbers,
        ResultStore(tmp_path / "full", kind="t", config={}),
        scheduler="serial",
        progressbar=False,
    )
    columns = ["task_id", "seed", "i", "value", "count", "error"]
    pd.testing.assert_frame_equal(resumed[columns], full[columns])
