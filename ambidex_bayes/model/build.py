r"""Build the PyMC model of a spec: Bambi's design, correlated person effects.

Bambi 0.21 parses the formula, builds the design matrices and derives its data-scaled
default priors; this module turns them into a PyMC model that adds what Bambi lacks:
correlated person effects with an LKJ prior (as brms and lme4 estimate them).

For person :math:`j` with :math:`q` person-effect terms (intercept and slopes),

.. math::

    u_j = D L_R z_j, \quad z_j \sim N(0, I_q), \quad L_R L_R^\top = R \sim \mathrm{LKJ}(\eta),
    \quad D = \mathrm{diag}(\tau_1, \dots, \tau_q), \quad \Sigma = D R D,

the non-centred parameterisation (it avoids the funnel geometry that causes divergences in
random-slope models with few diaries per person). The SDs :math:`\tau_k` (with their own
priors) and the correlation's Cholesky factor :math:`L_R` are sampled apart, as in Stan and
brms, so nothing has to shrink with an SD that nears zero (see
:func:`correlation_cholesky`). The linear predictor is

.. math::

    \mu_{ij} = x_{ij}^\top \beta + \sum_k u_{jk}\, z_{ijk},

and :math:`y_{ij} \sim N(\mu_{ij}, \sigma^2)` (or Student-t). Posterior variables carry
Bambi's names (``"1|person"``, ``"x_cw|person"``, ``"x_cw|person_sigma"``, ...) so ArviZ
and ``bambi.Model.predict`` read them unchanged; the correlation is
``"corr(1|person,x_cw|person)"``. Internal variables start with ``"_"`` and are dropped from
the posterior.

The steps of :func:`build_model` live in their own modules: the formula
(:mod:`~ambidex_bayes.model.formula`), the fixed effects
(:mod:`~ambidex_bayes.model.fixed_effects`), the priors and their record
(:mod:`~ambidex_bayes.model.prior_choice`), the person effects
(:mod:`~ambidex_bayes.model.person_effects`) with their correlation
(:mod:`~ambidex_bayes.model.correlation`), the Gaussian fast path
(:mod:`~ambidex_bayes.model.fast_path`), the roles of the posterior variables
(:mod:`~ambidex_bayes.model.moderation_roles`) and the check before sampling
(:mod:`~ambidex_bayes.model.initial_point`). This module re-exports their public names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from ambidex_bayes.errors import SpecError
from ambidex_bayes.formula_guard import FormulaParts
from ambidex_bayes.model.code_version import MODEL_CODE_VERSION
from ambidex_bayes.model.correlation import correlation_cholesky
from ambidex_bayes.model.fast_path import (
    FastPathUnavailable,
    add_marginal_likelihood,
    fast_path_reason,
    marginal_design,
)
from ambidex_bayes.model.fixed_effects import (
    add_fixed_effects,
    check_constant_predictors,
    fixed_design,
)
from ambidex_bayes.model.formula import (
    check_saved_formulas,
    group_expressions,
    render_formula,
    split_formula,
)
from ambidex_bayes.model.initial_point import COMPILED_CHECKS, check_initial_point
from ambidex_bayes.model.marginal import MarginalDesign
from ambidex_bayes.model.moderation_roles import moderation_terms
from ambidex_bayes.model.person_effects import (
    PersonEffectTerm,
    add_person_effects,
    person_effect_terms,
)
from ambidex_bayes.model.prior_choice import (
    BAMBI_DEFAULT,
    PRIOR_DATA_PREFIX,
    PriorChoices,
    bambi_prior_spec,
    prior_data_name,
    prior_table,
    prior_variable,
)
from ambidex_bayes.model.pytensor_blas import configure_blas
from ambidex_bayes.spec import ModelSpec, PriorSpec
from ambidex_bayes.terms import ModerationTerms

# PyTensor gets its BLAS flags before this package compiles anything (see pytensor_blas)
configure_blas()

if TYPE_CHECKING:
    import bambi as bmb

    from ambidex_bayes.prepared_data import PreparedData

__all__ = [
    "BuiltModel",
    "build_model",
    "check_initial_point",
    "prior_table",
    "prior_data_name",
    "FastPathUnavailable",
    "fast_path_reason",
    "correlation_cholesky",
    "PRIOR_DATA_PREFIX",
    "MODEL_CODE_VERSION",
    "render_formula",
    "check_saved_formulas",
    "split_formula",
    "group_expressions",
]


#: The compiled initial-point checks (:data:`ambidex_bayes.model.initial_point.COMPILED_CHECKS`,
#: the same dict), under the name the engine's cache clearing uses.
_CHECKS = COMPILED_CHECKS

#: Bambi's family of each spec family.
_BAMBI_FAMILIES = {"gaussian": "gaussian", "t": "t"}


@dataclass
class BuiltModel:
    """A spec turned into a Bambi model (design, names) and a PyMC model (sampling).

    Attributes
    ----------
    spec : ModelSpec
    formula : str
        The formula with the data's column names.
    bambi_factory : callable
        Builds Bambi's model of the same formula (see :attr:`bambi_model`); used for
        ``predict``/``interpret`` on the fitted posterior.
    pymc_model : pymc.Model
        The model that is sampled.
    terms : ModerationTerms
        Which posterior variable plays which role.
    priors : dict
        Every prior actually used, keyed by parameter name, with its source.
    response : str
        Name of the observed variable.
    marginal : MarginalDesign or None
        For the Gaussian fast path: the design and sufficient statistics; the PyMC model
        then samples only the hyperparameters (see :mod:`ambidex_bayes.model.marginal`).
    prior_data : bool
        Whether prior parameters are held in ``pm.Data`` variables (see :func:`build_model`).
    """

    spec: ModelSpec
    formula: str
    bambi_factory: Callable[[], bmb.Model]
    pymc_model: pm.Model
    terms: ModerationTerms
    priors: dict[str, dict[str, Any]] = field(default_factory=dict)
    response: str = ""
    marginal: MarginalDesign | None = None
    prior_data: bool = False
    _bambi_model: bmb.Model | None = field(default=None, repr=False)

    @property
    def bambi_model(self) -> bmb.Model:
        """Bambi's model of the whole formula, built on first use.

        Building it is deferred because Bambi evaluates the grouping factor as a dense
        rows x persons matrix, which does not fit in memory for large panels; the PyMC
        model does not need it.
        """
        if self._bambi_model is None:
            self._bambi_model = self.bambi_factory()
        return self._bambi_model

    @property
    def is_marginal(self) -> bool:
        """True for the Gaussian fast path (person effects integrated out)."""
        return self.marginal is not None

    def prior_table(self) -> pd.DataFrame:
        """Every prior used, as brms' ``prior_summary`` (parameter, prior, source)."""
        return prior_table(self.priors)

    @property
    def reuse_key(self) -> tuple | None:
        """What a compiled function of this model depends on, or None if not re-usable.

        A fast-path model with its prior parameters held as data is the same graph for every
        data set and prior value of the same structure: formula, family, correlation, prior
        families and the number of fixed and person-level terms. The number of persons and
        rows is not part of it (the sufficient statistics have no fixed shape).
        """
        if not (self.is_marginal and self.prior_data):
            return None
        families = tuple(sorted((k, v["prior"].split("(")[0]) for k, v in self.priors.items()))
        return (
            self.formula,
            self.spec.family,
            self.spec.correlated,
            families,
            len(self.marginal.fixed_names),
            len(self.marginal.group_names),
        )


def build_model(
    spec: ModelSpec, prepared: PreparedData, *, prior_data: bool = False, marginal: bool = False
) -> BuiltModel:
    """Build the Bambi and PyMC models of ``spec`` on prepared data.

    Parameters
    ----------
    spec : ModelSpec
        Formula template, family, correlation and prior overrides.
    prepared : PreparedData
        Output of :func:`ambidex_bayes.prepare.prepare`.
    prior_data : bool, default False
        Hold every prior parameter in a ``pm.Data`` variable named by
        :func:`prior_data_name` instead of a constant, so that one compiled model serves
        several prior sets of the same distribution families (``model.set_data`` changes
        a value without recompiling; see :mod:`ambidex_bayes.priors.compare`). The model's
        density is the same as with constants.
    marginal : bool, default False
        Build the Gaussian fast path: the person effects are integrated out analytically
        and the model holds only the fixed effects, person-effect SDs (and correlation)
        and the residual SD, with the data entering through per-person sufficient
        statistics held in ``pm.Data`` (so new data of the same shape need no rebuild).
        Raises ModelError for models it cannot serve (see :func:`fast_path_reason`).

    Returns
    -------
    BuiltModel

    Raises
    ------
    SpecError
        Unknown roles or columns in the formula, unknown parameter names in the priors.
    ModelError
        Constant or collinear predictors (checked before any sampling).
    """
    fields = prepared.formula_fields()
    parts, data = _model_data(spec, prepared)
    family = _BAMBI_FAMILIES[spec.family]
    bambi_of = partial(_bambi_model, data=data, family=family, source=spec.source)

    # Bambi builds the fixed part (design, data-scaled default priors); the person effects
    # are built here, because Bambi would hold them as a dense rows x persons matrix.
    bambi_model = bambi_of(parts.fixed)
    component = bambi_model.parameters[bambi_model.family.likelihood.parent]
    constant_priors = {
        name: bambi_prior_spec(comp.prior) for name, comp in bambi_model.marginal_parameters.items()
    }
    choices = PriorChoices(
        spec.render_priors(fields, factors=prepared.formula_columns()), spec.source
    )
    X, fixed_names = fixed_design(component, len(data), spec.source)
    response = bambi_model.response_term.name
    y = np.asarray(bambi_model.response_term.data, dtype=float).ravel()

    group_terms = person_effect_terms(
        list(parts.groups), data, component, bambi_of, parts.outcome, spec.source
    )
    by_factor = _terms_by_factor(group_terms)
    if marginal:
        reason = fast_path_reason(spec, len(by_factor))
        if reason:
            raise FastPathUnavailable(f"{spec.source}: the fast path cannot be used: {reason}.")

    design: MarginalDesign | None = None
    with pm.Model(coords=_coords(len(data), group_terms)) as model:
        beta, mu = add_fixed_effects(
            component, X, fixed_names, choices, n_rows=len(data), prior_data=prior_data
        )
        chol = None
        for factor, names in by_factor.items():
            effects = add_person_effects(
                model,
                factor,
                names,
                group_terms,
                choices,
                mu,
                correlated=spec.correlated,
                prior_data=prior_data,
                marginal=marginal,
            )
            mu = effects.mu
            if marginal:
                chol = effects.chol
                design = marginal_design(
                    X, y, fixed_names, factor, names, group_terms[names[0]], effects, response
                )
        _add_likelihood(
            spec,
            constant_priors,
            choices,
            response,
            mu,
            y,
            prior_data=prior_data,
            fast_path=None if design is None else (design, beta, chol),
        )

    choices.check_all_used(parts.formula)
    return BuiltModel(
        spec=spec,
        formula=parts.formula,
        bambi_factory=partial(bambi_of, parts.formula),
        pymc_model=model,
        terms=moderation_terms(
            fields, fixed_names, by_factor, spec, factor_codings=prepared.factor_codings
        ),
        priors=choices.priors,
        response=response,
        marginal=design,
        prior_data=prior_data,
    )


def _model_data(spec: ModelSpec, prepared: PreparedData) -> tuple[FormulaParts, pd.DataFrame]:
    """The checked formula and the columns of the prepared rows it uses (fresh index).

    Raises
    ------
    SpecError
        The formula fails :func:`ambidex_bayes.model.formula.render_formula`.
    ModelError
        A predictor is constant in these rows.
    """
    parts = render_formula(spec, prepared)
    frame = prepared.frame
    used = [c for c in frame.columns if c in parts.names]
    data = frame[used].reset_index(drop=True)
    grouping = {factor for _, factor in parts.groups}
    check_constant_predictors(data, grouping, parts.outcome_name or parts.outcome, spec.source)
    return parts, data


def _bambi_model(text: str, *, data: pd.DataFrame, family: str, source: str) -> bmb.Model:
    """Bambi's model of the formula ``text`` on ``data`` (non-centred person effects)."""
    from ambidex_bayes.light_imports import import_bambi

    bmb = import_bambi()  # without its plotting and interpretation modules

    try:
        return bmb.Model(text, data, family=family, noncentered=True)
    except (KeyError, ValueError, TypeError) as err:
        raise SpecError(f"{source}: Bambi could not parse {text!r}: {err}") from None


def _terms_by_factor(terms: dict[str, PersonEffectTerm]) -> dict[str, list[str]]:
    """Grouping factor -> its person-effect terms, in the formula's order."""
    by_factor: dict[str, list[str]] = {}
    for name, term in terms.items():
        by_factor.setdefault(term.factor, []).append(name)
    return by_factor


def _coords(n_rows: int, terms: dict[str, PersonEffectTerm]) -> dict[str, Any]:
    """The model's coordinates: the rows, and the persons of each grouping factor."""
    coords: dict[str, Any] = {"__obs__": np.arange(n_rows)}
    for term in terms.values():
        coords[f"{term.factor}__factor_dim"] = list(term.groups)
    return coords


def _add_likelihood(
    spec: ModelSpec,
    constant_priors: dict[str, PriorSpec],
    choices: PriorChoices,
    response: str,
    mu: pt.TensorVariable,
    y: np.ndarray,
    *,
    prior_data: bool,
    fast_path: tuple[MarginalDesign, list[pt.TensorVariable], pt.TensorVariable] | None,
) -> None:
    """The residual SD (and Student-t degrees of freedom) and the likelihood of ``y``.

    On the fast path (``fast_path`` = design, fixed effects and the person effects'
    Cholesky factor) the likelihood has the person effects integrated out.
    """
    sigma = prior_variable(
        "sigma",
        choices.resolve("sigma", constant_priors["sigma"], BAMBI_DEFAULT),
        prior_data=prior_data,
    )
    if spec.family == "gaussian":
        if fast_path is not None:
            add_marginal_likelihood(*fast_path[:2], fast_path[2], sigma)
        else:
            pm.Normal(response, mu=mu, sigma=sigma, observed=y, dims="__obs__")
        return
    nu = prior_variable(
        "nu", choices.resolve("nu", constant_priors["nu"], "bambi default"), prior_data=prior_data
    )
    pm.StudentT(response, nu=nu, mu=mu, sigma=sigma, observed=y, dims="__obs__")
