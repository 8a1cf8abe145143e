"""Run simulation tasks on a Dask cluster (or in this process) into a result store.

The runner sends every task that the store does not hold yet to the workers, collects the
result rows as they finish (in whatever order), and writes them to the store in small
batches. An interrupted run (Ctrl-C, a killed process, a lost cluster) loses at most the
batch in flight; running it again with the same store resumes with the missing tasks only.

Schedulers
----------
``None`` (default)
    A :class:`distributed.LocalCluster` on this machine: one single-threaded worker process
    per core, talking over the loopback interface.
``"serial"``
    Every task in this process, one after the other (no Dask needed; for debugging and for
    small runs).
any other string
    The address of a running Dask scheduler, e.g. ``"tcp://10.0.0.5:8786"``; its workers
    need ambidex_bayes installed.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import pandas as pd

from ambidex_bayes.design.store import ResultStore
from ambidex_bayes.design.tasks import Task
from ambidex_bayes.engine.limits import check_workers
from ambidex_bayes.errors import AmbidexError, BackendUnavailableError

__all__ = ["run_tasks", "run_in_folder", "RunInterrupted", "SERIAL"]

#: Scheduler name that runs every task in this process.
SERIAL = "serial"

#: How long to wait for a remote scheduler to answer.
CONNECT_TIMEOUT = "20s"

#: Results are written when this many are waiting, or ...
BATCH_SIZE = 8
#: ... when the oldest waiting result is this many seconds old.
FLUSH_SECONDS = 5.0

Work = Callable[[Task], Mapping[str, Any]]


class RunInterrupted(AmbidexError):
    """The run stopped early; the results written so far are kept."""


#: Where a local cluster's scheduler serves HTTP (its health and metrics pages): a free
#: port chosen by the system.
LOCAL_HTTP_ADDRESS = "127.0.0.1:0"


def safe_run(task: Task, work: Work) -> dict[str, Any]:
    """Run one task and return its result row; a failure becomes a row with its message.

    The row holds ``task_id``, ``seed``, the task's parameters, ``error`` (empty when the
    task succeeded), ``seconds`` and whatever ``work`` returned. One failed simulation (a
    data set the model cannot fit) must not stop a run of hundreds.
    """
    start = time.perf_counter()
    row: dict[str, Any] = {"task_id": task.task_id, "seed": task.seed, **dict(task.params)}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            row.update(work(task))
        row["error"] = ""
    except Exception as err:  # recorded per task, reported in the summary
        last = traceback.extract_tb(err.__traceback__)[-1:]
        where = f" ({last[0].filename.rsplit('/', 1)[-1]}:{last[0].lineno})" if last else ""
        row["error"] = f"{type(err).__name__}: {err}{where}"
    row["seconds"] = round(time.perf_counter() - start, 3)
    return row


def _quiet_worker() -> None:
    """Silence the samplers' log lines on a worker (the run's progress bar speaks)."""
    import pymc  # noqa: F401  (importing it sets its log level, so import it first)

    for name in ("pymc", "pytensor", "nutpie", "numba", "jax"):
        logging.getLogger(name).setLevel(logging.ERROR)


@contextmanager
def _client(scheduler: str | None, n_workers: int | None) -> Iterator[Any]:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise BackendUnavailableError(
            "Running on a Dask cluster needs the 'dask' extra: "
            "pip install 'ambidex_bayes[dask]' (or use --scheduler serial)."
        ) from None
    if scheduler is None:
        workers = n_workers or os.cpu_count() or 1
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            # no dashboard; the scheduler's own HTTP server on a free port, not on 8787
            # (which another cluster may hold: Dask would then warn and move it)
            dashboard_address=LOCAL_HTTP_ADDRESS,
            scheduler_kwargs={"dashboard": False},
            silence_logs=logging.ERROR,
        )
        client = Client(cluster)
    else:
        cluster = None
        from dask.utils import parse_timedelta

        from ambidex_bayes.design.scheduler import probe_scheduler

        # a bounded check first: Client() itself can wait forever on a silent server
        probe_scheduler(scheduler, timeout=parse_timedelta(CONNECT_TIMEOUT))
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as err:
            raise AmbidexError(
                f"Cannot reach the Dask scheduler at {scheduler!r} ({err}). Check the address "
                "and that the scheduler is running, or leave --scheduler out for a local "
                "cluster."
            ) from None
    try:
        client.run(_quiet_worker)
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _check_scheduler(scheduler: str | None) -> None:
    """Refuse a scheduler address Dask cannot use before anything starts."""
    if scheduler is not None and scheduler != SERIAL:
        from ambidex_bayes.design.scheduler import check_scheduler_address

        check_scheduler_address(scheduler)


def _progress(total: int, initial: int, enabled: bool, desc: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, disable=not enabled, desc=desc, unit="fit")


def _serial_results(pending: Sequence[Task], work: Work) -> Iterator[dict[str, Any]]:
    _quiet_worker()
    for task in pending:
        yield safe_run(task, work)


def _cluster_results(client: Any, pending: Sequence[Task], work: Work) -> Iterator[dict]:
    from distributed import as_completed

    futures = client.map(
        safe_run, pending, work=work, pure=False, key=[f"task-{t.task_id}" for t in pending]
    )
    try:
        for future in as_completed(futures):
            yield future.result()
    finally:
        client.cancel(futures)


def run_tasks(
    tasks: Sequence[Task],
    work: Work,
    store: ResultStore,
    *,
    scheduler: str | None = None,
    n_workers: int | None = None,
    progressbar: bool = True,
    description: str = "simulations",
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> pd.DataFrame:
    """Run every task whose result ``store`` lacks and return all stored results.

    Parameters
    ----------
    tasks : sequence of Task
        The whole run (tasks already stored are skipped).
    work : callable
        ``work(task) -> mapping`` of result values; must be picklable (a module-level
        function, or :func:`functools.partial` of one) for a cluster.
    store : ResultStore
    scheduler : str, optional
        ``None`` for a local cluster, ``"serial"`` for this process, or a scheduler address.
    n_workers : int, optional
        Workers of the local cluster (default: one per core).
    progressbar : bool
    description : str
        Label of the progress bar.
    on_result : callable, optional
        Called with every result row as it arrives (after it is queued for writing).

    Returns
    -------
    pandas.DataFrame
        Every stored row, sorted by ``task_id``.

    Raises
    ------
    RunInterrupted
        On Ctrl-C: the results that arrived are written first, and the message says how to
        resume.
    """
    if n_workers is not None:
        check_workers(n_workers)
    _check_scheduler(scheduler)
    ids = [t.task_id for t in tasks]
    if len(set(ids)) != len(ids):
        raise AmbidexError("task ids must be unique within a run.")
    done = store.done_ids() & set(ids)
    pending = [t for t in tasks if t.task_id not in done]
    buffer: list[dict[str, Any]] = []
    oldest = time.monotonic()
    bar = _progress(len(tasks), len(done), progressbar, description)

    def flush() -> None:
        store.append(buffer)
        buffer.clear()

    try:
        if pending:
            with _results(scheduler, n_workers, pending, work) as results:
                for row in results:
                    if not buffer:
                        oldest = time.monotonic()
                    buffer.append(row)
                    bar.update(1)
                    if len(buffer) >= BATCH_SIZE or time.monotonic() - oldest >= FLUSH_SECONDS:
                        flush()
                    if on_result is not None:
                        on_result(row)
    except KeyboardInterrupt:
        flush()
        stored = len(store.done_ids() & set(ids))
        raise RunInterrupted(
            f"Interrupted: {stored} of {len(tasks)} results are saved in {store.folder}. "
            "Run the same command again to resume with the missing ones."
        ) from None
    finally:
        if buffer:
            flush()
        bar.close()
    return store.read()


@contextmanager
def _results(
    scheduler: str | None, n_workers: int | None, pending: Sequence[Task], work: Work
) -> Iterator[Iterator[dict[str, Any]]]:
    if scheduler == SERIAL:
        yield _serial_results(pending, work)
        return
    with _client(scheduler, n_workers) as client:
        yield _cluster_results(client, pending, work)


def run_in_folder(
    folder: str | os.PathLike,
    *,
    kind: str,
    config: Any,
    tasks: Sequence[Task],
    work: Work,
    restart: bool = False,
    scheduler: str | None = None,
    n_workers: int | None = None,
    progressbar: bool = True,
    verbose: bool = True,
) -> pd.DataFrame:
    """Run a study-design run into its result folder, resuming what is stored there.

    Opens (or creates) the :class:`ResultStore` of ``config`` in ``folder``, says how many
    results it already holds (with ``verbose``), and runs the missing ``tasks`` with
    :func:`run_tasks`. ``config`` is the run's configuration object (with ``to_dict``).
    """
    _check_scheduler(scheduler)
    store = ResultStore(folder, kind=kind, config=config.to_dict(), restart=restart)
    done = len(store.done_ids() & {t.task_id for t in tasks})
    if done and verbose:
        print(f"Resuming: {done} of {len(tasks)} simulations are already in {folder}.")
    return run_tasks(
        tasks,
        work,
        store,
        scheduler=scheduler,
        n_workers=n_workers,
        progressbar=progressbar,
        description=kind,
    )
