"""Replicated data set against the observed data for display: the share outside a rating
scale, density overlays and chosen persons' predictive intervals.

Each function takes the :class:`~ambidex_bayes.checks.predictive.PredictiveDraws` of a fit
and returns a table (the density overlay: the DataTree that arviz-plots draws densities
from); the plots of :mod:`ambidex_bayes.checks.plots` draw them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from ambidex_bayes import constants
from ambidex_bayes.checks.ppc_statistics import mean_and_interval
from ambidex_bayes.checks.predictive import PredictiveDraws
from ambidex_bayes.checks.predictive_tree import predictive_tree
from ambidex_bayes.errors import AmbidexError
from ambidex_bayes.posterior import resolve_prob

__all__ = ["range_check", "density_overlay", "person_intervals", "DENSITY_REPLICATES"]

#: Replicated data sets in the density overlay.
DENSITY_REPLICATES: int = 100


def range_check(draws: PredictiveDraws, *, prob: float | None = None) -> pd.DataFrame:
    """Share of predictions outside the outcome's declared range (bounded rating scales).

    Returns
    -------
    pandas.DataFrame
        Rows ``below``, ``above``, ``outside``: the share of replicated values below the
        lowest, above the highest, and outside the range, per replicated data set summarised
        by ``mean, ci_lower, ci_upper``; plus ``observed`` (0 for valid data). Empty when no
        range is declared for the outcome.
    """
    prob = resolve_prob(prob)
    columns = ["where", "observed", "mean", "ci_lower", "ci_upper"]
    if draws.scale_range is None:
        return pd.DataFrame(columns=columns)
    lo, hi = draws.scale_range
    y_rep = draws.flat()
    shares = {
        "below": (y_rep < lo).mean(axis=1),
        "above": (y_rep > hi).mean(axis=1),
    }
    shares["outside"] = shares["below"] + shares["above"]
    obs = {
        "below": float(np.mean(draws.y_obs < lo)),
        "above": float(np.mean(draws.y_obs > hi)),
    }
    obs["outside"] = obs["below"] + obs["above"]
    rows = []
    for key, values in shares.items():
        mean, low, high = mean_and_interval(values, prob)
        rows.append(
            {"where": key, "observed": obs[key], "mean": mean, "ci_lower": low, "ci_upper": high}
        )
    table = pd.DataFrame(rows, columns=columns)
    table.attrs.update(range=(lo, hi), ci_prob=prob, model=draws.model)
    return table


def density_overlay(
    draws: PredictiveDraws,
    *,
    n_replicates: int = DENSITY_REPLICATES,
    seed: int | None = None,
) -> xr.DataTree:
    """The observed outcome and some replicated data sets, for a density overlay.

    :func:`~ambidex_bayes.checks.predictive_tree.predictive_tree` with ``n_replicates``
    replicated data sets picked at random without replacement (all, when there are fewer);
    :func:`ambidex_bayes.checks.plots.plot_ppc_density` draws their densities
    (:func:`arviz_plots.plot_ppc_dist`).

    Parameters
    ----------
    draws : PredictiveDraws
    n_replicates : int
        Replicated data sets kept (default :data:`DENSITY_REPLICATES`).
    seed : int, optional
        Seed of the choice (default ``constants.SEED``).

    Returns
    -------
    xarray.DataTree
        Groups ``posterior_predictive`` (one chain of the picked data sets) and
        ``observed_data``; ``attrs`` ``model``, ``outcome``, ``range``.
    """
    if isinstance(n_replicates, bool) or not isinstance(n_replicates, int | np.integer):
        raise AmbidexError(f"n_replicates must be a whole number, got {n_replicates!r}.")
    if n_replicates < 1:
        raise AmbidexError(f"density_overlay needs n_replicates >= 1, got {n_replicates}.")
    rng = np.random.default_rng(constants.SEED if seed is None else seed)
    picked = rng.choice(draws.n_draws, size=min(int(n_replicates), draws.n_draws), replace=False)
    return predictive_tree(draws, replicates=np.sort(picked))


def person_intervals(
    draws: PredictiveDraws,
    persons: Sequence[str],
    *,
    prob: float | None = None,
) -> pd.DataFrame:
    """Observed values and predictive intervals of chosen persons' rows (grouped check).

    Returns
    -------
    pandas.DataFrame
        ``person, row, position, observed, rep_mean, rep_lower, rep_upper, outside``; one row
        per diary of the chosen persons, ``position`` counting the person's diaries from 0.
    """
    prob = resolve_prob(prob)
    wanted = [str(p) for p in persons]
    known = set(draws.persons)
    absent = [p for p in wanted if p not in known]
    if absent:
        raise AmbidexError(
            f"person(s) {absent} are not in the fitted data; persons look like "
            f"{', '.join(sorted(known)[:5])} ..."
        )
    y_rep = draws.flat()
    rows = []
    for person in wanted:
        idx = np.flatnonzero(draws.persons == person)
        lo, hi = np.quantile(y_rep[:, idx], [(1 - prob) / 2, (1 + prob) / 2], axis=0)
        for pos, (i, a, b) in enumerate(zip(idx, lo, hi, strict=True)):
            obs = float(draws.y_obs[i])
            rows.append(
                {
                    "person": person,
                    "row": int(i),
                    "position": pos,
                    "observed": obs,
                    "rep_mean": float(y_rep[:, i].mean()),
                    "rep_lower": float(a),
                    "rep_upper": float(b),
                    "outside": bool(obs < a or obs > b),
                }
            )
    table = pd.DataFrame(rows)
    table.attrs.update(ci_prob=prob, model=draws.model, outcome=draws.outcome)
    return table
