r"""Simulation-based calibration (SBC) of a model and its sampler.

If parameters :math:`\theta^\ast` are drawn from the prior, data :math:`y` from the model
given :math:`\theta^\ast`, and the model is fitted to :math:`y`, then the rank of
:math:`\theta^\ast` among :math:`L` independent posterior draws is uniform on
:math:`0..L` (Talts et al. 2018). Departures show a model or sampler that does not recover
what it should: ranks piling at both ends mean posteriors too narrow, in the middle too
wide, at one end a bias. :mod:`ambidex_bayes.design.sbc_stats` tests the ranks.

Each simulation here:

1. takes the covariates of one simulated study (the reference design, fixed for the run);
2. draws every parameter, the person effects and the outcome from the *simulation* prior
   with PyMC's forward sampler (the full model, person effects explicit);
3. fits the model with the *fit* prior (the same set unless chosen otherwise) by the usual
   route (the Gaussian fast path for Gaussian models);
4. ranks the drawn value of each parameter among :math:`L` draws thinned evenly from the
   posterior: the fixed effects, the person-effect SDs and correlation, the residual SD, and
   the first person's own intercept and slope.

Priors must not depend on the data (Bambi's defaults scale with the outcome, so the prior
that generated :math:`y` would differ from the one fitted): every parameter needs a prior
from a prior set, e.g. ``weakly_informative``.

With ``centring="latent"`` the model checked is the latent-centred one (person means as
parameters): each simulation draws the predictor as well as the outcome from the latent
model's prior and fits it with latent centring (:mod:`.sbc_latent`, which explains its
fixed priors). The prior sets give the parameters the latent model shares with the observed
one; the predictor model's parameters keep the latent model's defaults, fixed at the
covariate study. Without a set (``priors=None``, the default) the latent model's own
priors serve every parameter.

With ``every_predictor`` the model takes the within and between parts of every level-1
predictor of the design (an :class:`~ambidex_bayes.simulation_design.ExtendedDesign` with
``predictors``; :mod:`.predictor_terms`), and the ranks cover each predictor's parameters
(with latent centring its predictor model's too).

``simuk`` (which implements SBC for PyMC models) is not used: it runs its simulations in one
loop in one process and keeps results in memory, while a run here is spread over a Dask
cluster, seeded per task, and written to a store that resumes after interruption. Its
plotting relies on the same rank statistics, which :mod:`.sbc_plots` draws.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ambidex_bayes import constants
from ambidex_bayes.design.sbc_draws import (
    RANK_PREFIX,
    TRUTH_PREFIX,
    checked_parameters,
    rank_row,
    thinned,
)
from ambidex_bayes.design.tasks import (
    RunConfig,
    Task,
    default_backend,
    design_problem,
    every_predictor_problems,
    fit_simulated,
    task_seed,
)
from ambidex_bayes.engine.limits import sampler_problems, whole_number_problem
from ambidex_bayes.errors import ModelError, SpecError

if TYPE_CHECKING:
    from ambidex_bayes.model.build import BuiltModel
    from ambidex_bayes.prepared_data import PreparedData
    from ambidex_bayes.spec import ModelSpec

# RANK_PREFIX, TRUTH_PREFIX and thinned live in :mod:`.sbc_draws` (shared with the latent
# SBC) and are re-exported here, where they have always been imported from.
__all__ = [
    "SBCConfig",
    "sbc_tasks",
    "run_sbc_task",
    "sbc_work",
    "run_sbc",
    "sbc_ranks",
    "RANK_PREFIX",
    "TRUTH_PREFIX",
    "thinned",
]


#: The prior set of an observed SBC run that names none.
OBSERVED_PRIORS = "weakly_informative"


@dataclass(frozen=True)
class SBCConfig(RunConfig):
    """Everything that defines an SBC run.

    Parameters
    ----------
    spec : str
        Model spec (name or file).
    priors : str or None
        Prior set that generates the parameters (name or file); it must set every
        parameter's prior (no data-scaled defaults). None, the default: ``"weakly_informative"``
        for the observed model; with latent centring, the spec's own priors (the latent
        model's weakly informative defaults, fixed at the covariate study).
    fit_priors : str or None
        Prior set used for fitting; None means ``priors`` (a correct SBC). A different set
        makes a deliberately miscalibrated check.
    simulations : int
        Number of simulated data sets.
    rank_draws : int
        :math:`L`, the posterior draws each rank is taken among (thinned evenly from
        ``chains * draws``, which must be at least this many).
    design : dict
        Overrides of the reference design that supplies the covariates (for example
        ``{"n_persons": 40}``).
    design_seed : int
        Seed of the covariates (the same for every simulation).
    backend, draws, tune, chains
        Sampler settings of every fit.
    fast_path : bool
        Fit Gaussian models through the fast path (default) or with full NUTS; running both
        checks one against the other.
    seed : int
        Seed of the run; each simulation's seed derives from it and the simulation number.
    centring : {"observed", "latent"} or None
        The model checked: observed person-mean centring (None, the default, is the same,
        also for a spec whose own centring is ``"auto"`` or ``"latent"``: the data are
        drawn from the observed model), or latent centring (module docstring; the prior
        sets give the parameters the latent model shares with the observed one).
    every_predictor : bool
        Add the within and between parts of every further level-1 predictor of the design
        to the spec's formula (:mod:`.predictor_terms`); the design must have some.
    """

    spec: str = "M3"
    priors: str | None = None
    fit_priors: str | None = None
    simulations: int = 100
    rank_draws: int = 99
    design: Mapping[str, Any] = field(default_factory=dict)
    design_seed: int = 1
    backend: str = field(default_factory=default_backend)
    draws: int = field(default_factory=lambda: constants.DESIGN_DRAWS)
    tune: int = field(default_factory=lambda: constants.DESIGN_TUNE)
    chains: int = field(default_factory=lambda: constants.DESIGN_CHAINS)
    fast_path: bool = True
    seed: int = constants.SEED
    centring: str | None = None
    every_predictor: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON form; ``centring`` and ``every_predictor`` only when set (so the stored
        configuration of a run without them reads as before)."""
        values = super().to_dict()
        if values["centring"] is None:
            del values["centring"]
        if not values["every_predictor"]:
            del values["every_predictor"]
        return values

    def __post_init__(self) -> None:
        object.__setattr__(self, "design", dict(self.design))
        if self.centring == "observed":  # the same run as without centring
            object.__setattr__(self, "centring", None)
        if self.priors is None and self.centring != "latent":  # stored as before
            object.__setattr__(self, "priors", OBSERVED_PRIORS)
        problems = []
        if int(self.simulations) != self.simulations or self.simulations < 1:
            problems.append(
                f"simulations must be a whole number of at least 1, got {self.simulations}"
            )
        fields = {"draws": self.draws, "tune": self.tune, "chains": self.chains}
        sampler = sampler_problems({**fields, "backend": self.backend, "seed": self.seed})
        problems.extend(sampler)
        if not sampler and self.tune < 1:
            problems.append("tune (--tune) must be at least 1 in an SBC run")
        if not sampler and (
            whole_number_problem("rank_draws", self.rank_draws, 1, self.draws * self.chains)
            is not None
        ):
            problems.append(
                f"rank_draws ({self.rank_draws!r}) must be a whole number between 1 and draws x "
                f"chains ({self.draws * self.chains})"
            )
        if (problem := design_problem(self.design)) is not None:
            problems.append(problem)
        elif self.every_predictor:
            problems.extend(every_predictor_problems(self.design))
        problems.extend(self._centring_problems())
        if problems:
            raise SpecError(
                "Invalid SBC run:\n"
                + "\n".join(f"  - {p}" for p in problems)
                + "\nFix the named option(s) and run again."
            )

    def _centring_problems(self) -> list[str]:
        if self.centring in (None, "observed"):
            return []
        if self.centring != "latent":
            return [
                f"centring must be observed or latent, got {self.centring!r} (an SBC checks "
                "one model; auto would choose per data set)"
            ]
        return []

    @property
    def latent(self) -> bool:
        """Whether the run checks the latent-centred model."""
        return self.centring == "latent"

    @property
    def fit_prior_set(self) -> str | None:
        """The prior set used for fitting (None: the spec's own, with latent centring)."""
        return self.fit_priors if self.fit_priors is not None else self.priors


def sbc_tasks(config: SBCConfig) -> list[Task]:
    """One task per simulation, each with its own seed."""
    return [
        Task(
            task_id=f"sim{r:06d}",
            seed=task_seed(config.seed, "sbc", r),
            params={"simulation": r},
        )
        for r in range(int(config.simulations))
    ]


@dataclass
class _Template:
    prepared: PreparedData
    simulator: Any  # the full model with the simulation priors
    fit_spec: ModelSpec
    checked: dict[str, tuple[str, Any]]  # label -> (variable, index or None)


def _refuse_data_scaled(built: BuiltModel, prior_set: str) -> None:
    from ambidex_bayes.priors.bayes_factor import DATA_SCALED_SOURCE

    scaled = [k for k, v in built.priors.items() if v.get("source") == DATA_SCALED_SOURCE]
    if scaled:
        raise SpecError(
            f"SBC needs priors that do not depend on the data, but the prior set "
            f"{prior_set!r} leaves {', '.join(scaled)} to the data-scaled defaults. Use a set "
            "that gives every parameter a prior, e.g. 'weakly_informative'."
        )


@lru_cache(maxsize=4)
def _template(config_json: str) -> _Template:
    """Covariates, simulator and fit spec of a run (built once per process)."""
    from ambidex_bayes.data import ColumnMapping, load_diary
    from ambidex_bayes.design.predictor_terms import spec_with_every_predictor
    from ambidex_bayes.model.build import build_model
    from ambidex_bayes.prepare import prepare
    from ambidex_bayes.priors.sets import spec_with_prior_set
    from ambidex_bayes.simulate import reference_design, simulate_diary
    from ambidex_bayes.spec import load_spec

    config = SBCConfig.from_dict(json.loads(config_json))
    study = simulate_diary(reference_design(**config.design), seed=config.design_seed)
    prepared = prepare(load_diary(study.data, ColumnMapping.from_dict(study.mapping)))
    spec = load_spec(config.spec)
    if config.every_predictor:
        spec = spec_with_every_predictor(spec, len(prepared.mapping.level1))
    sim_set = config.priors or OBSERVED_PRIORS  # always set for the observed model
    fit_set = config.fit_prior_set or OBSERVED_PRIORS
    sim_spec = spec_with_prior_set(spec, sim_set, prepared)
    simulator = build_model(sim_spec, prepared)
    _refuse_data_scaled(simulator, sim_set)
    fit_spec = spec_with_prior_set(spec, fit_set, prepared)
    _refuse_data_scaled(build_model(fit_spec, prepared), fit_set)
    levels = list(simulator.pymc_model.coords[simulator.terms.person_dim])
    checked = checked_parameters(simulator.terms, [str(v) for v in levels])
    return _Template(prepared, simulator, fit_spec, checked)


def run_sbc_task(task: Task, config: SBCConfig) -> dict[str, Any]:
    """Draw parameters and an outcome from the prior, fit, and rank the drawn values.

    Returns ``rank__<parameter>`` (the number of the :math:`L` thinned posterior draws below
    the drawn value) and ``truth__<parameter>`` for every checked parameter, and the fit's
    diagnostics.
    """
    import pymc as pm

    if config.latent:
        from ambidex_bayes.design.sbc_latent import run_latent_sbc_task

        return run_latent_sbc_task(task, **_latent_fields(config))
    template = _template(json.dumps(config.to_dict(), sort_keys=True))
    model = template.simulator.pymc_model
    drawn = pm.sample_prior_predictive(draws=1, model=model, random_seed=task.seed % 2**32)
    prior = drawn["prior"].to_dataset()
    response = template.simulator.response
    y = np.asarray(drawn["prior_predictive"][response].values, dtype=float).ravel()
    frame = template.prepared.frame.copy()
    frame[response] = y
    prepared = dataclasses.replace(template.prepared, frame=frame)
    result = fit_simulated(  # the observed model, whatever the spec's own centring
        template.fit_spec,
        prepared,
        config,
        task.seed,
        fast_path=config.fast_path,
        centring="observed",
    )
    row = rank_row(prior, result.posterior, template.checked, config.rank_draws)
    conv = result.convergence
    row["max_rhat"] = float(conv.table["rhat"].max())
    row["min_ess_bulk"] = float(conv.min_ess_bulk)
    row["divergent"] = int(conv.n_divergent)
    return row


def _latent_fields(config: SBCConfig) -> dict[str, Any]:
    """The fields of ``config`` a latent SBC task takes."""
    return {
        "spec": config.spec,
        "design": config.design,
        "design_seed": config.design_seed,
        "rank_draws": config.rank_draws,
        "fast_path": config.fast_path,
        "backend": config.backend,
        "draws": config.draws,
        "tune": config.tune,
        "chains": config.chains,
        "every_predictor": config.every_predictor,
        "priors": config.priors,
        "fit_priors": config.fit_priors,
    }


def sbc_work(config: SBCConfig) -> Any:
    """The picklable work function of the run's tasks."""
    return partial(run_sbc_task, config=config)


def run_sbc(config: SBCConfig, folder: str | os.PathLike, **options: Any) -> pd.DataFrame:
    """Run (or resume) simulation-based calibration into ``folder``; return every result.

    Each simulation draws the parameters from the prior set ``config.priors``, the outcome
    from the model given them (covariates from the reference design), fits the model and
    records the rank of every drawn value among ``config.rank_draws`` posterior draws.
    Results are written to ``folder`` as they arrive; a run that stops resumes there.

    Parameters
    ----------
    config : SBCConfig
        The model, the generating and fitting prior sets, the number of simulations, the
        design's overrides and the sampler settings.
    folder : path
        The result folder; it records ``config`` and refuses to resume with another one.
    **options
        Passed to :func:`ambidex_bayes.design.runner.run_in_folder`: ``scheduler``
        (``"serial"``: in this process; ``None``: a local Dask cluster; or a scheduler's
        address), ``n_workers``, ``restart`` (discard stored results), ``progressbar``,
        ``verbose``.

    Returns
    -------
    pandas.DataFrame
        One row per simulation with one ``rank_<parameter>`` column per checked parameter,
        diagnostics and ``error`` (empty for a successful fit). :func:`sbc_ranks` gives the
        ranks in long form, :func:`~ambidex_bayes.design.sbc_stats.sbc_calibration` tests
        their uniformity.

    Examples
    --------
    A tiny run in this process (two simulations show the mechanics, not calibration):

    >>> config = ab.SBCConfig(
    ...     design={"n_persons": 20}, simulations=2, rank_draws=9,
    ...     backend="pymc", draws=100, tune=100, chains=1,
    ... )
    >>> results = ab.sbc(config, tmp / "sbc", scheduler="serial", progressbar=False, verbose=False)
    >>> len(results)
    2
    >>> ranks = ab.sbc_ranks(results)
    >>> list(ranks.columns), ranks["rank"].between(0, config.rank_draws).all()
    (['simulation', 'parameter', 'rank'], np.True_)
    >>> "uncertainty_cw:leader_support_c" in set(ranks["parameter"])
    True
    """
    from ambidex_bayes.design.runner import run_in_folder
    from ambidex_bayes.memory import check_run_memory
    from ambidex_bayes.simulate import reference_design

    if config.latent:  # a spec latent centring cannot fit fails here, not in every task
        from ambidex_bayes.design.sbc_latent import latent_template

        latent_template(
            config.spec,
            json.dumps(config.design, sort_keys=True),
            config.design_seed,
            config.every_predictor,
            config.priors,
            config.fit_priors,
        )
    design = reference_design(**config.design)
    check_run_memory(  # before anything starts: the study and its fits must fit
        kind="sbc",
        rows=design.n_persons
        * (design.diaries_mean if design.diaries_dist == "fixed" else design.diaries_max),
        persons=design.n_persons,
        draws=config.draws,
        chains=config.chains,
        simulations=int(config.simulations),
        scheduler=options.get("scheduler"),
        n_workers=options.get("n_workers"),
        verbose=options.get("verbose", True),
    )
    return run_in_folder(
        folder, kind="sbc", config=config, tasks=sbc_tasks(config), work=sbc_work(config), **options
    )


def sbc_ranks(results: pd.DataFrame) -> pd.DataFrame:
    """The stored results in long form: ``simulation, parameter, rank`` (failed fits out).

    Raises ModelError, with the first failure's message, when no simulation succeeded.
    """
    errors = results.get("error", pd.Series("", index=results.index)).fillna("")
    ok = results[errors == ""]
    if ok.empty:
        first = errors[errors != ""].iloc[0] if (errors != "").any() else "no results stored"
        raise ModelError(
            f"None of the {len(results)} simulations succeeded; the first failed with: {first}"
        )
    columns = [c for c in results.columns if c.startswith(RANK_PREFIX)]
    long = ok.melt(
        id_vars=["simulation"], value_vars=columns, var_name="parameter", value_name="rank"
    )
    long["parameter"] = long["parameter"].str.slice(len(RANK_PREFIX))
    order = {c[len(RANK_PREFIX) :]: i for i, c in enumerate(columns)}
    long = long.sort_values(
        ["parameter", "simulation"], key=lambda s: s.map(order) if s.name == "parameter" else s
    )
    return long.dropna(subset=["rank"]).astype({"rank": int}).reset_index(drop=True)
