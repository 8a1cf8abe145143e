"""Plot twins of the moderation analysis: each takes computed results and only draws.

The study's two-line figure is :func:`ambidex_bayes.results.plot_moderation_lines`; this
module adds the moderation curve with its Johnson–Neyman region shaded, the posterior of the
boundary, and the person-slope scatter.

What arviz-plots draws and what stays ours
------------------------------------------
- The slope curve is an arviz-plots ``PlotCollection`` on the caller's axes: its
  ``fill_between_y`` visual draws the credible band, ``line_xy`` the posterior median and,
  on the twin axis, ``P(slope > 0)``, ``hline`` the zero line. :func:`arviz_plots.plot_lm`
  was checked and is not used: it needs the draws of the slope in a DataTree and computes
  its own interval and point estimate (and smooths them), while the curve table holds the
  median and equal-tailed interval the report writes.
- Ours, drawn in the same colours: the Johnson–Neyman shading (the credibly positive and
  negative stretches of the moderator, a result arviz-plots has no visual for), the dotted
  boundary at its posterior median, the rug of the persons' moderator values, the
  histogram of the boundary's posterior (windowed around the observed range, with the
  share left out in the title), and the person-slope scatter (persons coloured by their
  own verdict, with the population curve behind them).

Every function draws on the given matplotlib ``Axes`` (or a new one) and returns it; none
computes statistics or calls ``plt.show()``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ambidex_bayes.errors import AmbidexError
from ambidex_bayes.moderation.curve import ModerationCurve
from ambidex_bayes.moderation.johnson_neyman import JohnsonNeyman
from ambidex_bayes.moderation.person_slopes import PersonSlopes
from ambidex_bayes.plotting import axes_or_new, band_data, collection_on, curve_data

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_moderation_curve", "plot_boundary_posterior", "plot_person_slopes"]

_REGION_COLOURS = {"positive": "tab:green", "negative": "tab:red"}


def _check(value: object, kind: type, what: str, source: str) -> None:
    if not isinstance(value, kind):
        raise AmbidexError(
            f"{what} must be the {kind.__name__} of {source}, got {type(value).__name__}."
        )


def _slope_label(attrs: dict) -> str:
    y_name = attrs.get("y_name", "outcome")
    x_name = attrs.get("x_name", "predictor")
    suffix = " (standardised)" if attrs.get("scale") == "standardised" else ""
    return f"slope of {y_name} on {x_name}{suffix}"


def plot_moderation_curve(
    curve: ModerationCurve,
    *,
    johnson_neyman: JohnsonNeyman | None = None,
    ax: Axes | None = None,
    show_probability: bool = True,
    show_observed: bool = True,
    title: str | None = None,
) -> Axes:
    """Draw the slope along the moderator: median, credible band, zero line, and P(slope > 0).

    With ``johnson_neyman`` the credible-interval regions are shaded (green where the
    slope is credibly positive, red where credibly negative) and the boundary's posterior
    median is marked with a dotted line. ``P(slope > 0)`` is drawn on a second axis at the
    right (0 to 1); the persons' observed moderator values are a rug along the bottom.

    Parameters
    ----------
    curve : ModerationCurve
        Output of :func:`ambidex_bayes.moderation.moderation_curve`.
    johnson_neyman : JohnsonNeyman, optional
        Output of :func:`ambidex_bayes.moderation.johnson_neyman`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when omitted.
    show_probability : bool
        Draw P(slope > 0) on a twin axis.
    show_observed : bool
        Draw the rug of observed moderator values.
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
        The main axes; the probability axis, when drawn, is its twin sharing the x axis
        (the figure's other axes).
    """
    _check(curve, ModerationCurve, "curve", "moderation_curve")
    if johnson_neyman is not None:
        _check(johnson_neyman, JohnsonNeyman, "johnson_neyman", "johnson_neyman")
    import xarray as xr
    from arviz_plots.visuals import fill_between_y, hline, line_xy

    table = curve.table
    moderator = table["moderator"].to_numpy(dtype=float)
    prob = table.attrs.get("ci_prob")
    band = f"{prob:.0%} credible band" if prob is not None else "credible band"
    pc = collection_on(ax)
    pc.map(
        fill_between_y,
        "band",
        data=band_data(moderator, table["ci_lower"], table["ci_upper"], name="band"),
        alpha=0.25,
        color="C0",
        label=band,
    )
    pc.map(
        line_xy,
        "median",
        data=curve_data(moderator, table["median"], name="median"),
        color="C0",
        label="posterior median",
    )
    pc.map(hline, "zero", data=xr.DataArray(0.0, name="zero"), color="grey", linestyle="--")
    ax = pc.viz["plot"].item()
    if johnson_neyman is not None:
        regions = johnson_neyman.regions
        shown: set[str] = set()
        for row in regions[regions["criterion"] == "interval"].itertuples(index=False):
            label = None
            if row.direction not in shown:
                label = f"credibly {row.direction}"
                shown.add(row.direction)
            ax.axvspan(
                row.lower, row.upper, color=_REGION_COLOURS[row.direction], alpha=0.12, label=label
            )
        median = float(johnson_neyman.boundary.loc[0, "median"])
        low, high = float(table["moderator"].min()), float(table["moderator"].max())
        if math.isfinite(median) and low <= median <= high:
            ax.axvline(
                median, color="black", linestyle=":", linewidth=1.0, label="slope = 0 (median)"
            )
    if show_observed and len(curve.observed):
        ax.plot(
            curve.observed.to_numpy(dtype=float),
            np.zeros(len(curve.observed)),
            "|",
            color="black",
            alpha=0.5,
            markersize=10,
            transform=ax.get_xaxis_transform(),
        )
    ax.set_xlabel(table.attrs.get("moderator_name") or "moderator")
    ax.set_ylabel(_slope_label(table.attrs))
    handles, labels = ax.get_legend_handles_labels()
    if show_probability:
        right = ax.twinx()
        on_right = collection_on(right)
        on_right.map(
            line_xy,
            "p_positive",
            data=curve_data(moderator, table["p_positive"], name="p_positive"),
            color="tab:purple",
            linestyle="-.",
            label="P(slope > 0)",
        )
        line = on_right.viz["p_positive"]["p_positive"].item()
        right.set_ylim(0.0, 1.0)
        right.set_ylabel("P(slope > 0)")
        handles.append(line)
        labels.append("P(slope > 0)")
    ax.legend(handles, labels, loc="upper left", fontsize="small")
    if title is not None:
        ax.set_title(title)
    return ax


def plot_boundary_posterior(
    johnson_neyman: JohnsonNeyman, *, ax: Axes | None = None, bins: int = 40
) -> Axes:
    """Histogram of the posterior draws of the boundary where the slope is zero.

    Draws beyond one observed range's width outside the observed range are left out of the
    histogram (the share left out is written in the title); the observed range is shaded and
    the posterior median and interval are marked.

    Parameters
    ----------
    johnson_neyman : JohnsonNeyman
        Output of :func:`ambidex_bayes.moderation.johnson_neyman`.
    ax : matplotlib.axes.Axes, optional
    bins : int
        Number of histogram bins.

    Returns
    -------
    matplotlib.axes.Axes
    """
    _check(johnson_neyman, JohnsonNeyman, "johnson_neyman", "johnson_neyman")
    boundary = johnson_neyman.boundary.iloc[0]
    low, high = float(boundary["observed_min"]), float(boundary["observed_max"])
    width = high - low
    values = johnson_neyman.boundary_draws.values.reshape(-1)
    values = values[np.isfinite(values)]
    window = (values >= low - width) & (values <= high + width)
    ax = axes_or_new(ax)
    ax.axvspan(low, high, color="grey", alpha=0.15, label="observed range")
    ax.hist(values[window], bins=bins, color="tab:blue", alpha=0.7)
    for key, style in (("median", "-"), ("ci_lower", ":"), ("ci_upper", ":")):
        value = float(boundary[key])
        if math.isfinite(value) and low - width <= value <= high + width:
            ax.axvline(value, color="black", linestyle=style, linewidth=1.0)
    name = johnson_neyman.boundary.attrs.get("moderator_name") or "moderator"
    ax.set_xlabel(f"{name} where the slope is zero")
    ax.set_ylabel("posterior draws")
    outside = 1.0 - float(np.mean(window)) if values.size else 0.0
    ax.set_title(
        f"{boundary['share_in_observed_range']:.0%} of draws inside the observed range"
        + (f"; {outside:.0%} far outside, not shown" if outside > 0 else "")
    )
    ax.legend(loc="best", fontsize="small")
    return ax


def plot_person_slopes(
    persons: PersonSlopes,
    *,
    curve: ModerationCurve | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Scatter each person's slope against their moderator value, with credible intervals.

    Persons whose slope is credibly positive are drawn in green, credibly negative in red,
    the others in grey. With ``curve`` the population slope and its band are drawn behind
    the persons, so the shrinkage toward the line is visible. With a factor moderator the
    persons are drawn above their level (spread a little sideways so they do not overlap).

    Parameters
    ----------
    persons : PersonSlopes
        Output of :func:`ambidex_bayes.moderation.person_slopes`.
    curve : ModerationCurve, optional
        The population curve on the same scale.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    _check(persons, PersonSlopes, "persons", "person_slopes")
    table = persons.table
    by_level = table.attrs.get("levels_by_person")
    levels: list[str] = []
    if by_level:
        levels = list(table.attrs.get("levels") or sorted(set(by_level.values())))
        table = table.copy()
        position = table["person"].map(lambda p: levels.index(by_level[p])).to_numpy(dtype=float)
        rank = table.groupby(position).cumcount().to_numpy(dtype=float)
        size = pd.Series(position).map(pd.Series(position).value_counts()).to_numpy(dtype=float)
        table["moderator"] = position + 0.6 * ((rank + 0.5) / size - 0.5)
        if curve is not None:
            raise AmbidexError("A factor moderator has no curve; plot the person slopes alone.")
    if not np.isfinite(table["moderator"].to_numpy(dtype=float)).any():
        raise AmbidexError(
            "The person slopes carry no moderator values (the model has no moderator); "
            "there is nothing to plot them against."
        )
    ax = axes_or_new(ax)
    if curve is not None:
        _check(curve, ModerationCurve, "curve", "moderation_curve")
        if curve.table.attrs.get("scale") != table.attrs.get("scale"):
            raise AmbidexError(
                f"The curve is on the {curve.table.attrs.get('scale')} scale and the person "
                f"slopes on the {table.attrs.get('scale')} scale; compute both on one scale."
            )
        ct = curve.table
        ax.fill_between(ct["moderator"], ct["ci_lower"], ct["ci_upper"], color="grey", alpha=0.2)
        ax.plot(ct["moderator"], ct["median"], color="black", label="population slope")
    ax.axhline(0.0, color="grey", linewidth=1.0, linestyle="--")
    groups = (
        (table["credibly_positive"], "tab:green", "credibly positive"),
        (table["credibly_negative"], "tab:red", "credibly negative"),
        (
            ~(table["credibly_positive"] | table["credibly_negative"]),
            "tab:grey",
            "interval spans 0",
        ),
    )
    for mask, colour, label in groups:
        part = table[mask]
        if part.empty:
            continue
        median = part["median"].to_numpy(dtype=float)
        errors = np.vstack(
            [median - part["ci_lower"].to_numpy(dtype=float), part["ci_upper"].to_numpy() - median]
        )
        ax.errorbar(
            part["moderator"],
            median,
            yerr=errors,
            fmt="o",
            color=colour,
            markersize=4,
            elinewidth=0.8,
            alpha=0.8,
            label=f"{label} ({len(part)})",
        )
    if levels:
        ax.set_xticks(range(len(levels)), levels)
    ax.set_xlabel(table.attrs.get("moderator_name") or "moderator")
    ax.set_ylabel("person's " + _slope_label(table.attrs))
    ax.legend(loc="best", fontsize="small")
    return ax
