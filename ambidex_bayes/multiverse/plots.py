"""The multiverse's figure: the key estimate across the cells, sorted, with the choices shown.

A specification curve (Simonsohn, Simmons & Nelson, 2020): the top panel draws each
cell's posterior mean and credible interval, cells sorted by the mean; the panel below
marks, for each dimension of the grid that varies, which value each cell took. It is drawn
by hand from the table of :func:`ambidex_bayes.multiverse.run_multiverse` (arviz-plots has
no figure of many analyses' intervals with their choices).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ambidex_bayes.errors import AmbidexError
from ambidex_bayes.multiverse.cells import ESTIMATES
from ambidex_bayes.multiverse.grid import DIMENSIONS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_multiverse", "choice_text"]


def choice_text(dimension: str, value: object) -> str:
    """A dimension's value in words: ``"detrend: yes"``, ``"priors: sceptical"``."""
    if isinstance(value, bool | np.bool_):
        value = "yes" if value else "no"
    return f"{dimension}: {value}"


def plot_multiverse(
    table: pd.DataFrame,
    *,
    estimate: str = "g11",
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """The key estimate with its interval in every cell, sorted, over a matrix of choices.

    Cells whose interval excludes 0 are drawn in colour, the others in grey; a cell whose
    fit failed its convergence checks is marked with a red ring. Cells without an estimate
    (a failed fit) are left out and counted in the title.

    Parameters
    ----------
    table : DataFrame
        Output of :func:`ambidex_bayes.multiverse.run_multiverse`
        (:func:`~ambidex_bayes.multiverse.multiverse_table`).
    estimate : {"g11", "g10"}
        The cross-level interaction or the within-person slope.
    figsize : (float, float), optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    if estimate not in ESTIMATES:
        raise AmbidexError(
            f"estimate must be one of {', '.join(ESTIMATES)} ({', '.join(ESTIMATES.values())}), "
            f"got {estimate!r}."
        )
    needed = {f"{estimate}_{s}" for s in ("mean", "lower", "upper")} | {"converged"}
    missing = sorted(needed - set(table.columns))
    if missing:
        raise AmbidexError(
            f"The table lacks {missing}; pass the table of run_multiverse (multiverse_table)."
        )
    shown = table[table[f"{estimate}_mean"].notna()]
    if shown.empty:
        raise AmbidexError(
            f"No cell has an estimate of the {ESTIMATES[estimate]} (every fit failed, or the "
            "model has none); see the table's 'error' column."
        )
    shown = shown.sort_values(f"{estimate}_mean", kind="stable").reset_index(drop=True)
    varying = [d for d in DIMENSIONS if d in table and table[d].nunique() > 1]
    choices = [(d, v) for d in varying for v in pd.unique(table[d])]
    width = max(6.0, min(16.0, 2.0 + 0.35 * len(shown)))
    height = 3.6 + 0.28 * len(choices)
    if varying:
        fig, (top, bottom) = plt.subplots(
            2,
            1,
            sharex=True,
            figsize=figsize or (width, height),
            height_ratios=[3.6, max(0.8, 0.28 * len(choices))],
            layout="constrained",
        )
    else:
        fig, top = plt.subplots(figsize=figsize or (width, 3.6), layout="constrained")
        bottom = None

    x = np.arange(len(shown))
    mean = shown[f"{estimate}_mean"].to_numpy(float)
    lower = shown[f"{estimate}_lower"].to_numpy(float)
    upper = shown[f"{estimate}_upper"].to_numpy(float)
    excludes = (lower > 0) | (upper < 0)
    prob = table.attrs.get("prob")
    width_text = f"{prob:.0%} interval" if isinstance(prob, float) else "interval"
    for keep, color, label in (
        (excludes, "C0", f"{width_text} excludes 0"),
        (~excludes, "grey", f"{width_text} includes 0"),
    ):
        if keep.any():
            top.errorbar(
                x[keep],
                mean[keep],
                yerr=[mean[keep] - lower[keep], upper[keep] - mean[keep]],
                fmt="o",
                color=color,
                capsize=2,
                markersize=4,
                label=label,
            )
    unconverged = ~shown["converged"].astype(bool).to_numpy()
    if unconverged.any():
        top.scatter(
            x[unconverged],
            mean[unconverged],
            s=90,
            facecolors="none",
            edgecolors="red",
            linewidths=1.2,
            label="failed convergence checks",
            zorder=3,
        )
    top.axhline(0.0, color="black", linewidth=0.8, linestyle="--")
    units = table["units"].iloc[0] if "units" in table and len(table) else "original"
    top.set_ylabel(f"{estimate} ({units} units)")
    top.legend(fontsize="small", loc="best")
    left_out = len(table) - len(shown)
    note = f"; {left_out} cell(s) without an estimate left out" if left_out else ""
    top.set_title(f"{ESTIMATES[estimate].capitalize()} across {len(shown)} analyses{note}")

    if bottom is not None:
        for row, (dimension, value) in enumerate(choices):
            on = (shown[dimension] == value).to_numpy()
            bottom.scatter(x[on], np.full(on.sum(), row), marker="s", s=18, color="black")
            bottom.scatter(x[~on], np.full((~on).sum(), row), marker="s", s=18, color="0.88")
        for row in range(1, len(choices)):  # a faint line between two dimensions
            if choices[row][0] != choices[row - 1][0]:
                bottom.axhline(row - 0.5, color="0.75", linewidth=0.6)
        bottom.set_yticks(range(len(choices)))
        bottom.set_yticklabels([choice_text(d, v) for d, v in choices], fontsize="small")
        bottom.set_ylim(len(choices) - 0.5, -0.5)
        bottom.set_xlabel("analyses, sorted by the posterior mean")
        bottom.set_xticks(x if len(x) <= 40 else [])
        bottom.tick_params(axis="x", labelbottom=False)
    else:
        top.set_xlabel("analyses, sorted by the posterior mean")
        top.set_xticks(x)
        top.tick_params(axis="x", labelbottom=False)
    return fig
