"""Writing a study-design run's table, text and figures next to its results."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ambidex_bayes.output_paths import OutputFolder

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["write_outputs"]


def write_outputs(
    folder: str | os.PathLike,
    *,
    tables: dict[str, pd.DataFrame],
    text: dict[str, str],
    figures: dict[str, Figure],
) -> list[Path]:
    """Write tables (CSV), texts and figures (PNG) into ``folder``, each file atomically.

    Keys are file names without extension. Returns the written paths. A file that cannot be
    written is an :class:`~ambidex_bayes.errors.OutputError` naming it; the run's stored
    results are not touched.
    """
    out = OutputFolder(folder, what="result folder")
    for name, table in tables.items():
        out.table(f"{name}.csv", table)
    for name, body in text.items():
        out.text(f"{name}.txt", body + "\n")
    for name, fig in figures.items():
        out.figure(f"{name}.png", fig)
    return list(out.written)
