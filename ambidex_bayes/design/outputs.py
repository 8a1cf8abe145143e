"""Writing a study-design run's table, text and figures next to its results."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ambidex_bayes.store import atomic_write

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

    Keys are file names without extension. Returns the written paths.
    """
    import matplotlib.pyplot as plt

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, table in tables.items():
        path = folder / f"{name}.csv"
        atomic_write(path, lambda tmp, t=table: t.to_csv(tmp, index=False))
        written.append(path)
    for name, body in text.items():
        path = folder / f"{name}.txt"
        atomic_write(path, lambda tmp, b=body: tmp.write_text(b + "\n"))
        written.append(path)
    for name, fig in figures.items():
        path = folder / f"{name}.png"
        atomic_write(path, lambda tmp, f=fig: f.savefig(tmp, format="png", dpi=120))
        plt.close(fig)
        written.append(path)
    return written
