r"""The normal density of one person's outcomes with the person effects integrated out.

With person effects :math:`u_j \sim N(0, \Sigma)` entering the rows through the design
:math:`Z_j` and residuals :math:`N(0, \sigma^2)`, a person's outcomes :math:`y_j` given the
fixed part :math:`m_j` are multivariate normal,

.. math::

    y_j \sim N(m_j, V_j), \qquad V_j = \sigma^2 I + Z_j \Sigma Z_j^\top + E_j,

with :math:`E_j` a further covariance that some callers add (0 for an observed-centred fit;
the spread of the latent person means of a latent-centred one,
:mod:`ambidex_bayes.checks.latent_new_person`). :func:`person_covariance_matrix` builds
:math:`V_j` and :func:`gaussian_log_density` evaluates

.. math::

    \log N(r \mid 0, V) = -\tfrac12\bigl(n \log 2\pi + \log\lvert V\rvert
        + r^\top V^{-1} r\bigr), \qquad r = y_j - m_j,

both batched over any leading dimensions (draws, quadrature nodes).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["person_covariance_matrix", "gaussian_log_density"]


def person_covariance_matrix(
    z: np.ndarray,
    cov: np.ndarray,
    sigma2: np.ndarray,
    extra: np.ndarray | None = None,
) -> np.ndarray:
    r""":math:`V = \sigma^2 I + Z \Sigma Z^\top (+ E)`, broadcast over leading dimensions.

    Parameters
    ----------
    z : numpy.ndarray
        Design of the person effects, ``(n, q)`` or ``(..., n, q)``.
    cov : numpy.ndarray
        :math:`\Sigma`, ``(..., q, q)``.
    sigma2 : numpy.ndarray
        Residual variance, ``(...)``.
    extra : numpy.ndarray, optional
        :math:`E`, ``(..., n, n)``.

    Returns
    -------
    numpy.ndarray
        ``(..., n, n)``.
    """
    n = z.shape[-2]
    v = np.asarray(sigma2)[..., None, None] * np.eye(n) + z @ cov @ np.swapaxes(z, -1, -2)
    return v if extra is None else v + extra


def gaussian_log_density(r: np.ndarray, v: np.ndarray) -> np.ndarray:
    r""":math:`\log N(r \mid 0, V)` of each residual vector, batched.

    Parameters
    ----------
    r : numpy.ndarray
        Residuals :math:`y - m`, ``(..., n)``.
    v : numpy.ndarray
        Covariances, ``(..., n, n)``.

    Returns
    -------
    numpy.ndarray
        ``(...)``.
    """
    n = r.shape[-1]
    _, logdet = np.linalg.slogdet(v)
    quad = np.einsum("...a,...a->...", r, np.linalg.solve(v, r[..., None])[..., 0])
    return -0.5 * (n * math.log(2 * math.pi) + logdet + quad)
