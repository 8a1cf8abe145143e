r"""Pareto-smoothed LOO-PIT values for many rows at once.

``arviz_stats.loo_pit(..., pareto_pit=True)`` refines each row's PIT value in Python, one
row at a time (milliseconds per row: many minutes for a national panel).
:func:`pareto_pit_rows` does the same computation for a block of rows with array operations,
step for step as ``arviz_stats`` 1.x does it for one row (Tesso et al. 2026). With
:math:`S` draws :math:`\tilde y_s` of a row, normalised log weights :math:`\log w_s` and the
observed value :math:`y`:

1. the raw value :math:`\sum_s w_s \mathbf 1[\tilde y_s < y]`; when some draws equal
   :math:`y`, a uniform draw between it and :math:`\sum_s w_s \mathbf 1[\tilde y_s \le y]`
   (one draw per row with ties, rows in order, from the given generator);
2. when the tail has at least 5 draws (:math:`M = \lfloor 3\sqrt S\rfloor`, or
   :math:`\lfloor S/5\rfloor` for :math:`S \le 225`, at most :math:`S/2`) and the row's
   draws are finite: the :math:`M` largest draws form the right tail; unless they are all
   equal, a generalized Pareto distribution is fitted to their exceedances of the largest
   draw below them, the cutoff :math:`c` (:func:`~ambidex_bayes.checks.psis.gpd_fit`,
   weighted by the draws' weights). For :math:`y > c` and a finite fit the value becomes
   :math:`1 - W (1 - F(y))`, :math:`W` the tail's weight and :math:`F` the fitted
   distribution function above :math:`c`;
3. a row whose right tail was not used gets the same for the left tail (the largest draws
   of :math:`-\tilde y`): :math:`W_{\mathrm{left}} (1 - F(-y))` for :math:`-y > c`;
4. every value is clipped to :math:`[1/(10^4 S), 1 - 1/(10^4 S)]`.

The values equal arviz-stats' to floating-point rounding (the sums of weights are taken
directly instead of through a log-sum-exp).
"""

from __future__ import annotations

import numpy as np

from ambidex_bayes.checks.psis import gpd_fit, log_sum_exp, tail_length

__all__ = ["pareto_pit_rows", "gpd_cdf"]


def gpd_cdf(q: np.ndarray, mu: np.ndarray, sigma: np.ndarray, k: np.ndarray) -> np.ndarray:
    r"""Distribution function of the generalized Pareto distribution, elementwise.

    :math:`F(q) = 1 - (1 + k z)^{-1/k}`, :math:`z = (q - \mu)/\sigma` (:math:`1 - e^{-z}`
    for :math:`|k| < 10^{-15}`), clipped to :math:`[0, 1]`; NaN where :math:`\sigma` is NaN
    or not positive.
    """
    with np.errstate(all="ignore"):
        z = (q - mu) / sigma
        exponential = -np.expm1(-z)
        general = -np.expm1(np.log1p(np.maximum(k * z, -1.0)) / -k)
        p = np.clip(np.where(np.abs(k) < 1e-15, exponential, general), 0.0, 1.0)
    return np.where(np.isnan(sigma) | (sigma <= 0), np.nan, p)


def _tail_values(
    draws: np.ndarray, y: np.ndarray, log_weights: np.ndarray, n_tail: int
) -> tuple[np.ndarray, np.ndarray]:
    """The right-tail PIT of each row and whether it applies (step 2 of the module docstring).

    ``draws`` finite, shape ``(rows, S)``; ``y`` shape ``(rows,)``. For the left tail, pass
    ``-draws`` and ``-y``.
    """
    n_rows, n_draws = draws.shape
    order = np.argsort(draws, axis=1)
    ordered = np.take_along_axis(draws, order, axis=1)
    tail = ordered[:, n_draws - n_tail :]
    tail_lw = np.take_along_axis(log_weights, order[:, n_draws - n_tail :], axis=1)
    cutoff = ordered[:, n_draws - n_tail - 1]
    cutoff = np.where(cutoff == tail[:, 0], cutoff - np.finfo(float).eps, cutoff)
    varying = ~np.all(tail == tail[:, :1], axis=1)
    used = np.zeros(n_rows, dtype=bool)
    values = np.full(n_rows, np.nan)
    fit = np.flatnonzero(varying & (y > cutoff))
    if fit.size:
        kappa, sigma = gpd_fit(tail[fit] - cutoff[fit, None], weights=np.exp(tail_lw[fit]))
        good = np.isfinite(kappa) & ~np.isnan(sigma)
        rows = fit[good]
        weight = np.exp(log_sum_exp(tail_lw[rows], axis=1))
        below = gpd_cdf(y[rows], cutoff[rows], sigma[good], kappa[good])
        values[rows] = weight * (1.0 - below)
        used[rows] = True
    return values, used


def pareto_pit_rows(
    draws: np.ndarray, y: np.ndarray, log_weights: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Pareto-smoothed PIT of each row (the module docstring's steps 1-4).

    Parameters
    ----------
    draws : array, shape ``(rows, S)``
        Predictive draws of each row.
    y : array, shape ``(rows,)``
        Observed values.
    log_weights : array, shape ``(rows, S)``
        Normalised log weights of each row's draws.
    rng : numpy.random.Generator
        Breaks the ties at the observed value (one draw per row with ties, in row order).

    Returns
    -------
    numpy.ndarray, shape ``(rows,)``
    """
    draws = np.asarray(draws, dtype=float)
    y = np.asarray(y, dtype=float)
    log_weights = np.asarray(log_weights, dtype=float)
    n_draws = draws.shape[1]
    weights = np.exp(log_weights)
    pit = np.sum(weights * (draws < y[:, None]), axis=1)
    equal = draws == y[:, None]
    tied = np.flatnonzero(equal.any(axis=1))
    if tied.size:
        upper = pit[tied] + np.sum(weights[tied] * equal[tied], axis=1)
        pit[tied] = rng.uniform(pit[tied], upper)
    n_tail = tail_length(n_draws, 1.0)
    if n_tail >= 5:
        n_tail = min(n_tail, n_draws // 2)
    smooth = n_tail >= 5 and n_tail < n_draws
    if smooth:
        rows = np.flatnonzero(np.all(np.isfinite(draws), axis=1))
        right, used = _tail_values(draws[rows], y[rows], log_weights[rows], n_tail)
        pit[rows[used]] = 1.0 - right[used]
        rest = rows[~used]
        left, used = _tail_values(-draws[rest], -y[rest], log_weights[rest], n_tail)
        pit[rest[used]] = left[used]
    low = 1.0 / n_draws / 1e4
    return np.clip(pit, low, 1.0 - low)
