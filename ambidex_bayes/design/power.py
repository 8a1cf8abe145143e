r"""Power analysis for the cross-level interaction by simulation.

For every cell of a grid (number of persons :math:`J` × mean diaries per person :math:`m` ×
true interaction :math:`\gamma_{11}`), many data sets are simulated from the reference
design (:func:`ambidex_bayes.simulate.reference_design`, with the cell's values) and each
is fitted with the model (the Gaussian fast path by default). Per cell, over the :math:`S`
successful fits :math:`s = 1..S` with posterior :math:`p_s` of the interaction:

.. math::

    \text{power}_{\text{interval}} = \frac1S \sum_s
        \mathbb 1\{0 \notin \text{CI}_s\}, \qquad
    \text{power}_{\text{prob}} = \frac1S \sum_s
        \mathbb 1\{P_s(\gamma_{11} > 0) \ge \ell\},

with Monte Carlo standard error :math:`\sqrt{\hat p(1-\hat p)/S}` each; the mean interval
width; the bias :math:`\frac1S\sum_s \bar\gamma_{11,s} - \gamma_{11}` and RMSE of the
posterior mean; and the coverage of the true value by the interval.

With ``contrast`` set to a level :math:`L` of the design's factor moderator (an
:class:`~ambidex_bayes.simulation_design.ExtendedDesign` with a ``factor``), the grid's effect
is instead the true slope difference :math:`b_L` of that level from the reference level
(treatment contrast), and the tested parameter is the model's slope contrast of that level
(``x_cw:f_L``): the power is the share of studies whose interval of the level's slope
difference excludes 0.

With rating scales (the reference design rounds to 1-5), the generating values describe the
latent continuous model; rounding attenuates the slopes a little, which shows up as a small
negative bias (see :mod:`ambidex_bayes.simulate`).

Centring
--------
``centring`` chooses how every fit splits the daily predictor (:mod:`ambidex_bayes.centring`):
``"observed"`` person means (the default: also for a spec whose own centring is ``"auto"``,
as the bundled M1-M3's is, so that every data set is fitted with the same model; a spec
file's ``"latent"`` is kept),
``"latent"`` person means estimated with the model (M1-M3 with the level-1 predictors the
spec's formula uses, each with person means of its own, and at most one numeric moderator),
or ``"auto"`` (latent when the reliability of a data set's observed person means is below
0.7). The simulator's
person means are the true ones, so besides the tested effect each result records the
posterior mean of the between effect ``{x}_pm`` and its truth :math:`\gamma_{02}` (defined on
the latent mean): its bias per cell (``between_bias``) shows what observed centring loses
with few diaries and latent centring recovers. Each result also records how far the person
means the fit used lie from the true ones (root mean square over persons,
``person_mean_rmse``): the posterior means of the latent person means, or the observed
means for observed centring. A prior set (``priors``) applies to latent fits too: it gives
the parameters the latent model shares with the observed one, the predictor model's keep the
latent model's weakly informative defaults (:mod:`ambidex_bayes.model.latent_priors`).

Several level-1 predictors
--------------------------
A design with further level-1 predictors is fitted with the spec's formula, or with
``every_predictor`` with every predictor's within and between parts added; each result then
also records every predictor's effects, which :func:`predictor_table` sums up per cell
(:mod:`.power_predictors`).

The configuration and its checks, and the design of each cell of the grid, are in
:mod:`.power_config`.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ambidex_bayes import constants
from ambidex_bayes.design.power_config import PowerConfig, cell_design
from ambidex_bayes.design.power_predictors import (
    EFFECT_PREFIX,
    person_mean_rmse,
    predictor_effects,
    predictor_summaries,
    predictor_table,
    predictor_words,
    share_with_se,
)
from ambidex_bayes.design.tasks import Task, fit_simulated, task_seed
from ambidex_bayes.errors import SpecError

if TYPE_CHECKING:
    from ambidex_bayes.engine.result import FitResult
    from ambidex_bayes.prepared_data import PreparedData
    from ambidex_bayes.spec import ModelSpec

__all__ = [
    "PowerConfig",
    "power_tasks",
    "run_power_task",
    "power_table",
    "describe_power",
    "cell_design",
    "power_work",
    "run_power",
    "predictor_effects",
    "predictor_table",
    "EFFECT_PREFIX",
]


#: Bulk-ESS of the interaction below which a fit's interval ends are flagged as unreliable.
FLAG_ESS = 100


def power_tasks(config: PowerConfig) -> list[Task]:
    """Every simulation of the run, each with its own seed (see :func:`task_seed`)."""
    tasks = []
    for n in config.persons:
        for d in config.diaries:
            for e in config.effects:
                for r in range(int(config.simulations)):
                    identity = ("power", int(n), float(d), float(e), r)
                    tasks.append(
                        Task(
                            task_id=f"n{int(n):06d}-d{float(d):08.3f}-e{float(e):+.4f}-r{r:06d}",
                            seed=task_seed(config.seed, *identity),
                            params={
                                "n_persons": int(n),
                                "diaries": float(d),
                                "effect": float(e),
                                "replicate": r,
                            },
                        )
                    )
    return tasks


def _interaction_summary(draws: np.ndarray, prob: float, truth: float) -> dict[str, float]:
    from ambidex_bayes.posterior import describe_draws

    described = describe_draws(draws, prob)
    return {
        "mean": described["mean"],
        "sd": described["sd"],
        "lower": described["ci_lower"],
        "upper": described["ci_upper"],
        "p_positive": float((draws > 0).mean()),
        "truth": float(truth),
    }


def run_power_task(task: Task, config: PowerConfig) -> dict[str, Any]:
    """Simulate one data set of the task's cell, fit it, summarise the interaction.

    Returns the interaction's posterior mean, SD, interval ends, :math:`P(>0)`, the true
    value, its R-hat and bulk-ESS, and the fit's diagnostics over all hyperparameters
    (largest R-hat, smallest bulk-ESS, divergences).
    """
    from ambidex_bayes.data import ColumnMapping, load_diary
    from ambidex_bayes.prepare import prepare
    from ambidex_bayes.simulate import simulate_diary

    p = task.params
    design = cell_design(config, p["n_persons"], p["diaries"], p["effect"])
    study = simulate_diary(design, seed=task.seed)
    prepared = prepare(load_diary(study.data, ColumnMapping.from_dict(study.mapping)))
    spec = _spec(config, prepared)
    result = fit_simulated(spec, prepared, config, task.seed, centring=config.centring)
    name = _tested_parameter(config, prepared, result)
    if name is None:
        raise SpecError(f"{spec.source}: the model has no cross-level interaction to test.")
    draws = np.asarray(result.posterior[name].values, dtype=float).ravel()
    conv = result.convergence
    return {
        **_interaction_summary(draws, config.prob, p["effect"]),
        **_between_summary(result, study.truth),
        "person_mean_rmse": person_mean_rmse(result, study),
        **predictor_summaries(result, study, config.prob),
        "centring": str(result.meta.get("centring", "observed")),
        "n_rows": int(len(prepared.frame)),
        "rhat": float(conv.table.loc[name, "rhat"]),
        "ess_bulk": float(conv.table.loc[name, "ess_bulk"]),
        "max_rhat": float(conv.table["rhat"].max()),
        "min_ess_bulk": float(conv.min_ess_bulk),
        "divergent": int(conv.n_divergent),
    }


def _between_summary(result: FitResult, truth: Mapping[str, float]) -> dict[str, float]:
    """Posterior mean of the between effect ``{x}_pm`` and its truth (NaN where the model
    has none)."""
    name = result.terms.between
    if name is None or name not in result.posterior:
        return {"between_mean": float("nan"), "between_truth": float("nan")}
    draws = np.asarray(result.posterior[name].values, dtype=float)
    return {
        "between_mean": float(draws.mean()),
        "between_truth": float(truth.get(name, float("nan"))),
    }


def _tested_parameter(config: PowerConfig, prepared: PreparedData, result: FitResult) -> str | None:
    """The parameter whose interval the power is about: the cross-level interaction of the
    first pair, or the slope contrast of ``config.contrast`` (:math:`b_L`)."""
    if config.contrast is None:
        return result.terms.interaction
    posterior = result.posterior
    focal = config.focal or prepared.mapping.level1[0]
    k = prepared.mapping.level1.index(focal)
    factor = next(c for c in prepared.factor_codings.values() if config.contrast in c.levels)
    column = dict(zip(factor.coded_levels, factor.columns, strict=True))[config.contrast]
    name = f"{prepared.roles[f'x{k}_within']}:{column}"
    if name not in posterior:
        raise SpecError(
            f"{config.spec}: the model has no slope contrast {name!r} of level "
            f"{config.contrast!r} for {focal!r}; use a spec with the term "
            f"{{x{k}_within}}:{{w}} (the factor as the first moderator)."
        )
    return name


#: The spec of a run, by configuration, built once per process.
_SPECS: dict[str, ModelSpec] = {}


def _spec(config: PowerConfig, prepared: PreparedData) -> ModelSpec:
    """The run's spec with its prior set, built on the first task a process runs.

    A spec whose centring is ``"auto"`` (the bundled M1-M3) is fitted with observed
    centring: a simulation study fits the same model to every data set, and ``"auto"``
    would choose per data set; ``config.centring = "auto"`` asks for that choice.

    Every data set of a run has the same columns and declared scale ranges, which are all a
    prior set's resolution depends on, so the spec of the first serves them all.
    """
    from ambidex_bayes.design.predictor_terms import spec_with_every_predictor
    from ambidex_bayes.priors.sets import spec_with_prior_set
    from ambidex_bayes.spec import load_spec

    key = json.dumps(config.to_dict(), sort_keys=True, default=str)
    if key not in _SPECS:
        spec = load_spec(config.spec)
        if spec.centring == "auto":  # one model for every data set, not a choice per set
            spec = dataclasses.replace(spec, centring="observed")
        if config.every_predictor:
            spec = spec_with_every_predictor(spec, len(prepared.mapping.level1))
        if config.priors is not None:
            spec = spec_with_prior_set(spec, config.priors, prepared)
        _SPECS[key] = spec
    return _SPECS[key]


def power_work(config: PowerConfig) -> Any:
    """The picklable work function of the run's tasks."""
    return partial(run_power_task, config=config)


def run_power(config: PowerConfig, folder: str | os.PathLike, **options: Any) -> pd.DataFrame:
    """Run (or resume) a power analysis into ``folder``; return every stored result.

    Each task simulates one study of its cell (persons x diaries x effect) from the
    reference design and fits it; the results are written to ``folder`` as they arrive, so
    a run that stops resumes there with only the missing simulations.

    Parameters
    ----------
    config : PowerConfig
        The grid, the simulations per cell, the model, priors and sampler settings.
    folder : path
        The result folder; it records ``config`` and refuses to resume with another one.
    **options
        Passed to :func:`ambidex_bayes.design.runner.run_in_folder`: ``scheduler``
        (``"serial"``: in this process; ``None``: a local Dask cluster; or a scheduler's
        address), ``n_workers``, ``restart`` (discard stored results), ``progressbar``,
        ``verbose``.

    Returns
    -------
    pandas.DataFrame
        One row per simulation: the cell (``n_persons, diaries, effect, replicate``), the
        interaction's posterior (``mean, sd, lower, upper, p_positive``), its ``truth``, the
        between effect's posterior mean and truth (``between_mean, between_truth``), the
        distance of the fit's person means from the true ones (``person_mean_rmse``), the
        ``centring`` the fit used, diagnostics and ``error`` (empty for a successful fit). :func:`power_table` sums it
        up per cell.

    Examples
    --------
    A tiny run in this process (two simulations say nothing about power; they show the
    mechanics):

    >>> config = ab.PowerConfig(
    ...     persons=(30,), simulations=2, backend="pymc", draws=100, tune=100, chains=1
    ... )
    >>> results = ab.power(
    ...     config, tmp / "power", scheduler="serial", progressbar=False, verbose=False
    ... )
    >>> len(results), results["error"].eq("").all()
    (2, np.True_)
    >>> table = ab.power_table(results, config)
    >>> table[["n_persons", "diaries", "effect", "simulations", "failed"]]
       n_persons  diaries  effect  simulations  failed
    0         30      4.2    0.25            2       0
    """
    from ambidex_bayes.design.runner import run_in_folder
    from ambidex_bayes.memory import check_run_memory

    tasks = power_tasks(config)
    check_run_memory(  # before anything starts: the largest cell's study must fit
        kind="power",
        rows=max(config.persons) * max(config.diaries),
        persons=max(config.persons),
        draws=config.draws,
        chains=config.chains,
        simulations=len(tasks),
        scheduler=options.get("scheduler"),
        n_workers=options.get("n_workers"),
        verbose=options.get("verbose", True),
    )
    return run_in_folder(
        folder,
        kind="power",
        config=config,
        tasks=tasks,
        work=power_work(config),
        **options,
    )


def power_table(results: pd.DataFrame, config: PowerConfig) -> pd.DataFrame:
    """Power, interval width, bias and coverage per cell of the grid.

    Parameters
    ----------
    results : DataFrame
        Rows of :func:`run_power_task` (as stored), with ``n_persons, diaries, effect`` and
        ``error`` (empty for a successful fit).
    config : PowerConfig

    Returns
    -------
    DataFrame
        One row per cell, in grid order: ``n_persons, diaries, effect, simulations``
        (successful fits), ``failed``, ``mean_rows``, ``power`` (interval excludes 0) and
        ``power_se``, ``power_prob`` (:math:`P(>0) \\ge` level) and ``power_prob_se``,
        ``mean_width``, ``bias``, ``rmse``, ``coverage``, ``flagged`` (share of fits whose
        interaction has R-hat > 1.01 or bulk-ESS < 100, or with divergences; the
        person-slope SD near 0 often mixes slowly without touching the interaction, so
        the fit-wide diagnostics are kept in the results but not flagged here); from
        results that record them, ``between_bias`` (mean posterior mean of the between
        effect minus its truth), ``person_mean_rmse`` (its mean over the fits) and
        ``latent`` (share of fits with latent centring).
    """
    rows = []
    for n in config.persons:
        for d in config.diaries:
            for e in config.effects:
                rows.append(_cell_row(results, config, int(n), float(d), float(e)))
    return pd.DataFrame(rows)


def _cell_row(
    results: pd.DataFrame, config: PowerConfig, n: int, d: float, e: float
) -> dict[str, Any]:
    in_cell = results[
        (results["n_persons"] == n)
        & np.isclose(results["diaries"], d)
        & np.isclose(results["effect"], e)
    ]
    ok = in_cell[in_cell["error"].fillna("") == ""] if "error" in in_cell else in_cell
    row: dict[str, Any] = {
        "n_persons": n,
        "diaries": d,
        "effect": e,
        "simulations": int(len(ok)),
        "failed": int(len(in_cell) - len(ok)),
    }
    if ok.empty:
        return row
    excludes = (ok["lower"] > 0) | (ok["upper"] < 0)
    row["mean_rows"] = float(ok["n_rows"].mean())
    row["power"], row["power_se"] = share_with_se(excludes)
    row["power_prob"], row["power_prob_se"] = share_with_se(ok["p_positive"] >= config.level)
    row["mean_width"] = float((ok["upper"] - ok["lower"]).mean())
    row["bias"] = float((ok["mean"] - e).mean())
    row["rmse"] = float(np.sqrt(((ok["mean"] - e) ** 2).mean()))
    row["coverage"] = float(((ok["lower"] <= e) & (e <= ok["upper"])).mean())
    flagged = (
        (ok["rhat"] > constants.RHAT_MAX) | (ok["ess_bulk"] < FLAG_ESS) | (ok["divergent"] > 0)
    )
    row["flagged"] = float(flagged.mean())
    if "between_mean" in ok:
        row["between_bias"] = float((ok["between_mean"] - ok["between_truth"]).mean())
    if "person_mean_rmse" in ok:
        row["person_mean_rmse"] = float(ok["person_mean_rmse"].mean())
    if "centring" in ok:
        row["latent"] = float((ok["centring"] == "latent").mean())
    return row


_CENTRING_WORDS = {
    "latent": "Every fit used latent person-mean centring (person means estimated with the model).",
    "auto": (
        "Each fit used latent person-mean centring where the observed person means' "
        "reliability was below 0.7, observed centring otherwise (column 'latent': the share "
        "of latent fits)."
    ),
}


def describe_power(table: pd.DataFrame, config: PowerConfig) -> str:
    """The power table in words: which cells reach 80% power."""
    what = "the cross-level interaction"
    if config.contrast is not None:
        what = f"the slope difference of level {config.contrast!r} from the reference level"
        if config.focal is not None:
            what += f" (slope of {config.focal!r})"
    lines = [
        f"Power to detect {what}: share of {config.simulations} "
        f"simulated studies per cell whose {config.prob:.0%} interval excludes 0 "
        f"(power_prob: P(effect > 0) >= {config.level})."
    ]
    if config.centring in _CENTRING_WORDS:
        lines.append(_CENTRING_WORDS[config.centring])
    lines.extend(predictor_words(config))
    for e in config.effects:
        cells = table[np.isclose(table["effect"], e)]
        # without a single successful fit the table has no power column
        reach = cells[cells["power"] >= 0.8] if "power" in cells else cells.iloc[0:0]
        if reach.empty:
            lines.append(f"Effect {e:g}: no cell of the grid reaches 80% power.")
        else:
            first = reach.sort_values(["n_persons", "diaries"]).iloc[0]
            lines.append(
                f"Effect {e:g}: 80% power first reached with {int(first['n_persons'])} persons "
                f"and about {first['diaries']:g} diaries each (power {first['power']:.2f})."
            )
    failed = int(table["failed"].sum())
    if failed:
        lines.append(f"{failed} fits failed; their messages are in the results' 'error' column.")
    return "\n".join(lines)
