r"""Scores of new persons for a latent-centred fit: the person means integrated out too.

A latent-centred fit (:mod:`ambidex_bayes.model.latent_centring`) models each level-1
predictor :math:`p` as

.. math::

    x_{pij} = \mu_{pj} + e_{pij}, \qquad e_{pij} \sim N(0, \sigma_{xp}^2), \qquad
    \mu_{pj} \sim N(\mu_{p0} + \gamma_p w_j, \tau_p^2),

(``{x}_within_sd``, ``{x}_mu_mean``, ``{x}_mu:{w}`` when the model has a moderator,
``{x}_mu_sd``) and the outcome on the within parts :math:`x_{pij} - \mu_{pj}` and the
between parts :math:`\mu_{pj} - \mu_{p0}` (:mod:`ambidex_bayes.checks.latent_predictor`):

.. math::

    y_{ij} = \beta_0 + \beta_W w_j + k_{ij}^\top\gamma
        + \sum_p \bigl[\beta_{Bp}(\mu_{pj} - \mu_{p0}) + b_{pj}(x_{pij} - \mu_{pj})\bigr]
        + u_{0j} + u_{1j}(x_{sij} - \mu_{sj}) + \varepsilon_{ij},

:math:`b_{pj} = \beta_{1p} + \beta_{1Wp} w_j`, :math:`(u_{0j}, u_{1j}) \sim N(0, \Sigma)`,
:math:`\varepsilon_{ij} \sim N(0, \sigma^2)`, the person slope (if any) on predictor
:math:`s`. A *new* person has no draws of :math:`\mu_{pj}`, so their outcomes are scored by

.. math::

    p(y_j \mid x_j, \theta) = \int p(y_j \mid x_j, \mu_j, \theta)\,
        p(\mu_j \mid x_j, \theta)\, d\mu_j ,

per posterior draw :math:`\theta`, with :math:`u_j` integrated out of
:math:`p(y_j \mid x_j, \mu_j, \theta)` as for an observed-centred fit
(:func:`~ambidex_bayes.checks.person_gaussian.person_log_density`).

The person means given the person's own predictor values
---------------------------------------------------------
Given :math:`\theta` the predictors' models are independent, and each person mean has the
conjugate normal posterior given the person's :math:`n_{pj}` observed values of
:math:`x_p` (every day with :math:`x_p`, with or without an outcome):

.. math::

    \mu_{pj} \mid x_{pj} \sim N(\hat\mu_{pj}, v_{pj}), \qquad
    v_{pj}^{-1} = \tau_p^{-2} + n_{pj}\sigma_{xp}^{-2}, \qquad
    \hat\mu_{pj} = v_{pj}\bigl((\mu_{p0} + \gamma_p w_j)\tau_p^{-2}
        + \textstyle\sum_i x_{pij}\,\sigma_{xp}^{-2}\bigr).

The person means that enter linearly
------------------------------------
Write :math:`\mu_{pj} = \hat\mu_{pj} + \delta_p`. The linear predictor is
:math:`\eta_{ij} = \hat\eta_{ij} + \sum_p a_{pj}\delta_p` with :math:`\hat\eta` at
:math:`\hat\mu` and :math:`a_{pj} = \beta_{Bp} - b_{pj}` (the same for all the person's
rows). Every :math:`\delta_p` that no person slope multiplies is normal and enters linearly,
so it is integrated out exactly: it adds :math:`v_{pj} a_{pj}^2 \mathbf 1\mathbf 1^\top`
to the covariance -- to the person intercept's variance, whose design column is
:math:`\mathbf 1` too. Without a person slope every person mean is so, and

.. math::

    y_j \mid x_j, \theta \sim N\Bigl(\hat\eta_j,\; \sigma^2 I + Z\Sigma Z^\top
        + \textstyle\sum_p v_{pj} a_{pj}^2 \mathbf 1\mathbf 1^\top\Bigr)

exactly (method ``"exact"``).

The person mean that the person slope multiplies
------------------------------------------------
With a person slope on predictor :math:`s`, :math:`Z(\delta_s) = [\mathbf 1,\; x_{sj} -
\hat\mu_{sj} - \delta_s]` depends on :math:`\delta_s`, so
:math:`f(\delta) = N(y_j \mid \hat\eta_j + a_{sj}\delta,\; V(\delta))` is not Gaussian in
:math:`\delta` (the slope times the within part is a product). The one-dimensional integral
:math:`\int f(\delta) N(\delta \mid 0, v_{sj})\,d\delta` is computed per draw by
*adaptive* Gauss--Hermite quadrature (method ``"gauss-hermite"``): centred on the normal
:math:`N(m^*, v^*)` that the integrand would be with :math:`Z` held at :math:`\delta = 0`,

.. math::

    v^{*-1} = v_{sj}^{-1} + a^\top V_0^{-1} a, \qquad m^* = v^* a^\top V_0^{-1} r_0,

(:math:`a = a_{sj}\mathbf 1`, :math:`r_0 = y_j - \hat\eta_j`, :math:`V_0 = V(0)`), with
nodes :math:`\delta_k = m^* + \sqrt{2v^*}\,t_k` and Gauss--Hermite weights :math:`w_k`,

.. math::

    \int f(\delta) N(\delta \mid 0, v_{sj})\,d\delta \approx \sum_k w_k\, e^{t_k^2}
        \sqrt{2v^*}\, f(\delta_k)\, N(\delta_k \mid 0, v_{sj}),

which is exact when the integrand is Gaussian (a person-slope SD of 0). With
:data:`GH_NODES` nodes it agrees with twice as many to below :math:`10^{-6}` on the log scale
for person slopes whose spread times the predictor's within SD is up to about the residual SD
(the tests check both); much wider slope spreads converge more slowly (about
:math:`10^{-5}` at three times the residual SD).

A row without a predictor
-------------------------
The left-out row of an exact LOO refit (:func:`ambidex_bayes.checks.loo.psis_loo`) may lack
a predictor (the fit imputed it); when it is the person's one row with an outcome the refit
scores it as a new person's (``missing_x``). Its missing :math:`x_{pi}` is integrated out
over :math:`x_{pi} = \mu_{pj} + e_{pi}`, :math:`e_{pi} \sim N(0, \sigma_{xp}^2)`: the
within part :math:`e_{pi}` is independent of :math:`\delta_p`, so :math:`\delta_p` enters
through the between part alone (:math:`a_{pj} = \beta_{Bp}`, adding
:math:`v_{pj}\beta_{Bp}^2`) and :math:`b_{pj} e_{pi}` adds :math:`b_{pj}^2\sigma_{xp}^2` to
the one row's variance. When the person slope is on the missing predictor, the slope
multiplies :math:`e_{si}` and the quadrature above runs over :math:`\delta = -e_{si}`
instead (:math:`a = -b_{sj}`, :math:`c = 0`, :math:`v = \sigma_{xs}^2`). A person with such
a row among other outcomes is not handled (the missing values of several rows would each
need an integral of their own).

Which rows are scored
---------------------
The outcomes scored are those of the rows with the outcome and every predictor (and
control) observed -- the rows an observed-centred fit of the same data scores. Every
observed predictor value of the person's rows informs :math:`p(\mu_j \mid x_j)`, also on
days without an outcome; an outcome whose day lacks a predictor is not scored. A person
with no such row scores 0 (log of an empty product). The person's moderator must be known.

The work goes person by person and, within a person, by blocks of draws; the largest array
is (draws in a block) x nodes x rows of that one person.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import special

from ambidex_bayes.checks.latent_predictor import latent_names
from ambidex_bayes.checks.person_gaussian import person_log_density, person_solve
from ambidex_bayes.errors import ModelError

if TYPE_CHECKING:
    import xarray as xr

    from ambidex_bayes.fit import FitResult
    from ambidex_bayes.model.latent_data import LatentNames

__all__ = ["GH_NODES", "latent_scored_rows", "latent_new_person_scores"]

#: Gauss--Hermite nodes per draw for the person mean that the person slope multiplies.
GH_NODES: int = 32

#: Numbers (8 bytes each) that the arrays of one block of draws may hold, about.
BLOCK_NUMBERS: int = 8_000_000


def _columns(fit: FitResult, names: LatentNames, rows: pd.DataFrame) -> None:
    """Refuse rows that lack a column of the latent model."""
    needed = [names.y, names.person, *names.predictors, names.w, *names.controls]
    lacking = [c for c in needed if c is not None and c not in rows.columns]
    if lacking:
        raise ModelError(
            f"{fit.spec.name}: the rows lack the column(s) {lacking} of the latent model; "
            "transform new rows with fit.prepared.apply(...) first."
        )


def latent_scored_rows(fit: FitResult, rows: pd.DataFrame) -> np.ndarray:
    """Which of ``rows`` have their outcome scored: outcome, every level-1 predictor and
    every control observed (module docstring).

    Parameters
    ----------
    fit : FitResult
        A latent-centred fit.
    rows : DataFrame
        Rows with the prepared columns.

    Returns
    -------
    numpy.ndarray of bool
        One per row, in the order of ``rows``.
    """
    names = latent_names(fit)
    _columns(fit, names, rows)
    needed = [names.y, *names.predictors, *names.controls]
    return rows[needed].notna().all(axis=1).to_numpy()


def _flat(posterior: xr.Dataset, name: str | None) -> np.ndarray | None:
    """A scalar variable's draws as ``(chain * draw,)``; None when the posterior lacks it."""
    if name is None or name not in posterior.data_vars:
        return None
    values = np.asarray(posterior[name].transpose("chain", "draw").values, dtype=float)
    return values.reshape(-1)


def _needed(posterior: xr.Dataset, name: str, model: str) -> np.ndarray:
    values = _flat(posterior, name)
    if values is None:
        raise ModelError(
            f"{model}: the posterior has no variable {name!r}, which the scores of new persons "
            "of a latent-centred fit need; refit the model with this version of ambidex_bayes."
        )
    return values


def _person_mean_posterior(
    prior_mean: np.ndarray, tau: np.ndarray, sd_x: np.ndarray, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    r"""Per draw, the conjugate normal posterior :math:`N(\hat\mu, v)` of a person mean given
    the person's observed ``values`` (module docstring)."""
    precision = 1.0 / tau**2 + values.size / sd_x**2
    variance = 1.0 / precision
    mean = variance * (prior_mean / tau**2 + values.sum() / sd_x**2)
    return mean, variance


def latent_new_person_scores(
    fit: FitResult,
    post: xr.Dataset,
    rows: pd.DataFrame,
    *,
    sigma: np.ndarray,
    cov: np.ndarray,
    by_person: dict[str, np.ndarray],
    nodes: int | None = None,
    missing_x: bool = False,
) -> dict[str, np.ndarray]:
    r"""Per person of ``rows``, :math:`\log p(y_j \mid x_j, \theta^{(s)})` per draw as a new
    person: person effects and person means integrated out (module docstring).

    Parameters
    ----------
    fit : FitResult
        A latent-centred (Gaussian) fit.
    post : Dataset
        Its draws (possibly thinned).
    rows : DataFrame
        Rows with the prepared columns (raw level-1 predictors, outcome, person, centred
        moderator, controls), with a fresh ``RangeIndex``; days without an outcome inform the
        person means.
    sigma : numpy.ndarray
        Residual SD per draw, ``(draws,)``.
    cov : numpy.ndarray
        Covariance of the person effects per draw, ``(draws, q, q)``, intercept first.
    by_person : dict
        Person id -> positions of the person's rows in ``rows``.
    nodes : int, optional
        Gauss--Hermite nodes (default :data:`GH_NODES`); used only with a person slope.
    missing_x : bool
        Also score the outcome of a row with a missing level-1 predictor when it is the
        person's one row with an outcome (a left-out row of an exact LOO refit, module
        docstring); a person with such a row and other outcomes is refused.

    Returns
    -------
    dict of str to numpy.ndarray
        Person id -> ``(draws,)`` log densities on the modelled scale.

    Raises
    ------
    ModelError
        Rows without a column of the model, a person without a moderator value, a
        posterior without a variable the scores need, or (``missing_x``) a person with a row
        without a predictor among other rows with an outcome.
    """
    model = fit.spec.name
    names = latent_names(fit)
    scored = latent_scored_rows(fit, rows)
    outcome = rows[[names.y, *names.controls]].notna().all(axis=1).to_numpy()
    each = [names.of(c) for c in names.predictors]
    n_draws = sigma.shape[0]
    zero = np.zeros(n_draws)

    def optional(name: str | None) -> np.ndarray:
        values = _flat(post, name)
        return zero if values is None else values

    q = cov.shape[1]
    slope = None
    if q == 2:
        slope = next(
            (p for p, vn in enumerate(each) if vn.slope_effect == fit.terms.group_slope), 0
        )
    with_w = names.w is not None
    mu_mean = [_needed(post, vn.mu_mean, model) for vn in each]
    mu_sd = [_needed(post, vn.mu_sd, model) for vn in each]
    within_sd = [_needed(post, vn.within_sd, model) for vn in each]
    mu_w = [optional(vn.mu_moderator) if with_w else zero for vn in each]
    between = [optional(vn.between) for vn in each]
    within = [optional(vn.within) for vn in each]
    interaction = [optional(vn.interaction) if with_w else zero for vn in each]
    intercept = optional("Intercept")
    beta_w = optional(names.w) if with_w else zero
    gamma = (
        np.stack([_needed(post, c, model) for c in names.controls], axis=1)
        if names.controls
        else None
    )
    x_all = rows[list(names.predictors)].to_numpy(dtype=float)
    y_all = rows[names.y].to_numpy(dtype=float)
    w_all = rows[names.w].to_numpy(dtype=float) if with_w else None
    k_all = rows[list(names.controls)].to_numpy(dtype=float) if names.controls else None
    sigma2 = sigma**2
    t, log_wt = _hermite(GH_NODES if nodes is None else int(nodes))

    out: dict[str, np.ndarray] = {}
    for person, idx in by_person.items():
        w_j = 0.0
        if with_w:
            known = w_all[idx][~np.isnan(w_all[idx])]
            if known.size == 0:
                raise ModelError(
                    f"{model}: person {person!r} has no value of the moderator {names.w!r}, "
                    "which the latent person means and the outcome model need."
                )
            w_j = float(known[0])
        rows_j = idx[scored[idx]]
        missing = np.zeros(len(each), dtype=bool)
        if missing_x:
            partly = idx[outcome[idx] & ~scored[idx]]
            if partly.size and (partly.size > 1 or rows_j.size):
                raise ModelError(
                    f"{model}: person {person!r} has {partly.size + rows_j.size} rows with an "
                    "outcome, some without a level-1 predictor; a new person's row without a "
                    "predictor is scored only as the person's one row with an outcome."
                )
            if partly.size:
                rows_j = partly
                missing = np.isnan(x_all[partly[0]])
        n = rows_j.size
        if n == 0:
            out[person] = np.zeros(n_draws)
            continue
        eta = intercept + beta_w * w_j
        eta = np.broadcast_to(eta[:, None], (n_draws, n)).copy()
        if gamma is not None:
            eta += gamma @ k_all[rows_j].T
        spread = np.zeros(n_draws)
        a_s = c_s = v_s = None
        for p in range(len(each)):
            seen = x_all[idx, p]
            m_hat, v = _person_mean_posterior(
                mu_mean[p] + mu_w[p] * w_j, mu_sd[p], within_sd[p], seen[~np.isnan(seen)]
            )
            b = within[p] + interaction[p] * w_j
            eta += (between[p] * (m_hat - mu_mean[p]))[:, None]
            if missing[p]:
                # one row (n = 1): its within part e ~ N(0, sigma_x^2) is free of the person
                # mean, which enters through the between part alone
                spread = spread + v * between[p] ** 2
                if p == slope:  # the slope multiplies e: quadrature over delta = -e
                    a_s, c_s, v_s = -b, np.zeros((n_draws, 1)), within_sd[p] ** 2
                else:
                    spread = spread + within_sd[p] ** 2 * b**2
                continue
            c = x_all[rows_j, p][None, :] - m_hat[:, None]
            eta += b[:, None] * c
            a = between[p] - b
            if p == slope:
                a_s, c_s, v_s = a, c, v
            else:
                spread = spread + v * a**2
        r = y_all[rows_j][None, :] - eta
        # the spread of the linearly entering person means adds to the intercept's variance
        cov_j = cov.copy()
        cov_j[:, 0, 0] += spread
        if slope is None:
            out[person] = person_log_density(r, np.ones((n, q)), cov_j, sigma2)
        else:
            out[person] = _quadrature(r, c_s, a_s, v_s, cov_j, sigma2, t, log_wt)
    return out


def _hermite(nodes: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Gauss--Hermite nodes :math:`t_k` and :math:`\log w_k + t_k^2` (weight
    :math:`e^{-t^2}`)."""
    if nodes < 1:
        raise ModelError(f"the Gauss-Hermite quadrature needs at least one node; got {nodes}.")
    t, w = np.polynomial.hermite.hermgauss(nodes)
    return t, np.log(w) + t**2


def _quadrature(
    r: np.ndarray,
    c: np.ndarray,
    a: np.ndarray,
    v: np.ndarray,
    cov: np.ndarray,
    sigma2: np.ndarray,
    t: np.ndarray,
    log_wt: np.ndarray,
) -> np.ndarray:
    r""":math:`\log\int f(\delta) N(\delta \mid 0, v)\,d\delta` per draw by adaptive
    Gauss--Hermite quadrature (module docstring), over blocks of draws.

    ``r`` and ``c`` are the residuals and the slope predictor's within parts at
    :math:`\delta = 0`, ``(draws, n)``; ``a`` and ``v`` the derivative of the linear
    predictor in :math:`\delta` and the variance of :math:`\delta`, ``(draws,)``; ``cov``
    the covariance of the person intercept (with the other person means' spread) and slope,
    ``(draws, 2, 2)``.
    """
    n_draws, n = r.shape
    k = t.size
    out = np.empty(n_draws)
    step = max(1, BLOCK_NUMBERS // (8 * (k + 1) * n))
    ones = np.ones(n)
    for start in range(0, n_draws, step):
        b = slice(start, min(start + step, n_draws))
        ab = a[b][:, None] * ones
        z0 = np.stack([np.broadcast_to(ones, c[b].shape), c[b]], axis=-1)
        solved = person_solve(np.stack([ab, r[b]], axis=-1), z0, cov[b], sigma2[b])
        precision = 1.0 / v[b] + np.einsum("si,si->s", ab, solved[..., 0])
        v_star = 1.0 / precision
        m_star = v_star * np.einsum("si,si->s", ab, solved[..., 1])
        delta = m_star[:, None] + np.sqrt(2.0 * v_star)[:, None] * t  # (draws, nodes)
        r_k = r[b][:, None, :] - ab[:, None, :] * delta[..., None]
        c_k = c[b][:, None, :] - delta[..., None]
        z_k = np.stack([np.ones_like(c_k), c_k], axis=-1)
        log_f = person_log_density(r_k, z_k, cov[b][:, None], sigma2[b][:, None])
        log_prior = -0.5 * (delta**2 / v[b][:, None] + np.log(2 * math.pi * v[b])[:, None])
        terms = log_wt + 0.5 * np.log(2.0 * v_star)[:, None] + log_prior + log_f
        out[b] = special.logsumexp(terms, axis=1)
    return out
