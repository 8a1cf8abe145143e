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
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
from pymc.distributions.transforms import CholeskyCorrTransform
from pymc.logprob.utils import ParameterValueError

from ambidex_bayes import constants
from ambidex_bayes.errors import ModelError, SpecError
from ambidex_bayes.formula_guard import (
    FormulaParts,
    check_formula,
    quote_name,
    split_top_level,
    unquote_name,
)
from ambidex_bayes.model.marginal import MarginalDesign, marginal_loglik, person_statistics
from ambidex_bayes.spec import POSITIVE_DISTRIBUTIONS, ModelSpec, PriorSpec
from ambidex_bayes.terms import ModerationTerms, correlation_name

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
]

#: Version of the model code's parameterisation, part of every fit's cache key: raise it
#: whenever a change to how models are built changes the draws of a fit with the same
#: spec, data and settings, so that fits saved by the earlier code are not re-used.
#: 2: SDs and the correlation's Cholesky factor sampled apart (was a packed Cholesky
#: factor of the covariance).
MODEL_CODE_VERSION: int = 2

#: Prefix of the ``pm.Data`` variables holding prior parameters (``prior_data=True``).
PRIOR_DATA_PREFIX = "_prior["


def prior_data_name(parameter: str, param: str) -> str:
    """Name of the ``pm.Data`` variable holding ``param`` of the prior of ``parameter``.

    Used by ``build_model(..., prior_data=True)``; e.g. ``"_prior[Intercept].mu"``,
    ``"_prior[1|person_sigma].sigma"``, ``"_prior[corr(person)].eta"``.
    """
    return f"{PRIOR_DATA_PREFIX}{parameter}].{param}"


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
    bambi_factory: Any
    pymc_model: pm.Model
    terms: ModerationTerms
    priors: dict[str, dict[str, Any]] = field(default_factory=dict)
    response: str = ""
    marginal: Any = None
    prior_data: bool = False
    _bambi_model: Any = field(default=None, repr=False)

    @property
    def bambi_model(self) -> Any:
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


def prior_table(priors: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Tidy table of priors: ``parameter, prior, source``."""
    rows = [
        {"parameter": name, "prior": info["prior"], "source": info["source"]}
        for name, info in priors.items()
    ]
    return pd.DataFrame(rows, columns=["parameter", "prior", "source"])


def render_formula(spec: ModelSpec, prepared: Any) -> FormulaParts:
    """The spec's formula with the prepared data's column names, checked before any use.

    Every name must be a column of the prepared data and every call an allowed
    transformation (:func:`ambidex_bayes.formula_guard.check_formula`); nothing of the
    formula is evaluated here.

    Raises
    ------
    SpecError
        A role the data lack, a column name that cannot be written in a formula, a name
        that is not a column, or a call that is not allowed.
    """
    fields = prepared.formula_fields()
    controls = tuple(
        prepared.roles.get(f"c{k}", c) for k, c in enumerate(prepared.mapping.controls)
    )
    formula = spec.render(fields, controls=controls)
    return check_formula(formula, source=spec.source, columns=prepared.frame.columns)


def check_saved_formulas(spec: ModelSpec, prepared: Any, formula: str) -> None:
    """Check the formulas of a saved fit before a model is rebuilt from it.

    Both the formula the rebuilt model would use (the spec's template filled in with the
    saved roles) and the formula recorded in the file must name only columns of the saved
    prepared data and call only allowed transformations.

    Raises
    ------
    SpecError
        Either formula fails :func:`ambidex_bayes.formula_guard.check_formula`.
    """
    render_formula(spec, prepared)
    check_formula(formula, source="the recorded formula", columns=prepared.frame.columns)


def _bambi_prior_spec(prior: Any) -> PriorSpec:
    """Convert a Bambi ``Prior`` with numeric arguments to a :class:`PriorSpec`."""
    params = {k: float(np.asarray(v)) for k, v in prior.args.items()}
    return PriorSpec(dist=prior.name, params=params)


def _make_rv(
    name: str, prior: PriorSpec, *, prior_data: bool = False, **kwargs: Any
) -> pt.TensorVariable:
    dist = getattr(pm, prior.dist)
    params: dict[str, Any] = dict(prior.params)
    if prior_data:
        params = {k: pm.Data(prior_data_name(name, k), float(v)) for k, v in params.items()}
    return dist(name, **params, **kwargs)


def _check_sd_priors(priors: list[PriorSpec], where: str) -> None:
    """The SDs of correlated person effects need priors on the positive half-line."""
    for prior in priors:
        if prior.dist not in POSITIVE_DISTRIBUTIONS:
            raise SpecError(
                f"{where}: an SD prior must be positive (HalfNormal, Exponential, ...), "
                f"got {prior.dist}."
            )


def correlation_cholesky(name: str, q: int, eta: Any) -> pt.TensorVariable:
    r"""Lower Cholesky factor :math:`L_R` of a q x q correlation matrix :math:`R \sim
    \mathrm{LKJ}(\eta)`, a random variable of its own (apart from the SDs).

    With the SDs :math:`\tau` sampled separately, :math:`\Sigma = D R D` has the factor
    :math:`L_\Sigma = D L_R`, :math:`D = \mathrm{diag}(\tau)`, as in Stan and brms. Unlike a
    packed factor of :math:`\Sigma` itself, whose off-diagonal entries must shrink with the
    SDs (a funnel as an SD nears zero), the correlation's coordinates do not depend on the
    SDs: when the data say little about a correlation, it simply follows its prior.

    For :math:`q = 2` the one correlation is :math:`\rho = 2b - 1` with
    :math:`b \sim \mathrm{Beta}(\eta, \eta)`: the density of :math:`\rho` is then
    proportional to :math:`(1 - \rho^2)^{\eta - 1} = \det(R)^{\eta - 1}`, which is exactly
    :math:`\mathrm{LKJ}(\eta)` for a 2 x 2 matrix. The sampler sees
    :math:`\operatorname{logit} b = 2 \operatorname{artanh} \rho` (logistic tails), and

    .. math::

        L_R = \begin{pmatrix} 1 & 0 \\ \rho & \sqrt{1 - \rho^2} \end{pmatrix},
        \qquad \sqrt{1 - \rho^2} = 2 \sqrt{b (1 - b)}.

    For :math:`q > 2` it is PyMC's ``LKJCorr``, which is a Cholesky factor with the LKJ
    density :math:`\prod_{i} L_{ii}^{\,q - i + 2\eta - 2}` (one-based :math:`i`, the
    Jacobian of :math:`R = L L^\top` included) and an unconstrained transform of its own
    (rows of a free lower triangle with unit diagonal, normalised; log-Jacobian included).

    Parameters
    ----------
    name : str
        Name of the random variable (internal: it should start with ``"_"``).
    q : int
        Dimension, at least 2.
    eta : float or tensor
        LKJ shape (``pm.Data`` allowed).
    """
    if q == 2:
        b = pm.Beta(name, alpha=eta, beta=eta)
        rho = 2.0 * b - 1.0
        zero, one = pt.zeros(()), pt.ones(())
        return pt.stack([pt.stack([one, zero]), pt.stack([rho, 2.0 * pt.sqrt(b * (1.0 - b))])])
    return pm.LKJCorr(name, n=q, eta=eta, default_transform=_CholeskyCorr(n=q))


class _CholeskyCorr(CholeskyCorrTransform):
    """PyMC's transform of ``LKJCorr``, under a name without an underscore.

    PyMC names a transformed value variable ``{name}_{transform}__`` and recovers ``name``
    by dropping the last three ``_``-separated parts, which breaks for the transform's own
    name ``cholesky_corr``: NUTS run by nutpie or NumPyro then returns the variable as
    ``{name}_cholesky``, and the log-likelihood cannot be computed from such a posterior.
    """

    name = "choleskycorr"


def _check_design(X: np.ndarray, names: list[str], source: str) -> None:
    """Constant or collinear fixed-effect columns make the model unidentified: refuse early."""
    for k, name in enumerate(names):
        if name == "Intercept":
            continue
        if np.nanstd(X[:, k]) == 0:
            raise ModelError(
                f"{source}: the predictor {name!r} is constant in the data used by the model; "
                "its effect cannot be estimated. Remove it from the formula or check the data."
            )
    rank = np.linalg.matrix_rank(X)
    if rank < X.shape[1]:
        raise ModelError(
            f"{source}: the fixed-effect predictors {', '.join(names)} are perfectly collinear "
            f"(rank {rank} of {X.shape[1]}). This happens e.g. when the moderator does not vary "
            "between persons or a predictor is the sum of others; remove one of them."
        )


class FastPathUnavailable(ModelError):
    """The Gaussian fast path cannot serve this model (full NUTS is used instead)."""


def split_formula(formula: str) -> tuple[str, list[tuple[str, str]]]:
    """Split a formula into its fixed part and its person-effect terms.

    ``"y ~ 1 + x + (x | p)"`` gives ``("y ~ 1 + x", [("x", "p")])``; column names in
    backticks stay quoted in the fixed part and the expression, the factor is unquoted
    (``"(1 | `person id`)"`` gives ``("1", "person id")``). The formula is checked first
    (:func:`ambidex_bayes.formula_guard.check_formula`).
    """
    parts = check_formula(formula)
    return parts.fixed, list(parts.groups)


def group_expressions(expr: str) -> list[str]:
    """Terms of a person-effect expression, intercept first, as Bambi names them.

    ``"x"`` and ``"1 + x"`` give ``["1", "x"]`` (the intercept is implied, as in lme4 and
    Bambi); ``"0 + x"`` gives ``["x"]``; ``"1"`` gives ``["1"]``. Quoted column names are
    returned without their backticks (```leader-support``` gives ``leader-support``).
    """
    parts = [part.strip() for part in split_top_level(expr, "+") if part.strip()]
    no_intercept = any(part in {"0", "-1"} for part in parts)
    terms = [unquote_name(part) for part in parts if part not in {"0", "1", "-1"}]
    return (["1"] if not no_intercept else []) + terms


@dataclass(frozen=True)
class _GroupTerm:
    """One person-effect term: its predictor column, person index and default SD prior."""

    expr: str
    factor: str
    predictor: np.ndarray
    group_index: np.ndarray
    groups: list[str]
    sd_prior: PriorSpec


def _group_terms(
    group_specs: list[tuple[str, str]],
    data: pd.DataFrame,
    component: Any,
    bambi_of: Any,
    outcome: str,
    source: str,
) -> dict[str, _GroupTerm]:
    """Person-effect terms with Bambi's names, level order and default SD priors.

    Bambi's default prior on the SD of a person effect is a HalfNormal whose scale equals
    the scale of its default prior on the matching common effect; that scale is read from
    the common part (or from a one-term Bambi model when the common part lacks the term).
    """
    terms: dict[str, _GroupTerm] = {}
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
            terms[f"{term}|{factor}"] = _GroupTerm(
                expr=term,
                factor=factor,
                predictor=predictor,
                group_index=index,
                groups=[str(v) for v in levels],
                sd_prior=PriorSpec("HalfNormal", {"sigma": sigma}),
            )
    return terms


def fast_path_reason(spec: ModelSpec, n_factors: int) -> str | None:
    """Why the Gaussian fast path cannot serve a model (None when it can)."""
    if spec.family != "gaussian":
        return f"the {spec.family!r} family has no closed-form marginal likelihood"
    if n_factors != 1:
        return f"it needs person effects on exactly one grouping factor (the model has {n_factors})"
    return None


def build_model(
    spec: ModelSpec, prepared: Any, *, prior_data: bool = False, marginal: bool = False
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
    import bambi as bmb

    fields = prepared.formula_fields()
    parts = render_formula(spec, prepared)
    formula = parts.formula
    frame = prepared.frame
    used = [c for c in frame.columns if c in parts.names]
    data = frame[used].reset_index(drop=True)

    grouping = {factor for _, factor in parts.groups}
    outcome = parts.outcome_name or parts.outcome
    for column in used:
        if column in grouping or column == outcome:
            continue
        values = pd.to_numeric(data[column], errors="coerce")
        if values.notna().any() and values.nunique() <= 1:
            raise ModelError(
                f"{spec.source}: the predictor {column!r} is constant in the data used by the "
                "model; its effect cannot be estimated. Remove it from the formula or check "
                "the data (a moderator must vary between persons)."
            )
    family = {"gaussian": "gaussian", "t": "t"}[spec.family]
    fixed_formula, group_specs = parts.fixed, list(parts.groups)

    def bambi_of(text: str) -> Any:
        try:
            return bmb.Model(text, data, family=family, noncentered=True)
        except (KeyError, ValueError, TypeError) as err:
            raise SpecError(f"{spec.source}: Bambi could not parse {text!r}: {err}") from None

    # Bambi builds the fixed part (design, data-scaled default priors); the person effects
    # are built here, because Bambi would hold them as a dense rows x persons matrix.
    bambi_model = bambi_of(fixed_formula)
    component = bambi_model.parameters[bambi_model.family.likelihood.parent]
    constant_priors = {
        name: _bambi_prior_spec(comp.prior)
        for name, comp in bambi_model.marginal_parameters.items()
    }

    overrides = spec.render_priors(fields)
    design = component.design
    X = (
        np.asarray(design.common.design_matrix, dtype=float)
        if design.common
        else np.zeros((len(data), 0))
    )
    fixed_names = list(design.common.slices) if design.common else []
    for name in fixed_names:
        if design.common.slices[name].stop - design.common.slices[name].start != 1:
            raise ModelError(
                f"{spec.source}: the term {name!r} is categorical; code it as numeric (0/1) "
                "columns in the data for now."
            )
    _check_design(X, fixed_names, spec.source)

    response = bambi_model.response_term.name
    y = np.asarray(bambi_model.response_term.data, dtype=float).ravel()

    priors: dict[str, dict[str, Any]] = {}
    used_keys: set[str] = set()

    def resolve(name: str, default: PriorSpec, default_source: str) -> PriorSpec:
        if name in overrides:
            used_keys.add(name)
            priors[name] = {"prior": str(overrides[name]), "source": "spec"}
            return overrides[name]
        priors[name] = {"prior": str(default), "source": default_source}
        return default

    group_terms = _group_terms(group_specs, data, component, bambi_of, parts.outcome, spec.source)
    by_factor: dict[str, list[str]] = {}
    for term_name in group_terms:
        by_factor.setdefault(group_terms[term_name].factor, []).append(term_name)

    coords: dict[str, Any] = {"__obs__": np.arange(len(data))}
    for term in group_terms.values():
        coords[f"{term.factor}__factor_dim"] = list(term.groups)

    terms_kwargs: dict[str, Any] = {}
    if marginal:
        reason = fast_path_reason(spec, len(by_factor))
        if reason:
            raise FastPathUnavailable(f"{spec.source}: the fast path cannot be used: {reason}.")
    marginal_chol: Any = None
    with pm.Model(coords=coords) as model:
        beta = []
        for name in fixed_names:
            term = component.intercept_term if name == "Intercept" else component.common_terms[name]
            rv = _make_rv(
                name,
                resolve(name, _bambi_prior_spec(term.prior), "bambi default (scaled to data)"),
                prior_data=prior_data,
            )
            beta.append(rv)
        mu = pt.dot(X, pt.stack(beta)) if beta else pt.zeros(len(data))

        for factor, names in by_factor.items():
            factor_dim = f"{factor}__factor_dim"
            idx = np.asarray(group_terms[names[0]].group_index)
            zcols = [np.asarray(group_terms[n].predictor, dtype=float).ravel() for n in names]
            sd_defaults = [group_terms[n].sd_prior for n in names]
            sd_priors = [
                resolve(f"{n}_sigma", d, "bambi default (scaled to data)")
                for n, d in zip(names, sd_defaults, strict=True)
            ]
            if spec.correlated and len(names) >= 2:
                eta = overrides.get("corr", PriorSpec("LKJ", {"eta": constants.LKJ_ETA}))
                if "corr" in overrides:
                    used_keys.add("corr")
                priors[f"corr({factor})"] = {
                    "prior": str(eta),
                    "source": "spec" if "corr" in overrides else "toolkit default",
                }
                _check_sd_priors(sd_priors, spec.source)
                eta_value: Any = eta.params["eta"]
                if prior_data:
                    eta_value = pm.Data(prior_data_name(f"corr({factor})", "eta"), eta_value)
                # SDs and the correlation's Cholesky factor are sampled apart (Stan's way):
                # Sigma = D R D, L_Sigma = D L_R (see correlation_cholesky)
                sds = pt.stack(
                    [
                        _make_rv(f"{n}_sigma", p, prior_data=prior_data)
                        for n, p in zip(names, sd_priors, strict=True)
                    ]
                )
                corr_chol = correlation_cholesky(f"_{factor}_corr", len(names), eta_value)
                chol = sds[:, None] * corr_chol
                corr = pt.dot(corr_chol, corr_chol.T)
                effect_dim = f"_{factor}__effect"
                model.add_coord(effect_dim, names)
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
            else:
                sd_rvs = []
                for k, n in enumerate(names):
                    sd = _make_rv(f"{n}_sigma", sd_priors[k], prior_data=prior_data)
                    sd_rvs.append(sd)
                    if marginal:
                        continue
                    offset = pm.Normal(f"_{n}_offset", 0.0, 1.0, dims=factor_dim)
                    u_k = pm.Deterministic(n, offset * sd, dims=factor_dim)
                    mu = mu + u_k[idx] * zcols[k]
                if marginal:
                    marginal_chol = pt.diag(pt.stack(sd_rvs))
            if marginal:
                marginal_design = MarginalDesign(
                    X=X,
                    Z=np.column_stack(zcols),
                    y=y,
                    person=idx,
                    levels=[str(v) for v in group_terms[names[0]].groups],
                    fixed_names=list(fixed_names),
                    group_names=list(names),
                    factor=factor,
                    response=response,
                    stats=person_statistics(
                        X, np.column_stack(zcols), y, idx, len(group_terms[names[0]].groups)
                    ),
                )

        if spec.family == "gaussian":
            sigma_prior = constant_priors["sigma"]
            sigma = _make_rv(
                "sigma",
                resolve("sigma", sigma_prior, "bambi default (scaled to data)"),
                prior_data=prior_data,
            )
            if marginal:
                ss = {k: pm.Data(k, v) for k, v in marginal_design.stats.as_data().items()}
                pm.Potential(
                    "_marginal_loglik",
                    marginal_loglik(
                        pt.stack(beta),
                        marginal_chol,
                        sigma,
                        ss["_ss_ZtZ"],
                        ss["_ss_ZtX"],
                        ss["_ss_Zty"],
                        ss["_ss_XtX"],
                        ss["_ss_Xty"],
                        ss["_ss_yty"],
                        ss["_ss_n"],
                        q=len(marginal_design.group_names),
                    ),
                )
            else:
                pm.Normal(response, mu=mu, sigma=sigma, observed=y, dims="__obs__")
        else:
            sigma_prior = constant_priors["sigma"]
            sigma = _make_rv(
                "sigma",
                resolve("sigma", sigma_prior, "bambi default (scaled to data)"),
                prior_data=prior_data,
            )
            nu_prior = constant_priors["nu"]
            nu = _make_rv("nu", resolve("nu", nu_prior, "bambi default"), prior_data=prior_data)
            pm.StudentT(response, nu=nu, mu=mu, sigma=sigma, observed=y, dims="__obs__")

    unused = sorted(set(overrides) - used_keys)
    if unused:
        import difflib

        key = unused[0]
        has_corr = any(name.startswith("corr(") for name in priors)
        candidates = [n for n in [*priors, *(["corr"] if has_corr else [])] if n != key]
        close = difflib.get_close_matches(key, candidates, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise SpecError(
            f"{spec.source}: the prior for {key!r} matches no parameter of {formula!r}.{hint} "
            f"Parameters: {', '.join(priors)}."
        )

    terms_kwargs = _moderation_terms(fields, fixed_names, by_factor, spec, prepared)
    return BuiltModel(
        spec=spec,
        formula=formula,
        bambi_factory=lambda: bambi_of(formula),
        pymc_model=model,
        terms=ModerationTerms(**terms_kwargs),
        priors=priors,
        response=response,
        marginal=marginal_design if marginal else None,
        prior_data=prior_data,
    )


def _moderation_terms(
    fields: Mapping[str, str],
    fixed_names: list[str],
    by_factor: Mapping[str, list[str]],
    spec: ModelSpec,
    prepared: Any,
) -> dict[str, Any]:
    person = fields["person"]
    x = fields.get("x_within")
    w = fields.get("w")
    xb = fields.get("x_between")
    interaction = None
    for cand in (f"{x}:{w}", f"{w}:{x}"):
        if cand in fixed_names:
            interaction = cand
    names = by_factor.get(person, [])
    g_int = f"1|{person}" if f"1|{person}" in names else None
    g_slope = f"{x}|{person}" if f"{x}|{person}" in names else None
    corr = None
    if g_int and g_slope and spec.correlated:
        corr = correlation_name(g_int, g_slope)
    known = {"Intercept", x, w, xb, interaction}
    return {
        "person_dim": f"{person}__factor_dim",
        "x_column": x,
        "w_column": w,
        "y_column": fields.get("y"),
        "intercept": "Intercept" if "Intercept" in fixed_names else None,
        "slope": x if x in fixed_names else None,
        "moderator": w if w in fixed_names else None,
        "interaction": interaction,
        "between": xb if xb in fixed_names else None,
        "group_intercept": g_int,
        "group_slope": g_slope,
        "group_intercept_sd": f"{g_int}_sigma" if g_int else None,
        "group_slope_sd": f"{g_slope}_sigma" if g_slope else None,
        "correlation": corr,
        "sigma": "sigma",
        "other_fixed": tuple(n for n in fixed_names if n not in known),
    }


#: Compiled initial-point checks, by model structure (see :func:`check_initial_point`).
_CHECKS: dict[Any, Any] = {}


def _compile_check(model: pm.Model) -> Any:
    """A function of (value variables, data variables) giving the log density and gradient.

    The data variables become explicit inputs of unknown shape, so one compiled function
    serves every model of the same structure, whatever its data or prior values.
    """
    import pytensor
    from pytensor.graph.replace import graph_replace

    data_vars = list(model.data_vars)
    inputs = {v: v.type.clone(shape=(None,) * v.type.ndim)(name=v.name) for v in data_vars}
    outputs = graph_replace([model.logp(), model.dlogp()], inputs, strict=False)
    fn = pytensor.function(
        [*model.value_vars, *inputs.values()],
        outputs,
        mode="FAST_COMPILE",
        on_unused_input="ignore",
    )
    value_names = [v.name for v in model.value_vars]
    data_names = [v.name for v in data_vars]

    def check(model: pm.Model, point: Mapping[str, Any]) -> tuple[Any, Any]:
        data = {v.name: v.get_value() for v in model.data_vars}
        return fn(*[point[n] for n in value_names], *[data[n] for n in data_names])

    return check


def check_initial_point(
    model: pm.Model, *, source: str = "model", reuse_key: Any | None = None
) -> None:
    """Refuse to sample when the log density or its gradient is not finite at the start.

    A cheap structural check run before every fit: a non-finite value here means a prior
    with impossible parameters, data outside the likelihood's support, or a broken design.

    Parameters
    ----------
    model : pymc.Model
    source : str
        Named in the error message (the spec file).
    reuse_key : hashable, optional
        Models built from the same structure (formula, families, prior families) share one
        compiled check under this key; new data or prior values are passed to it as inputs.
        Without a key the check is compiled for this model alone.
    """
    point = model.initial_point()
    check = _CHECKS.get(reuse_key) if reuse_key is not None else None
    if check is None:
        check = _compile_check(model)
        if reuse_key is not None:
            _CHECKS[reuse_key] = check
    try:
        logp, grad = check(model, point)
    except ParameterValueError:  # a prior or likelihood parameter outside its support
        logp, grad = -np.inf, None
    if not np.isfinite(logp):
        terms = model.point_logps(point)
        bad = [k for k, v in terms.items() if not np.isfinite(v)]
        raise ModelError(
            f"{source}: the log density is not finite at the initial point "
            f"(non-finite terms: {', '.join(bad) or 'unknown'}). Check the priors and the data."
        )
    if not np.all(np.isfinite(grad)):
        raise ModelError(
            f"{source}: the gradient of the log density is not finite at the initial point. "
            "Check for constant predictors, extreme values or priors with zero width."
        )
