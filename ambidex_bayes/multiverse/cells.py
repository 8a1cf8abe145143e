r"""One cell of a multiverse: prepare its data, fit its model, summarise the key estimates.

:func:`fit_cell` reads the cell's data set, prepares it with the cell's options, applies its
prior set and its choice of controls to the spec, and fits it with
:func:`ambidex_bayes.fit.fit` (quietly, one core). :func:`cell_estimates` turns a fit into
one row of numbers; :func:`run_cell` (the work of one task on the Dask runner) does both.

Key estimates
-------------
The within-person slope :math:`\gamma_{10}` and the cross-level interaction
:math:`\gamma_{11}`. With draws :math:`\theta^{(s)}`, :math:`s = 1..S`, of either, the row
holds the posterior mean, SD, the equal-tailed interval of width ``prob`` and the
probability of direction

.. math::

    \text{pd} = \max\Big(\tfrac1S\sum_s [\theta^{(s)} > 0],\;
                         \tfrac1S\sum_s [\theta^{(s)} < 0]\Big).

In original units the draws are first multiplied by :math:`s_y / s_x` (slope) and
:math:`s_y / (s_x s_w)` (interaction), with :math:`s` the scale each prepared column was
divided by (1 unless standardised), so cells that standardise report the same quantity as
cells that do not.
"""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING, Any

import numpy as np

from ambidex_bayes import constants
from ambidex_bayes.errors import ModelError, SpecError
from ambidex_bayes.multiverse.grid import Cell, MultiverseConfig

if TYPE_CHECKING:
    from ambidex_bayes.data import DiaryData
    from ambidex_bayes.design.tasks import Task
    from ambidex_bayes.diagnostics import ConvergenceReport
    from ambidex_bayes.engine.result import FitResult
    from ambidex_bayes.posterior import Fitted
    from ambidex_bayes.prepared_data import PreparedData
    from ambidex_bayes.spec import ModelSpec

__all__ = [
    "ESTIMATES",
    "prepare_cell",
    "cell_spec",
    "fit_cell",
    "cell_estimates",
    "run_cell",
]

#: The key estimates: column prefix -> role in the model.
ESTIMATES: dict[str, str] = {
    "g11": "cross-level interaction",
    "g10": "within-person slope",
}

#: Numbers reported per key estimate (columns ``{prefix}_{stat}``).
STATS: tuple[str, ...] = ("mean", "sd", "lower", "upper", "pd")


def prepare_cell(diary: DiaryData, cell: Cell) -> PreparedData:
    """The cell's data: ``diary`` prepared with the cell's detrending and scaling.

    Every centring starts from the same prepared data: observed centring fits its split of
    the predictor, latent centring reads the raw predictor from it
    (:func:`ambidex_bayes.centring.fit_latent`).
    """
    from ambidex_bayes.multiverse.grid import CENTRINGS
    from ambidex_bayes.prepare import prepare

    if cell.centring not in CENTRINGS:
        raise SpecError(f"centring {cell.centring!r} is not available.")
    return prepare(diary, detrend=cell.detrend, standardize=cell.standardize)


def cell_spec(config: MultiverseConfig, cell: Cell, prepared: PreparedData) -> ModelSpec:
    """The run's spec with the cell's choice of controls and its prior set applied."""
    from ambidex_bayes.priors.sets import spec_with_prior_set
    from ambidex_bayes.spec import load_spec

    spec = dataclasses.replace(load_spec(config.spec), include_controls=cell.controls)
    return spec_with_prior_set(spec, cell.prior_source, prepared)


def fit_cell(
    cell: Cell, config: MultiverseConfig, *, cache_dir: str | os.PathLike | bool = False
) -> FitResult:
    """Fit the cell's model to the cell's data, with the cell's centring.

    Parameters
    ----------
    cell : Cell
    config : MultiverseConfig
        The data sets, the spec and the sampler settings.
    cache_dir : path or False
        Folder of saved fits (a fit of the same inputs found there is re-used), or False to
        keep no fit.

    Returns
    -------
    FitResult
    """
    from ambidex_bayes.data import load_diary
    from ambidex_bayes.fit import SamplerSettings, fit

    dataset = config.datasets[cell.dataset_index]
    diary = load_diary(dataset.path, dataset.column_mapping(), sheet=dataset.sheet)
    if cell.controls and not diary.mapping.controls:
        raise SpecError(
            f"{dataset.name}: the column mapping names no controls, so a cell with controls "
            "is the same model as one without."
        )
    prepared = prepare_cell(diary, cell)
    settings = SamplerSettings(
        backend=config.backend,
        draws=config.draws,
        tune=config.tune,
        chains=config.chains,
        target_accept=config.target_accept,
        seed=int(config.seed) % 2**32,
        cores=1,
    )
    return fit(
        cell_spec(config, cell, prepared),
        prepared,
        settings=settings,
        cache_dir=cache_dir,
        progressbar=False,
        verbose=False,
        log_likelihood=False,
        centring=cell.centring,
    )


def _factors(fit: Fitted, units: str) -> dict[str, float]:
    """Multipliers turning the model's slope and interaction into ``units``."""
    if units == "model":
        return {"g10": 1.0, "g11": 1.0}
    terms, prepared = fit.terms, fit.prepared
    slope = float(prepared.slope_to_original(terms.x_column, terms.y_column))
    interaction = float("nan")
    if terms.w_column is not None and terms.w_column in prepared.transforms:
        interaction = slope / float(prepared.transforms[terms.w_column].scale)
    return {"g10": slope, "g11": interaction}


def _describe(draws: np.ndarray, prob: float) -> dict[str, float]:
    from ambidex_bayes.posterior import describe_draws

    described = describe_draws(draws, prob)
    return {
        "mean": described["mean"],
        "sd": described["sd"],
        "lower": described["ci_lower"],
        "upper": described["ci_upper"],
        "pd": float(max(np.mean(draws > 0), np.mean(draws < 0))),
    }


def _convergence(fit: Fitted) -> ConvergenceReport:
    from ambidex_bayes.diagnostics import ConvergenceReport, check_convergence

    report = getattr(fit, "convergence", None)
    if isinstance(report, ConvergenceReport):
        return report
    return check_convergence(fit.idata, warn=False)


def _checks_failed(report: ConvergenceReport) -> str:
    """The failed checks in a few words (``"ok"`` when none failed)."""
    table = report.table
    failed = []
    if table["rhat"].isna().any() or table["ess_bulk"].isna().any():
        failed.append("R-hat/ESS undefined")
    if (table["rhat"] > constants.RHAT_MAX).any():
        failed.append("R-hat")
    if (table["ess_bulk"] < constants.ESS_BULK_MIN).any():
        failed.append("bulk-ESS")
    if (table["ess_tail"] < constants.ESS_TAIL_MIN).any():
        failed.append("tail-ESS")
    if report.n_divergent:
        failed.append(f"{report.n_divergent} divergent")
    if report.n_max_treedepth:
        failed.append("tree depth")
    if any(np.isfinite(v) and v < constants.EBFMI_MIN for v in report.ebfmi):
        failed.append("E-BFMI")
    if not failed and not report.ok:
        failed.append("see the fit's diagnostics")
    return ", ".join(failed) if failed else "ok"


def cell_estimates(
    fit: Fitted, *, prob: float | None = None, units: str = "original"
) -> dict[str, Any]:
    """The key estimates of one fit and its convergence verdict, as one row.

    Parameters
    ----------
    fit : Fitted
        A fit of the cell (a :class:`~ambidex_bayes.fit.FitResult`, or
        :class:`~ambidex_bayes.posterior.PosteriorDraws`, whose diagnostics are then
        computed from its draws).
    prob : float, optional
        Interval width (default ``constants.CI_PROB``).
    units : {"original", "model"}

    Returns
    -------
    dict
        ``centring_used`` (``"latent"`` for a latent fit, ``"observed"`` otherwise),
        ``n_persons, n_rows``; ``g11_mean, g11_sd, g11_lower, g11_upper, g11_pd`` and the
        same for ``g10`` (NaN for an interaction the model lacks); ``max_rhat,
        min_ess_bulk, divergent`` over the model's parameters (person effects aside),
        ``converged`` (every check of :func:`~ambidex_bayes.diagnostics.check_convergence`
        passed) and ``checks`` (the failed ones in words, ``"ok"`` when none).

    Raises
    ------
    ModelError
        The model has no within-person slope.
    """
    from ambidex_bayes.posterior import (
        fitted_parts,
        get_scalar,
        posterior_dataset,
        resolve_prob,
    )

    prob = resolve_prob(prob)
    idata, terms, prepared = fitted_parts(fit, "cell_estimates")
    if terms.slope is None:
        raise ModelError(
            "the model has no within-person slope; a multiverse compares the slope and its "
            "cross-level interaction, so choose a spec with both (e.g. M3)."
        )
    posterior = posterior_dataset(idata)
    factors = _factors(fit, units)
    person = prepared.roles["person"]
    meta = getattr(fit, "meta", None) or {}
    row: dict[str, Any] = {
        "centring_used": "latent" if meta.get("centring") == "latent" else "observed",
        "n_persons": int(prepared.frame[person].nunique()),
        "n_rows": int(len(prepared.frame)),
    }
    for key, name in (("g11", terms.interaction), ("g10", terms.slope)):
        if name is None:
            row.update({f"{key}_{stat}": float("nan") for stat in STATS})
            continue
        draws = np.asarray(get_scalar(posterior, name, ESTIMATES[key]).values, float).ravel()
        described = _describe(draws * factors[key], prob)
        row.update({f"{key}_{stat}": value for stat, value in described.items()})
    report = _convergence(fit)
    row.update(
        {
            "max_rhat": float(report.table["rhat"].max()),
            "min_ess_bulk": float(report.min_ess_bulk),
            "divergent": int(report.n_divergent),
            "converged": bool(report.ok),
            "checks": _checks_failed(report),
        }
    )
    return row


def run_cell(
    task: Task, config: MultiverseConfig, cache_dir: str | os.PathLike | bool = False
) -> dict[str, Any]:
    """The work of one task: fit the task's cell and return its row of estimates."""
    fields = {f.name for f in dataclasses.fields(Cell)}
    cell = Cell(**{k: v for k, v in task.params.items() if k in fields})
    result = fit_cell(cell, config, cache_dir=cache_dir)
    return cell_estimates(result, prob=config.prob, units=config.units)
