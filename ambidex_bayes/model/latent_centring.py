r"""Latent person-mean centring of the daily predictor (as in Mplus), full NUTS or fast path.

Observed centring splits a daily predictor into :math:`x_{ij} - \bar x_j` and the centred
observed mean :math:`\bar x_j`; with few diaries :math:`\bar x_j` is an unreliable measure of
the person's true mean, which biases the between-person effect towards zero (Lüdtke et al.,
2008). Latent centring models the predictor,

.. math::

    x_{ij} = \mu_j + e^x_{ij}, \qquad e^x_{ij} \sim N(0, \sigma_x^2), \qquad
    \mu_j \sim N(\mu_0 + \gamma w_j, \tau_x^2),

and the outcome on the latent parts (the ladder M1-M3),

.. math::

    y_{ij} = \beta_0 + \beta_1 (x_{ij} - \mu_j) + \beta_B (\mu_j - \mu_0) + \beta_W w_j
        + \beta_{1W} (x_{ij} - \mu_j) w_j + k_{ij}^\top\gamma
        + u_{0j} + u_{1j} (x_{ij} - \mu_j) + e_{ij},

with :math:`(u_{0j}, u_{1j}) \sim N(0, \Sigma)` (M1: intercepts only; M3 adds
:math:`\beta_{1W}`), :math:`e_{ij} \sim N(0, \sigma^2)`, and :math:`k_{ij}` the numeric
controls (day- or person-level columns, none by default) with fixed effects :math:`\gamma`. Every observed x informs
:math:`\mu_j`, including days whose outcome is missing; a missing x on a day with an outcome
is a parameter :math:`x_{ij} \sim N(\mu_j, \sigma_x^2)` (imputed by the model).

Posterior names are the observed model's where the role is the same (``Intercept``,
``{x}_cw``, ``{x}_pm``, ``{w}``, ``{x}_cw:{w}``, each control's column, ``1|person``, ``{x}_cw|person``, their
``_sigma``, ``corr(...)``, ``sigma``), so :class:`~ambidex_bayes.terms.ModerationTerms`
reads them unchanged; the predictor model adds ``{x}_mu`` (person means, person dimension),
``{x}_mu_mean`` (:math:`\mu_0`), ``{x}_mu_sd`` (:math:`\tau_x`), ``{x}_mu:{w}``
(:math:`\gamma`), ``{x}_within_sd`` (:math:`\sigma_x`) and ``{x}_imputed`` (see
:class:`~ambidex_bayes.model.latent_data.LatentNames`).

With several level-1 predictors (the terms a spec's formula uses,
:func:`~ambidex_bayes.model.latent_ladder.latent_structure`), each predictor :math:`p` has
its own person means :math:`\mu_{pj}` with their own mean, SD, within SD and moderator
effect (its own names, ``{x_p}_mu`` ...), within part :math:`x_{pij} - \mu_{pj}` and
between part :math:`\mu_{pj} - \mu_{p0}`, each missing value imputed; at most one
predictor's within slope varies over persons. The fast path then integrates the person
effects out given every predictor's person means
(:mod:`ambidex_bayes.model.latent_many`).

Priors are weakly informative and scaled by the data, as Bambi's defaults: normal priors with
SD 2.5 times the outcome's SD over the predictor's (or moderator's, or control's) SD on the
effects,
half-normal priors with the outcome's (or predictor's) SD as scale on the SDs, LKJ(2) on the
correlation; a spec's priors (its own, or a prior set's) replace them for the parameters
they name (:mod:`ambidex_bayes.model.latent_priors`). :func:`build_latent_model` with ``marginal=True`` builds the fast path
(:mod:`ambidex_bayes.model.latent_fast_path`): the person effects are integrated out and only
the rest is sampled. There the latent means are sampled in
coordinates that follow what each person's data say about them (conditionally non-centred,
:mod:`ambidex_bayes.model.latent_means`), the same model with a better-behaved posterior.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from ambidex_bayes.errors import SpecError
from ambidex_bayes.model.correlation import correlation_cholesky
from ambidex_bayes.model.latent_data import LatentData, LatentNames, with_padding_persons
from ambidex_bayes.model.latent_fast_path import (
    LatentSums,
    latent_sums,
    outcome_marginal_loglik,
    outcome_sums,
    residual_sums,
)
from ambidex_bayes.model.latent_ladder import LADDER, LatentStructure, ladder_structure
from ambidex_bayes.model.latent_many import many_sums, many_terms, replace_outcome
from ambidex_bayes.model.latent_means import (
    OutcomeGuide,
    guided_standardised_means,
    latent_means,
    predictor_parameters,
)
from ambidex_bayes.model.latent_priors import LatentPriors
from ambidex_bayes.prior_spec import PriorSpec
from ambidex_bayes.terms import ModerationTerms

__all__ = ["LADDER", "LatentModel", "build_latent_model", "latent_terms"]


@dataclass
class LatentModel:
    """A latent-centred model, ready to sample.

    Attributes
    ----------
    data : LatentData
    level : str
        "M1", "M2" or "M3".
    marginal : bool
        True for the fast path (person effects integrated out).
    pymc_model : pymc.Model
    sums : LatentSums
        Per-person sums (used by the fast path and to draw its person effects).
    priors : dict
        Every prior, by parameter name: ``{"prior": text}``.
    correlated : bool
        Whether person intercepts and slopes are correlated.
    prior_structure : tuple
        The given priors' distributions (:attr:`~ambidex_bayes.model.latent_priors.
        LatentPriors.structure`; empty with the defaults).
    conditional_means : bool
        Whether the latent means are sampled conditionally non-centred
        (:mod:`ambidex_bayes.model.latent_means`).
    """

    data: LatentData
    level: str
    marginal: bool
    pymc_model: pm.Model
    sums: LatentSums
    priors: dict[str, dict[str, str]] = field(default_factory=dict)
    correlated: bool = True
    centred_means: bool = False
    structure: LatentStructure | None = None
    prior_structure: tuple = ()
    model_persons: int | None = None
    conditional_means: bool = False

    @property
    def n_padding(self) -> int:
        """Persons without data the sampled model has after the real ones (see
        :func:`~ambidex_bayes.model.latent_data.with_padding_persons`); 0 without padding."""
        return 0 if self.model_persons is None else self.model_persons - self.data.n_persons

    @property
    def structure_key(self) -> tuple:
        """What a compiled fast-path model depends on besides its ``pm.Data`` values: the
        level, correlation, parameterisation, whether there is a moderator, the numbers
        of persons in the model (padding included) and of imputed values (the sizes of
        sampled vectors) and of controls, and the distributions of given priors."""
        return (
            self.level,
            self.marginal,
            self.correlated,
            self.centred_means,
            self.conditional_means,
            self.data.w is not None,
            self.data.n_persons + self.n_padding,
            self.data.n_imputed,
            *((self.data.n_controls,) if self.data.n_controls else ()),
            *(self._many_key() if self.data.n_predictors > 1 else ()),
            *((("priors", self.prior_structure),) if self.prior_structure else ()),
        )

    def _many_key(self) -> tuple:
        """The sizes and terms of a model with several predictors."""
        views = [self.data.predictor(p) for p in range(self.data.n_predictors)]
        return (
            self.structure,
            tuple(v.n_imputed for v in views),
            int(np.isnan(self.data.xs).any(axis=1).sum()),
        )

    @property
    def random_slope(self) -> bool:
        """Whether the within slope varies over persons."""
        if self.structure is not None:
            return self.structure.slope is not None
        return LADDER[self.level][0]

    @property
    def terms(self) -> ModerationTerms:
        """Roles of the posterior variables."""
        return latent_terms(
            self.data, self.level, correlated=self.correlated, structure=self.structure
        )


def latent_terms(
    data: LatentData,
    level: str,
    *,
    correlated: bool = True,
    structure: LatentStructure | None = None,
) -> ModerationTerms:
    """The :class:`ModerationTerms` of a latent-centred model of ``level`` (or of
    ``structure``): the first predictor's roles, the person slopes of the one that has
    them."""
    nm = data.names
    structure = structure or ladder_structure(level, data.n_predictors)
    slope = structure.slope is not None
    interaction = structure.interaction[0]
    sn = nm.of(nm.predictors[structure.slope or 0])
    return ModerationTerms(
        person_dim=nm.person_dim,
        x_column=nm.within,
        w_column=nm.w,
        y_column=nm.y,
        slope=nm.within,
        moderator=nm.w,
        interaction=nm.interaction if interaction else None,
        between=nm.between if structure.between[0] else None,
        group_intercept=nm.intercept_effect,
        group_slope=sn.slope_effect if slope else None,
        group_intercept_sd=f"{nm.intercept_effect}_sigma",
        group_slope_sd=f"{sn.slope_effect}_sigma" if slope else None,
        correlation=sn.correlation if slope and correlated else None,
    )


@dataclass(frozen=True)
class _Scales:
    """Data scales of the default priors."""

    mean_y: float
    sd_y: float
    mean_x: float
    sd_x: float
    sd_w: float
    sd_controls: tuple[float, ...] = ()

    @classmethod
    def of(cls, data: LatentData) -> _Scales:
        x_all, _ = data.all_x()
        sd_w = float(np.std(data.w)) if data.w is not None else 1.0
        return cls(
            mean_y=float(np.mean(data.y)),
            sd_y=float(np.std(data.y)) or 1.0,
            mean_x=float(np.mean(x_all)),
            sd_x=float(np.std(x_all)) or 1.0,
            sd_w=sd_w or 1.0,
            sd_controls=tuple(float(np.std(k)) or 1.0 for k in data.controls.T),
        )


def build_latent_model(
    data: LatentData,
    level: str = "M3",
    *,
    marginal: bool = True,
    correlated: bool = True,
    centred_means: bool = False,
    structure: LatentStructure | None = None,
    priors: Mapping[str, PriorSpec] | None = None,
    prior_source: str = "<spec>",
    model_persons: int | None = None,
    conditional_means: bool = True,
) -> LatentModel:
    r"""Build the latent-centred model of ``level`` (module docstring).

    Parameters
    ----------
    data : LatentData
        From :func:`ambidex_bayes.model.latent_data.latent_data`.
    level : {"M1", "M2", "M3"}
        M1: person intercepts; M2: and person slopes of the within part; M3: and the
        cross-level interaction with the moderator.
    marginal : bool, default True
        The fast path: person effects integrated out given the person means.
    correlated : bool, default True
        Correlated person intercepts and slopes (M2, M3).
    centred_means : bool, default False
        Sample the person means themselves (:math:`\mu_j \sim N(\cdot, \tau_x^2)`) instead
        of their standardised deviations :math:`z_j` with :math:`\mu_j = \mu_0 + \gamma w_j
        + \tau_x z_j` (the default, which samples better with few diaries per person).
    structure : LatentStructure, optional
        The terms of each level-1 predictor (:func:`~ambidex_bayes.model.latent_ladder.
        latent_structure` of a spec); default the ladder's ``level`` (within and between
        effects of every predictor, the first one's person slopes and interaction).
    priors : mapping of str to PriorSpec, optional
        Priors by parameter name, replacing the defaults of the parameters they name (a
        spec's priors rendered with the data's roles, ``"corr"`` for the correlation; see
        :mod:`ambidex_bayes.model.latent_priors`).
    prior_source : str
        Where ``priors`` come from, for messages.
    model_persons : int, optional
        The fast path's persons, at least ``data.n_persons``: persons without data are
        added up to this number (:func:`~ambidex_bayes.model.latent_data.
        with_padding_persons`), so that one compiled model serves data sets of nearby
        sizes. Their latent means follow the prior alone and the posterior drops them
        (:func:`~ambidex_bayes.model.latent_fit.complete_latent`). Ignored by full NUTS.
    conditional_means : bool, default True
        On the fast path (with ``centred_means`` False), sample the latent means
        conditionally non-centred (:mod:`ambidex_bayes.model.latent_means`),
        which keeps the sampler out of the funnel that small person-intercept SDs and
        unreliable observed means make; False samples the plain standardised means
        :math:`z_j` (the same model in other coordinates).

    Returns
    -------
    LatentModel

    Raises
    ------
    SpecError
        An unknown level, M3 without a moderator, or a prior that names no parameter of
        the model (or gives an SD a distribution that is not positive).
    """
    if level not in LADDER:
        raise SpecError(f"latent centring: unknown model {level!r}; choose one of {list(LADDER)}.")
    structure = structure or ladder_structure(level, data.n_predictors)
    if structure.n_predictors != data.n_predictors:
        raise SpecError(
            f"latent centring: the structure has {structure.n_predictors} level-1 "
            f"predictor(s), the data {data.n_predictors}."
        )
    random_slope = structure.slope is not None
    if any(structure.interaction) and data.w is None:
        raise SpecError("latent centring: M3 needs a moderator (w); fit M2 without one.")
    nm = data.names
    # the priors' scales come from the real persons; the sampled model may add padding
    scales = [_Scales.of(data.predictor(p)) for p in range(data.n_predictors)]
    sc = scales[0]
    sums = latent_sums(data.predictor(0))
    if not marginal or model_persons is None:
        model_persons = None
    model_data = with_padding_persons(data, model_persons or data.n_persons)
    views = [model_data.predictor(p) for p in range(data.n_predictors)]
    model_sums = latent_sums(views[0]) if model_persons else sums
    priors = LatentPriors(priors, source=prior_source)
    J = model_data.n_persons
    coords = {nm.person_dim: model_data.levels}
    for view in views:
        coords[view.names.imputed_dim] = np.arange(view.n_imputed)
    s_slope = structure.slope or 0
    with pm.Model(coords=coords) as model:
        held = model_sums.as_data() if marginal else sums
        w = None if model_data.w is None else pm.Data("_w", model_data.w)
        view_sums = [held]
        for p, view in enumerate(views[1:], start=1):
            more = latent_sums(view)
            view_sums.append(more.as_data(prefix=f"_ls{p}") if marginal else more)
        predictors = [
            predictor_parameters(
                view,
                w,
                mean_x=scales[p].mean_x,
                sd_x=scales[p].sd_x,
                sd_w=scales[p].sd_w,
                priors=priors,
            )
            for p, view in enumerate(views)
        ]
        beta0 = priors.normal("Intercept", sc.mean_y, 2.5 * sc.sd_y)
        within, between = [], []
        for p, view in enumerate(views):
            vn = view.names
            slope_sd = 2.5 * sc.sd_y / scales[p].sd_x
            within.append(priors.normal(vn.within, 0.0, slope_sd) if structure.within[p] else 0.0)
            between.append(
                priors.normal(vn.between, 0.0, slope_sd) if structure.between[p] else None
            )
        w_effect = None if w is None else priors.normal(nm.w, 0.0, 2.5 * sc.sd_y / sc.sd_w)
        interactions = [
            priors.normal(view.names.interaction, 0.0, 2.5 * sc.sd_y / scales[p].sd_x / sc.sd_w)
            if structure.interaction[p]
            else None
            for p, view in enumerate(views)
        ]
        gamma = _controls(nm, sc, priors)
        tau = [priors.half_normal(f"{nm.intercept_effect}_sigma", sc.sd_y)]
        rho = None
        slope_names = views[s_slope].names
        if random_slope:
            tau.append(
                priors.half_normal(
                    f"{slope_names.slope_effect}_sigma", sc.sd_y / scales[s_slope].sd_x
                )
            )
            if correlated:
                eta = priors.correlation_eta(slope_names.correlation)
                rho = correlation_cholesky("_corr", 2, eta)[1, 0]
                pm.Deterministic(slope_names.correlation, rho)
        sigma = priors.half_normal("sigma", sc.sd_y)
        zs: list[pt.TensorVariable | None] = [None] * len(views)
        guided = conditional_means and marginal and not centred_means
        if guided:
            guide = OutcomeGuide(
                intercept=beta0,
                between=tuple(0.0 if b is None else b for b in between),
                within=tuple(within),
                w_effect=0.0 if w_effect is None else w_effect,
                interaction=tuple(0.0 if i is None else i for i in interactions),
                intercept_sd=tau[0],
                sigma=sigma,
                moderator=w,
            )
            zs = guided_standardised_means(view_sums, predictors, guide, nm.person_dim)
        mus, x_imps = [], []
        for p, view in enumerate(views):
            mu_p, x_imp_p = latent_means(
                view,
                view_sums[p],
                predictors[p],
                marginal=marginal,
                centred=centred_means,
                standardised=zs[p],
                tag="" if p == 0 else str(p),
            )
            mus.append(mu_p)
            x_imps.append(x_imp_p)
        a = beta0
        bs = []
        for p in range(len(views)):
            if between[p] is not None:
                a = a + between[p] * (mus[p] - predictors[p].mean)
            slope = within[p] * pt.ones(J)
            if interactions[p] is not None:
                slope = slope + interactions[p] * w
            bs.append(slope)
        if w_effect is not None:
            a = a + w_effect * w
        if data.n_predictors > 1:
            _many_outcome(
                model_data,
                views,
                held,
                mus,
                x_imps,
                a,
                bs,
                gamma,
                s_slope,
                sigma,
                tau,
                rho,
                marginal=marginal,
            )
        elif marginal:
            resid = held if gamma is None else residual_sums(held, gamma)
            Sx, Sxx, Sxy = outcome_sums(resid, x_imps[0])
            pm.Potential(
                "_latent_outcome_loglik",
                outcome_marginal_loglik(resid, Sx, Sxx, Sxy, mus[0], a, bs[0], sigma, tau, rho),
            )
        else:
            _full_outcome(data, nm, mus[0], x_imps[0], a, bs[0], sigma, tau, rho, gamma)
    priors.check_all_used(level)
    return LatentModel(
        data=data,
        level=level,
        marginal=marginal,
        pymc_model=model,
        sums=sums,
        priors=priors.record,
        correlated=correlated and random_slope,
        centred_means=centred_means,
        structure=structure,
        prior_structure=priors.structure,
        model_persons=model_persons,
        conditional_means=guided,
    )


def _many_outcome(
    data: LatentData,
    views: list[LatentData],
    held: LatentSums,
    mus: list[pt.TensorVariable],
    x_imps: list[pt.TensorVariable | None],
    a: pt.TensorVariable,
    bs: list[pt.TensorVariable],
    gamma: pt.TensorVariable | None,
    s: int,
    sigma: pt.TensorVariable,
    tau: list[pt.TensorVariable],
    rho: pt.TensorVariable | None,
    *,
    marginal: bool,
) -> None:
    """The outcome of a model with several level-1 predictors: on the fast path integrated
    over the person effects (:mod:`ambidex_bayes.model.latent_many`), else with explicit
    (non-centred) person effects."""
    nm = data.names
    if marginal:
        ms = many_sums(data).as_data()
        Sy, Syy, Sx, Sxx, Sxy, a_r = many_terms(
            ms, data.n_persons, x_imps, mus, a, bs, gamma, s, held.Sy, held.Syy
        )
        resid = replace_outcome(held, Sy, Syy)
        pm.Potential(
            "_latent_outcome_loglik",
            outcome_marginal_loglik(resid, Sx, Sxx, Sxy, mus[s], a_r, bs[s], sigma, tau, rho),
        )
        return
    J = data.n_persons
    parts = []
    for view, mu, x_imp in zip(views, mus, x_imps, strict=True):
        x = pt.as_tensor(np.where(view.missing, 0.0, view.x))
        if x_imp is not None:
            x = pt.set_subtensor(x[np.flatnonzero(view.missing)], x_imp)
        parts.append(x - mu[data.person])
    q = len(tau)
    z = pm.Normal("_u_z", 0.0, 1.0, shape=(J, q))
    u0 = tau[0] * z[:, 0]
    pm.Deterministic(nm.intercept_effect, u0, dims=nm.person_dim)
    # summed from a stack, so that no fused elementwise operation grows with the terms
    terms = [a[data.person] + u0[data.person]]
    terms += [b[data.person] * c for b, c in zip(bs, parts, strict=True)]
    if gamma is not None:
        terms.append(pt.dot(pt.as_tensor(data.controls), gamma))
    if q == 2:
        r = 0.0 if rho is None else rho
        u1 = tau[1] * (r * z[:, 0] + pt.sqrt(1.0 - r**2) * z[:, 1])
        pm.Deterministic(views[s].names.slope_effect, u1, dims=nm.person_dim)
        terms.append(u1[data.person] * parts[s])
    linpred = pt.sum(pt.stack(terms), axis=0)
    pm.Normal(nm.y, mu=linpred, sigma=sigma, observed=data.y)


def _controls(nm: LatentNames, sc: _Scales, priors: LatentPriors) -> pt.TensorVariable | None:
    """The controls' fixed effects (named by their columns, as in the observed model) as one
    vector; None without controls."""
    if not nm.controls:
        return None
    return pt.stack(
        [
            priors.normal(name, 0.0, 2.5 * sc.sd_y / sd)
            for name, sd in zip(nm.controls, sc.sd_controls, strict=True)
        ]
    )


def _full_outcome(
    data: LatentData,
    nm: LatentNames,
    mu: pt.TensorVariable,
    x_imp: pt.TensorVariable | None,
    a: pt.TensorVariable,
    b: pt.TensorVariable,
    sigma: pt.TensorVariable,
    tau: list[pt.TensorVariable],
    rho: pt.TensorVariable | None,
    gamma: pt.TensorVariable | None = None,
) -> None:
    """The outcome likelihood with explicit (non-centred) person effects."""
    J = data.n_persons
    x = pt.as_tensor(np.where(data.missing, 0.0, data.x))
    if x_imp is not None:
        x = pt.set_subtensor(x[np.flatnonzero(data.missing)], x_imp)
    c = x - mu[data.person]
    q = len(tau)
    z = pm.Normal("_u_z", 0.0, 1.0, shape=(J, q))
    u0 = tau[0] * z[:, 0]
    pm.Deterministic(nm.intercept_effect, u0, dims=nm.person_dim)
    linpred = a[data.person] + b[data.person] * c + u0[data.person]
    if gamma is not None:
        linpred = linpred + pt.dot(pt.as_tensor(data.controls), gamma)
    if q == 2:
        r = 0.0 if rho is None else rho
        u1 = tau[1] * (r * z[:, 0] + pt.sqrt(1.0 - r**2) * z[:, 1])
        pm.Deterministic(nm.slope_effect, u1, dims=nm.person_dim)
        linpred = linpred + u1[data.person] * c
    pm.Normal(nm.y, mu=linpred, sigma=sigma, observed=data.y)
