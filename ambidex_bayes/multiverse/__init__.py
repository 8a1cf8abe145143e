"""Many analyses at once: one model over a grid of defensible choices (a multiverse).

- :mod:`~ambidex_bayes.multiverse.grid`: the grid, typed and checked
  (:class:`MultiverseConfig`: data sets x prior sets x centring x controls x detrend x
  standardize) and its cells;
- :mod:`~ambidex_bayes.multiverse.cells`: one cell: prepare, fit, and the key estimates
  (cross-level interaction ``g11``, within-person slope ``g10``) with the convergence
  verdict;
- :mod:`~ambidex_bayes.multiverse.run`: every cell on the Dask runner of
  :mod:`ambidex_bayes.design` (resumable), and the table of cells;
- :mod:`~ambidex_bayes.multiverse.plots`: the key estimate across the cells with the choices;
- :mod:`~ambidex_bayes.multiverse.summary`: the short Markdown summary.
"""

from __future__ import annotations

from ambidex_bayes.multiverse.cells import cell_estimates, fit_cell
from ambidex_bayes.multiverse.grid import (
    CENTRINGS,
    Cell,
    DataSet,
    MultiverseConfig,
    multiverse_cells,
    multiverse_tasks,
)
from ambidex_bayes.multiverse.plots import plot_multiverse
from ambidex_bayes.multiverse.run import check_inputs, multiverse_table, run_multiverse
from ambidex_bayes.multiverse.summary import compact_table, describe_multiverse

__all__ = [
    "CENTRINGS",
    "Cell",
    "DataSet",
    "MultiverseConfig",
    "multiverse_cells",
    "multiverse_tasks",
    "fit_cell",
    "cell_estimates",
    "check_inputs",
    "run_multiverse",
    "multiverse_table",
    "plot_multiverse",
    "compact_table",
    "describe_multiverse",
]
