r"""A latent-centred fit's log-likelihood of a row given the person's other rows.

The remedy for high Pareto k in PSIS-LOO (:mod:`ambidex_bayes.checks.loo`) integrates the
person effects :math:`u_j \sim N(0, \Sigma)` out of the likelihood
(:func:`~ambidex_bayes.checks.log_likelihood.integrated_log_likelihood`). In a
latent-centred fit the person slope multiplies the within part
:math:`c^{(s)}_i = x^{(s)}_i - \mu^{(s)}_j` (:mod:`ambidex_bayes.checks.latent_predictor`),
which changes with each draw of the latent person mean and of an imputed x, so the design of
the person effects is one per draw: :math:`Z^{(s)}_j = [1, c^{(s)}_j]` (or :math:`[1]`
without person slopes). For person :math:`j` and draw :math:`s`, with the marginal linear
predictor :math:`m^{(s)}_j` (person effects left out), :math:`r = y_j - m^{(s)}_j`,

.. math::

    V^{(s)}_j = \sigma^{(s)2} I + Z^{(s)}_j \Sigma^{(s)} Z^{(s)\top}_j, \qquad
    Q = V^{(s)-1}_j,

    \log p(y_i \mid y_{j,-i}, \theta^{(s)}) = -\tfrac12\log 2\pi + \tfrac12\log Q_{ii}
        - \tfrac12 (Qr)_i^2 / Q_{ii},

with :math:`\theta` the population parameters together with the latent person means and the
imputed values (which one outcome barely moves: each rests on the person's every observed x).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ambidex_bayes.checks.indexed_predictor import linear_predictor_draws
from ambidex_bayes.checks.latent_predictor import latent_design, latent_within_draws

if TYPE_CHECKING:
    import xarray as xr

    from ambidex_bayes.fit import FitResult

__all__ = ["latent_integrated_rows"]


def latent_integrated_rows(
    fit: FitResult,
    post: xr.Dataset,
    wanted: np.ndarray,
    *,
    sigma: np.ndarray,
    cov: np.ndarray,
    by_person: dict[str, np.ndarray],
) -> np.ndarray:
    r""":math:`\log p(y_i \mid y_{j,-i}, \theta)` of the rows ``wanted`` (module docstring).

    Parameters
    ----------
    fit : FitResult
        A latent-centred Gaussian fit.
    post : Dataset
        Its draws.
    wanted : numpy.ndarray
        Rows (0-based, increasing, in the fitted data).
    sigma : numpy.ndarray
        Residual SD per draw, shape ``(draws,)``.
    cov : numpy.ndarray
        Covariance of the person effects per draw, ``(draws, q, q)``, intercept first.
    by_person : dict
        Person id -> positions of the person's rows.

    Returns
    -------
    numpy.ndarray
        Shape ``(draws, len(wanted))``; memory grows with the rows of the persons concerned.
    """
    frame = fit.prepared.frame
    n_draws = post.sizes["chain"] * post.sizes["draw"]
    out = np.empty((n_draws, wanted.size))
    if wanted.size == 0:
        return out
    ids = frame[fit.prepared.mapping.person].astype(str).to_numpy()
    persons = list(dict.fromkeys(ids[wanted]))
    needed = np.concatenate([by_person[p] for p in persons])
    design = latent_design(fit, post, group_specific=False).take(needed)
    m = linear_predictor_draws(design, post, name=fit.spec.name).reshape(n_draws, -1)
    c = latent_within_draws(design, post, name=fit.spec.name)
    y = frame[fit.terms.y_column].to_numpy(dtype=float)[needed]
    q = cov.shape[1]
    position = {int(r): k for k, r in enumerate(wanted)}
    sigma2 = sigma**2
    start = 0
    for person in persons:
        n_j = by_person[person].size
        cols = slice(start, start + n_j)
        start += n_j
        z = np.ones((n_draws, n_j, q))
        if q == 2:
            z[:, :, 1] = c[:, cols]
        v = sigma2[:, None, None] * np.eye(n_j) + np.einsum("sia,sab,sjb->sij", z, cov, z)
        prec = np.linalg.inv(v)
        r = y[cols][None, :] - m[:, cols]
        qr = np.einsum("sab,sb->sa", prec, r)
        qii = np.diagonal(prec, axis1=1, axis2=2)
        ll = -0.5 * math.log(2 * math.pi) + 0.5 * np.log(qii) - 0.5 * qr**2 / qii
        for k, i in enumerate(by_person[person]):
            if int(i) in position:
                out[:, position[int(i)]] = ll[:, k]
    return out
