"""The multiverse in words: a short Markdown summary and a compact table of its cells."""

from __future__ import annotations

import pandas as pd

from ambidex_bayes.markdown import markdown_table
from ambidex_bayes.multiverse.cells import ESTIMATES
from ambidex_bayes.multiverse.grid import DIMENSIONS
from ambidex_bayes.multiverse.plots import choice_text

__all__ = ["compact_table", "describe_multiverse"]


def _interval(row: pd.Series, key: str) -> str:
    if pd.isna(row[f"{key}_mean"]):
        return ""
    return f"{row[f'{key}_mean']:.3f} [{row[f'{key}_lower']:.3f}, {row[f'{key}_upper']:.3f}]"


def compact_table(table: pd.DataFrame) -> pd.DataFrame:
    """One line per cell: the choices that vary, each key estimate as ``mean [lower, upper]``
    with its probability of direction, and the convergence verdict.

    Parameters
    ----------
    table : DataFrame
        Output of :func:`ambidex_bayes.multiverse.run_multiverse`.

    Returns
    -------
    DataFrame
        Columns: the varying dimensions (all of them when none varies), ``centring_used``
        when a cell chose its centring (``"auto"``), ``g11``, ``g11_pd``, ``g10``,
        ``g10_pd``, ``converged`` (``"yes"``, or the failed checks), and ``error`` when a
        fit failed.
    """
    varying = [d for d in DIMENSIONS if table[d].nunique() > 1] or list(DIMENSIONS)
    out = table[varying].copy()
    if "centring_used" in table and table["centring"].eq("auto").any():
        out["centring_used"] = table["centring_used"].fillna("")
    for dimension in varying:
        if table[dimension].dtype == bool:
            out[dimension] = table[dimension].map({True: "yes", False: "no"})
    for key in ESTIMATES:
        out[key] = [_interval(row, key) for _, row in table.iterrows()]
        out[f"{key}_pd"] = table[f"{key}_pd"].round(3)
    out["converged"] = [
        "yes" if ok else (checks or "no")
        for ok, checks in zip(table["converged"], table["checks"], strict=True)
    ]
    if (table["error"] != "").any():
        out["error"] = table["error"]
    return out


def _range(values: pd.Series) -> str:
    return f"{values.min():.3f} to {values.max():.3f}"


def describe_multiverse(table: pd.DataFrame, *, figure: str | None = None) -> str:
    """A short Markdown summary of a multiverse: the grid, how the key estimates vary, the
    cells that failed or did not converge, and the table of cells.

    Parameters
    ----------
    table : DataFrame
        Output of :func:`ambidex_bayes.multiverse.run_multiverse`.
    figure : str, optional
        File name of the figure, linked below the summary.

    Returns
    -------
    str
        Markdown.
    """
    n = len(table)
    prob = float(table.attrs.get("prob", 0.95))
    spec = table["spec"].iloc[0] if n else ""
    units = table["units"].iloc[0] if n else ""
    lines = [f"# Multiverse: model {spec} in {n} analyses", ""]
    grid = []
    for dimension in DIMENSIONS:
        values = [choice_text(dimension, v).split(": ", 1)[1] for v in pd.unique(table[dimension])]
        grid.append(f"{dimension}: {', '.join(values)}")
    lines += ["The grid: " + "; ".join(grid) + ".", ""]
    fitted = table[table["error"] == ""]
    for key, role in ESTIMATES.items():
        estimated = fitted[fitted[f"{key}_mean"].notna()]
        if estimated.empty:
            lines.append(f"- **{role.capitalize()} ({key})**: not estimated in any cell.")
            continue
        excludes = (estimated[f"{key}_lower"] > 0) | (estimated[f"{key}_upper"] < 0)
        positive = int((estimated[f"{key}_mean"] > 0).sum())
        lines.append(
            f"- **{role.capitalize()} ({key}, {units} units)**: posterior means from "
            f"{_range(estimated[f'{key}_mean'])} ({positive} of {len(estimated)} positive); "
            f"the {prob:.0%} interval excludes 0 in {int(excludes.sum())} of "
            f"{len(estimated)} analyses; probability of direction from "
            f"{_range(estimated[f'{key}_pd'])}."
        )
    converged = int(fitted["converged"].sum())
    lines.append(
        f"- **Convergence**: {converged} of {len(fitted)} fits passed every check "
        "(R-hat, bulk and tail ESS, divergences, tree depth, E-BFMI)."
    )
    latent = fitted[fitted.get("centring_used", pd.Series("", index=fitted.index)) == "latent"]
    if len(latent):
        lines.append(
            f"- **Latent centring**: {len(latent)} of {len(fitted)} fits estimated the person "
            "means with the model; the prior set applies to the parameters they share with the "
            "observed model, the predictor model's own keep their data-scaled defaults."
        )
    failed = table[table["error"] != ""]
    if len(failed):
        lines.append(f"- **Failed**: {len(failed)} analyses; their messages are in the table.")
    lines += ["", markdown_table(compact_table(table))]
    if figure:
        lines += ["", f"![The key estimate across the analyses]({figure})"]
    return "\n".join(lines) + "\n"
