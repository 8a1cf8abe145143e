r"""Intraclass correlation of the null (intercept-only) model M0.

The ICC is the share of the outcome's variance that lies between persons,

.. math::

    \mathrm{ICC} = \frac{\tau_0^2}{\tau_0^2 + \sigma^2},

computed per posterior draw of the person-intercept SD :math:`\tau_0` and the residual SD
:math:`\sigma`, so that it comes with its own posterior.
"""

from __future__ import annotations

import pandas as pd
import xarray as xr

from ambidex_bayes.errors import ModelError
from ambidex_bayes.posterior import (
    Fitted,
    describe_draws,
    fitted_parts,
    get_scalar,
    posterior_dataset,
    resolve_prob,
)
from ambidex_bayes.terms import ModerationTerms

__all__ = ["icc", "icc_draws"]


def _check_null_model(terms: ModerationTerms) -> None:
    """Raise :class:`ModelError` unless ``terms`` describe an intercept-only Gaussian model."""
    if terms.group_slope is not None or terms.group_slope_sd is not None:
        raise ModelError(
            "The ICC is only computed here for the intercept-only model (M0), and this model "
            "has person-specific slopes. With random slopes the between-person variance "
            "tau0^2 + 2*rho*tau0*tau1*x + tau1^2*x^2 depends on the value x of the level-1 "
            "predictor, so there is no single ICC, only one conditional on x. Fit M0 (random "
            "intercept, no predictors) and compute the ICC from that fit."
        )
    predictors = [
        n for n in (terms.slope, terms.between, terms.moderator, terms.interaction) if n is not None
    ] + [*terms.moderator_terms, *terms.interaction_terms, *terms.other_fixed]
    if predictors:
        raise ModelError(
            f"The ICC is only computed here for the intercept-only model (M0), and this model "
            f"has predictors ({', '.join(predictors)}). With predictors, tau0^2 / (tau0^2 + "
            "sigma^2) is a residual ICC conditional on them, not the share of the outcome's "
            "variance between persons. Fit M0 (random intercept, no predictors) and compute "
            "the ICC from that fit."
        )
    if terms.group_intercept_sd is None:
        raise ModelError(
            "The model has no person intercepts (no SD of person intercepts), so it has no "
            "ICC. Fit M0 with a random intercept per person."
        )
    if terms.sigma is None:
        raise ModelError(
            "The model has no residual SD 'sigma' (not a Gaussian family), so the ICC "
            "tau0^2 / (tau0^2 + sigma^2) is not defined for it."
        )


def icc_draws(fit: Fitted) -> xr.DataArray:
    """Posterior draws of the ICC of the intercept-only model, dims ``(chain, draw)``.

    Parameters
    ----------
    fit : Fitted
        The fit of the null model M0 (:class:`~ambidex_bayes.fit.FitResult` or
        :class:`~ambidex_bayes.posterior.PosteriorDraws`); its terms name a person-intercept
        SD and ``sigma``, no predictors, no random slope.

    Returns
    -------
    xarray.DataArray
        ``tau0**2 / (tau0**2 + sigma**2)`` per draw, named ``"icc"``.

    Raises
    ------
    ModelError
        If the model is not the intercept-only Gaussian model (see :func:`icc`).
    """
    idata, terms, _ = fitted_parts(fit, "icc_draws")
    return _icc_draws(idata, terms)


def _icc_draws(idata: xr.DataTree, terms: ModerationTerms) -> xr.DataArray:
    _check_null_model(terms)
    posterior = posterior_dataset(idata)
    tau0 = get_scalar(posterior, terms.group_intercept_sd, "SD of person intercepts")
    sigma = get_scalar(posterior, terms.sigma, "residual SD")
    between = tau0**2
    return (between / (between + sigma**2)).rename("icc")


def icc(fit: Fitted, *, prob: float | None = None) -> pd.DataFrame:
    r"""Posterior summary of the ICC of the null model M0.

    .. math::

        \mathrm{ICC}^{(s)} = \frac{\tau_0^{(s)2}}{\tau_0^{(s)2} + \sigma^{(s)2}}

    for every posterior draw :math:`s`, summarised by its mean, median, SD and equal-tailed
    credible interval.

    Note
    ----
    The ICC is only defined here for the intercept-only model. Once the model has person
    specific slopes :math:`u_{1j}`, the between-person variance of the outcome at a value
    :math:`x` of the within-person predictor is
    :math:`\tau_0^2 + 2\rho\tau_0\tau_1 x + \tau_1^2 x^2`: the ICC depends on :math:`x`
    and can only be reported conditionally. With fixed predictors the same ratio would be a
    residual ICC. For both this function raises :class:`ModelError`.

    Parameters
    ----------
    fit : Fitted
        The fit of the null model M0.
    prob : float, optional
        Width of the credible interval; defaults to ``constants.CI_PROB`` at call time.

    Returns
    -------
    pandas.DataFrame
        One row (index ``"ICC"``) with columns ``mean, median, sd, ci_lower, ci_upper``;
        ``attrs["ci_prob"]`` holds the interval width.

    Raises
    ------
    ModelError
        If the model has random slopes or predictors, lacks person intercepts or sigma, or
        the posterior lacks those variables.
    """
    prob = resolve_prob(prob)
    idata, terms, _ = fitted_parts(fit, "icc")
    draws = _icc_draws(idata, terms)
    stats = describe_draws(draws.values, prob)
    columns = ["mean", "median", "sd", "ci_lower", "ci_upper"]
    table = pd.DataFrame([{c: stats[c] for c in columns}], index=pd.Index(["ICC"]))
    table.attrs["ci_prob"] = prob
    return table
