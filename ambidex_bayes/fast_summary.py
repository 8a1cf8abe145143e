"""The ``summary`` command's table: :func:`~ambidex_bayes.results.posterior_summary`,
computed without importing arviz-stats.

:func:`posterior_table` returns the same table as ``posterior_summary`` (the same rows,
columns, numbers to the last bit and attributes; ``tests/test_fast_summary.py`` checks the
equality), taking R-hat and the ESS from :mod:`ambidex_bayes.rank_diagnostics` instead of
``arviz_stats.rhat`` / ``arviz_stats.ess``. Importing arviz-stats loads scipy.stats, and
its xarray wrappers import dask when it is installed: together more than a second, most
of what the command would otherwise take. Its draws are indexed with numpy rather than
``DataArray.isel`` for the same reason (indexing a coordinate imports dask too).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ambidex_bayes.posterior import (
    SAMPLE_DIMS,
    Fitted,
    describe_draws,
    elements,
    fitted_parts,
    get_variable,
    posterior_dataset,
    resolve_prob,
)
from ambidex_bayes.rank_diagnostics import convergence_arrays
from ambidex_bayes.results.summary import SUMMARY_COLUMNS, parameter_roles

__all__ = ["posterior_table"]


def _element_draws(da: xr.DataArray, selection: dict[str, int]) -> np.ndarray:
    """``da.isel(selection).values``: the draws of one element, sample dims in their order."""
    key = tuple(selection.get(str(d), slice(None)) for d in da.dims)
    return np.asarray(da.values)[key]


def _diagnostic(values: np.ndarray, da: xr.DataArray, selection: dict[str, int]) -> float:
    """One element of a diagnostic array over ``da``'s non-sample dims (in ``da``'s order)."""
    others = [str(d) for d in da.dims if str(d) not in SAMPLE_DIMS]
    return float(values[tuple(selection[d] for d in others)])


def posterior_table(fit: Fitted, *, prob: float | None = None) -> pd.DataFrame:
    """The table of :func:`ambidex_bayes.results.posterior_summary`, without arviz-stats.

    Parameters
    ----------
    fit : Fitted
        A fit, or :class:`~ambidex_bayes.posterior.PosteriorDraws`.
    prob : float, optional
        Width of the credible intervals, in (0, 1); ``constants.CI_PROB`` when None.

    Returns
    -------
    pandas.DataFrame
        Equal to ``posterior_summary(fit, prob=prob)``: one row per parameter with
        ``parameter, role, mean, sd, median, ci_lower, ci_upper, p_positive, rhat,
        ess_bulk, ess_tail``, and ``attrs["ci_prob"]``.

    Raises
    ------
    ModelError
        If ``fit.terms`` names a variable the posterior does not have.
    AmbidexError
        If ``fit`` is not a fit.
    """
    idata, terms, _ = fitted_parts(fit, "posterior_summary")
    prob = resolve_prob(prob)
    posterior = posterior_dataset(idata)
    fixed = set(terms.fixed)
    rows: list[dict[str, Any]] = []
    for name, role in parameter_roles(terms).items():
        da = get_variable(posterior, name, role)
        # constant draws give NaN here (0/0); the convergence report says so in words
        with np.errstate(invalid="ignore", divide="ignore"):
            rhat, ess_bulk, ess_tail = convergence_arrays(da)
        for label, selection in elements(da):
            values = _element_draws(da, selection).reshape(-1)
            row: dict[str, Any] = {"parameter": label, "role": role}
            row.update(describe_draws(values, prob))
            row["p_positive"] = float(np.mean(values > 0)) if name in fixed else math.nan
            row["rhat"] = _diagnostic(rhat, da, selection)
            row["ess_bulk"] = _diagnostic(ess_bulk, da, selection)
            row["ess_tail"] = _diagnostic(ess_tail, da, selection)
            rows.append(row)
    table = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    table.attrs["ci_prob"] = prob
    return table
