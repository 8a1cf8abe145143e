"""Replicated and observed outcomes as the DataTree that ArviZ's predictive checks read.

arviz-plots' :func:`~arviz_plots.plot_ppc_dist` and :func:`~arviz_plots.plot_loo_pit`, and
arviz-stats' :func:`~arviz_stats.loo_pit`, start from a DataTree with a
``posterior_predictive`` group (dims ``chain, draw`` and the rows) and an ``observed_data``
group (the rows), one variable of the same name in each. :func:`predictive_tree` builds these
two groups from the :class:`~ambidex_bayes.checks.predictive.PredictiveDraws` of a fit.
LOO-PIT is computed by blocks of rows instead (:mod:`ambidex_bayes.checks.loo_pit`), whose
tree holds the observed outcome and the PIT values.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ambidex_bayes.checks.predictive import PredictiveDraws
from ambidex_bayes.errors import AmbidexError
from ambidex_bayes.posterior import SAMPLE_DIMS

__all__ = ["predictive_tree", "OBS_DIM"]

#: Name of the rows' dimension in every group of the tree.
OBS_DIM = "__obs__"


def predictive_tree(draws: PredictiveDraws, *, replicates: np.ndarray | None = None) -> xr.DataTree:
    """The replicated data sets and the observed outcome, on the original outcome scale.

    Parameters
    ----------
    draws : PredictiveDraws
        From :func:`ambidex_bayes.checks.predictive.posterior_predictive`.
    replicates : array of int, optional
        Keep only these replicated data sets (rows of ``draws.flat()``), stored as one chain
        whose ``draw`` coordinate holds their positions; default all, in their chains.

    Returns
    -------
    xarray.DataTree
        Groups ``posterior_predictive`` (dims ``chain, draw, __obs__``) and
        ``observed_data`` (dim ``__obs__``), each with one variable named after the outcome
        (``draws.outcome``); ``__obs__`` counts the rows from 0. The root's ``attrs`` hold
        ``model``, ``outcome`` and ``range`` (the declared scale range or ``None``).
    """
    name = draws.outcome
    y_rep = draws.y_rep.transpose(*SAMPLE_DIMS, OBS_DIM)
    n_rows = y_rep.sizes[OBS_DIM]
    if np.shape(draws.y_obs) != (n_rows,):
        raise AmbidexError(
            f"{draws.model}: {np.shape(draws.y_obs)} observed values for {n_rows} replicated "
            "rows; the draws do not belong together."
        )
    rows = np.arange(n_rows)
    if replicates is None:
        values = np.asarray(y_rep.values, dtype=float)
        coords = {dim: y_rep[dim].values for dim in SAMPLE_DIMS if dim in y_rep.coords}
    else:
        picked = np.asarray(replicates)
        if picked.ndim != 1 or not picked.size or picked.dtype.kind not in "iu":
            raise AmbidexError("replicates must be a non-empty 1-d array of whole numbers.")
        if picked.min() < 0 or picked.max() >= draws.n_draws:
            raise AmbidexError(
                f"replicates must lie in 0 .. {draws.n_draws - 1} (the replicated data sets)."
            )
        values = draws.flat()[picked][None, :, :]
        coords = {"chain": [0], "draw": picked}
    tree = xr.DataTree.from_dict(
        {
            "posterior_predictive": xr.Dataset(
                {name: ((*SAMPLE_DIMS, OBS_DIM), values)}, coords={**coords, OBS_DIM: rows}
            ),
            "observed_data": xr.Dataset(
                {name: (OBS_DIM, np.asarray(draws.y_obs, dtype=float))},
                coords={OBS_DIM: rows},
            ),
        }
    )
    tree.attrs.update(model=draws.model, outcome=name, range=draws.scale_range)
    return tree
