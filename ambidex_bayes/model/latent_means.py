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
(:func:`conditional_standardised_means`): the mean of the :math:`n^x_j` observed x,
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

**Several level-1 predictors.** With predictors :math:`p = 1, \dots, P` the fast path
samples :math:`\eta_j = (\eta_{1j}, \dots, \eta_{Pj})` with :math:`z_j = m_j + A_j \eta_j`,
:math:`A_j A_j^\top` the covariance of :math:`z_j` under the same approximation. Each
predictor's mean of observed x informs its own :math:`z_{pj}` (precision
:math:`d_{pj} = 1 + \tau_p^2 n^x_{pj} / \sigma_p^2`), and the mean outcome, which depends on
:math:`\sum_p k_{pj} z_{pj}` with :math:`k_{pj} = \tau_p(\beta_{Bp} - \bar b_{pj})`, couples
them: the precision matrix is :math:`Q_j = D_j + c_j k_j k_j^\top` with
:math:`D_j = \mathrm{diag}(d_{pj})` and :math:`c_j = n_j / (n_j \tau_0^2 + \sigma^2)`. With
:math:`u_j = D_j^{-1/2} k_j`, :math:`r_j = \sqrt{1 + c_j u_j^\top u_j}` and the score
:math:`h_j` (per predictor the bracket of :math:`m_j` above, with :math:`\hat y_j` summing
every predictor's terms :math:`\beta_{Bp}(c_{pj} - \mu_{p0}) + \bar b_{pj}(\bar x_{pj} -
c_{pj})`),

.. math::

    A_j = D_j^{-1/2}\left(I - \frac{c_j}{r_j (1 + r_j)} u_j u_j^\top\right), \qquad
    m_j = D_j^{-1/2}\left(g_j - \frac{c_j\, u_j^\top g_j}{r_j^2} u_j\right), \quad
    g_j = D_j^{-1/2} h_j,

so that :math:`A_j A_j^\top = Q_j^{-1}` and :math:`\log |\det A_j| = -\tfrac12 \sum_p \log
d_{pj} - \log r_j`, in closed form for any :math:`P` (no factorisation per person). With
one predictor this is the scalar case above. The approximation leaves out the controls and
the variance of the person slopes, as there.

Full NUTS and ``centred_means=True`` keep their parameterisation (:math:`z_j` or
:math:`\mu_j` sampled).
"""

from __future__ import annotations

from collections.abc import Sequence
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
    "conditional_standardised_means",
    "guided_standardised_means",
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
    """The outcome model's parameters that the conditionally non-centred means read (tensors;
    0.0 for a term the model lacks).

    Attributes
    ----------
    intercept, w_effect : tensor or float
        :math:`\\beta_0, \\beta_W`.
    between, within, interaction : tuple of tensor or float
        Per level-1 predictor :math:`p`, :math:`\\beta_{Bp}, \\beta_{1p}, \\beta_{1Wp}`.
    intercept_sd : tensor
        :math:`\\tau_0`, the SD of the person intercepts.
    sigma : tensor
        :math:`\\sigma`, the residual SD.
    moderator : tensor or None
        :math:`w_j` (None without a moderator).
    """

    intercept: pt.TensorVariable | float
    between: tuple[pt.TensorVariable | float, ...]
    within: tuple[pt.TensorVariable | float, ...]
    w_effect: pt.TensorVariable | float
    interaction: tuple[pt.TensorVariable | float, ...]
    intercept_sd: pt.TensorVariable
    sigma: pt.TensorVariable
    moderator: pt.TensorVariable | None = None

    def __post_init__(self) -> None:
        if not len(self.between) == len(self.within) == len(self.interaction):
            raise ValueError("OutcomeGuide: one between, within and interaction per predictor.")


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


@dataclass(frozen=True)
class _PersonTerms:
    """One predictor's part of each person's conditional (module docstring)."""

    predictor: PredictorParameters
    x_dev_sum: pt.TensorVariable  # S^x - n^x c
    k: pt.TensorVariable  # tau_x (beta_B - bbar)
    prior_precision: pt.TensorVariable  # 1 + tau_x^2 n^x / sigma_x^2

    def score(self, y_dev_sum: pt.TensorVariable, y_var_n: pt.TensorVariable) -> pt.TensorVariable:
        """The conditional mean times the precision: the x part, then the outcome's."""
        tau_x, sd_x = self.predictor.sd, self.predictor.within_sd
        return tau_x * self.x_dev_sum / sd_x**2 + self.k * y_dev_sum / y_var_n


def _person_terms(
    x_sums: Sequence[LatentSums],
    outcome: LatentSums,
    predictors: Sequence[PredictorParameters],
    guide: OutcomeGuide,
) -> tuple[list[_PersonTerms], pt.TensorVariable, pt.TensorVariable]:
    """Each predictor's terms; :math:`n_j \\tau_0^2 + \\sigma^2`, :math:`n_j` times the
    variance of the mean outcome; and :math:`S^y_j - n_j \\hat y_j`."""
    w_value = 0.0 if guide.moderator is None else guide.moderator
    x_dev_sums, x_dev_means, slopes, ks = [], [], [], []
    for p, (sums, predictor) in enumerate(zip(x_sums, predictors, strict=True)):
        x_dev_sums.append(sums.Sx_all - sums.nx * predictor.centre)
        x_dev_means.append(x_dev_sums[-1] / pt.maximum(sums.nx, 1.0))
        slopes.append(guide.within[p] + guide.interaction[p] * w_value)
        ks.append(predictor.sd * (guide.between[p] - slopes[-1]))
    n = outcome.n
    y_var_n = n * guide.intercept_sd**2 + guide.sigma**2  # n_j times the variance of ybar_j
    y_hat = guide.intercept
    for predictor, between in zip(predictors, guide.between, strict=True):
        y_hat = y_hat + between * (predictor.centre - predictor.mean)
    y_hat = y_hat + guide.w_effect * w_value
    for slope, x_dev_mean in zip(slopes, x_dev_means, strict=True):
        y_hat = y_hat + slope * x_dev_mean
    terms = [
        _PersonTerms(
            predictor=predictor,
            x_dev_sum=x_dev_sum,
            k=k,
            prior_precision=1.0 + predictor.sd**2 * sums.nx / predictor.within_sd**2,
        )
        for sums, predictor, x_dev_sum, k in zip(x_sums, predictors, x_dev_sums, ks, strict=True)
    ]
    return terms, y_var_n, y_hat


def conditional_standardised_means(
    etas: Sequence[pt.TensorVariable],
    x_sums: Sequence[LatentSums],
    outcome: LatentSums,
    predictors: Sequence[PredictorParameters],
    guide: OutcomeGuide,
) -> tuple[list[pt.TensorVariable], pt.TensorVariable]:
    """Each predictor's :math:`z_{pj}` from the sampled :math:`\\eta_{pj}`, and the log
    Jacobian of the map (module docstring).

    Parameters
    ----------
    etas : sequence of tensor (J,)
        One per predictor.
    x_sums : sequence of LatentSums
        Each predictor's sums of observed x (``nx``, ``Sx_all``).
    outcome : LatentSums
        The sums of the outcomes (``n``, ``Sy``; any predictor's view holds them).
    predictors : sequence of PredictorParameters
    guide : OutcomeGuide

    Returns
    -------
    zs, log_jacobian
        The standardised person means and :math:`\\sum_j \\log |\\det A_j|`.
    """
    terms, y_var_n, y_hat = _person_terms(x_sums, outcome, predictors, guide)
    n = outcome.n
    if len(terms) == 1:
        (t,) = terms
        precision = t.prior_precision + t.k**2 * n / y_var_n
        scale = 1.0 / pt.sqrt(precision)
        location = t.score(outcome.Sy - n * y_hat, y_var_n) / precision
        return [location + scale * etas[0]], pt.sum(pt.log(scale))
    y_weight = n / y_var_n
    y_dev_sum = outcome.Sy - n * y_hat
    root_d = [pt.sqrt(t.prior_precision) for t in terms]
    u = [t.k / r for t, r in zip(terms, root_d, strict=True)]
    g = [t.score(y_dev_sum, y_var_n) / r for t, r in zip(terms, root_d, strict=True)]
    uu = _dot(u, u)
    root = pt.sqrt(1.0 + y_weight * uu)
    mean_shift = y_weight * _dot(u, g) / root**2
    eta_shift = -y_weight * _dot(u, etas) / (root * (1.0 + root))
    zs = [
        (g_p - mean_shift * u_p + eta_p + eta_shift * u_p) / r
        for g_p, u_p, eta_p, r in zip(g, u, etas, root_d, strict=True)
    ]
    log_jacobian = -pt.sum(pt.log(root))
    for t in terms:
        log_jacobian = log_jacobian - 0.5 * pt.sum(pt.log(t.prior_precision))
    return zs, log_jacobian


def _dot(a: Sequence[pt.TensorVariable], b: Sequence[pt.TensorVariable]) -> pt.TensorVariable:
    """:math:`\\sum_p a_p b_p`, elementwise over persons."""
    total = a[0] * b[0]
    for a_p, b_p in zip(a[1:], b[1:], strict=True):
        total = total + a_p * b_p
    return total


def guided_standardised_means(
    x_sums: Sequence[LatentSums],
    predictors: Sequence[PredictorParameters],
    guide: OutcomeGuide,
    person_dim: str,
) -> list[pt.TensorVariable]:
    """Sample :math:`\\eta_{pj}` (``_mu_eta``, ``_mu_eta1``, ...) and return every
    predictor's :math:`z_{pj}`; the prior of the :math:`z` and the Jacobian enter as one
    potential, so the model is the plain one in other coordinates."""
    etas = [
        pm.Flat(f"_mu_eta{'' if p == 0 else p}", dims=person_dim) for p in range(len(predictors))
    ]
    zs, log_jacobian = conditional_standardised_means(etas, x_sums, x_sums[0], predictors, guide)
    standard = pm.Normal.dist(0.0, 1.0)
    log_prior = pt.sum(pm.logp(standard, zs[0]))
    for z in zs[1:]:
        log_prior = log_prior + pt.sum(pm.logp(standard, z))
    pm.Potential("_mu_z_prior", log_prior + log_jacobian)
    return zs


def latent_means(
    data: LatentData,
    sums: LatentSums,
    predictor: PredictorParameters,
    *,
    marginal: bool,
    centred: bool,
    standardised: pt.TensorVariable | None = None,
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
    standardised : tensor, optional
        :math:`z_j`, when sampled in other coordinates
        (:func:`guided_standardised_means`); else :math:`z_j` is sampled (or
        :math:`\\mu_j` when ``centred``).
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
        if standardised is None:
            standardised = pm.Normal(f"_mu_z{tag}", 0.0, 1.0, dims=nm.person_dim)
        mu = pm.Deterministic(nm.mu, centre + tau_x * standardised, dims=nm.person_dim)
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
