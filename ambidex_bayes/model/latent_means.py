r"""The predictor model of latent centring: each person's latent mean and how it is sampled.

A level-1 predictor :math:`x` has person means :math:`\mu_j = c_j + \tau_x z_j` with
:math:`c_j = \mu_0 + \gamma w_j` (the moderator's effect :math:`\gamma` when there is one),
:math:`z_j \sim N(0, 1)`, and days :math:`x_{ij} \sim N(\mu_j, \sigma_x^2)`
(:mod:`ambidex_bayes.model.latent_centring`). :func:`predictor_parameters` gives the
parameters :math:`\mu_0, \tau_x, \sigma_x, \gamma` and :func:`latent_means` the means, the
imputed missing x and the likelihood of the observed ones.

**Conditionally non-centred means on the fast path.** Sampling :math:`z_j` itself (the
non-centred parameterisation) works when a person's data say little about their mean. With
one level-1 predictor and the person effects integrated out, the outcome can say a lot: when
the SD of person intercepts :math:`\tau_0` is small and the between-person effect
:math:`\beta_B` large, the person's mean outcome pins :math:`z_j`, so the scale of
:math:`z_j` a posteriori shrinks with :math:`\tau_0` - a funnel, which low reliability of the
observed person means makes likely. The fast path therefore samples :math:`\eta_j` with

.. math::

    z_j = m_j + s_j \eta_j,

where :math:`m_j` and :math:`s_j` are the mean and SD of :math:`z_j` given the other
parameters under a Gaussian approximation of person :math:`j`'s data
(:func:`conditional_location_scale`): the mean of the :math:`n^x_j` observed x,
:math:`\bar x_j \sim N(c_j + \tau_x z_j, \sigma_x^2 / n^x_j)`, and the mean of the
:math:`n_j` outcomes,

.. math::

    \bar y_j \approx \beta_0 + \beta_B (c_j - \mu_0) + \beta_W w_j + \bar b_j (\bar x_j - c_j)
        + k_j z_j + \varepsilon_j, \qquad
    k_j = \tau_x (\beta_B - \bar b_j), \qquad
    \varepsilon_j \sim N(0, \tau_0^2 + \sigma^2 / n_j),

with :math:`\bar b_j = \beta_1 + \beta_{1W} w_j` the fixed part of the person's within slope
(the slope's own variance and the controls are left out). Then

.. math::

    s_j^{-2} = 1 + \frac{\tau_x^2 n^x_j}{\sigma_x^2} + \frac{k_j^2 n_j}{n_j \tau_0^2 + \sigma^2},
    \qquad
    m_j = s_j^2 \left[\frac{\tau_x (S^x_j - n^x_j c_j)}{\sigma_x^2}
        + \frac{k_j (S^y_j - n_j \hat y_j)}{n_j \tau_0^2 + \sigma^2}\right],

:math:`S^x_j, S^y_j` the sums of the person's observed x and outcomes and :math:`\hat y_j`
the fixed part of :math:`\bar y_j` above. The density of :math:`\eta` is that of :math:`z`
times the Jacobian, :math:`N(m + s\eta; 0, 1) \prod_j s_j`, so the model and its posterior
are exactly the same (a test compares the log densities); only the coordinates the sampler
moves in change. A person without data (a padding person) has :math:`m_j = 0, s_j = 1`:
:math:`\eta_j = z_j`. The approximation only has to be close for the sampling to gain; it
is the idea of the partially non-centred parameterisations of Papaspiliopoulos, Roberts and
Sköld (2007), with the weight taken from each person's conditional posterior.

Measured on six reference-size studies with unreliable observed person means (85-100
persons, 1-7 diaries, reliability 0.33-0.40; ``benchmarks/bench_reliability.py``'s
simulated studies, the hardest ones met there) with nutpie's first try (diagonal mass
matrix), smallest bulk-ESS of the whole fit with plain :math:`z_j` and with
:math:`\eta_j`:

========  ===========  =======  =======
seed      reliability  plain    eta
========  ===========  =======  =======
20261209  0.37         204      689
20263207  0.40         51       484
20261219  0.34         575      1455
20261201  0.37         417      741
20261210  0.39         332      1480
20262211  0.33         385      1074
========  ===========  =======  =======

With plain :math:`z_j` five of the six failed the strict checks (three with divergences;
:math:`\beta_B`, :math:`\tau_0` or :math:`\tau_x` the slowest). With :math:`\eta_j` five
passed; seed 20263207 failed on R-hat (1.014 for :math:`\beta_B` and the moderator's effect,
whose posterior correlation a diagonal mass matrix does not follow) and passed at the second
try (low-rank mass matrix, bulk-ESS 1416). Over the 204 latent studies of
``bench_reliability.py --centring latent --datasets 34`` (default seed and
``--seed 7000000``) all 204 fits passed, that one after a second try; with plain
:math:`z_j` 202 had passed, 13 after a second try.

Models with several level-1 predictors, full NUTS and ``centred_means=True`` keep their
parameterisation (:math:`z_j` or :math:`\mu_j` sampled).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pymc as pm
import pytensor.tensor as pt

from ambidex_bayes.model.latent_fast_path import x_loglik

if TYPE_CHECKING:
    from ambidex_bayes.model.latent_data import LatentData
    from ambidex_bayes.model.latent_fast_path import LatentSums
    from ambidex_bayes.model.latent_priors import LatentPriors

__all__ = [
    "PredictorParameters",
    "OutcomeGuide",
    "predictor_parameters",
    "conditional_location_scale",
    "latent_means",
]


@dataclass(frozen=True)
class PredictorParameters:
    """The parameters of one predictor's person means (tensors of the model).

    Attributes
    ----------
    mean : tensor
        :math:`\\mu_0`, the mean of the person means (at the moderator's mean).
    sd : tensor
        :math:`\\tau_x`, the SD of the person means.
    within_sd : tensor
        :math:`\\sigma_x`, the SD of the days around a person's mean.
    centre : tensor
        :math:`c_j = \\mu_0 + \\gamma w_j` (one per person; :math:`\\mu_0` without moderator).
    """

    mean: pt.TensorVariable
    sd: pt.TensorVariable
    within_sd: pt.TensorVariable
    centre: pt.TensorVariable


@dataclass(frozen=True)
class OutcomeGuide:
    """The outcome model's parameters that :func:`conditional_location_scale` reads (tensors;
    0.0 for a term the model lacks).

    Attributes
    ----------
    intercept, between, within, w_effect, interaction : tensor or float
        :math:`\\beta_0, \\beta_B, \\beta_1, \\beta_W, \\beta_{1W}`.
    intercept_sd : tensor
        :math:`\\tau_0`, the SD of the person intercepts.
    sigma : tensor
        :math:`\\sigma`, the residual SD.
    moderator : tensor or None
        :math:`w_j` (None without a moderator).
    """

    intercept: pt.TensorVariable | float
    between: pt.TensorVariable | float
    within: pt.TensorVariable | float
    w_effect: pt.TensorVariable | float
    interaction: pt.TensorVariable | float
    intercept_sd: pt.TensorVariable
    sigma: pt.TensorVariable
    moderator: pt.TensorVariable | None = None


def predictor_parameters(
    data: LatentData,
    w: pt.TensorVariable | None,
    *,
    mean_x: float,
    sd_x: float,
    sd_w: float,
    priors: LatentPriors,
) -> PredictorParameters:
    """The predictor model's parameters with their priors (data-scaled defaults: the mean
    :math:`N(\\bar x, (2.5 s_x)^2)`, both SDs half-normal with scale :math:`s_x`, the
    moderator's effect :math:`N(0, (2.5 s_x / s_w)^2)`)."""
    nm = data.names
    mean = priors.normal(nm.mu_mean, mean_x, 2.5 * sd_x)
    sd = priors.half_normal(nm.mu_sd, sd_x)
    within_sd = priors.half_normal(nm.within_sd, sd_x)
    centre = mean
    if w is not None:
        centre = centre + priors.normal(nm.mu_moderator, 0.0, 2.5 * sd_x / sd_w) * w
    return PredictorParameters(mean=mean, sd=sd, within_sd=within_sd, centre=centre)


def conditional_location_scale(
    sums: LatentSums,
    predictor: PredictorParameters,
    guide: OutcomeGuide,
) -> tuple[pt.TensorVariable, pt.TensorVariable]:
    """:math:`(m_j, s_j)`, the approximate conditional mean and SD of each :math:`z_j` (module
    docstring), from the persons' sums of observed x (``nx``, ``Sx_all``) and of outcomes
    (``n``, ``Sy``)."""
    tau_x, sd_x, centre = predictor.sd, predictor.within_sd, predictor.centre
    nx, n = sums.nx, sums.n
    x_dev_sum = sums.Sx_all - nx * centre
    x_dev_mean = x_dev_sum / pt.maximum(nx, 1.0)
    w_value = 0.0 if guide.moderator is None else guide.moderator
    slope = guide.within + guide.interaction * w_value
    k = tau_x * (guide.between - slope)
    y_var_n = n * guide.intercept_sd**2 + guide.sigma**2  # n_j times the variance of ybar_j
    y_hat = (
        guide.intercept
        + guide.between * (centre - predictor.mean)
        + guide.w_effect * w_value
        + slope * x_dev_mean
    )
    precision = 1.0 + tau_x**2 * nx / sd_x**2 + k**2 * n / y_var_n
    scale = 1.0 / pt.sqrt(precision)
    location = (tau_x * x_dev_sum / sd_x**2 + k * (sums.Sy - n * y_hat) / y_var_n) / precision
    return location, scale


def latent_means(
    data: LatentData,
    sums: LatentSums,
    predictor: PredictorParameters,
    *,
    marginal: bool,
    centred: bool,
    guide: OutcomeGuide | None = None,
    tag: str = "",
) -> tuple[pt.TensorVariable, pt.TensorVariable | None]:
    """The person means :math:`\\mu_j` (``{x}_mu``), the imputed missing x and the likelihood
    of every observed x.

    Parameters
    ----------
    data : LatentData
        One predictor's view.
    sums : LatentSums
        Its per-person sums (``pm.Data`` on the fast path).
    predictor : PredictorParameters
    marginal : bool
        The fast path (observed x enter through their sums).
    centred : bool
        Sample :math:`\\mu_j` itself.
    guide : OutcomeGuide, optional
        Sample the conditionally non-centred :math:`\\eta_j` (module docstring) with these
        outcome parameters; else :math:`z_j` (or :math:`\\mu_j` when ``centred``).
    tag : str
        Ends the internal variables' names (predictors after the first).

    Returns
    -------
    mu, x_imputed
        The person means and the imputed x (None when no x is missing).
    """
    nm = data.names
    tau_x, sd_x, centre = predictor.sd, predictor.within_sd, predictor.centre
    if centred:
        mu = pm.Normal(nm.mu, mu=centre, sigma=tau_x, dims=nm.person_dim)
    else:
        if guide is None:
            z = pm.Normal(f"_mu_z{tag}", 0.0, 1.0, dims=nm.person_dim)
        else:
            eta = pm.Flat(f"_mu_eta{tag}", dims=nm.person_dim)
            location, scale = conditional_location_scale(sums, predictor, guide)
            z = location + scale * eta
            # the prior of z and the Jacobian of z = m + s * eta: the same model, other coordinates
            pm.Potential(
                f"_mu_z_prior{tag}",
                pt.sum(pm.logp(pm.Normal.dist(0.0, 1.0), z)) + pt.sum(pt.log(scale)),
            )
        mu = pm.Deterministic(nm.mu, centre + tau_x * z, dims=nm.person_dim)
    x_imp = None
    if data.n_imputed:
        x_imp = pm.Normal(
            nm.imputed,
            mu=mu[sums.imputed_person],
            sigma=sd_x,
            dims=nm.imputed_dim,
        )
    if marginal:
        pm.Potential(f"_latent_x_loglik{tag}", x_loglik(sums, mu, sd_x))
    else:
        x_all, p_all = data.all_x()
        pm.Normal(f"_x_observed{tag}", mu=mu[p_all], sigma=sd_x, observed=x_all)
    return mu, x_imp
