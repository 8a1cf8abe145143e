"""Figures of a power analysis (SBC figures are in :mod:`.sbc_plots`).

The power curve stays hand-drawn: power against the number of persons, with Monte Carlo
error bars, is not a posterior figure and arviz-plots has no function for it.
"""

from __future__ import annotations

import math
import textwrap
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ambidex_bayes.errors import AmbidexError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ambidex_bayes.design.power_config import PowerConfig

__all__ = ["plot_power_curve"]

#: Conventional target power, drawn as a reference line.
TARGET_POWER = 0.8


def power_target(config: PowerConfig | None) -> tuple[str, str]:
    """What a power run tested, for the figure's title and its panels.

    Parameters
    ----------
    config : PowerConfig or None
        The run's configuration; None (or one without ``contrast``): the cross-level
        interaction.

    Returns
    -------
    (str, str)
        The tested parameter in words (e.g. ``"the difference of the uncertainty slope
        between private and public"``) and the name of the grid's effect on a panel
        (``"interaction"``, or ``"uncertainty slope, private − public"``).
    """
    if config is None or config.contrast is None:
        return "the cross-level interaction", "interaction"
    from ambidex_bayes.simulate import reference_design

    design = reference_design(**config.design)
    factor = getattr(design, "factor", None)
    reference = factor.resolved_reference if factor is not None else "the reference level"
    focal = config.focal or design.x_col
    return (
        f"the difference of the {focal} slope between {config.contrast} and {reference}",
        f"{focal} slope, {config.contrast} − {reference}",
    )


def plot_power_curve(
    table: pd.DataFrame, *, column: str = "power", config: PowerConfig | None = None
) -> Figure:
    """Power against the number of persons, one line per diary count, one panel per effect.

    Error bars are :math:`\\pm 1.96` Monte Carlo standard errors; the dashed line marks 80%.

    Parameters
    ----------
    table : DataFrame
        Output of :func:`ambidex_bayes.design.power.power_table`.
    column : {"power", "power_prob"}
        Which power definition to draw (its ``_se`` column gives the error bars).
    config : PowerConfig, optional
        The run's configuration, so that the title and panels name what was tested (a
        factor level's slope contrast with ``config.contrast``); default the cross-level
        interaction.

    Returns
    -------
    Figure
        One panel per effect of the grid.
    """
    import matplotlib.pyplot as plt

    needed = {"n_persons", "diaries", "effect", column, f"{column}_se"}
    missing = needed - set(table.columns)
    if missing:
        raise AmbidexError(
            f"The power table lacks {sorted(missing)}; no simulation of some cell succeeded "
            "yet, or this is not a power table."
        )
    tested, effect_name = power_target(config)
    effects = sorted(table["effect"].unique())
    n_cols = min(3, len(effects))
    n_rows = math.ceil(len(effects) / n_cols)
    fig, axes = plt.subplots(
        n_rows, n_cols, figsize=(4.2 * n_cols, 3.4 * n_rows), squeeze=False, sharey=True
    )
    for ax, effect in zip(axes.flat, effects, strict=False):
        cells = table[np.isclose(table["effect"], effect)]
        for diaries, line in cells.groupby("diaries"):
            line = line.sort_values("n_persons")
            ax.errorbar(
                line["n_persons"],
                line[column],
                yerr=1.96 * line[f"{column}_se"].fillna(0.0),
                marker="o",
                capsize=3,
                label=f"{diaries:g} diaries",
            )
        ax.axhline(TARGET_POWER, color="grey", linestyle="--", linewidth=1)
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(f"{effect_name} = {effect:g}")
        ax.set_xlabel("persons")
        if cells["n_persons"].max() > 4 * cells["n_persons"].min():
            ax.set_xscale("log")
        ax.legend(fontsize="small", loc="lower right")
    for ax in axes.flat[len(effects) :]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("power" if column == "power" else "power (P > 0 rule)")
    title = f"Power to detect {tested} (bars: ±1.96 MC SE)"
    fig.suptitle(textwrap.fill(title, width=50 * n_cols))
    fig.tight_layout()
    return fig
