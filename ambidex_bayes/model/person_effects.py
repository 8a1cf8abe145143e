r"""Person effects of a model: their terms, default priors and PyMC variables.

For person :math:`j` with :math:`q` person-effect terms of one grouping factor,

.. math::

    u_j = D L_R z_j, \quad z_j \sim N(0, I_q), \quad D = \mathrm{diag}(\tau_1, \dots,
    \tau_q),

non-centred, with :math:`L_R` the Cholesky factor of the correlation matrix
(:func:`ambidex_bayes.model.correlation.correlation_cholesky`) when the effects are
correlated and :math:`L_R = I` otherwise. The effects enter the linear predictor as
:math:`\sum_k u_{jk} z_{ijk}`. On the fast path the effects are not sampled: only the
Cholesky factor :math:`L_\Sigma = D L_R` of their covariance is returned, for the marginal
likelihood (:mod:`ambidex_bayes.model.fast_path`).

The person effects are built here rather than by Bambi, which would hold them as a dense
rows x persons matrix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from ambidex_bayes.errors import ModelError, SpecError
from ambidex_bayes.formula_guard import quote_name
from ambidex_bayes.model.correlation import correlation_cholesky
from ambidex_bayes.model.formula import group_expressions
from ambidex_bayes.model.prior_choice import (
    BAMBI_DEFAULT,
    PriorChoices,
    check_sd_priors,
    prior_data_name,
    prior_variable,
)
from ambidex_bayes.spec import PriorSpec
from ambidex_bayes.terms import correlation_name

if TYPE_CHECKING:
    import bambi as bmb
    from bambi.model_components import DistributionalComponent

__all__ = ["PersonEffectTerm", "PersonEffects", "person_effect_terms", "add_person_effects"]


@dataclass(frozen=True)
class PersonEffectTerm:
    """One person-effect term: its predictor column, person index and default SD prior."""

    expr: str
    factor: str
    predictor: np.ndarray
    group_index: np.ndarray
    groups: list[str]
    sd_prior: PriorSpec


@dataclass(frozen=True)
class PersonEffects:
    """What the person effects of one grouping factor add to the model.

    Attributes
    ----------
    mu : tensor
        The linear predictor with the effects added (unchanged on the fast path).
    person : numpy.ndarray
        Person index per row.
    predictors : list of numpy.ndarray
        The predictor column of each term (ones for the intercept).
    chol : tensor or None
        On the fast path, the Cholesky factor :math:`L_\\Sigma` of the effects' covariance;
        None otherwise.
    """

    mu: pt.TensorVariable
    person: np.ndarray
    predictors: list[np.ndarray]
    chol: pt.TensorVariable | None


def person_effect_terms(
    group_specs: list[tuple[str, str]],
    data: pd.DataFrame,
    component: DistributionalComponent,
    bambi_of: Callable[[str], bmb.Model],
    outcome: str,
    source: str,
) -> dict[str, PersonEffectTerm]:
    """Person-effect terms with Bambi's names, level order and default SD priors.

    Bambi's default prior on the SD of a person effect is a HalfNormal whose scale equals
    the scale of its default prior on the matching common effect; that scale is read from
    the common part (or from a one-term Bambi model when the common part lacks the term).

    Parameters
    ----------
    group_specs : list of (expression, factor)
        The formula's person-effect terms, e.g. ``[("x", "person")]``.
    data : DataFrame
        The columns the model uses.
    component : bambi DistributionalComponent
        The common (fixed) part of Bambi's model of the formula.
    bambi_of : callable
        Builds Bambi's model of a formula on ``data``.
    outcome : str
        The formula's outcome, for one-term models.
    source : str
        Named in error messages (the spec file).

    Returns
    -------
    dict of str to PersonEffectTerm
        Keyed by Bambi's name of the term, e.g. ``"1|person"``, ``"x|person"``.
    """
    terms: dict[str, PersonEffectTerm] = {}
    for expr, factor in group_specs:
        ids = data[factor].astype(str).to_numpy()
        levels, index = np.unique(ids, return_inverse=True)
        for term in group_expressions(expr):
            if term != "1" and term not in data.columns:
                raise SpecError(f"{source}: the person-effect term {term!r} is not a column.")
            if term != "1" and not pd.api.types.is_numeric_dtype(data[term]):
                raise ModelError(
                    f"{source}: categorical person-effect terms ({term!r}) are not supported."
                )
            common = "Intercept" if term == "1" else term
            if common == "Intercept" and component.intercept_term is not None:
                scale = component.intercept_term.prior
            elif common in component.common_terms:
                scale = component.common_terms[common].prior
            else:
                alone = bambi_of(f"{outcome} ~ {'1' if term == '1' else quote_name(term)}")
                part = alone.parameters[alone.family.likelihood.parent]
                scale = part.intercept_term.prior if term == "1" else part.common_terms[term].prior
            sigma = float(np.asarray(scale.args["sigma"]))
            predictor = np.ones(len(data)) if term == "1" else data[term].to_numpy(dtype=float)
            terms[f"{term}|{factor}"] = PersonEffectTerm(
                expr=term,
                factor=factor,
                predictor=predictor,
                group_index=index,
                groups=[str(v) for v in levels],
                sd_prior=PriorSpec("HalfNormal", {"sigma": sigma}),
            )
    return terms


def add_person_effects(
    model: pm.Model,
    factor: str,
    names: list[str],
    terms: dict[str, PersonEffectTerm],
    choices: PriorChoices,
    mu: pt.TensorVariable,
    *,
    correlated: bool,
    prior_data: bool,
    marginal: bool,
) -> PersonEffects:
    """Add the person effects ``names`` of ``factor`` to ``model`` (inside its context).

    Parameters
    ----------
    model : pymc.Model
        The model being built; its coordinate ``{factor}__factor_dim`` lists the persons.
    factor : str
        The grouping factor.
    names : list of str
        The factor's person-effect terms, intercept first.
    terms : dict of str to PersonEffectTerm
        From :func:`person_effect_terms`.
    choices : PriorChoices
        Gives and records the SD priors (and the correlation's).
    mu : tensor
        The linear predictor so far.
    correlated : bool
        Correlated effects (an LKJ prior on their correlation) when there are two or more.
    prior_data : bool
        Hold prior parameters in ``pm.Data`` variables.
    marginal : bool
        The fast path: return the covariance's Cholesky factor instead of sampling effects.

    Returns
    -------
    PersonEffects
    """
    idx = np.asarray(terms[names[0]].group_index)
    zcols = [np.asarray(terms[n].predictor, dtype=float).ravel() for n in names]
    sd_defaults = [terms[n].sd_prior for n in names]
    sd_priors = [
        choices.resolve(f"{n}_sigma", d, BAMBI_DEFAULT)
        for n, d in zip(names, sd_defaults, strict=True)
    ]
    if correlated and len(names) >= 2:
        mu, chol = _correlated_effects(
            model, factor, names, sd_priors, choices, mu, idx, zcols, prior_data, marginal
        )
    else:
        mu, chol = _independent_effects(
            factor, names, sd_priors, mu, idx, zcols, prior_data, marginal
        )
    return PersonEffects(mu=mu, person=idx, predictors=zcols, chol=chol)


def _correlated_effects(
    model: pm.Model,
    factor: str,
    names: list[str],
    sd_priors: list[PriorSpec],
    choices: PriorChoices,
    mu: pt.TensorVariable,
    idx: np.ndarray,
    zcols: list[np.ndarray],
    prior_data: bool,
    marginal: bool,
) -> tuple[pt.TensorVariable, pt.TensorVariable | None]:
    """SDs and the correlation's Cholesky factor sampled apart (Stan's way):
    :math:`\\Sigma = D R D`, :math:`L_\\Sigma = D L_R`."""
    factor_dim = f"{factor}__factor_dim"
    eta = choices.correlation(factor)
    check_sd_priors(sd_priors, choices.source)
    eta_value: float | pt.TensorVariable = eta.params["eta"]
    if prior_data:
        eta_value = pm.Data(prior_data_name(f"corr({factor})", "eta"), eta_value)
    sds = pt.stack(
        [
            prior_variable(f"{n}_sigma", p, prior_data=prior_data)
            for n, p in zip(names, sd_priors, strict=True)
        ]
    )
    corr_chol = correlation_cholesky(f"_{factor}_corr", len(names), eta_value)
    chol = sds[:, None] * corr_chol
    corr = pt.dot(corr_chol, corr_chol.T)
    effect_dim = f"_{factor}__effect"
    model.add_coord(effect_dim, names)
    marginal_chol = None
    if marginal:
        marginal_chol = chol
    else:
        # non-centred: u_j = L_Sigma z_j, z_j ~ N(0, I), one row per person
        z = pm.Normal(f"_{factor}_offset", 0.0, 1.0, dims=(factor_dim, effect_dim))
        u = pt.dot(z, chol.T)
        for k, n in enumerate(names):
            u_k = pm.Deterministic(n, u[:, k], dims=factor_dim)
            mu = mu + u_k[idx] * zcols[k]
    for a in range(len(names)):
        for b in range(a + 1, len(names)):
            pm.Deterministic(correlation_name(names[a], names[b]), corr[a, b])
    return mu, marginal_chol


def _independent_effects(
    factor: str,
    names: list[str],
    sd_priors: list[PriorSpec],
    mu: pt.TensorVariable,
    idx: np.ndarray,
    zcols: list[np.ndarray],
    prior_data: bool,
    marginal: bool,
) -> tuple[pt.TensorVariable, pt.TensorVariable | None]:
    """Uncorrelated effects, each with its own SD: :math:`L_\\Sigma = D`."""
    factor_dim = f"{factor}__factor_dim"
    sd_rvs = []
    for k, n in enumerate(names):
        sd = prior_variable(f"{n}_sigma", sd_priors[k], prior_data=prior_data)
        sd_rvs.append(sd)
        if marginal:
            continue
        offset = pm.Normal(f"_{n}_offset", 0.0, 1.0, dims=factor_dim)
        u_k = pm.Deterministic(n, offset * sd, dims=factor_dim)
        mu = mu + u_k[idx] * zcols[k]
    return mu, (pt.diag(pt.stack(sd_rvs)) if marginal else None)
