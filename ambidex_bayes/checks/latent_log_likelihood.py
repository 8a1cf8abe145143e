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

An exact refit without a row whose predictor was imputed
(:func:`latent_left_out_log_density`) leaves out the row altogether; its outcome is scored
under the refit's draws with the missing predictor integrated out over the predictor's own
model, in closed form.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ambidex_bayes.checks.indexed_predictor import linear_predictor_draws
from ambidex_bayes.checks.latent_predictor import (
    latent_chunks,
    latent_design,
    latent_names,
    latent_within_draws,
)
from ambidex_bayes.errors import ModelError
from ambidex_bayes.posterior import get_scalar

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr

    from ambidex_bayes.fit import FitResult

__all__ = ["latent_integrated_rows", "latent_left_out_log_density"]


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


def _flat(post: xr.Dataset, name: str | None, role: str, *, needed: bool = False) -> np.ndarray:
    """A scalar variable's draws as ``(chain * draw,)``; zeros when ``name`` is None or the
    posterior lacks it (a term the model does not have), unless it is ``needed`` (then
    :func:`~ambidex_bayes.posterior.get_scalar` says what is missing)."""
    n_draws = post.sizes["chain"] * post.sizes["draw"]
    if not needed and (name is None or name not in post.data_vars):
        return np.zeros(n_draws)
    return np.asarray(get_scalar(post, name, role).values, dtype=float).reshape(-1)


def latent_left_out_log_density(fit: FitResult, post: xr.Dataset, row: pd.DataFrame) -> np.ndarray:
    r""":math:`\log p(y_i \mid \theta^{(s)})` per draw of a row whose level-1 predictors may
    be missing, integrated over their values: the score of a left-out row in an exact LOO
    refit (:func:`ambidex_bayes.checks.loo.psis_loo`).

    A row with an outcome but a missing predictor :math:`x_{pi}` has, in the fit, an imputed
    value. Leaving out its outcome :math:`y_i` leaves nothing of the row (its predictor is
    missing anyway), so the refit ``fit`` drops it and has no draw of :math:`x_{pi}`; the
    person's other rows keep informing the latent person mean :math:`\mu_{pj}`. The row's
    score is

    .. math::

        p(y_i \mid \mathrm{data}_{-i}) = \frac1S \sum_s \int p(y_i \mid x_i, \theta^{(s)},
            u^{(s)}_j, \mu^{(s)}_j)\, \prod_{p \in M_i} N(x_{pi} \mid \mu^{(s)}_{pj},
            \sigma^{(s)2}_{xp})\, dx_{pi},

    :math:`M_i` the row's missing predictors. Given a draw, :math:`x_{pi}` enters the linear
    predictor only through its within part :math:`c_{pi} = x_{pi} - \mu_{pj}`
    (:mod:`ambidex_bayes.checks.latent_predictor`), linearly, with coefficient

    .. math::

        b^{(s)}_{pj} = \beta^{(s)}_{1p} + \beta^{(s)}_{1Wp} w_j + u^{(s)}_{1j}\,[p = s^*]

    (within slope, cross-level interaction times the moderator, and the person slope when
    it is on this predictor, :math:`s^*`). Given the draw the :math:`c_{pi}
    \sim N(0, \sigma^2_{xp})` are independent, so :math:`y_i = m_i + \sum_{p \in M_i}
    b_{pj} c_{pi} + \varepsilon_i` is normal, and the integral is exact:

    .. math::

        y_i \mid \theta^{(s)} \sim N\Bigl(m^{(s)}_i,\; \sigma^{(s)2}
            + \sum_{p \in M_i} b^{(s)2}_{pj}\, \sigma^{(s)2}_{xp}\Bigr),

    :math:`m_i` the linear predictor with the person effects and each missing within part
    at 0 (:func:`~ambidex_bayes.checks.latent_predictor.latent_design` with
    ``at_person_mean``). With every predictor observed it is the plain normal density.

    Parameters
    ----------
    fit : FitResult
        A latent-centred (Gaussian) fit with draws of the row's person (their person means
        and person effects).
    post : Dataset
        Its draws.
    row : DataFrame
        One row with the prepared columns (outcome, raw level-1 predictors, person, centred
        moderator, controls).

    Returns
    -------
    numpy.ndarray
        Shape ``(chain * draw,)``: :math:`\log N(y_i \mid m_i, \cdot)` per draw.

    Raises
    ------
    ModelError
        Not one row, a missing outcome, or a person the fit has no draws of.
    """
    model = fit.spec.name
    if len(row) != 1:
        raise ModelError(f"{model}: one left-out row is scored at a time; got {len(row)}.")
    names = latent_names(fit)
    row = row.reset_index(drop=True)
    y = float(row[names.y].iloc[0])
    if np.isnan(y):
        raise ModelError(f"{model}: the left-out row has no outcome to score.")
    design = latent_design(fit, post, group_specific=True, data=row, at_person_mean=True)
    m = np.concatenate([eta for _, eta in latent_chunks(design, post, name=model)])[:, 0]
    variance = _flat(post, fit.terms.sigma, "residual SD", needed=True) ** 2
    code = int(design.codes[0])
    w = 0.0 if design.w is None else float(design.w[0])
    for p, column in enumerate(names.predictors):
        if not np.isnan(design.x[0, p]):
            continue
        vn = names.of(column)
        b = _flat(post, vn.within, "within slope")
        b = b + _flat(post, vn.interaction, "cross-level interaction") * w
        if p == design.slope and vn.slope_effect in design.persons:
            u1 = np.asarray(post[vn.slope_effect].transpose("chain", "draw", ...).values)
            b = b + u1.reshape(b.size, -1)[:, code]
        sd_x = _flat(post, vn.within_sd, "within-person SD of the predictor", needed=True)
        variance = variance + b**2 * sd_x**2
    return -0.5 * (y - m) ** 2 / variance - 0.5 * np.log(2 * math.pi * variance)
