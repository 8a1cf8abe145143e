r"""The effects of every level-1 predictor in a power analysis.

A design with further level-1 predictors (an
:class:`~ambidex_bayes.simulation_design.ExtendedDesign` with ``predictors``, each with
true person means of its own, correlated over predictors with ``mean_corr``,
:mod:`ambidex_bayes.simulate_extensions`) is fitted with the spec's formula; with
``every_predictor`` the within and between parts of every further predictor are added to
it (:mod:`.predictor_terms`). Besides the tested effect, each result of :mod:`.power` then
records, for every predictor :math:`p` and each of its effects the fit estimates
(:func:`predictor_effects`: within slope ``{x}_cw``, between effect ``{x}_pm`` on the true
person mean, cross-level interaction ``{x}_cw:{w}``), the posterior mean, SD and interval
ends and the true value (columns ``effect__<parameter>__<statistic>``), and the distance of
the fit's person means of :math:`p` from the true ones (``person_mean_rmse__{x}``,
:func:`person_mean_rmse`). :func:`predictor_table` sums them up per cell and effect over
the :math:`S` successful fits that estimate it: power (share of intervals that exclude 0)
with Monte Carlo standard error :math:`\sqrt{\hat p(1-\hat p)/S}`, bias, RMSE and
coverage, as for the tested effect.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ambidex_bayes.design.power_config import cell_design

if TYPE_CHECKING:
    from ambidex_bayes.design.power_config import PowerConfig
    from ambidex_bayes.engine.result import FitResult
    from ambidex_bayes.simulate import SimulatedStudy
    from ambidex_bayes.simulation_design import SimulationDesign

__all__ = [
    "EFFECT_PREFIX",
    "RMSE_PREFIX",
    "predictor_effects",
    "predictor_summaries",
    "person_mean_rmse",
    "share_with_se",
    "predictor_table",
    "predictor_words",
]

#: Column prefix of a predictor's effect in the results: ``effect__<parameter>__<statistic>``.
EFFECT_PREFIX = "effect__"
#: Column prefix of the distance of a predictor's person means from the true ones.
RMSE_PREFIX = "person_mean_rmse__"


def predictor_effects(design: SimulationDesign) -> list[tuple[str, str, str, float]]:
    """Every level-1 predictor's effects a fit may estimate, with their true values.

    Parameters
    ----------
    design : SimulationDesign
        A cell's design.

    Returns
    -------
    list of (parameter, predictor, role, truth)
        Per predictor ``x`` (``x_col`` first): ``("{x}_cw", x, "within", g10)``,
        ``("{x}_pm", x, "between", g02)`` and, with a numeric moderator ``w``,
        ``("{x}_cw:{w}_c", x, "interaction", g11)``, named as a fit on the prepared
        simulated data names them (:func:`~ambidex_bayes.simulate_extensions.parameter_truth`).
    """
    d = design
    slopes = [(d.x_col, d.g10, d.g02, d.g11)]
    slopes += [(p.name, p.g10, p.g02, p.g11) for p in getattr(d, "predictors", ())]
    effects = []
    for x, g10, g02, g11 in slopes:
        effects.append((f"{x}_cw", x, "within", float(g10)))
        effects.append((f"{x}_pm", x, "between", float(g02)))
        if d.w_col is not None:
            effects.append((f"{x}_cw:{d.w_col}_c", x, "interaction", float(g11)))
    return effects


def predictor_summaries(result: FitResult, study: SimulatedStudy, prob: float) -> dict[str, float]:
    """``effect__<parameter>__<statistic>`` (posterior ``mean``, ``sd``, ``lower``, ``upper``
    and the ``truth``) of every predictor effect the fit estimates, and the distance of the
    fit's person means of every predictor from the true ones (``person_mean_rmse__<x>``)."""
    from ambidex_bayes.posterior import describe_draws

    out: dict[str, float] = {}
    for name, _, _, truth in predictor_effects(study.design):
        if name not in result.posterior:
            continue
        draws = np.asarray(result.posterior[name].values, dtype=float).ravel()
        described = describe_draws(draws, prob)
        stats = {
            "mean": described["mean"],
            "sd": described["sd"],
            "lower": described["ci_lower"],
            "upper": described["ci_upper"],
            "truth": truth,
        }
        out.update({f"{EFFECT_PREFIX}{name}__{k}": float(v) for k, v in stats.items()})
    for x in study.design.predictor_names:
        out[f"{RMSE_PREFIX}{x}"] = person_mean_rmse(result, study, x)
    return out


def person_mean_rmse(
    result: FitResult, study: SimulatedStudy, predictor: str | None = None
) -> float:
    r"""Root mean square distance of the fit's person means of ``predictor`` (default the
    first) from the true ones, :math:`\sqrt{\frac1J \sum_j (\hat\mu_j - \mu_j)^2}`: the
    posterior means of the latent person means (``meta["latent_names"]["person_means"]``
    for the first predictor, ``{x}_mu`` for the others) for a latent fit, the observed
    means of the daily values otherwise (also for a predictor the latent fit leaves out)."""
    d = study.design
    x = d.x_col if predictor is None else predictor
    truth = study.person_means(x)
    names = result.meta.get("latent_names") or {}
    latent = names.get("person_means") if x == d.x_col else (f"{x}_mu" if names else None)
    if latent is not None and latent in result.posterior:
        draws = result.posterior[latent]
        person_dim = next(d for d in draws.dims if d not in ("chain", "draw"))
        means = draws.mean(("chain", "draw")).to_pandas()
        means.index = means.index.astype(str).rename(person_dim)
    else:
        means = study.data.groupby(d.person_col)[x].mean()
    error = (means.reindex(truth.index).to_numpy(dtype=float) - truth.to_numpy()) ** 2
    return float(np.sqrt(np.nanmean(error)))


def share_with_se(flags: pd.Series) -> tuple[float, float]:
    r"""The share :math:`\hat p` of true flags and its Monte Carlo standard error
    :math:`\sqrt{\hat p(1-\hat p)/n}` (both NaN without flags)."""
    n = len(flags)
    share = float(flags.mean()) if n else float("nan")
    return share, math.sqrt(share * (1 - share) / n) if n else float("nan")


def predictor_table(results: pd.DataFrame, config: PowerConfig) -> pd.DataFrame:
    """Power, bias and coverage of every level-1 predictor's effects per cell of the grid.

    Parameters
    ----------
    results : DataFrame
        Rows of :func:`~ambidex_bayes.design.power.run_power_task` (as stored) with
        ``effect__<parameter>__<statistic>`` columns (module docstring).
    config : PowerConfig

    Returns
    -------
    DataFrame
        One row per cell and effect a fit estimated, in grid order and then in the order of
        :func:`predictor_effects`: ``n_persons, diaries, effect`` (the cell), ``predictor``,
        ``role`` (``within``, ``between`` or ``interaction``), ``parameter``, ``truth``,
        ``simulations`` (successful fits that estimate it), ``power`` (share whose interval
        excludes 0) and ``power_se``, ``mean_width``, ``bias`` (mean posterior mean minus
        the truth), ``rmse``, ``coverage`` (share of intervals covering the truth) and
        ``person_mean_rmse`` (mean distance of the fits' person means of the predictor from
        the true ones). Empty (with these columns) when no result records such effects.
    """
    columns = [
        "n_persons", "diaries", "effect", "predictor", "role", "parameter", "truth",
        "simulations", "power", "power_se", "mean_width", "bias", "rmse", "coverage",
        "person_mean_rmse",
    ]  # fmt: skip
    ok = results[results["error"].fillna("") == ""] if "error" in results else results
    rows = []
    for n in config.persons:
        for d in config.diaries:
            for e in config.effects:
                in_cell = ok[
                    (ok["n_persons"] == int(n))
                    & np.isclose(ok["diaries"], float(d))
                    & np.isclose(ok["effect"], float(e))
                ]
                design = cell_design(config, int(n), float(d), float(e))
                for name, x, role, _ in predictor_effects(design):
                    row = _effect_row(in_cell, name, x)
                    if row is not None:
                        base = {"n_persons": int(n), "diaries": float(d), "effect": float(e)}
                        rows.append({**base, "predictor": x, "role": role, **row})
    return pd.DataFrame(rows, columns=columns)


def _effect_row(in_cell: pd.DataFrame, name: str, x: str) -> dict[str, Any] | None:
    """The summary of one predictor effect over a cell's successful fits (None when no
    fit estimated it)."""
    key = f"{EFFECT_PREFIX}{name}__"
    if f"{key}mean" not in in_cell:
        return None
    fits = in_cell[in_cell[f"{key}mean"].notna()]
    if fits.empty:
        return None
    mean, lower, upper = fits[f"{key}mean"], fits[f"{key}lower"], fits[f"{key}upper"]
    truth = fits[f"{key}truth"]
    row: dict[str, Any] = {"parameter": name, "truth": float(truth.mean())}
    row["simulations"] = int(len(fits))
    row["power"], row["power_se"] = share_with_se((lower > 0) | (upper < 0))
    row["mean_width"] = float((upper - lower).mean())
    row["bias"] = float((mean - truth).mean())
    row["rmse"] = float(np.sqrt(((mean - truth) ** 2).mean()))
    row["coverage"] = float(((lower <= truth) & (truth <= upper)).mean())
    rmse = f"{RMSE_PREFIX}{x}"
    row["person_mean_rmse"] = float(fits[rmse].mean()) if rmse in fits else float("nan")
    return row


def predictor_words(config: PowerConfig) -> list[str]:
    """What the fits make of a design's further level-1 predictors."""
    from ambidex_bayes.simulate import reference_design

    further = reference_design(**config.design).predictor_names[1:]
    if not further:
        return []
    names = ", ".join(repr(x) for x in further)
    if config.every_predictor:
        return [
            f"Every fit includes the within and between parts of the further level-1 "
            f"predictor(s) {names}; the power, bias and coverage of each predictor's effects "
            "are in the predictor table."
        ]
    return [
        f"The further level-1 predictor(s) {names} enter the fits only where the spec's "
        "formula uses them (every_predictor, --every-predictor, adds them all)."
    ]
