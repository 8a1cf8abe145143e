r"""Simulation-based calibration of the latent-centred model (latent person means).

The observed SBC (:mod:`ambidex_bayes.design.sbc`) keeps the daily predictor fixed and draws
the outcome. The latent-centred model (:mod:`ambidex_bayes.model.latent_centring`) models the
predictor too, so here each simulation draws from its prior

.. math::

    \theta^\ast = (\beta_0, \beta_1, \beta_B, \beta_W, \beta_{1W}, \tau, \rho, \sigma,
        \mu_0, \gamma, \tau_x, \sigma_x), \quad
    \mu_j^\ast \sim N(\mu_0 + \gamma w_j, \tau_x^2), \quad u_j^\ast \sim N(0, \Sigma),

with PyMC's forward sampler on the full model (person effects explicit), then the daily
predictor and the outcome given them (:func:`~ambidex_bayes.model.latent_simulate.draw_latent_data`),
on the persons, days, moderator and missing values of one simulated study (the reference
design, fixed for the run; its rows as a latent fit takes them, days with a missing outcome
or predictor included, e.g. ``missing_rate_x`` set in the design); it fits the latent model
and ranks every drawn value among :math:`L` posterior draws (:mod:`.sbc_draws`): the
parameters shared with the observed model (fixed effects, person-effect SDs and
correlation, residual SD, the first person's intercept and slope) and the predictor
model's (``{x}_mu_mean``, ``{x}_mu_sd``, ``{x}_within_sd``, ``{x}_mu:{w}`` and the first
person's mean ``{x}_mu``).

Several level-1 predictors
--------------------------
The level-1 predictors the spec's formula uses (:func:`~ambidex_bayes.model.latent_ladder.
latent_structure`; with ``every_predictor`` every one of the design's,
:func:`~ambidex_bayes.design.predictor_terms.spec_with_every_predictor`) each get latent
person means of their own: each is drawn from its own predictor model, and every
predictor's parameters are ranked (its within slope ``{x}_cw``, between effect ``{x}_pm``,
cross-level interaction where the model has one, and its predictor model's parameters as
above).

Priors
------
SBC needs the prior that generated the data to be the prior of the fit. The run's prior set
(``priors``; :mod:`ambidex_bayes.priors.sets`) gives the parameters the latent model shares
with the observed one (fixed effects, person-effect SDs and correlation, residual SD; see
:mod:`ambidex_bayes.model.latent_priors`); its values are fixed by the declared ranges, not
by a data set. The other parameters (the predictor model's, and any the set leaves out) keep
the latent model's weakly informative defaults, which are scaled by the data (means and SDs
of outcome, predictor and moderator), so a fit of each simulated data set by
:func:`ambidex_bayes.fit.fit` would use a prior of its own. Here the scales are those of the
run's covariate study, fixed: the generating model and every fit take the same prior values
(the model keeps them in ``pm.Data`` variables ``_prior_*``), and each fit is the latent
fit's own route (:func:`~ambidex_bayes.model.latent_centring.build_latent_model`, the fast
path or full NUTS, :func:`~ambidex_bayes.engine.latent_sampling.sample_latent`) with those
values set. A different fitting set (``fit_priors``) fits with its own priors, their values
taken on the covariate study in the same way: a deliberately miscalibrated check, as in the
observed SBC.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from ambidex_bayes.design.sbc_draws import Checked, checked_parameters, rank_row

if TYPE_CHECKING:
    from ambidex_bayes.design.tasks import Task
    from ambidex_bayes.model.latent_centring import LatentModel
    from ambidex_bayes.model.latent_data import LatentData
    from ambidex_bayes.model.latent_ladder import LatentStructure
    from ambidex_bayes.prepared_data import PreparedData
    from ambidex_bayes.prior_spec import PriorSpec
    from ambidex_bayes.spec import ModelSpec

__all__ = ["LatentTemplate", "latent_template", "run_latent_sbc_task"]

#: Prefix of the ``pm.Data`` variables that hold the latent model's prior parameters.
PRIOR_DATA_PREFIX = "_prior_"


@dataclass(frozen=True)
class LatentTemplate:
    """What every simulation of a latent SBC run shares.

    Attributes
    ----------
    data : LatentData
        Persons, days, centred moderator and missing values of the covariate study.
    level : str
        The ladder's model: ``"M1"``, ``"M2"`` or ``"M3"``.
    correlated : bool
        Correlated person intercepts and slopes (the spec's choice).
    simulator : LatentModel
        The full model (person effects explicit) that the parameters are drawn from.
    structure : LatentStructure
        The terms of each level-1 predictor the model uses.
    prior_values : dict of str to ndarray
        The prior parameters (``_prior_*``) of the simulator.
    checked : dict
        The ranked parameters: label -> (variable, element or None).
    structure : LatentStructure or None
        The terms of each level-1 predictor the model uses.
    fit_priors : dict of str to PriorSpec
        The priors every fit is built with (the fitting set's, rendered with the covariate
        study's roles; empty: the defaults).
    fit_prior_values : dict of str to ndarray or None
        The prior parameters (``_prior_*``) set in every fit: those of the fitting priors
        on the covariate study; None means ``prior_values`` (the same priors).
    """

    data: LatentData
    level: str
    correlated: bool
    simulator: LatentModel
    prior_values: dict[str, np.ndarray]
    checked: dict[str, Checked]
    structure: LatentStructure | None = None
    fit_priors: dict[str, PriorSpec] = field(default_factory=dict)
    fit_prior_values: dict[str, np.ndarray] | None = None

    @property
    def fit_values(self) -> dict[str, np.ndarray]:
        """The prior parameters set in every fit."""
        return self.prior_values if self.fit_prior_values is None else self.fit_prior_values


@lru_cache(maxsize=4)
def latent_template(
    spec: str,
    design_json: str,
    design_seed: int,
    every_predictor: bool = False,
    priors: str | None = None,
    fit_priors: str | None = None,
) -> LatentTemplate:
    """The covariate study, the simulator and the checked parameters of a run (built once
    per process).

    Parameters
    ----------
    spec : str
        The model spec (name or file): M1, M2 or M3.
    design_json : str
        The reference design's overrides, as JSON.
    design_seed : int
        Seed of the covariate study.
    every_predictor : bool
        Add every further level-1 predictor of the design to the spec's formula
        (:func:`~ambidex_bayes.design.predictor_terms.spec_with_every_predictor`).
    priors : str or None
        The prior set (name or file) the parameters are drawn from (module docstring);
        None: the spec's own priors.
    fit_priors : str or None
        The prior set every fit takes; None: ``priors`` (a correct SBC).

    Returns
    -------
    LatentTemplate

    Raises
    ------
    SpecError
        A spec or data that latent centring cannot fit, or a prior set that names no
        parameter of the latent model (the reason is named).
    """
    from ambidex_bayes.centring import choose_centring
    from ambidex_bayes.data import ColumnMapping, load_diary
    from ambidex_bayes.design.predictor_terms import spec_with_every_predictor
    from ambidex_bayes.model.latent_centring import build_latent_model
    from ambidex_bayes.model.latent_data import latent_data
    from ambidex_bayes.model.latent_ladder import latent_structure
    from ambidex_bayes.partial_rows import latent_rows
    from ambidex_bayes.prepare import prepare
    from ambidex_bayes.simulate import reference_design, simulate_diary
    from ambidex_bayes.spec import load_spec

    study = simulate_diary(reference_design(**json.loads(design_json)), seed=design_seed)
    prepared = prepare(load_diary(study.data, ColumnMapping.from_dict(study.mapping)))
    mapping = prepared.mapping
    model_spec = load_spec(spec)
    if every_predictor:
        model_spec = spec_with_every_predictor(model_spec, len(mapping.level1))
    choose_centring("latent", model_spec, prepared)
    structure = latent_structure(model_spec, prepared)
    assert not isinstance(structure, str)  # choose_centring refused such a spec
    predictors = [mapping.level1[k] for k in structure.predictors]
    data = latent_data(
        latent_rows(prepared),
        y=prepared.roles["y"],
        x=predictors[0],
        person=mapping.person,
        w=prepared.roles.get("w"),
        others=tuple(predictors[1:]),
    )

    def model_with(
        prior_set: str | None, *, marginal: bool
    ) -> tuple[dict[str, PriorSpec], LatentModel]:
        """The rendered priors of ``prior_set`` and the latent model of the study under them."""
        rendered = _rendered_priors(model_spec, prior_set, prepared)
        model = build_latent_model(
            data,
            model_spec.name,
            marginal=marginal,
            correlated=model_spec.correlated,
            structure=structure,
            priors=rendered,
            prior_source=_prior_source(model_spec, prior_set),
        )
        return rendered, model

    sim_priors, simulator = model_with(priors, marginal=False)
    prior_values = _prior_values(simulator)
    fit_set, fit_prior_values = sim_priors, None
    if fit_priors is not None and fit_priors != priors:
        fit_set, fit_model = model_with(fit_priors, marginal=True)
        fit_prior_values = _prior_values(fit_model)
    checked = checked_parameters(simulator.terms, [str(v) for v in data.levels])
    checked.update(_predictor_parameters(simulator, data))
    return LatentTemplate(
        data=data,
        level=model_spec.name,
        correlated=model_spec.correlated,
        simulator=simulator,
        prior_values=prior_values,
        checked=checked,
        structure=structure,
        fit_priors=fit_set,
        fit_prior_values=fit_prior_values,
    )


def _rendered_priors(
    spec: ModelSpec, prior_set: str | None, prepared: PreparedData
) -> dict[str, PriorSpec]:
    """The priors of ``spec`` with ``prior_set`` (None: its own), rendered with the roles of
    ``prepared`` (the latent model's parameter names)."""
    from ambidex_bayes.priors.sets import spec_with_prior_set

    if prior_set is not None:
        spec = spec_with_prior_set(spec, prior_set, prepared)
    return spec.render_priors(prepared.formula_fields(), factors=prepared.formula_columns())


def _prior_source(spec: ModelSpec, prior_set: str | None) -> str:
    """Where the priors come from, for messages."""
    if prior_set is None:
        return f"{spec.source} ({spec.name})"
    return f"prior set {prior_set!r} ({spec.name})"


def _prior_values(model: LatentModel) -> dict[str, np.ndarray]:
    """The prior parameters (``_prior_*`` data variables) of ``model``."""
    return {
        var.name: np.asarray(var.get_value())
        for var in model.pymc_model.data_vars
        if var.name.startswith(PRIOR_DATA_PREFIX)
    }


def _predictor_parameters(simulator: LatentModel, data: LatentData) -> dict[str, Checked]:
    """Every predictor model's ranked parameters (``{x}_mu_mean``, ``{x}_mu_sd``,
    ``{x}_within_sd``, ``{x}_mu:{w}``, the first person's mean ``{x}_mu``) and the fixed
    effects of the predictors after the first (the first's are the model's terms)."""
    named = simulator.pymc_model.named_vars
    checked: dict[str, Checked] = {}
    for p in range(data.n_predictors):
        nm = data.predictor(p).names if data.n_predictors > 1 else data.names
        effects = (nm.within, nm.between, nm.interaction) if p else ()
        for name in (*effects, nm.mu_mean, nm.mu_sd, nm.within_sd, nm.mu_moderator):
            if name is not None and name in named:
                checked[name] = (name, None)
        checked[f"{nm.mu}[{data.levels[0]}]"] = (nm.mu, 0)
    return checked


def _with_priors(model: LatentModel, values: Mapping[str, np.ndarray]) -> LatentModel:
    """``model`` with its prior parameters set to ``values`` (the run's fixed priors)."""
    for var in model.pymc_model.data_vars:
        if var.name in values:
            var.set_value(values[var.name])
    return model


def run_latent_sbc_task(
    task: Task,
    *,
    spec: str,
    design: Mapping[str, Any],
    design_seed: int,
    rank_draws: int,
    fast_path: bool,
    backend: str,
    draws: int,
    tune: int,
    chains: int,
    every_predictor: bool = False,
    priors: str | None = None,
    fit_priors: str | None = None,
) -> dict[str, Any]:
    """Draw parameters, person means and data from the latent model's prior, fit, and rank.

    Parameters
    ----------
    task : Task
        The simulation (its seed).
    spec, design, design_seed
        The model and the covariate study (:func:`latent_template`).
    rank_draws : int
        :math:`L`, the posterior draws each rank is taken among.
    fast_path : bool
        Fit on the fast path (person effects integrated out) or with full NUTS.
    backend, draws, tune, chains
        Sampler settings of the fit (one core).
    every_predictor : bool
        Every level-1 predictor of the design in the model (:func:`latent_template`).
    priors, fit_priors : str or None
        The prior sets the parameters are drawn from and the fit takes
        (:func:`latent_template`).

    Returns
    -------
    dict
        ``rank__<parameter>`` and ``truth__<parameter>`` of every checked parameter,
        ``centring`` (``"latent"``) and the fit's diagnostics (``max_rhat``,
        ``min_ess_bulk``, ``divergent``).
    """
    import pymc as pm

    from ambidex_bayes.diagnostics import check_convergence
    from ambidex_bayes.engine.latent_sampling import (
        compiled_latent,
        latent_settings,
        sample_latent,
    )
    from ambidex_bayes.engine.settings import SamplerSettings
    from ambidex_bayes.model.latent_centring import build_latent_model
    from ambidex_bayes.model.latent_simulate import draw_latent_data

    template = latent_template(
        spec,
        json.dumps(dict(design), sort_keys=True),
        int(design_seed),
        bool(every_predictor),
        priors,
        fit_priors,
    )
    seed = int(task.seed) % 2**32
    drawn = pm.sample_prior_predictive(
        draws=1, model=template.simulator.pymc_model, random_seed=seed
    )
    prior = drawn["prior"].to_dataset()
    values = {name: prior[name].to_numpy()[0, 0] for name in prior.data_vars}
    data = draw_latent_data(
        template.data,
        template.level,
        values,
        np.random.default_rng([int(task.seed), 1]),
        structure=template.structure,
    )
    model = build_latent_model(
        data,
        template.level,
        marginal=fast_path,
        correlated=template.correlated,
        structure=template.structure,
        priors=template.fit_priors,
    )
    _with_priors(model, template.fit_values)
    settings = SamplerSettings(
        backend=backend,
        draws=draws,
        tune=tune,
        chains=chains,
        seed=seed,
        fast_path=fast_path,
        cores=1,
    ).resolved()
    compiled = compiled_latent(model, settings)
    if compiled is not None:  # the target acceptance a fit of this size takes by default
        settings = latent_settings(
            settings, int(compiled.n_dim), target_accept_given=False, tune_given=True
        )
    idata = sample_latent(model, settings, compiled=compiled)
    row = rank_row(prior, idata["posterior"].to_dataset(), template.checked, rank_draws)
    conv = check_convergence(idata, warn=False)
    row["centring"] = "latent"
    row["max_rhat"] = float(conv.table["rhat"].max())
    row["min_ess_bulk"] = float(conv.min_ess_bulk)
    row["divergent"] = int(conv.n_divergent)
    return row
