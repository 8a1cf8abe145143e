"""Plot twins of the prior functions: each takes computed data and only draws it.

What arviz-plots draws and what stays ours
------------------------------------------
These figures stay hand-drawn, because each compares several prior sets on one axis, a
view arviz-plots has no function for:

- power-scaling sensitivity: :func:`arviz_plots.plot_psense_dist` and
  :func:`arviz_plots.plot_psense_quantities` draw, for one fit, how each posterior changes
  as the prior or the likelihood is scaled; :func:`plot_prior_sensitivity` draws the
  resulting sensitivity values (``arviz_stats.psense``) of every parameter under every
  prior set against the threshold that separates the verdicts -- the overview the prior
  comparison reports;
- the prior predictive outcome: :func:`arviz_plots.plot_ppc_dist` (``group=
  "prior_predictive"``) overlays single replicated data sets of one model; here the pooled
  predictive density of each prior set is drawn with the rating scale's range and the
  share of predictions outside it;
- the implied simple slopes, the forest of the posterior summary under each set (from the
  summary table's intervals, not from draws), and the Bayes factor against the prior's
  width (:func:`arviz_plots.plot_bf` draws one prior and posterior density at zero, not a
  curve over prior widths).

Every function draws on the given matplotlib ``Axes`` (or a new one) and returns it; none
calls ``plt.show()``; all work with the non-interactive Agg backend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ambidex_bayes.errors import AmbidexError
from ambidex_bayes.plotting import axes_or_new
from ambidex_bayes.priors.predictive import PriorPredictive

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "plot_prior_predictive",
    "plot_prior_slopes",
    "plot_prior_forest",
    "plot_bf_sensitivity",
    "plot_prior_sensitivity",
]


def _checks(checks: PriorPredictive | Sequence[PriorPredictive]) -> list[PriorPredictive]:
    items = [checks] if isinstance(checks, PriorPredictive) else list(checks)
    if not items or not all(isinstance(c, PriorPredictive) for c in items):
        raise AmbidexError(
            "pass the result(s) of prior_predictive_check (one PriorPredictive or a list)."
        )
    return items


def plot_prior_predictive(
    checks: PriorPredictive | Sequence[PriorPredictive],
    *,
    ax: Axes | None = None,
    bins: int = 80,
    observed: bool = True,
) -> Axes:
    """Densities of the prior predictive outcome (original scale), one line per prior set.

    The declared range of the outcome is marked, the area outside it shaded, and each
    legend entry gives the share of predictions outside the range. The window spans the
    range plus its width on either side (further predictions are counted, not drawn).

    Parameters
    ----------
    checks : PriorPredictive or list of them
    ax : matplotlib.axes.Axes, optional
    bins : int
        Histogram bins over the window.
    observed : bool
        Also draw the observed outcome's distribution (dashed).
    """
    items = _checks(checks)
    ax = axes_or_new(ax)
    first = items[0]
    if first.scale_range is not None:
        lo, hi = first.scale_range
    else:
        lo, hi = (float(np.nanmin(first.observed)), float(np.nanmax(first.observed)))
    width = hi - lo if hi > lo else 1.0
    edges = np.linspace(lo - width, hi + width, bins + 1)
    for check in items:
        values = np.asarray(check.outcome.values, dtype=float).reshape(-1)
        density, _ = np.histogram(values, bins=edges)
        density = density / (values.size * np.diff(edges))
        share = f", {check.share_outside:.0%} outside" if np.isfinite(check.share_outside) else ""
        ax.stairs(density, edges, label=f"{check.prior_set}{share}")
    if observed:
        density, _ = np.histogram(first.observed, bins=edges)
        density = density / (max(first.observed.size, 1) * np.diff(edges))
        ax.stairs(density, edges, color="black", linestyle="--", label="observed")
    if first.scale_range is not None:
        ax.axvspan(edges[0], lo, color="grey", alpha=0.15)
        ax.axvspan(hi, edges[-1], color="grey", alpha=0.15)
        ax.axvline(lo, color="grey", linewidth=1)
        ax.axvline(hi, color="grey", linewidth=1)
    ax.set_xlim(edges[0], edges[-1])
    ax.set_xlabel(f"predicted {first.outcome_name} (original scale)")
    ax.set_ylabel("density")
    ax.set_title("Prior predictive outcome")
    ax.legend(loc="best")
    return ax


def plot_prior_slopes(check: PriorPredictive, *, ax: Axes | None = None, bins: int = 40) -> Axes:
    """Densities of the simple slopes a prior set implies at each moderator value.

    The window is the central 98% of the implied slopes; a zero line marks no effect.
    """
    (check,) = _checks(check)
    if check.slopes is None:
        raise AmbidexError(
            f"prior set {check.prior_set!r}: the model has no within-person slope, so there "
            "are no implied simple slopes to draw."
        )
    ax = axes_or_new(ax)
    draws = check.slopes.draws
    values = np.asarray(draws.values, dtype=float)
    lo, hi = np.quantile(values, [0.01, 0.99])
    edges = np.linspace(min(lo, 0.0), max(hi, 0.0), bins + 1)
    for k, label in enumerate(draws.coords["moderator"].values):
        sample = values[..., k].reshape(-1)
        density, _ = np.histogram(sample, bins=edges)
        density = density / (sample.size * np.diff(edges))
        ax.stairs(density, edges, label=f"moderator {label}")
    ax.axvline(0.0, color="black", linewidth=1)
    y_name = check.slopes.table.attrs.get("y_name", check.outcome_name)
    x_name = check.slopes.table.attrs.get("x_name", "predictor")
    ax.set_xlabel(f"implied within-person slope of {y_name} on {x_name} (original units)")
    ax.set_ylabel("prior density")
    ax.set_title(f"Simple slopes implied by the prior set {check.prior_set!r}")
    ax.legend(loc="best")
    return ax


def _summary_of(comparison: Any) -> pd.DataFrame:
    table = getattr(comparison, "summary", comparison)
    if not isinstance(table, pd.DataFrame):
        raise AmbidexError("pass a PriorComparison or its long summary table.")
    missing = [
        c
        for c in ("prior_set", "parameter", "mean", "ci_lower", "ci_upper")
        if c not in table.columns
    ]
    if missing:
        raise AmbidexError(f"the summary table lacks the column(s) {missing}.")
    return table


def plot_prior_forest(
    comparison: Any,
    *,
    parameters: Sequence[str] | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Forest plot: each parameter's posterior mean and interval under every prior set.

    Parameters
    ----------
    comparison : PriorComparison or its ``summary`` table
    parameters : sequence of str, optional
        Which parameters, top to bottom (default: all but the intercept).
    """
    table = _summary_of(comparison)
    sets = list(dict.fromkeys(table["prior_set"]))
    if parameters is None:
        parameters = [p for p in dict.fromkeys(table["parameter"]) if p != "Intercept"]
    unknown = [p for p in parameters if p not in set(table["parameter"])]
    if unknown:
        raise AmbidexError(
            f"no parameter {unknown[0]!r} in the comparison; parameters: "
            f"{', '.join(dict.fromkeys(table['parameter']))}."
        )
    ax = axes_or_new(ax, figsize=(7, 0.5 + 0.45 * len(parameters) * max(len(sets), 2) / 2))
    step = 0.7 / max(len(sets), 1)
    for k, name in enumerate(sets):
        part = table[table["prior_set"] == name].set_index("parameter")
        ys = [len(parameters) - 1 - i + 0.35 - (k + 0.5) * step for i in range(len(parameters))]
        rows = part.loc[list(parameters)]
        ax.errorbar(
            rows["mean"],
            ys,
            xerr=[rows["mean"] - rows["ci_lower"], rows["ci_upper"] - rows["mean"]],
            fmt="o",
            markersize=4,
            capsize=2,
            label=name,
        )
    ax.axvline(0.0, color="grey", linewidth=1)
    ax.set_yticks(range(len(parameters)))
    ax.set_yticklabels(list(reversed(list(parameters))))
    prob = table.attrs.get("ci_prob")
    ax.set_xlabel("posterior mean and " + (f"{prob:.0%} " if prob else "") + "interval")
    ax.set_title("Posterior under each prior set")
    ax.legend(loc="best", title="prior set")
    return ax


def plot_bf_sensitivity(
    curves: pd.DataFrame | Mapping[str, pd.DataFrame], *, ax: Axes | None = None
) -> Axes:
    """Savage–Dickey BF10 against the prior SD (log-log), one line per prior set.

    Filled markers are reliable importance-weighted estimates, open ones should be refitted;
    the square marks the width actually fitted. Dotted lines at BF10 = 1/10, 1/3, 3, 10.
    """
    if isinstance(curves, pd.DataFrame):
        curves = {curves.attrs.get("prior", "prior"): curves}
    if not curves:
        raise AmbidexError("no Bayes factor curves to draw (every set was refused?).")
    ax = axes_or_new(ax)
    for name, curve in curves.items():
        (line,) = ax.plot(curve["prior_sd"], curve["bf10"], label=str(name))
        good = curve[curve["reliable"]]
        bad = curve[~curve["reliable"]]
        ax.plot(good["prior_sd"], good["bf10"], "o", color=line.get_color())
        ax.plot(bad["prior_sd"], bad["bf10"], "o", mfc="none", color=line.get_color())
        fitted = curve[curve["fitted"]]
        ax.plot(fitted["prior_sd"], fitted["bf10"], "s", color=line.get_color(), markersize=9)
    for level in (0.1, 1 / 3, 3, 10):
        ax.axhline(level, color="grey", linestyle=":", linewidth=1)
    ax.axhline(1.0, color="grey", linewidth=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    parameter = next(iter(curves.values())).attrs.get("parameter", "the effect")
    ax.set_xlabel(f"prior SD of {parameter}")
    ax.set_ylabel("BF10 (effect vs. 0)")
    ax.set_title("Bayes factor against the prior's width")
    ax.legend(loc="best", title="prior set")
    return ax


def plot_prior_sensitivity(
    sensitivity: pd.DataFrame, *, ax: Axes | None = None, threshold: float | None = None
) -> Axes:
    """Power-scaling sensitivity: prior (x) against likelihood (y), one point per parameter
    and prior set, with the threshold lines that separate the verdicts."""
    needed = ("parameter", "prior_sensitivity", "likelihood_sensitivity")
    missing = [c for c in needed if c not in sensitivity.columns]
    if missing:
        raise AmbidexError(f"the sensitivity table lacks the column(s) {missing}.")
    ax = axes_or_new(ax)
    threshold = threshold if threshold is not None else sensitivity.attrs.get("threshold", 0.05)
    groups = (
        sensitivity.groupby("prior_set", sort=False)
        if "prior_set" in sensitivity.columns
        else [("", sensitivity)]
    )
    for name, part in groups:
        ax.scatter(part["prior_sensitivity"], part["likelihood_sensitivity"], label=name or None)
        for row in part.itertuples(index=False):
            if row.prior_sensitivity >= threshold:
                ax.annotate(
                    row.parameter,
                    (row.prior_sensitivity, row.likelihood_sensitivity),
                    fontsize=7,
                )
    ax.axvline(threshold, color="grey", linestyle="--", linewidth=1)
    ax.axhline(threshold, color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("sensitivity to the prior")
    ax.set_ylabel("sensitivity to the likelihood")
    ax.set_title("Power-scaling sensitivity (right of the line: the prior matters)")
    if "prior_set" in sensitivity.columns:
        ax.legend(loc="best", title="prior set")
    return ax
