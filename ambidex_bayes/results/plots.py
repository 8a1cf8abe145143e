"""Plot twins of the result functions: each takes computed data and only draws it.

What arviz-plots draws and what stays ours
------------------------------------------
- The moderation lines are an arviz-plots ``PlotCollection`` on the caller's axes, colour
  mapped to the moderator value, drawn with its ``line_xy`` (the posterior mean) and
  ``fill_between_y`` (the credible band) visuals. :func:`arviz_plots.plot_lm` was checked
  and is not used: it starts from posterior draws in a DataTree (``x`` in
  ``constant_data``, ``y`` in a predictive group) and computes its own interval (HDI by
  default) and point estimate, and smooths the lines (Savitzky-Golay) -- the lines table
  holds the equal-tailed intervals and means the report prints, and the figure must show
  those very numbers.
- Ours: the simple-slopes chart (points with intervals and ``P(>0)`` written beside them),
  the ICC interval on its 0-1 scale and the forest of the summary table
  (:func:`arviz_plots.plot_forest` needs the draws, and would recompute the intervals that
  the summary table already holds).

Every function draws on the given matplotlib ``Axes`` (or a new one) and returns it; none
computes statistics, none calls ``plt.show()``, all work with the non-interactive Agg
backend.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ambidex_bayes.errors import AmbidexError
from ambidex_bayes.moderation.slopes import SimpleSlopes
from ambidex_bayes.plotting import axes_or_new, band_data, collection_on, curve_data

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "plot_moderation_lines",
    "plot_simple_slopes",
    "plot_icc",
    "plot_fixed_effects",
]


def _require_columns(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise AmbidexError(f"{what} must be a pandas DataFrame, got {type(frame).__name__}.")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise AmbidexError(
            f"{what} lacks the column(s) {missing} (columns present: {list(frame.columns)}); "
            "pass the frame returned by the matching compute function."
        )


def _level_word(position: int, count: int) -> str:
    if count == 2:
        return ("low", "high")[position]
    if count >= 3 and position == 0:
        return "low"
    if count >= 3 and position == count - 1:
        return "high"
    return ""


def _moderator_legend(word: str, name: str | None, label: str, value: float) -> str:
    if not math.isfinite(value):
        return label
    detail = f"({label})" if label.startswith("at ") else f"({label} = {value:.2g})"
    return " ".join(part for part in (word, name or "moderator", detail) if part)


def plot_moderation_lines(
    lines: pd.DataFrame,
    *,
    ax: Axes | None = None,
    x_label: str | None = None,
    y_label: str | None = None,
    title: str | None = None,
) -> Axes:
    """Draw predicted outcome against the level-1 predictor, one line per moderator value.

    Each line has its credible band. Legend entries read e.g.
    ``"low support (-1 SD = 2.9)"`` / ``"high support (+1 SD = 4.6)"``.

    Parameters
    ----------
    lines : pandas.DataFrame
        Output of :func:`ambidex_bayes.results.moderation_lines`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when omitted.
    x_label, y_label, title : str, optional
        Axis labels and title; the labels default to the predictor and outcome names.

    Returns
    -------
    matplotlib.axes.Axes
    """
    _require_columns(
        lines,
        ("x", "moderator_label", "moderator", "mean", "ci_lower", "ci_upper"),
        "lines",
    )
    import xarray as xr
    from arviz_plots.visuals import fill_between_y, line_xy

    name = lines.attrs.get("moderator_name")
    levels = (
        lines[["moderator_label", "moderator"]]
        .drop_duplicates("moderator_label")
        .sort_values("moderator", na_position="first")
    )
    means, bands = {}, {}
    for position, (label, value) in enumerate(levels.itertuples(index=False)):
        part = lines[lines["moderator_label"] == label].sort_values("x")
        legend = _moderator_legend(_level_word(position, len(levels)), name, str(label), value)
        x = part["x"].to_numpy(dtype=float)
        dim = f"x at {label}"
        means[legend] = curve_data(x, part["mean"], dim=dim)
        bands[legend] = band_data(x, part["ci_lower"], part["ci_upper"], dim=dim)
    pc = collection_on(ax, xr.Dataset(means), aes={"color": ["__variable__"]})
    pc.map(line_xy, "mean", data=xr.Dataset(means))
    pc.map(fill_between_y, "band", data=xr.Dataset(bands), alpha=0.2)
    for legend, artist in pc.viz["mean"].dataset.items():
        artist.item().set_label(str(legend))
    ax = pc.viz["plot"].item()
    ax.set_xlabel(x_label if x_label is not None else lines.attrs.get("x_name", "x"))
    ax.set_ylabel(
        y_label if y_label is not None else f"predicted {lines.attrs.get('y_name', 'outcome')}"
    )
    if title is not None:
        ax.set_title(title)
    prob = lines.attrs.get("ci_prob")
    ax.legend(loc="best", title=f"bands: {prob:.0%} credible" if prob is not None else None)
    return ax


def plot_simple_slopes(slopes: SimpleSlopes, *, ax: Axes | None = None) -> Axes:
    """Draw each simple slope as a point with its credible interval, a zero line, and
    P(slope > 0) written beside each point.

    Parameters
    ----------
    slopes : SimpleSlopes
        Output of :func:`ambidex_bayes.results.simple_slopes`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if not isinstance(slopes, SimpleSlopes):
        raise AmbidexError(
            f"slopes must be the SimpleSlopes returned by simple_slopes, got "
            f"{type(slopes).__name__}."
        )
    table = slopes.table
    ax = axes_or_new(ax)
    positions = np.arange(len(table))
    means = table["mean"].to_numpy(dtype=float)
    errors = np.vstack(
        [means - table["ci_lower"].to_numpy(dtype=float), table["ci_upper"].to_numpy() - means]
    )
    ax.axhline(0.0, color="grey", linewidth=1.0, linestyle="--")
    ax.errorbar(positions, means, yerr=errors, fmt="o", capsize=4)
    for pos, upper, p in zip(positions, table["ci_upper"], table["p_positive"], strict=True):
        ax.annotate(
            f"P(>0) = {p:.2f}",
            xy=(pos, upper),
            xytext=(0, 4),
            textcoords="offset points",
            ha="center",
            va="bottom",
        )
    ticks = [
        label if not math.isfinite(value) or label.startswith("at ") else f"{label}\n({value:.2g})"
        for label, value in zip(table["moderator_label"], table["moderator"], strict=True)
    ]
    ax.set_xticks(positions, ticks)
    ax.set_xlim(-0.5, len(table) - 0.5)
    ax.margins(y=0.15)  # room for the P(>0) labels
    name = table.attrs.get("moderator_name")
    ax.set_xlabel(name if name else "moderator")
    y_name = table.attrs.get("y_name", "outcome")
    x_name = table.attrs.get("x_name", "predictor")
    ax.set_ylabel(f"slope of {y_name} on {x_name}")
    return ax


def plot_icc(icc_table: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Draw the ICC's posterior mean with its credible interval on the 0-1 scale.

    Parameters
    ----------
    icc_table : pandas.DataFrame
        Output of :func:`ambidex_bayes.results.icc`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib.axes.Axes
    """
    _require_columns(icc_table, ("mean", "ci_lower", "ci_upper"), "icc_table")
    ax = axes_or_new(ax, figsize=(6.0, 2.0))
    row = icc_table.iloc[0]
    mean = float(row["mean"])
    ax.errorbar(
        [mean],
        [0.0],
        xerr=[[mean - float(row["ci_lower"])], [float(row["ci_upper"]) - mean]],
        fmt="o",
        capsize=4,
    )
    prob = icc_table.attrs.get("ci_prob")
    interval = f"{prob:.0%} CI " if prob is not None else "CI "
    ax.annotate(
        f"ICC = {mean:.2f}, {interval}[{row['ci_lower']:.2f}, {row['ci_upper']:.2f}]",
        xy=(mean, 0.0),
        xytext=(0, 8),
        textcoords="offset points",
        ha="center",
    )
    ax.set_xlim(0.0, 1.0)
    ax.set_yticks([])
    ax.set_xlabel("ICC: share of outcome variance between persons")
    return ax


def plot_fixed_effects(
    summary: pd.DataFrame, *, ax: Axes | None = None, include_variance: bool = False
) -> Axes:
    """Forest plot of a posterior summary: one point and interval per parameter.

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of :func:`ambidex_bayes.results.posterior_summary`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when omitted.
    include_variance : bool
        Also draw the SDs, the correlation and sigma (rows without ``p_positive``); by
        default only the fixed effects are drawn, as they share a scale.

    Returns
    -------
    matplotlib.axes.Axes
    """
    _require_columns(
        summary, ("parameter", "mean", "ci_lower", "ci_upper", "p_positive"), "summary"
    )
    rows = summary if include_variance else summary[summary["p_positive"].notna()]
    ax = axes_or_new(ax)
    positions = np.arange(len(rows))[::-1]
    means = rows["mean"].to_numpy(dtype=float)
    errors = np.vstack(
        [means - rows["ci_lower"].to_numpy(dtype=float), rows["ci_upper"].to_numpy() - means]
    )
    ax.axvline(0.0, color="grey", linewidth=1.0, linestyle="--")
    ax.errorbar(means, positions, xerr=errors, fmt="o", capsize=3)
    ax.set_yticks(positions, rows["parameter"].astype(str).to_list())
    ax.set_xlabel("posterior mean and credible interval (model scale)")
    return ax
