r"""The normal density of one person's outcomes with the person effects integrated out.

With person effects :math:`u_j \sim N(0, \Sigma)` (:math:`q` of them) entering the person's
:math:`n` rows through the design :math:`Z` (:math:`n \times q`) and residuals
:math:`N(0, \sigma^2)`, the outcomes given the fixed part :math:`m` are multivariate normal,
:math:`y \sim N(m, V)` with :math:`V = \sigma^2 I + Z \Sigma Z^\top`. Since :math:`q \le 2`
is small, :math:`V` is never formed: with :math:`M = \sigma^2 I_q + \Sigma Z^\top Z`,

.. math::

    V^{-1} x = \sigma^{-2}\bigl(x - Z M^{-1} \Sigma Z^\top x\bigr), \qquad
    \log\lvert V\rvert = (n - q)\log\sigma^2 + \log\lvert M\rvert

(the push-through identity and Sylvester's determinant identity; :math:`\Sigma` may be
singular), so that

.. math::

    \log N(y \mid m, V) = -\tfrac12\bigl(n \log 2\pi + \log\lvert V\rvert
        + r^\top V^{-1} r\bigr), \qquad r = y - m,

costs :math:`O(n q^2)` instead of :math:`O(n^3)`. :func:`person_log_density` evaluates it and
:func:`person_solve` gives :math:`V^{-1}x`, both batched over any leading dimensions (draws,
quadrature nodes) and used by the new-person scores of observed- and latent-centred fits
(:mod:`ambidex_bayes.checks.log_likelihood`, :mod:`ambidex_bayes.checks.latent_new_person`).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["person_log_density", "person_solve"]


def _inner(z: np.ndarray, cov: np.ndarray, sigma2: np.ndarray) -> np.ndarray:
    r""":math:`M = \sigma^2 I_q + \Sigma Z^\top Z`, ``(..., q, q)``."""
    q = z.shape[-1]
    ztz = np.swapaxes(z, -1, -2) @ z
    return np.asarray(sigma2)[..., None, None] * np.eye(q) + cov @ ztz


def person_solve(x: np.ndarray, z: np.ndarray, cov: np.ndarray, sigma2: np.ndarray) -> np.ndarray:
    r""":math:`V^{-1} x` with :math:`V = \sigma^2 I + Z\Sigma Z^\top` (module docstring).

    Parameters
    ----------
    x : numpy.ndarray
        ``(..., n, k)``.
    z : numpy.ndarray
        Design of the person effects, ``(n, q)`` or ``(..., n, q)``.
    cov : numpy.ndarray
        :math:`\Sigma`, ``(..., q, q)``.
    sigma2 : numpy.ndarray
        Residual variance, ``(...)``.

    Returns
    -------
    numpy.ndarray
        ``(..., n, k)``.
    """
    s2 = np.asarray(sigma2)[..., None, None]
    if z.shape[-1] == 0:
        return x / s2
    ztx = np.swapaxes(z, -1, -2) @ x
    return (x - z @ np.linalg.solve(_inner(z, cov, sigma2), cov @ ztx)) / s2


def person_log_density(
    r: np.ndarray, z: np.ndarray, cov: np.ndarray, sigma2: np.ndarray
) -> np.ndarray:
    r""":math:`\log N(r \mid 0, \sigma^2 I + Z\Sigma Z^\top)` of each residual vector, batched.

    Parameters
    ----------
    r : numpy.ndarray
        Residuals :math:`y - m`, ``(..., n)``.
    z : numpy.ndarray
        Design of the person effects, ``(n, q)`` or ``(..., n, q)``.
    cov : numpy.ndarray
        :math:`\Sigma`, ``(..., q, q)``.
    sigma2 : numpy.ndarray
        Residual variance, ``(...)``.

    Returns
    -------
    numpy.ndarray
        ``(...)``.
    """
    n, q = r.shape[-1], z.shape[-1]
    sigma2 = np.asarray(sigma2)
    quad = np.einsum("...a,...a->...", r, r)
    logdet = n * np.log(sigma2)
    if q:
        m = _inner(z, cov, sigma2)
        ztr = np.swapaxes(z, -1, -2) @ r[..., None]
        quad = quad - np.einsum(
            "...a,...a->...", ztr[..., 0], np.linalg.solve(m, cov @ ztr)[..., 0]
        )
        logdet = logdet - q * np.log(sigma2) + np.linalg.slogdet(m)[1]
    return -0.5 * (n * math.log(2 * math.pi) + logdet + quad / sigma2)
