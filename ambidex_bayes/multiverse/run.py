"""Run a multiverse on the Dask runner of :mod:`ambidex_bayes.design` and tabulate it.

Every cell of the grid (:mod:`.grid`) is one task of :func:`ambidex_bayes.design.run_tasks`:
on a local cluster by default, in this process with ``scheduler="serial"``, or on a running
Dask scheduler. Rows are written to a result folder as they arrive, so an interrupted run
resumes with the missing cells only. The inputs are checked here first, so a misspelt
prior set or a missing file fails in a second, not in every task.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ambidex_bayes.errors import SpecError
from ambidex_bayes.multiverse.cells import ESTIMATES, STATS, run_cell
from ambidex_bayes.multiverse.grid import MultiverseConfig, multiverse_cells, multiverse_tasks

if TYPE_CHECKING:
    from ambidex_bayes.data import DiaryData
    from ambidex_bayes.spec import ModelSpec

__all__ = ["KIND", "TABLE_COLUMNS", "check_inputs", "run_multiverse", "multiverse_table"]

#: The kind of result folder a multiverse writes (see :class:`ambidex_bayes.design.ResultStore`).
KIND = "multiverse"

#: Columns of :func:`multiverse_table`, in order.
TABLE_COLUMNS: tuple[str, ...] = (
    "cell",
    "dataset",
    "priors",
    "centring",
    "centring_used",
    "controls",
    "detrend",
    "standardize",
    "spec",
    "units",
    "n_persons",
    "n_rows",
    *(f"{key}_{stat}" for key in ESTIMATES for stat in STATS),
    "max_rhat",
    "min_ess_bulk",
    "divergent",
    "converged",
    "checks",
    "error",
    "seconds",
)


def check_inputs(config: MultiverseConfig) -> None:
    """Check every input of the grid before anything runs.

    Each data file is read, validated and prepared; each prior set is read and resolved
    against it; the spec is read and built on it, and must have a within-person slope; a
    grid with controls needs data sets whose mappings name controls; with latent centring
    in the grid, latent centring must be able to fit every latent cell (its data set,
    controls, detrending and standardising).

    Raises
    ------
    AmbidexError
        (a :class:`~ambidex_bayes.errors.SpecError`, ``DataError``, ...) naming the input.
    """
    from ambidex_bayes.data import load_diary
    from ambidex_bayes.model.build import build_model
    from ambidex_bayes.prepare import prepare
    from ambidex_bayes.priors.sets import load_prior_set, read_prior_set
    from ambidex_bayes.spec import load_spec

    spec = load_spec(config.spec)
    prior_sets = [read_prior_set(p) for p in config.priors]
    for dataset in config.datasets:
        if not Path(dataset.path).is_file():
            raise SpecError(f"{dataset.path}: no such data file.")
        diary = load_diary(dataset.path, dataset.column_mapping(), sheet=dataset.sheet)
        if True in config.controls and not diary.mapping.controls:
            raise SpecError(
                f"{dataset.name}: the grid has cells with controls, but the column mapping "
                "names no controls. Add them to the mapping ('controls = [...]'), or leave "
                "controls out of the grid."
            )
        prepared = prepare(diary)
        for prior_set in prior_sets:
            load_prior_set(prior_set, prepared=prepared)
        if "latent" in config.centring:
            _check_latent_cells(config, spec, diary, dataset.name)
        built = build_model(spec, prepared)
        if built.terms.slope is None:
            raise SpecError(
                f"{spec.source}: the model has no within-person slope; a multiverse compares "
                "the slope and its cross-level interaction, so choose a spec with both "
                "(e.g. M3)."
            )


def _check_latent_cells(
    config: MultiverseConfig, spec: ModelSpec, diary: DiaryData, name: str
) -> None:
    """Refuse a grid with a latent cell that latent centring cannot fit (SpecError naming
    the cell's choices and the reason)."""
    from ambidex_bayes.centring import latent_unavailable_reason
    from ambidex_bayes.prepare import prepare

    for controls, detrend, standardize in itertools.product(
        config.controls, config.detrend, config.standardize
    ):
        prepared = prepare(diary, detrend=detrend, standardize=standardize)
        cell_spec = dataclasses.replace(spec, include_controls=controls)
        reason = latent_unavailable_reason(cell_spec, prepared)
        if reason is not None:
            raise SpecError(
                f"{name}: latent centring cannot fit {spec.name} with controls={controls}, "
                f"detrend={detrend}, standardize={standardize}: {reason}. Use centring "
                "'auto' (latent only where it can fit) or 'observed' for those choices."
            )


def multiverse_table(results: pd.DataFrame, config: MultiverseConfig) -> pd.DataFrame:
    """One row per cell, in grid order: its choices, key estimates and convergence.

    Parameters
    ----------
    results : DataFrame
        The stored rows of a run (one per finished cell, keyed by ``task_id``).
    config : MultiverseConfig

    Returns
    -------
    DataFrame
        Columns :data:`TABLE_COLUMNS`: ``cell`` (its id) and its choices (``dataset,
        priors, centring, controls, detrend, standardize``), the centring its fit used
        (``centring_used``: ``"auto"`` chooses per cell), ``spec``, ``units``, the
        data's ``n_persons, n_rows``, per key estimate (``g11``: cross-level interaction,
        ``g10``: within-person slope) its posterior ``mean, sd``, interval ``lower,
        upper`` and probability of direction ``pd``; ``max_rhat, min_ess_bulk,
        divergent, converged, checks``; ``error`` (empty when the fit succeeded) and
        ``seconds``. A cell without a stored row has the error ``"not run"``.
        ``attrs["prob"]`` is the interval width.
    """
    by_id = {} if results.empty else results.set_index("task_id").to_dict("index")
    rows = []
    for cell in multiverse_cells(config):
        stored = by_id.get(cell.cell_id, {"error": "not run"})
        row: dict[str, Any] = {**cell.choices(), "spec": config.spec, "units": config.units}
        for column in TABLE_COLUMNS:
            if column not in row:
                row[column] = stored.get(column)
        row["error"] = stored.get("error") or ""
        rows.append(row)
    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    numeric = [
        "n_persons",
        "n_rows",
        *(f"{key}_{stat}" for key in ESTIMATES for stat in STATS),
        "max_rhat",
        "min_ess_bulk",
        "divergent",
        "seconds",
    ]
    table[numeric] = table[numeric].apply(pd.to_numeric, errors="coerce")
    # a cell without a verdict (failed, not run; NaN once parts are joined) did not converge
    table["converged"] = table["converged"].map(lambda v: isinstance(v, bool | np.bool_) and v)
    table["checks"] = table["checks"].fillna("")
    table.attrs["prob"] = float(config.prob)
    return table


def run_multiverse(
    config: MultiverseConfig,
    folder: str | os.PathLike,
    *,
    scheduler: str | None = None,
    n_workers: int | None = None,
    restart: bool = False,
    progressbar: bool = True,
    verbose: bool = True,
    cache_dir: str | os.PathLike | bool = False,
) -> pd.DataFrame:
    """Run every cell of a multiverse (or the ones still missing) and return its table.

    Each cell prepares its data set with its options, applies its prior set and its choice
    of controls to the spec, fits it (:func:`ambidex_bayes.fit.fit`) and keeps the key
    estimates: the cross-level interaction ``g11`` and the within-person slope ``g10``.
    The cells run as tasks of the study-design runner (:func:`ambidex_bayes.design.run_tasks`)
    with a progress bar; their rows are written to ``folder`` as they arrive, so a run that
    stops resumes there with the missing cells only.

    Parameters
    ----------
    config : MultiverseConfig
        The grid (data sets x prior sets x centring x controls x detrend x standardize),
        the spec and the sampler settings.
    folder : path
        The result folder: new, empty, or one of an earlier run of the same ``config``
        (resumed). A folder with other files, or of another run, is refused.
    scheduler : str, optional
        ``None``: a local Dask cluster (one single-threaded worker per core);
        ``"serial"``: every cell in this process; or a scheduler's address.
    n_workers : int, optional
        Workers of the local cluster.
    restart : bool
        Delete the stored rows of an earlier run in ``folder`` first.
    progressbar, verbose : bool
        Show the progress bar; say when a run resumes.
    cache_dir : path or False
        Keep each cell's fit in this folder of saved fits (and re-use the fits found
        there); False (default) keeps none.

    Returns
    -------
    pandas.DataFrame
        One row per cell (:func:`multiverse_table`): the cell's choices, the posterior
        mean, SD, interval and probability of direction of ``g11`` and ``g10``, and the
        convergence verdict. Draw it with :func:`ambidex_bayes.multiverse.plot_multiverse`,
        describe it with :func:`ambidex_bayes.multiverse.describe_multiverse`.

    Examples
    --------
    The bundled example under two prior sets, in this process, with few draws (too few
    for a publishable posterior: they show the mechanics); ``cache`` is a folder of saved
    fits:

    >>> config = ab.MultiverseConfig(
    ...     datasets=(ab.DataSet(ab.example_path(), ab.example_mapping_path()),),
    ...     priors=("default", "sceptical"),
    ...     backend="pymc", draws=150, tune=150, chains=2, seed=5,
    ... )
    >>> table = ab.multiverse(
    ...     config, tmp / "multiverse", scheduler="serial", progressbar=False, cache_dir=cache
    ... )
    >>> table[["cell", "priors", "standardize", "error"]]
                         cell     priors  standardize error
    0  d01-p01-observed-c0-t0-s0    default        False
    1  d01-p02-observed-c0-t0-s0  sceptical        False
    >>> bool((table["g11_lower"] < table["g11_mean"]).all())
    True
    """
    from ambidex_bayes.design.runner import run_tasks
    from ambidex_bayes.design.store import ResultStore

    check_inputs(config)
    tasks = multiverse_tasks(config)
    store = ResultStore(folder, kind=KIND, config=config.to_dict(), restart=restart)
    done = len(store.done_ids() & {t.task_id for t in tasks})
    if done and verbose:
        print(f"Resuming: {done} of {len(tasks)} cells are already in {folder}.")
    cache = os.fspath(cache_dir) if isinstance(cache_dir, str | os.PathLike) else cache_dir
    results = run_tasks(
        tasks,
        partial(run_cell, config=config, cache_dir=cache),
        store,
        scheduler=scheduler,
        n_workers=n_workers,
        progressbar=progressbar,
        description=KIND,
    )
    return multiverse_table(results, config)
