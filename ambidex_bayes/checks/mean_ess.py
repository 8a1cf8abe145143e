r"""Effective sample size of the mean for many variables at once.

PSIS-LOO weighs its tail length by the relative efficiency of the draws, which
``arviz_stats.loo`` takes as the mean, over every posterior variable and element, of the
split-chain ESS of the mean divided by the number of draws. ``arviz_stats`` computes that ESS
one element at a time in Python; a fit with 2000 persons has over 4000 elements.
:func:`mean_ess` computes the same numbers for all elements together.

For one element, with the chains split in halves (:math:`m` chains of :math:`n` draws),
autocovariances :math:`\hat\gamma_{c,t}` per chain (by FFT, divided by :math:`n`),

.. math::

    W = \frac{n}{n-1}\,\overline{\hat\gamma_{\cdot,0}}, \qquad
    \widehat{\mathrm{var}}^+ = \frac{n-1}{n} W + \mathrm{Var}_c(\bar x_c), \qquad
    \hat\rho_t = 1 - \frac{W - \overline{\hat\gamma_{\cdot,t}}}{\widehat{\mathrm{var}}^+},

Geyer's initial positive sequence keeps the pairs :math:`P_k = \hat\rho_{2k} +
\hat\rho_{2k+1}` up to the first negative pair, his initial monotone sequence replaces them by
their running minimum, and

.. math::

    \hat\tau = -1 + 2 \sum_{k} P_k + \hat\rho_{\text{last even}}^+, \qquad
    \mathrm{ESS} = \frac{m n}{\max(\hat\tau, 1/\log_{10}(mn))},

step for step as ``arviz_stats`` 1.x (``ess(method="mean")``): a constant element gets
:math:`mn`, an element with a missing value or fewer than 4 draws gets NaN.
"""

from __future__ import annotations

import numpy as np
from scipy.fft import irfft, next_fast_len, rfft

__all__ = ["mean_ess", "BLOCK_ELEMENTS"]

#: Elements whose autocovariances are computed together (their spectra take about
#: ``BLOCK_ELEMENTS x 2 x chains x draws x 16`` bytes: 64 MB at 4 x 1000 draws).
BLOCK_ELEMENTS: int = 512


def _autocovariance(x: np.ndarray) -> np.ndarray:
    """Autocovariance of every lag along the last axis (divided by its length), by FFT."""
    n = x.shape[-1]
    size = next_fast_len(2 * n)
    centred = x - x.mean(axis=-1, keepdims=True)
    spectrum = rfft(centred, n=size, axis=-1, workers=-1)
    spectrum *= np.conjugate(spectrum)
    return irfft(spectrum, n=size, axis=-1, workers=-1)[..., :n] / n


def _tau(rho: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Geyer's estimate of the integrated autocorrelation time from the autocorrelations
    ``rho`` (K, n) of K elements, and whether a kept autocorrelation is NaN."""
    k_count, n = rho.shape
    kept = np.zeros_like(rho)
    kept[:, 0] = 1.0
    kept[:, 1] = rho[:, 1]
    even, odd = np.ones(k_count), rho[:, 1].copy()
    last = np.full(k_count, 1)  # each element's t when its positive sequence ends
    active = (even + odd) > 0
    t = 1
    while t < n - 3 and active.any():
        even = np.where(active, rho[:, t + 1], even)
        odd = np.where(active, rho[:, t + 2], odd)
        store = active & (even + odd >= 0)
        kept[store, t + 1] = even[store]
        kept[store, t + 2] = odd[store]
        last[active] += 2
        active &= (even + odd) > 0
        t += 2
    max_t = last - 2
    rows = np.arange(k_count)
    improve = even > 0
    kept[rows[improve], max_t[improve] + 1] = even[improve]
    pairs = kept[:, 0 : 2 * (n // 2) : 2] + kept[:, 1 : 2 * (n // 2) : 2]
    monotone = np.minimum.accumulate(pairs, axis=1)
    n_pairs = (max_t + 1) // 2
    within = np.arange(pairs.shape[1])[None, :] < n_pairs[:, None]
    # the loop stops before lag n - 3, so the last even lag max_t + 1 is always inside
    tau = -1.0 + 2.0 * np.sum(np.where(within, monotone, 0.0), axis=1) + kept[rows, max_t + 1]
    return tau, np.isnan(kept).any(axis=1)


def mean_ess(draws: np.ndarray) -> np.ndarray:
    """ESS of the mean of each element, as ``arviz_stats``' ``ess(method="mean")``.

    Computed by blocks of :data:`BLOCK_ELEMENTS` elements, so memory stays small however
    many elements there are.

    Parameters
    ----------
    draws : numpy.ndarray, shape ``(chains, draws, K)``

    Returns
    -------
    numpy.ndarray, shape ``(K,)``

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> independent = rng.normal(size=(4, 1000, 3))
    >>> bool(np.all(np.abs(mean_ess(independent) / 4000 - 1) < 0.15))
    True
    """
    values = np.asarray(draws)
    k_count = values.shape[2]
    out = np.empty(k_count)
    for start in range(0, k_count, BLOCK_ELEMENTS):
        stop = min(k_count, start + BLOCK_ELEMENTS)
        out[start:stop] = _block_ess(np.asarray(values[:, :, start:stop], dtype=float))
    return out


def _block_ess(values: np.ndarray) -> np.ndarray:
    """:func:`mean_ess` of one block of elements."""
    chains, n_draws, k_count = values.shape
    if n_draws < 4:
        return np.full(k_count, np.nan)
    half = n_draws // 2
    by_element = np.ascontiguousarray(np.moveaxis(values, 2, 0))  # (K, chains, draws)
    x = np.concatenate([by_element[:, :, :half], by_element[:, :, n_draws - half :]], axis=1)
    m, n = x.shape[1], x.shape[2]
    missing = np.isnan(by_element).any(axis=(1, 2))  # every draw, also one the split drops
    constant = (x.max(axis=(1, 2)) - x.min(axis=(1, 2))) < np.finfo(float).resolution
    acov = _autocovariance(x)
    mean_var = acov[:, :, 0].mean(axis=1) * n / (n - 1.0)
    var_plus = mean_var * (n - 1.0) / n
    if m > 1:
        var_plus = var_plus + np.var(x.mean(axis=2), axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = 1.0 - (mean_var[:, None] - acov.mean(axis=1)) / var_plus[:, None]
    tau, nan_kept = _tau(rho)
    total = m * n
    ess = total / np.maximum(tau, 1.0 / np.log10(total))
    ess = np.where(nan_kept, np.nan, ess)
    ess = np.where(constant, float(total), ess)
    return np.where(missing, np.nan, ess)
