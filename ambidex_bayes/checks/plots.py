"""Plot twins of the checks: each takes computed data and only draws it.

Every function draws on the given matplotlib ``Axes`` (or a new one) and returns it (the
statistics grid returns its ``Figure``); none computes statistics and none calls
``plt.show()``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ambidex_bayes.errors import AmbidexError
from ambidex_bayes.plotting import axes_or_new

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ambidex_bayes.checks.comparison import LooResult
    from ambidex_bayes.checks.ppc import StatisticChecks

__all__ = [
    "plot_ppc_density",
    "plot_ppc_statistics",
    "plot_loo_pit",
    "plot_person_intervals",
    "plot_pareto_k",
    "plot_comparison",
    "plot_variance_decomposition",
]


def _require(frame: Any, columns: Sequence[str], what: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise AmbidexError(f"{what} must be a pandas DataFrame, got {type(frame).__name__}.")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise AmbidexError(
            f"{what} lacks the column(s) {missing} (present: {list(frame.columns)}); pass the "
            "frame returned by the matching compute function."
        )


def plot_ppc_density(overlay: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Density of the observed outcome (dark) over densities of replicated data sets (light).

    Parameters
    ----------
    overlay : DataFrame
        From :func:`ambidex_bayes.checks.ppc.density_overlay`.
    """
    _require(overlay, ("kind", "replicate", "x", "density"), "overlay")
    ax = axes_or_new(ax)
    first = True
    for _, part in overlay[overlay["kind"] == "replicated"].groupby("replicate"):
        ax.plot(
            part["x"],
            part["density"],
            color="tab:blue",
            alpha=0.15,
            linewidth=0.8,
            label="replicated" if first else None,
        )
        first = False
    obs = overlay[overlay["kind"] == "observed"]
    ax.plot(obs["x"], obs["density"], color="black", linewidth=2.0, label="observed")
    bounds = overlay.attrs.get("range")
    if bounds:
        for b in bounds:
            ax.axvline(b, color="grey", linestyle=":", linewidth=1.0)
    ax.set_xlabel(overlay.attrs.get("outcome", "outcome"))
    ax.set_ylabel("density")
    ax.set_title(f"Posterior predictive density ({overlay.attrs.get('model', 'model')})")
    ax.legend()
    return ax


def plot_ppc_statistics(
    checks: StatisticChecks,
    *,
    statistics: Sequence[str] | None = None,
    ncols: int = 3,
) -> Figure:
    """Histogram of each replicated statistic with the observed value and its p-value.

    Parameters
    ----------
    checks : StatisticChecks
        From :func:`ambidex_bayes.checks.ppc.statistic_checks`.
    statistics : sequence of str, optional
        Which to draw (default all in the table).
    ncols : int
        Panels per row.
    """
    import matplotlib.pyplot as plt

    table, rep = checks.table, checks.replicated
    _require(table, ("statistic", "observed", "p_value", "flagged"), "checks.table")
    names = list(table["statistic"]) if statistics is None else list(statistics)
    ncols = max(1, min(ncols, len(names)))
    nrows = math.ceil(len(names) / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(3.3 * ncols, 2.6 * nrows), layout="constrained", squeeze=False
    )
    for ax in axes.ravel()[len(names) :]:
        ax.set_visible(False)
    by_name = table.set_index("statistic")
    for ax, name in zip(axes.ravel(), names, strict=False):
        if name not in by_name.index:
            raise AmbidexError(f"statistic {name!r} is not in the checks table.")
        values = rep[name].to_numpy(dtype=float)
        values = values[np.isfinite(values)]
        ax.hist(values, bins=30, color="tab:blue", alpha=0.6)
        row = by_name.loc[name]
        color = "tab:red" if bool(row["flagged"]) else "black"
        ax.axvline(float(row["observed"]), color=color, linewidth=2.0)
        ax.set_title(f"{name}  (p = {float(row['p_value']):.2f})", fontsize=9, color=color)
        ax.set_yticks([])
    return fig


def plot_loo_pit(calibration: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """ECDF of LOO-PIT values minus the uniform CDF, with the simultaneous band.

    Parameters
    ----------
    calibration : DataFrame
        From :func:`ambidex_bayes.checks.ppc.loo_pit_calibration`.
    """
    _require(calibration, ("u", "ecdf", "lower", "upper"), "calibration")
    ax = axes_or_new(ax)
    u = calibration["u"].to_numpy(dtype=float)
    ax.fill_between(
        u,
        calibration["lower"] - u,
        calibration["upper"] - u,
        step="post",
        color="grey",
        alpha=0.3,
        label=f"{calibration.attrs.get('ci_prob', 0.95):.0%} band for uniform PIT",
    )
    ax.step(u, calibration["ecdf"] - u, where="post", color="black", label="LOO-PIT ECDF")
    ax.axhline(0.0, color="grey", linewidth=0.8)
    ax.set_xlabel("PIT value")
    ax.set_ylabel("ECDF - uniform")
    ax.set_title("LOO-PIT calibration")
    ax.legend()
    return ax


def plot_person_intervals(intervals: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Observed diaries of chosen persons against their predictive intervals.

    Parameters
    ----------
    intervals : DataFrame
        From :func:`ambidex_bayes.checks.ppc.person_intervals`.
    """
    _require(
        intervals,
        ("person", "position", "observed", "rep_lower", "rep_upper", "outside"),
        "intervals",
    )
    ax = axes_or_new(ax, figsize=(8, 3.5))
    x0 = 0.0
    ticks, labels = [], []
    for person, part in intervals.groupby("person", sort=False):
        xs = x0 + part["position"].to_numpy(dtype=float)
        ax.vlines(xs, part["rep_lower"], part["rep_upper"], color="tab:blue", alpha=0.6)
        colors = np.where(part["outside"], "tab:red", "black")
        ax.scatter(xs, part["observed"], color=colors, zorder=3, s=14)
        ticks.append(float(xs.mean()))
        labels.append(str(person))
        x0 = float(xs.max()) + 2.0
    ax.set_xticks(ticks, labels, rotation=45, ha="right")
    ax.set_ylabel(intervals.attrs.get("outcome", "outcome"))
    prob = intervals.attrs.get("ci_prob", 0.95)
    ax.set_title(f"Diaries of chosen persons and {prob:.0%} predictive intervals")
    return ax


def plot_pareto_k(result: LooResult, *, ax: Axes | None = None) -> Axes:
    """Pareto k per row before the remedy, with the threshold and the remedied rows marked.

    Parameters
    ----------
    result : LooResult
        From :func:`ambidex_bayes.checks.comparison.psis_loo`.
    """
    k = np.asarray(getattr(result, "pareto_k_before", None), dtype=float)
    if k.ndim != 1:
        raise AmbidexError("plot_pareto_k needs the LooResult returned by psis_loo().")
    ax = axes_or_new(ax, figsize=(7, 3))
    rows = np.arange(k.size)
    ax.scatter(rows, k, s=8, color="tab:blue", label="Pareto k")
    fixed = np.asarray(result.remedied_rows, dtype=int)
    if fixed.size:
        ax.scatter(
            fixed,
            k[fixed],
            s=30,
            facecolors="none",
            edgecolors="tab:red",
            label=f"remedied ({result.remedy})",
        )
    ax.axhline(result.threshold, color="tab:red", linestyle="--", linewidth=1.0)
    ax.set_xlabel("row")
    ax.set_ylabel("Pareto k")
    ax.set_title(f"PSIS-LOO diagnostics ({result.model})")
    ax.legend()
    return ax


def plot_comparison(table: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """ELPD of each model with its SE (open) and the difference to the best with its SE.

    Parameters
    ----------
    table : DataFrame
        From :func:`ambidex_bayes.checks.comparison.compare_models`.
    """
    _require(table, ("model", "elpd", "se", "elpd_diff", "dse"), "table")
    ax = axes_or_new(ax, figsize=(6, 0.6 + 0.5 * len(table)))
    ypos = np.arange(len(table))[::-1]
    ax.errorbar(
        table["elpd"],
        ypos,
        xerr=table["se"],
        fmt="o",
        mfc="white",
        color="black",
        capsize=3,
        label="ELPD ± SE",
    )
    best = float(table["elpd"].iloc[0])
    diff = best + table["elpd_diff"].to_numpy(dtype=float)
    ax.errorbar(
        diff[1:],
        ypos[1:] + 0.2,
        xerr=table["dse"].to_numpy(dtype=float)[1:],
        fmt="^",
        color="grey",
        capsize=3,
        label="difference to best ± SE",
    )
    ax.axvline(best, color="grey", linestyle=":", linewidth=1.0)
    ax.set_yticks(ypos, table["model"])
    kind = table.attrs.get("kind", "loo")
    ax.set_xlabel("ELPD (" + ("leave-persons-out" if kind == "loo_kfold" else "PSIS-LOO") + ")")
    ax.legend(fontsize=8)
    return ax


def plot_variance_decomposition(table: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Stacked bar of the variance components' shares, between-person parts first.

    Parameters
    ----------
    table : DataFrame
        From :func:`ambidex_bayes.checks.r2.variance_decomposition`.
    """
    _require(table, ("component", "level", "share_mean"), "table")
    parts = table[
        table["level"].isin(["between", "within"]) & ~table["component"].isin(["between", "within"])
    ]
    ax = axes_or_new(ax, figsize=(7, 2.2))
    left = 0.0
    colors = {"between": ["#1f77b4", "#6baed6"], "within": ["#d62728", "#fc9272", "#fdd0a2"]}
    used = {"between": 0, "within": 0}
    for row in parts.itertuples(index=False):
        palette = colors[row.level]
        color = palette[used[row.level] % len(palette)]
        used[row.level] += 1
        width = float(row.share_mean)
        ax.barh([0], [width], left=left, color=color, label=f"{row.component} ({row.level})")
        left += width
    ax.set_xlim(0, 1)
    ax.set_yticks([])
    ax.set_xlabel("share of the model's variance")
    ax.legend(fontsize=7, ncols=3, loc="upper center", bbox_to_anchor=(0.5, -0.45))
    return ax
