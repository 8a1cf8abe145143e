"""Plot twins of the checks: each takes computed data (a table, or the DataTree that
arviz-plots reads) and only draws it.

What arviz-plots draws and what stays ours
------------------------------------------
- Posterior predictive density: :func:`arviz_plots.plot_ppc_dist` on the DataTree of the
  observed outcome and some replicated data sets
  (:func:`~ambidex_bayes.checks.predictive_summaries.density_overlay`).
- LOO-PIT: drawn as :func:`arviz_plots.plot_loo_pit` draws it
  (:func:`arviz_plots.plot_ecdf_pit` on the PIT values of
  :func:`~ambidex_bayes.checks.loo_pit.loo_pit_tree`, computed by blocks of rows), with its
  own check, the ``pot_c`` uniformity test, whose result
  :func:`~ambidex_bayes.checks.loo_pit.loo_pit_uniformity` returns for the report's
  sentence.
- Test statistics: :func:`arviz_plots.plot_dist` (histograms) of the replicated statistics,
  one panel per statistic, with the observed values added by
  :func:`arviz_plots.add_lines`; a flagged statistic's line and title are red. The
  statistics are computed once, with their p-values, by
  :mod:`~ambidex_bayes.checks.ppc_statistics` (several are per person, which
  :func:`arviz_plots.plot_ppc_tstat`'s statistics of the pooled outcome are not).
- Pareto k: :func:`arviz_plots.plot_khat` on the PSIS-LOO result (with the k values before
  the remedy); the rows the remedy replaced are ringed on top.
- Model comparison: :func:`arviz_plots.plot_compare` on the comparison table. It makes its
  own figure (it cannot draw on a given axes), so :func:`plot_comparison` takes no ``ax``.
- Ours: the grouped check of chosen persons' diaries (a layout arviz-plots has no figure
  for: persons side by side, each diary's interval) and the variance decomposition bar.

Every function returns the matplotlib ``Axes`` it drew on (the statistics grid returns its
``Figure``); none computes statistics and none calls ``plt.show()``.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ambidex_bayes.errors import AmbidexError
from ambidex_bayes.plotting import BACKEND, axes_or_new, collection_on, curve_data
from ambidex_bayes.posterior import SAMPLE_DIMS, resolve_prob

if TYPE_CHECKING:
    import xarray as xr
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

FLAG_COLOR = "tab:red"

#: Bins of each replicated statistic's histogram (a number, so constant statistics draw too).
HISTOGRAM_BINS = 30


def _group(tree: Any, group: str, what: str) -> xr.Dataset:
    import xarray as xr

    if not isinstance(tree, xr.DataTree):
        raise AmbidexError(f"{what} must be an xarray DataTree, got {type(tree).__name__}.")
    if group not in tree.children:
        raise AmbidexError(
            f"{what} lacks the group {group!r} (present: {list(tree.children)}); pass the "
            "tree returned by the matching function of ambidex_bayes.checks."
        )
    return tree[group].to_dataset()


def _require(frame: Any, columns: Sequence[str], what: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise AmbidexError(f"{what} must be a pandas DataFrame, got {type(frame).__name__}.")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise AmbidexError(
            f"{what} lacks the column(s) {missing} (present: {list(frame.columns)}); pass the "
            "frame returned by the matching compute function."
        )


def plot_ppc_density(overlay: xr.DataTree, *, ax: Axes | None = None) -> Axes:
    """Density of the observed outcome (dark) over densities of replicated data sets (light).

    Drawn by :func:`arviz_plots.plot_ppc_dist` (kernel densities, every replicated data set
    of ``overlay``); the ends of a declared rating scale are dotted.

    Parameters
    ----------
    overlay : xarray.DataTree
        From :func:`ambidex_bayes.checks.ppc.density_overlay`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when omitted.
    """
    import arviz_plots as azp

    replicated = _group(overlay, "posterior_predictive", "overlay")
    _group(overlay, "observed_data", "overlay")
    name = next(iter(replicated.data_vars))
    pc = collection_on(
        ax,
        replicated.stack(sample=SAMPLE_DIMS),
        aes={"overlay_ppc": ["sample"]},
        figsize=(6.5, 4),
    )
    azp.plot_ppc_dist(
        overlay,
        kind="kde",
        num_samples=replicated.sizes["chain"] * replicated.sizes["draw"],
        plot_collection=pc,
        visuals={
            "predictive_dist": {"color": "tab:blue", "alpha": 0.15, "width": 0.8},
            "observed_dist": {"color": "black", "width": 2.0},
            "title": False,
            "remove_axis": False,
        },
    )
    ax = pc.viz["plot"].item()
    pc.viz["predictive_dist"][name].values.flat[0].set_label("replicated")
    pc.viz["observed_dist"][name].item().set_label("observed")
    for bound in overlay.attrs.get("range") or ():
        ax.axvline(bound, color="grey", linestyle=":")
    ax.set_xlabel(overlay.attrs.get("outcome", name))
    ax.set_ylabel("density")
    ax.set_title(f"Posterior predictive density ({overlay.attrs.get('model', 'model')})")
    ax.legend(loc="best")
    return ax


def plot_ppc_statistics(
    checks: StatisticChecks,
    *,
    statistics: Sequence[str] | None = None,
    ncols: int = 3,
) -> Figure:
    """Histogram of each replicated statistic with the observed value and its p-value.

    Drawn by :func:`arviz_plots.plot_dist` (one panel per statistic, histograms of the
    replicated values in :data:`HISTOGRAM_BINS` bins; non-finite replicates left out) and
    :func:`arviz_plots.add_lines` (the observed value). A flagged statistic's line and title
    are red. A statistic without any finite replicated value (e.g. the SD of person SDs when
    no person has two diaries) has nothing to draw and gets no panel.

    Parameters
    ----------
    checks : StatisticChecks
        From :func:`ambidex_bayes.checks.ppc.statistic_checks`.
    statistics : sequence of str, optional
        Which to draw (default all in the table).
    ncols : int
        Panels per row.
    """
    import arviz_plots as azp
    import xarray as xr

    table, rep = checks.table, checks.replicated
    _require(table, ("statistic", "observed", "p_value", "flagged"), "checks.table")
    names = list(table["statistic"]) if statistics is None else list(statistics)
    by_name = table.set_index("statistic")
    unknown = [n for n in names if n not in by_name.index]
    if unknown:
        raise AmbidexError(f"statistic {unknown[0]!r} is not in the checks table.")
    finite = {name: rep[name].to_numpy(dtype=float) for name in names}
    finite = {name: values[np.isfinite(values)] for name, values in finite.items()}
    names = [name for name in names if finite[name].size]
    if not names:
        raise AmbidexError("no statistic has a finite replicated value; nothing to draw.")
    replicated = xr.Dataset(
        {name: (("chain", f"draw_{k}"), finite[name][None, :]) for k, name in enumerate(names)}
    )
    ncols = max(1, min(ncols, len(names)))
    pc = azp.plot_dist(
        replicated,
        kind="hist",
        sample_dims=["chain", *(f"draw_{k}" for k in range(len(names)))],
        backend=BACKEND,
        col_wrap=ncols,
        figure_kwargs={
            "figsize": (3.3 * ncols, 2.6 * -(-len(names) // ncols)),
            "layout": "constrained",
        },
        visuals={
            "credible_interval": False,
            "point_estimate": False,
            "point_estimate_text": False,
            "title": False,
        },
        stats={"dist": {"bins": HISTOGRAM_BINS}},
    )
    observed = {name: float(by_name.loc[name, "observed"]) for name in names}
    azp.add_lines(pc, observed, visuals={"ref_line": {"color": "black", "width": 2.0}})
    for name in names:
        row = by_name.loc[name]
        ax = pc.viz["plot"][name].item()
        color = FLAG_COLOR if bool(row["flagged"]) else "black"
        for line in pc.viz["ref_line"][name].values.ravel():
            line.set_color(color)
        ax.set_title(f"{name}  (p = {float(row['p_value']):.2f})", fontsize=9, color=color)
        ax.set_yticks([])
    figure = pc.viz["figure"].item()
    drawn = {pc.viz["plot"][name].item() for name in names}
    for ax in figure.axes:
        if ax not in drawn:
            ax.set_visible(False)
    return figure


def plot_loo_pit(tree: xr.DataTree, *, prob: float | None = None, ax: Axes | None = None) -> Axes:
    """LOO-PIT calibration: the ECDF of the LOO-PIT values minus the uniform CDF.

    Drawn as :func:`arviz_plots.plot_loo_pit` draws it: :func:`arviz_plots.plot_ecdf_pit`
    on the PIT values with Pareto-smoothed tails (which the tree holds, computed by blocks
    of rows, where ``plot_loo_pit`` would compute them from the whole log-likelihood) with
    its default check, the ``pot_c`` uniformity test: the figure prints the test's p-value
    and, when it is below ``1 - prob``, marks the diaries that contribute most to the
    departure (:func:`~ambidex_bayes.checks.loo_pit.loo_pit_uniformity` returns the same
    test's result).

    Parameters
    ----------
    tree : xarray.DataTree
        From :func:`ambidex_bayes.checks.loo_pit.loo_pit_tree`.
    prob : float, optional
        Level of the test (``envelope_prob``; default ``constants.CI_PROB``).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when omitted.
    """
    import arviz_plots as azp

    from ambidex_bayes.checks.loo_pit import PIT_GROUP, UNIFORMITY_METHOD

    pit = _group(tree, PIT_GROUP, "tree")
    # the PIT variable gives the collection the variable that the axis limits, labels and
    # title are mapped over
    pc = collection_on(ax, pit, figsize=(6, 3.5))
    azp.plot_ecdf_pit(
        tree,
        group=PIT_GROUP,
        sample_dims=list(pit.dims),
        method=UNIFORMITY_METHOD,
        envelope_prob=resolve_prob(prob),
        plot_collection=pc,
        visuals={
            "ecdf_lines": {"color": "black"},
            "title": False,
            "xlabel": {"text": "LOO-PIT"},
            "ylabel": {},
            "remove_axis": False,
        },
    )
    ax = pc.viz["plot"].item()
    ax.set_xlabel("LOO-PIT value")
    ax.set_ylabel("ECDF - uniform CDF")
    ax.set_title(f"LOO-PIT calibration ({tree.attrs.get('model', 'model')})")
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

    The points, the threshold line and the labels of the rows above it are drawn by
    :func:`arviz_plots.plot_khat`; the rows the remedy replaced are ringed in red.

    Parameters
    ----------
    result : LooResult
        From :func:`ambidex_bayes.checks.comparison.psis_loo`.
    """
    import arviz_plots as azp
    from arviz_plots.visuals import scatter_xy

    k = np.asarray(getattr(result, "pareto_k_before", None), dtype=float)
    elpd = getattr(result, "elpd", None)
    if k.ndim != 1 or getattr(elpd, "pareto_k", None) is None or elpd.pareto_k.size != k.size:
        raise AmbidexError("plot_pareto_k needs the LooResult returned by psis_loo().")
    before = copy.copy(elpd)
    before.pareto_k = elpd.pareto_k.copy(data=k.reshape(elpd.pareto_k.shape))
    pc = collection_on(ax, figsize=(7, 3))
    azp.plot_khat(
        before,
        threshold=result.threshold,
        hline_values=[result.threshold],
        plot_collection=pc,
        visuals={
            "khat": {"color": "tab:blue", "label": "Pareto k"},
            "hlines": {"color": FLAG_COLOR, "linestyle": "--", "width": 1.0},
        },
    )
    ax = pc.viz["plot"].item()
    fixed = np.asarray(result.remedied_rows, dtype=int)
    if fixed.size:
        ringed = curve_data(fixed, k[fixed], name="remedied")
        pc.map(
            scatter_xy,
            "remedied",
            data=ringed,
            facecolor="none",
            edgecolor=FLAG_COLOR,
            size=90,
            width=1.2,
            zorder=3,
            label=f"remedied ({result.remedy})",
        )
    ax.set_xlabel("row")
    ax.set_ylabel("Pareto k")
    ax.set_title(f"PSIS-LOO diagnostics ({result.model})")
    ax.legend(loc="best")
    return ax


def plot_comparison(table: pd.DataFrame) -> Axes:
    """ELPD difference of each model to the best, with its SE (``arviz_plots.plot_compare``).

    arviz-plots draws the comparison on a figure of its own, so there is no ``ax``
    argument; the returned axes' ``figure`` is the figure.

    Parameters
    ----------
    table : DataFrame
        From :func:`ambidex_bayes.checks.comparison.compare_models`.
    """
    import arviz_plots as azp

    _require(table, ("model", "elpd", "se", "elpd_diff", "dse"), "table")
    pc = azp.plot_compare(
        table.set_index("model"),
        backend=BACKEND,
        rotated=False,
        figure_kwargs={"figsize": (6, 0.8 + 0.5 * len(table)), "layout": "constrained"},
    )
    ax = pc.viz["plot"].item()
    kind = table.attrs.get("kind", "loo")
    ax.set_xlabel(
        "ELPD difference to the best model ("
        + ("leave-persons-out" if kind == "loo_kfold" else "PSIS-LOO")
        + ")"
    )
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
