"""Rank-normalised split R-hat and bulk and tail effective sample sizes, with numpy.

The convergence diagnostics of Vehtari, Gelman, Simpson, Carpenter and Bürkner (2021),
"Rank-normalization, folding, and localization: an improved R-hat for assessing
convergence of MCMC", Bayesian Analysis 16(2), computed to the last bit as
``arviz_stats.rhat(da)`` and ``arviz_stats.ess(da, method="bulk" | "tail")`` compute them
(``tests/test_rank_diagnostics.py`` checks the equality), without importing arviz-stats:
its import loads ``scipy.stats`` and, through xarray, dask, which the ``summary`` command
would spend more time importing than reading the fit. The inverse normal CDF is scipy's
``ndtri``, the one ``scipy.stats.norm.ppf`` evaluates.

For an array of draws of ``M`` chains of ``N`` draws, every chain is split in halves (the
middle draw of an odd ``N`` left out), giving ``m = 2M`` chains of ``n = N // 2`` draws.

- **Rank normalisation**: each draw is replaced by :math:`z = \\Phi^{-1}((r - 3/8) /
  (S + 1/4))`, :math:`r` its average rank among all :math:`S = mn` draws.
- **R-hat** of a split array: :math:`\\sqrt{(B/W + n - 1) / n}` with :math:`B` the
  variance of the chain means times :math:`n` and :math:`W` the mean within-chain variance.
  The rank R-hat is the larger of the R-hats of the rank-normalised draws and of the
  rank-normalised draws folded around their median (:math:`|\\theta - \\mathrm{med}|`).
- **ESS** of a split array: :math:`mn / \\hat\\tau`, :math:`\\hat\\tau = -1 + 2\\sum_t
  \\hat\\rho_t` summed with Geyer's initial positive and monotone sequences over the
  autocorrelations :math:`\\hat\\rho_t` (from FFT autocovariances), and at least
  :math:`1/\\log_{10}(mn)`. Bulk ESS: of the rank-normalised draws. Tail ESS: the smaller
  ESS of the indicators :math:`\\theta \\le q_p` of the draws below their quantiles at
  :math:`p = 1 - c` and :math:`p = c`, with :math:`c` arviz's ``stats.ci_prob`` (0.89
  unless an ``arvizrc`` file says otherwise).

A variable with NaN draws, fewer than 4 draws or (for R-hat) a single chain gets NaN.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

__all__ = ["convergence_arrays", "ess_bulk", "ess_tail", "rank_rhat"]

#: Blom's offset of the rank normalisation.
_BLOM = 3 / 8


def _undefined(draws: np.ndarray, min_chains: int) -> bool:
    """True when the diagnostic of a ``(chain, draw)`` array is NaN: any NaN draw (all
    NaN included), fewer than 4 draws or fewer than ``min_chains`` chains."""
    if np.isnan(draws).any():
        return True
    return draws.shape[0] < min_chains or draws.shape[1] < 4


def _halves(draws: np.ndarray) -> np.ndarray:
    """Each chain's first and last ``N // 2`` draws as separate chains."""
    half = draws.shape[1] // 2
    return np.vstack((draws[:, :half], draws[:, -half:]))


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..S of the flattened ``values``, ties given the mean of their ranks."""
    flat = values.ravel()
    order = np.argsort(flat, kind="mergesort")
    ordered = flat[order]
    starts = np.concatenate(([True], ordered[1:] != ordered[:-1]))
    group = np.cumsum(starts)
    bounds = np.concatenate((np.flatnonzero(starts), [flat.size]))
    ranks = np.empty(flat.size, dtype=float)
    ranks[order] = 0.5 * (bounds[group] + bounds[group - 1] + 1)
    return ranks


def _normal_scores(values: np.ndarray) -> np.ndarray:
    """Rank-normalised ``values`` (same shape): normal quantiles of the Blom-offset ranks."""
    from scipy.special import ndtri

    ranks = _average_ranks(values)
    return ndtri((ranks - _BLOM) / (ranks.size - 2 * _BLOM + 1)).reshape(values.shape)


def _psrf(chains: np.ndarray) -> float:
    """Potential scale reduction of a ``(chain, draw)`` array (no splitting)."""
    n = chains.shape[1]
    between = n * np.var(np.mean(chains, axis=1), axis=None, ddof=1)
    within = np.mean(np.var(chains, axis=1, ddof=1))
    return np.sqrt((between / within + n - 1) / n)


def rank_rhat(draws: np.ndarray) -> float:
    """Rank-normalised split R-hat of one ``(chain, draw)`` array (see the module notes).

    Parameters
    ----------
    draws : numpy.ndarray
        Shape ``(chain, draw)``.

    Returns
    -------
    float
        NaN for NaN draws, fewer than 4 draws or a single chain.
    """
    if _undefined(draws, min_chains=2):
        return np.nan
    split = _halves(draws)
    bulk = _psrf(_normal_scores(split))
    folded = _psrf(_normal_scores(abs(split - np.median(split))))
    return max(bulk, folded)


def _next_regular(target: int) -> int:
    """The smallest 5-smooth number (2^a 3^b 5^c) at least ``target`` (a fast FFT length)."""
    size = target
    while True:
        rest = size
        for factor in (2, 3, 5):
            while rest % factor == 0:
                rest //= factor
        if rest == 1:
            return size
        size += 1


def _autocovariances(chains: np.ndarray) -> np.ndarray:
    """Autocovariance of each chain at lags 0..n-1 (biased, divided by n), via the FFT."""
    n = chains.shape[1]
    size = _next_regular(2 * n)
    centred = chains - chains.mean(1, keepdims=True)
    spectrum = np.fft.rfft(centred, n=size, axis=1)
    spectrum *= np.conjugate(spectrum)
    cov = np.fft.irfft(spectrum, n=size, axis=1)[:, :n]
    cov /= n
    return cov


def _split_ess(chains: np.ndarray) -> float:
    """Effective sample size of an already split ``(chain, draw)`` array."""
    chains = np.asarray(chains, dtype=float)
    if (np.max(chains) - np.min(chains)) < np.finfo(float).resolution:
        return chains.size
    m, n = chains.shape
    acov = _autocovariances(chains)
    mean_var = np.mean(acov[:, 0]) * n / (n - 1.0)
    var_plus = mean_var * (n - 1.0) / n
    if m > 1:
        var_plus += np.var(chains.mean(axis=1), axis=None, ddof=1)

    def rho(lag: int) -> float:
        return 1.0 - (mean_var - np.mean(acov[:, lag])) / var_plus

    rhos = np.zeros(n)
    rhos[0] = even = 1.0
    rhos[1] = odd = rho(1)
    t = 1  # Geyer's initial positive sequence: pairs while their sum stays positive
    while t < n - 3 and even + odd > 0.0:
        even, odd = rho(t + 1), rho(t + 2)
        if even + odd >= 0:
            rhos[t + 1], rhos[t + 2] = even, odd
        t += 2
    last = t - 2
    if even > 0:
        rhos[last + 1] = even
    t = 1  # Geyer's initial monotone sequence: pair sums never increase
    while t <= last - 2:
        if rhos[t + 1] + rhos[t + 2] > rhos[t - 1] + rhos[t]:
            rhos[t + 1] = (rhos[t - 1] + rhos[t]) / 2.0
            rhos[t + 2] = rhos[t + 1]
        t += 2
    total = m * n
    tau = -1.0 + 2.0 * np.sum(rhos[: last + 1]) + np.sum(rhos[last + 1 : last + 2])
    tau = max(tau, 1 / np.log10(total))
    return np.nan if np.isnan(rhos).any() else total / tau


def ess_bulk(draws: np.ndarray) -> float:
    """Bulk effective sample size of one ``(chain, draw)`` array: of its rank-normalised
    split chains. NaN for NaN draws or fewer than 4 draws."""
    if _undefined(draws, min_chains=1):
        return np.nan
    return _split_ess(_normal_scores(_halves(draws)))


def ess_tail(draws: np.ndarray, ci_prob: float) -> float:
    """Tail effective sample size of one ``(chain, draw)`` array: the smaller ESS of the
    indicators of the draws at or below their quantiles at ``1 - ci_prob`` and ``ci_prob``.
    NaN for NaN draws or fewer than 4 draws."""
    if _undefined(draws, min_chains=1):
        return np.nan
    out = []
    for p in sorted((ci_prob, 1 - ci_prob)):
        below = draws <= np.quantile(draws, p, axis=None, method="linear")
        out.append(_split_ess(_halves(below)))
    return min(out)


def convergence_arrays(da: xr.DataArray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """R-hat, bulk ESS and tail ESS of every element of a posterior variable.

    Parameters
    ----------
    da : xarray.DataArray
        Draws with the sample dims of arviz's ``data.sample_dims`` (``chain, draw``) and any
        others.

    Returns
    -------
    rhat, ess_bulk, ess_tail : numpy.ndarray
        Each of the shape of ``da``'s other dims, in their order (0-d for a scalar
        parameter); equal to ``arviz_stats.rhat(da)`` and ``arviz_stats.ess(da,
        method="bulk" | "tail")``. The tail uses arviz's ``stats.ci_prob``.
    """
    from arviz_base import rcParams

    chain, draw = rcParams["data.sample_dims"]
    ci_prob = rcParams["stats.ci_prob"]
    values = np.asarray(da.values)
    axes = [da.dims.index(chain), da.dims.index(draw)]
    others = [i for i in range(values.ndim) if i not in axes]
    values = np.transpose(values, others + axes)  # sample dims last, as arviz-stats puts them
    shape = values.shape[:-2]
    rhat, bulk, tail = np.empty(shape), np.empty(shape), np.empty(shape)
    for index in np.ndindex(shape):
        chains = values[index]
        rhat[index] = rank_rhat(chains)
        bulk[index] = ess_bulk(chains)
        tail[index] = ess_tail(chains, ci_prob)
    return rhat, bulk, tail
