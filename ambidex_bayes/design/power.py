r"""Power analysis for the cross-level interaction by simulation.

For every cell of a grid (number of persons :math:`J` × mean diaries per person :math:`m` ×
true interaction :math:`\gamma_{11}`), many data sets are simulated from the reference
design (:func:`ambidex_bayes.simulate.reference_design`, with the cell's values) and each
is fitted with the model (the Gaussian fast path by default). Per cell, over the :math:`S`
successful fits :math:`s = 1..S` with posterior :math:`p_s` of the interaction:

.. math::

    \text{power}_{\text{interval}} = \frac1S \sum_s
        \mathbb 1\{0 \notin \text{CI}_s\}, \qquad
    \text{power}_{\text{prob}} = \frac1S \sum_s
        \mathbb 1\{P_s(\gamma_{11} > 0) \ge \ell\},

with Monte Carlo standard error :math:`\sqrt{\hat p(1-\hat p)/S}` each; the mean interval
width; the bias :math:`\frac1S\sum_s \bar\gamma_{11,s} - \gamma_{11}` and RMSE of the
posterior mean; and the coverage of the true value by the interval.

With ``contrast`` set to a level :math:`L` of the design's factor moderator (an
:class:`~ambidex_bayes.simulation_design.ExtendedDesign` with a ``factor``), the grid's effect
is instead the true slope difference :math:`b_L` of that level from the reference level
(treatment contrast), and the tested parameter is the model's slope contrast of that level
(``x_cw:f_L``): the power is the share of studies whose interval of the level's slope
difference excludes 0.

With rating scales (the reference design rounds to 1-5), the generating values describe the
latent continuous model; rounding attenuates the slopes a little, which shows up as a small
negative bias (see :mod:`ambidex_bayes.simulate`).

Centring
--------
``centring`` chooses how every fit splits the daily predictor (:mod:`ambidex_bayes.centring`):
``"observed"`` person means (the default, unless the spec's file says otherwise),
``"latent"`` person means estimated with the model (M1-M3 with the level-1 predictors the
spec's formula uses, each with person means of its own, and at most one numeric moderator),
or ``"auto"`` (latent when the reliability of a data set's observed person means is below
0.7). The simulator's
person means are the true ones, so besides the tested effect each result records the
posterior mean of the between effect ``{x}_pm`` and its truth :math:`\gamma_{02}` (defined on
the latent mean): its bias per cell (``between_bias``) shows what observed centring loses
with few diaries and latent centring recovers. Each result also records how far the person
means the fit used lie from the true ones (root mean square over persons,
``person_mean_rmse``): the posterior means of the latent person means, or the observed
means for observed centring. A prior set (``priors``) applies to latent fits too: it gives
the parameters the latent model shares with the observed one, the predictor model's keep the
latent model's weakly informative defaults (:mod:`ambidex_bayes.model.latent_priors`).

Several level-1 predictors
--------------------------
A design with further level-1 predictors (an
:class:`~ambidex_bayes.simulation_design.ExtendedDesign` with ``predictors``, each with
true person means of its own) is fitted with the spec's formula; with ``every_predictor``
the within and between parts of every further predictor are added to it
(:mod:`.predictor_terms`). Besides the tested effect, each result then records, for every
predictor :math:`p` and each of its effects the fit estimates (within slope ``{x}_cw``,
between effect ``{x}_pm`` on the true person mean, cross-level interaction
``{x}_cw:{w}``), the posterior mean, SD and interval ends and the true value, and the
distance of the fit's person means of :math:`p` from the true ones
(``person_mean_rmse__{x}``). :func:`predictor_table` sums them up per cell and effect:
power (interval excludes 0), bias, RMSE and coverage, as for the tested effect.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ambidex_bayes import constants
from ambidex_bayes.design.tasks import (
    RunConfig,
    Task,
    default_backend,
    design_problem,
    every_predictor_problems,
    fit_simulated,
    task_seed,
)
from ambidex_bayes.engine.limits import sampler_problems
from ambidex_bayes.errors import SpecError

if TYPE_CHECKING:
    from ambidex_bayes.engine.result import FitResult
    from ambidex_bayes.prepared_data import PreparedData
    from ambidex_bayes.simulate import SimulatedStudy
    from ambidex_bayes.simulation_design import SimulationDesign
    from ambidex_bayes.spec import ModelSpec

__all__ = [
    "PowerConfig",
    "power_tasks",
    "run_power_task",
    "power_table",
    "describe_power",
    "cell_design",
    "power_work",
    "run_power",
    "predictor_effects",
    "predictor_table",
    "EFFECT_PREFIX",
]


#: Bulk-ESS of the interaction below which a fit's interval ends are flagged as unreliable.
FLAG_ESS = 100

#: Column prefix of a predictor's effect in the results: ``effect__<parameter>__<statistic>``.
EFFECT_PREFIX = "effect__"
#: Column prefix of the distance of a predictor's person means from the true ones.
RMSE_PREFIX = "person_mean_rmse__"


@dataclass(frozen=True)
class PowerConfig(RunConfig):
    """Everything that defines a power analysis (its store refuses any other).

    Parameters
    ----------
    persons : tuple of int
        Numbers of persons to try.
    diaries : tuple of float
        Mean diaries per person to try (the count per person varies around it as in the
        reference design, a truncated Poisson from 1 to ``max(7, 2 * mean)``).
    effects : tuple of float
        True cross-level interactions :math:`\\gamma_{11}` (raw units: change of the
        within-person slope per moderator unit). The reference value is 0.25.
    simulations : int
        Data sets per cell.
    spec : str
        Model spec (name or file); it must contain the cross-level interaction.
    priors : str or None
        Prior set (name or file); None for the spec's own priors.
    design : dict
        Further overrides of the reference design (e.g. ``{"tau1": 0.15}``).
    backend, draws, tune, chains
        Sampler settings of every fit (small draw counts suffice for interval ends).
    prob : float
        Width of the credible interval.
    level : float
        Threshold of :math:`P(\\gamma_{11} > 0)` for the second power definition.
    seed : int
        Seed of the run; each task's seed derives from it and the task's cell and replicate.
    contrast : str or None
        A non-reference level of the design's factor moderator (``design["factor"]``): the
        effects are then its true slope differences from the reference level, and the
        tested parameter is its slope contrast (module docstring). None: the cross-level
        interaction with the numeric moderator.
    focal : str or None
        The level-1 predictor whose slope the contrast is about (a column of the design);
        default the design's ``x_col``. Only with ``contrast``.
    centring : {"observed", "latent", "auto"} or None
        Centring of every fit (module docstring); None: the spec's own (``"observed"``
        unless its file says otherwise).
    every_predictor : bool
        Add the within and between parts of every further level-1 predictor of the design
        to the spec's formula (module docstring); the design must have some.
    """

    persons: tuple[int, ...] = (97,)
    diaries: tuple[float, ...] = (4.2,)
    effects: tuple[float, ...] = (0.25,)
    simulations: int = 100
    spec: str = "M3"
    priors: str | None = None
    design: Mapping[str, Any] = field(default_factory=dict)
    backend: str = field(default_factory=default_backend)
    draws: int = field(default_factory=lambda: constants.DESIGN_DRAWS)
    tune: int = field(default_factory=lambda: constants.DESIGN_TUNE)
    chains: int = field(default_factory=lambda: constants.DESIGN_CHAINS)
    prob: float = constants.CI_PROB
    level: float = 0.95
    seed: int = constants.SEED
    contrast: str | None = None
    focal: str | None = None
    centring: str | None = None
    every_predictor: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON form; ``contrast``, ``focal``, ``centring`` and ``every_predictor`` only when
        set (so the stored configuration of a run without them reads as before)."""
        values = super().to_dict()
        for name in ("contrast", "focal", "centring"):
            if values[name] is None:
                del values[name]
        if not values["every_predictor"]:
            del values["every_predictor"]
        return values

    def __post_init__(self) -> None:
        for name in ("persons", "diaries", "effects"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "design", dict(self.design))
        problems = _config_problems(self)
        if problems:
            raise SpecError(
                "Invalid power analysis:\n"
                + "\n".join(f"  - {p}" for p in problems)
                + "\nFix the named option(s) and run again."
            )


def _config_problems(c: PowerConfig) -> list[str]:
    problems = []
    if not c.persons or any(int(n) != n or n < 2 for n in c.persons):
        problems.append(f"persons must be whole numbers of at least 2, got {list(c.persons)}")
    if not c.diaries or any(not (d > 1.0) or not math.isfinite(d) for d in c.diaries):
        problems.append(f"mean diaries per person must be above 1, got {list(c.diaries)}")
    if not c.effects or any(not math.isfinite(e) for e in c.effects):
        problems.append(f"effects must be finite numbers, got {list(c.effects)}")
    if int(c.simulations) != c.simulations or c.simulations < 1:
        problems.append(f"simulations must be a whole number of at least 1, got {c.simulations}")
    if not 0 < c.prob < 1:
        problems.append(f"prob must lie between 0 and 1, got {c.prob}")
    if not 0.5 <= c.level < 1:
        problems.append(f"level must lie in [0.5, 1), got {c.level}")
    sampler = sampler_problems(
        {"backend": c.backend, "draws": c.draws, "tune": c.tune, "chains": c.chains, "seed": c.seed}
    )
    problems.extend(sampler)
    if not sampler and c.tune < 1:
        problems.append("tune (--tune) must be at least 1 in a power analysis")
    grid = {"n_persons", "diaries_mean", "diaries_max"} | ({"g11"} if c.contrast is None else set())
    reserved = grid & set(c.design)
    if c.contrast is None and "w_col" in c.design and c.design["w_col"] is None:
        problems.append(
            "the design has no numeric moderator (w_col is None), so there is no cross-level "
            "interaction g11 to vary; name a level of its factor with contrast"
        )
    elif reserved:
        problems.append(
            f"design overrides {sorted(reserved)} are set by the grid; use persons, diaries "
            "and effects instead"
        )
    elif (problem := design_problem(c.design)) is not None:
        problems.append(problem)
    else:
        problems.extend(_contrast_problems(c))
        problems.extend(_centring_problems(c))
        if c.every_predictor:
            problems.extend(every_predictor_problems(c.design))
    return problems


def _centring_problems(c: PowerConfig) -> list[str]:
    """Whether every fit of the run can take ``centring`` (latent centring serves level-1
    predictors with a numeric moderator, not a factor)."""
    from ambidex_bayes.simulate import reference_design
    from ambidex_bayes.spec import CENTRINGS

    if c.centring is not None and c.centring not in CENTRINGS:
        return [f"centring must be one of {', '.join(CENTRINGS)}, got {c.centring!r}"]
    if c.centring != "latent":
        return []
    design = reference_design(**c.design)
    problems = []
    if getattr(design, "factor", None) is not None:
        problems.append(
            "latent centring takes a numeric moderator, not a factor; the design has a factor "
            "moderator (use centring observed or auto)"
        )
    return problems


def _contrast_problems(c: PowerConfig) -> list[str]:
    """Whether ``contrast`` and ``focal`` name a level and a predictor of the design."""
    from ambidex_bayes.simulate import reference_design

    design = reference_design(**c.design)
    if c.contrast is None:
        if c.focal is not None:
            return ["focal is only used with contrast (a factor level)"]
        return []
    factor = getattr(design, "factor", None)
    if factor is None:
        return [
            f"contrast {c.contrast!r} needs a factor moderator in the design "
            '(design={"factor": {"name": ..., "levels": [...]}, ...})'
        ]
    if c.contrast not in factor.others:
        return [
            f"contrast must be a non-reference level of the factor {factor.name!r} "
            f"({', '.join(factor.others)}), got {c.contrast!r}"
        ]
    if c.focal is not None and c.focal not in design.predictor_names:
        return [
            f"focal must be a level-1 predictor of the design ({', '.join(design.predictor_names)}), "
            f"got {c.focal!r}"
        ]
    return []


def cell_design(
    config: PowerConfig, n_persons: int, diaries: float, effect: float
) -> SimulationDesign:
    """The simulation design of one grid cell: its persons and diaries, and its effect as the
    cross-level interaction ``g11`` or, with ``config.contrast``, as that level's slope
    difference from the reference level."""
    from ambidex_bayes.simulate import reference_design

    base = reference_design(**config.design)
    cell = {
        "n_persons": int(n_persons),
        "diaries_mean": float(diaries),
        "diaries_max": max(base.diaries_max, math.ceil(2 * diaries)),
    }
    factor = getattr(base, "factor", None)
    if config.contrast is None or factor is None:
        return base.replace(**cell, g11=float(effect))
    focal = config.focal or base.x_col
    slopes = {k: dict(v) for k, v in factor.slopes.items()}
    slopes[focal] = {**slopes.get(focal, {}), config.contrast: float(effect)}
    return base.replace(**cell, factor=dataclasses.replace(factor, slopes=slopes))


def power_tasks(config: PowerConfig) -> list[Task]:
    """Every simulation of the run, each with its own seed (see :func:`task_seed`)."""
    tasks = []
    for n in config.persons:
        for d in config.diaries:
            for e in config.effects:
                for r in range(int(config.simulations)):
                    identity = ("power", int(n), float(d), float(e), r)
                    tasks.append(
                        Task(
                            task_id=f"n{int(n):06d}-d{float(d):08.3f}-e{float(e):+.4f}-r{r:06d}",
                            seed=task_seed(config.seed, *identity),
                            params={
                                "n_persons": int(n),
                                "diaries": float(d),
                                "effect": float(e),
                                "replicate": r,
                            },
                        )
                    )
    return tasks


def _interaction_summary(draws: np.ndarray, prob: float, truth: float) -> dict[str, float]:
    from ambidex_bayes.posterior import describe_draws

    described = describe_draws(draws, prob)
    return {
        "mean": described["mean"],
        "sd": described["sd"],
        "lower": described["ci_lower"],
        "upper": described["ci_upper"],
        "p_positive": float((draws > 0).mean()),
        "truth": float(truth),
    }


def run_power_task(task: Task, config: PowerConfig) -> dict[str, Any]:
    """Simulate one data set of the task's cell, fit it, summarise the interaction.

    Returns the interaction's posterior mean, SD, interval ends, :math:`P(>0)`, the true
    value, its R-hat and bulk-ESS, and the fit's diagnostics over all hyperparameters
    (largest R-hat, smallest bulk-ESS, divergences).
    """
    from ambidex_bayes.data import ColumnMapping, load_diary
    from ambidex_bayes.prepare import prepare
    from ambidex_bayes.simulate import simulate_diary

    p = task.params
    design = cell_design(config, p["n_persons"], p["diaries"], p["effect"])
    study = simulate_diary(design, seed=task.seed)
    prepared = prepare(load_diary(study.data, ColumnMapping.from_dict(study.mapping)))
    spec = _spec(config, prepared)
    result = fit_simulated(spec, prepared, config, task.seed, centring=config.centring)
    name = _tested_parameter(config, prepared, result)
    if name is None:
        raise SpecError(f"{spec.source}: the model has no cross-level interaction to test.")
    draws = np.asarray(result.posterior[name].values, dtype=float).ravel()
    conv = result.convergence
    return {
        **_interaction_summary(draws, config.prob, p["effect"]),
        **_between_summary(result, study.truth),
        "person_mean_rmse": _person_mean_rmse(result, study),
        **_predictor_summaries(result, study, config.prob),
        "centring": str(result.meta.get("centring", "observed")),
        "n_rows": int(len(prepared.frame)),
        "rhat": float(conv.table.loc[name, "rhat"]),
        "ess_bulk": float(conv.table.loc[name, "ess_bulk"]),
        "max_rhat": float(conv.table["rhat"].max()),
        "min_ess_bulk": float(conv.min_ess_bulk),
        "divergent": int(conv.n_divergent),
    }


def _between_summary(result: FitResult, truth: Mapping[str, float]) -> dict[str, float]:
    """Posterior mean of the between effect ``{x}_pm`` and its truth (NaN where the model
    has none)."""
    name = result.terms.between
    if name is None or name not in result.posterior:
        return {"between_mean": float("nan"), "between_truth": float("nan")}
    draws = np.asarray(result.posterior[name].values, dtype=float)
    return {
        "between_mean": float(draws.mean()),
        "between_truth": float(truth.get(name, float("nan"))),
    }


def predictor_effects(design: SimulationDesign) -> list[tuple[str, str, str, float]]:
    """Every level-1 predictor's effects a fit may estimate, with their true values.

    Parameters
    ----------
    design : SimulationDesign
        A cell's design.

    Returns
    -------
    list of (parameter, predictor, role, truth)
        Per predictor ``x`` (``x_col`` first): ``("{x}_cw", x, "within", g10)``,
        ``("{x}_pm", x, "between", g02)`` and, with a numeric moderator ``w``,
        ``("{x}_cw:{w}_c", x, "interaction", g11)``, named as a fit on the prepared
        simulated data names them (:func:`~ambidex_bayes.simulate_extensions.parameter_truth`).
    """
    d = design
    slopes = [(d.x_col, d.g10, d.g02, d.g11)]
    slopes += [(p.name, p.g10, p.g02, p.g11) for p in getattr(d, "predictors", ())]
    effects = []
    for x, g10, g02, g11 in slopes:
        effects.append((f"{x}_cw", x, "within", float(g10)))
        effects.append((f"{x}_pm", x, "between", float(g02)))
        if d.w_col is not None:
            effects.append((f"{x}_cw:{d.w_col}_c", x, "interaction", float(g11)))
    return effects


def _predictor_summaries(result: FitResult, study: SimulatedStudy, prob: float) -> dict[str, float]:
    """``effect__<parameter>__<statistic>`` (posterior ``mean``, ``sd``, ``lower``, ``upper``
    and the ``truth``) of every predictor effect the fit estimates, and the distance of the
    fit's person means of every predictor from the true ones (``person_mean_rmse__<x>``)."""
    from ambidex_bayes.posterior import describe_draws

    out: dict[str, float] = {}
    for name, _, _, truth in predictor_effects(study.design):
        if name not in result.posterior:
            continue
        draws = np.asarray(result.posterior[name].values, dtype=float).ravel()
        described = describe_draws(draws, prob)
        stats = {
            "mean": described["mean"],
            "sd": described["sd"],
            "lower": described["ci_lower"],
            "upper": described["ci_upper"],
            "truth": truth,
        }
        out.update({f"{EFFECT_PREFIX}{name}__{k}": float(v) for k, v in stats.items()})
    for x in study.design.predictor_names:
        out[f"{RMSE_PREFIX}{x}"] = _person_mean_rmse(result, study, x)
    return out


def _person_mean_rmse(
    result: FitResult, study: SimulatedStudy, predictor: str | None = None
) -> float:
    r"""Root mean square distance of the fit's person means of ``predictor`` (default the
    first) from the true ones, :math:`\sqrt{\frac1J \sum_j (\hat\mu_j - \mu_j)^2}`: the
    posterior means of the latent person means (``meta["latent_names"]["person_means"]``
    for the first predictor, ``{x}_mu`` for the others) for a latent fit, the observed
    means of the daily values otherwise (also for a predictor the latent fit leaves out)."""
    d = study.design
    x = d.x_col if predictor is None else predictor
    truth = study.person_means(x)
    names = result.meta.get("latent_names") or {}
    latent = names.get("person_means") if x == d.x_col else (f"{x}_mu" if names else None)
    if latent is not None and latent in result.posterior:
        draws = result.posterior[latent]
        person_dim = next(d for d in draws.dims if d not in ("chain", "draw"))
        means = draws.mean(("chain", "draw")).to_pandas()
        means.index = means.index.astype(str).rename(person_dim)
    else:
        means = study.data.groupby(d.person_col)[x].mean()
    error = (means.reindex(truth.index).to_numpy(dtype=float) - truth.to_numpy()) ** 2
    return float(np.sqrt(np.nanmean(error)))


def _tested_parameter(config: PowerConfig, prepared: PreparedData, result: FitResult) -> str | None:
    """The parameter whose interval the power is about: the cross-level interaction of the
    first pair, or the slope contrast of ``config.contrast`` (:math:`b_L`)."""
    if config.contrast is None:
        return result.terms.interaction
    posterior = result.posterior
    focal = config.focal or prepared.mapping.level1[0]
    k = prepared.mapping.level1.index(focal)
    factor = next(c for c in prepared.factor_codings.values() if config.contrast in c.levels)
    column = dict(zip(factor.coded_levels, factor.columns, strict=True))[config.contrast]
    name = f"{prepared.roles[f'x{k}_within']}:{column}"
    if name not in posterior:
        raise SpecError(
            f"{config.spec}: the model has no slope contrast {name!r} of level "
            f"{config.contrast!r} for {focal!r}; use a spec with the term "
            f"{{x{k}_within}}:{{w}} (the factor as the first moderator)."
        )
    return name


#: The spec of a run, by configuration, built once per process.
_SPECS: dict[str, ModelSpec] = {}


def _spec(config: PowerConfig, prepared: PreparedData) -> ModelSpec:
    """The run's spec with its prior set, built on the first task a process runs.

    Every data set of a run has the same columns and declared scale ranges, which are all a
    prior set's resolution depends on, so the spec of the first serves them all.
    """
    from ambidex_bayes.design.predictor_terms import spec_with_every_predictor
    from ambidex_bayes.priors.sets import spec_with_prior_set
    from ambidex_bayes.spec import load_spec

    key = json.dumps(config.to_dict(), sort_keys=True, default=str)
    if key not in _SPECS:
        spec = load_spec(config.spec)
        if config.every_predictor:
            spec = spec_with_every_predictor(spec, len(prepared.mapping.level1))
        if config.priors is not None:
            spec = spec_with_prior_set(spec, config.priors, prepared)
        _SPECS[key] = spec
    return _SPECS[key]


def power_work(config: PowerConfig) -> Any:
    """The picklable work function of the run's tasks."""
    return partial(run_power_task, config=config)


def run_power(config: PowerConfig, folder: str | os.PathLike, **options: Any) -> pd.DataFrame:
    """Run (or resume) a power analysis into ``folder``; return every stored result.

    Each task simulates one study of its cell (persons x diaries x effect) from the
    reference design and fits it; the results are written to ``folder`` as they arrive, so
    a run that stops resumes there with only the missing simulations.

    Parameters
    ----------
    config : PowerConfig
        The grid, the simulations per cell, the model, priors and sampler settings.
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
        One row per simulation: the cell (``n_persons, diaries, effect, replicate``), the
        interaction's posterior (``mean, sd, lower, upper, p_positive``), its ``truth``, the
        between effect's posterior mean and truth (``between_mean, between_truth``), the
        distance of the fit's person means from the true ones (``person_mean_rmse``), the
        ``centring`` the fit used, diagnostics and ``error`` (empty for a successful fit). :func:`power_table` sums it
        up per cell.

    Examples
    --------
    A tiny run in this process (two simulations say nothing about power; they show the
    mechanics):

    >>> config = ab.PowerConfig(
    ...     persons=(30,), simulations=2, backend="pymc", draws=100, tune=100, chains=1
    ... )
    >>> results = ab.power(
    ...     config, tmp / "power", scheduler="serial", progressbar=False, verbose=False
    ... )
    >>> len(results), results["error"].eq("").all()
    (2, np.True_)
    >>> table = ab.power_table(results, config)
    >>> table[["n_persons", "diaries", "effect", "simulations", "failed"]]
       n_persons  diaries  effect  simulations  failed
    0         30      4.2    0.25            2       0
    """
    from ambidex_bayes.design.runner import run_in_folder
    from ambidex_bayes.memory import check_run_memory

    tasks = power_tasks(config)
    check_run_memory(  # before anything starts: the largest cell's study must fit
        kind="power",
        rows=max(config.persons) * max(config.diaries),
        persons=max(config.persons),
        draws=config.draws,
        chains=config.chains,
        simulations=len(tasks),
        scheduler=options.get("scheduler"),
        n_workers=options.get("n_workers"),
        verbose=options.get("verbose", True),
    )
    return run_in_folder(
        folder,
        kind="power",
        config=config,
        tasks=tasks,
        work=power_work(config),
        **options,
    )


def _share(flags: pd.Series) -> tuple[float, float]:
    n = len(flags)
    share = float(flags.mean()) if n else float("nan")
    return share, math.sqrt(share * (1 - share) / n) if n else float("nan")


def power_table(results: pd.DataFrame, config: PowerConfig) -> pd.DataFrame:
    """Power, interval width, bias and coverage per cell of the grid.

    Parameters
    ----------
    results : DataFrame
        Rows of :func:`run_power_task` (as stored), with ``n_persons, diaries, effect`` and
        ``error`` (empty for a successful fit).
    config : PowerConfig

    Returns
    -------
    DataFrame
        One row per cell, in grid order: ``n_persons, diaries, effect, simulations``
        (successful fits), ``failed``, ``mean_rows``, ``power`` (interval excludes 0) and
        ``power_se``, ``power_prob`` (:math:`P(>0) \\ge` level) and ``power_prob_se``,
        ``mean_width``, ``bias``, ``rmse``, ``coverage``, ``flagged`` (share of fits whose
        interaction has R-hat > 1.01 or bulk-ESS < 100, or with divergences; the
        person-slope SD near 0 often mixes slowly without touching the interaction, so
        the fit-wide diagnostics are kept in the results but not flagged here); from
        results that record them, ``between_bias`` (mean posterior mean of the between
        effect minus its truth), ``person_mean_rmse`` (its mean over the fits) and
        ``latent`` (share of fits with latent centring).
    """
    rows = []
    for n in config.persons:
        for d in config.diaries:
            for e in config.effects:
                rows.append(_cell_row(results, config, int(n), float(d), float(e)))
    return pd.DataFrame(rows)


def _cell_row(
    results: pd.DataFrame, config: PowerConfig, n: int, d: float, e: float
) -> dict[str, Any]:
    in_cell = results[
        (results["n_persons"] == n)
        & np.isclose(results["diaries"], d)
        & np.isclose(results["effect"], e)
    ]
    ok = in_cell[in_cell["error"].fillna("") == ""] if "error" in in_cell else in_cell
    row: dict[str, Any] = {
        "n_persons": n,
        "diaries": d,
        "effect": e,
        "simulations": int(len(ok)),
        "failed": int(len(in_cell) - len(ok)),
    }
    if ok.empty:
        return row
    excludes = (ok["lower"] > 0) | (ok["upper"] < 0)
    row["mean_rows"] = float(ok["n_rows"].mean())
    row["power"], row["power_se"] = _share(excludes)
    row["power_prob"], row["power_prob_se"] = _share(ok["p_positive"] >= config.level)
    row["mean_width"] = float((ok["upper"] - ok["lower"]).mean())
    row["bias"] = float((ok["mean"] - e).mean())
    row["rmse"] = float(np.sqrt(((ok["mean"] - e) ** 2).mean()))
    row["coverage"] = float(((ok["lower"] <= e) & (e <= ok["upper"])).mean())
    flagged = (
        (ok["rhat"] > constants.RHAT_MAX) | (ok["ess_bulk"] < FLAG_ESS) | (ok["divergent"] > 0)
    )
    row["flagged"] = float(flagged.mean())
    if "between_mean" in ok:
        row["between_bias"] = float((ok["between_mean"] - ok["between_truth"]).mean())
    if "person_mean_rmse" in ok:
        row["person_mean_rmse"] = float(ok["person_mean_rmse"].mean())
    if "centring" in ok:
        row["latent"] = float((ok["centring"] == "latent").mean())
    return row


def predictor_table(results: pd.DataFrame, config: PowerConfig) -> pd.DataFrame:
    """Power, bias and coverage of every level-1 predictor's effects per cell of the grid.

    Parameters
    ----------
    results : DataFrame
        Rows of :func:`run_power_task` (as stored) with ``effect__<parameter>__<statistic>``
        columns (module docstring).
    config : PowerConfig

    Returns
    -------
    DataFrame
        One row per cell and effect a fit estimated, in grid order and then in the order of
        :func:`predictor_effects`: ``n_persons, diaries, effect`` (the cell), ``predictor``,
        ``role`` (``within``, ``between`` or ``interaction``), ``parameter``, ``truth``,
        ``simulations`` (successful fits that estimate it), ``power`` (share whose interval
        excludes 0) and ``power_se``, ``mean_width``, ``bias`` (mean posterior mean minus
        the truth), ``rmse``, ``coverage`` (share of intervals covering the truth) and
        ``person_mean_rmse`` (mean distance of the fits' person means of the predictor from
        the true ones). Empty (with these columns) when no result records such effects.
    """
    columns = [
        "n_persons", "diaries", "effect", "predictor", "role", "parameter", "truth",
        "simulations", "power", "power_se", "mean_width", "bias", "rmse", "coverage",
        "person_mean_rmse",
    ]  # fmt: skip
    ok = results[results["error"].fillna("") == ""] if "error" in results else results
    rows = []
    for n in config.persons:
        for d in config.diaries:
            for e in config.effects:
                in_cell = ok[
                    (ok["n_persons"] == int(n))
                    & np.isclose(ok["diaries"], float(d))
                    & np.isclose(ok["effect"], float(e))
                ]
                design = cell_design(config, int(n), float(d), float(e))
                for name, x, role, _ in predictor_effects(design):
                    row = _effect_row(in_cell, name, x)
                    if row is not None:
                        base = {"n_persons": int(n), "diaries": float(d), "effect": float(e)}
                        rows.append({**base, "predictor": x, "role": role, **row})
    return pd.DataFrame(rows, columns=columns)


def _effect_row(in_cell: pd.DataFrame, name: str, x: str) -> dict[str, Any] | None:
    """The summary of one predictor effect over a cell's successful fits (None when no
    fit estimated it)."""
    key = f"{EFFECT_PREFIX}{name}__"
    if f"{key}mean" not in in_cell:
        return None
    fits = in_cell[in_cell[f"{key}mean"].notna()]
    if fits.empty:
        return None
    mean, lower, upper = fits[f"{key}mean"], fits[f"{key}lower"], fits[f"{key}upper"]
    truth = fits[f"{key}truth"]
    row: dict[str, Any] = {"parameter": name, "truth": float(truth.mean())}
    row["simulations"] = int(len(fits))
    row["power"], row["power_se"] = _share((lower > 0) | (upper < 0))
    row["mean_width"] = float((upper - lower).mean())
    row["bias"] = float((mean - truth).mean())
    row["rmse"] = float(np.sqrt(((mean - truth) ** 2).mean()))
    row["coverage"] = float(((lower <= truth) & (truth <= upper)).mean())
    rmse = f"{RMSE_PREFIX}{x}"
    row["person_mean_rmse"] = float(fits[rmse].mean()) if rmse in fits else float("nan")
    return row


_CENTRING_WORDS = {
    "latent": "Every fit used latent person-mean centring (person means estimated with the model).",
    "auto": (
        "Each fit used latent person-mean centring where the observed person means' "
        "reliability was below 0.7, observed centring otherwise (column 'latent': the share "
        "of latent fits)."
    ),
}


def _predictor_words(config: PowerConfig) -> list[str]:
    """What the fits make of a design's further level-1 predictors."""
    from ambidex_bayes.simulate import reference_design

    further = reference_design(**config.design).predictor_names[1:]
    if not further:
        return []
    names = ", ".join(repr(x) for x in further)
    if config.every_predictor:
        return [
            f"Every fit includes the within and between parts of the further level-1 "
            f"predictor(s) {names}; the power, bias and coverage of each predictor's effects "
            "are in the predictor table."
        ]
    return [
        f"The further level-1 predictor(s) {names} enter the fits only where the spec's "
        "formula uses them (every_predictor, --every-predictor, adds them all)."
    ]


def describe_power(table: pd.DataFrame, config: PowerConfig) -> str:
    """The power table in words: which cells reach 80% power."""
    what = "the cross-level interaction"
    if config.contrast is not None:
        what = f"the slope difference of level {config.contrast!r} from the reference level"
        if config.focal is not None:
            what += f" (slope of {config.focal!r})"
    lines = [
        f"Power to detect {what}: share of {config.simulations} "
        f"simulated studies per cell whose {config.prob:.0%} interval excludes 0 "
        f"(power_prob: P(effect > 0) >= {config.level})."
    ]
    if config.centring in _CENTRING_WORDS:
        lines.append(_CENTRING_WORDS[config.centring])
    lines.extend(_predictor_words(config))
    for e in config.effects:
        cells = table[np.isclose(table["effect"], e)]
        # without a single successful fit the table has no power column
        reach = cells[cells["power"] >= 0.8] if "power" in cells else cells.iloc[0:0]
        if reach.empty:
            lines.append(f"Effect {e:g}: no cell of the grid reaches 80% power.")
        else:
            first = reach.sort_values(["n_persons", "diaries"]).iloc[0]
            lines.append(
                f"Effect {e:g}: 80% power first reached with {int(first['n_persons'])} persons "
                f"and about {first['diaries']:g} diaries each (power {first['power']:.2f})."
            )
    failed = int(table["failed"].sum())
    if failed:
        lines.append(f"{failed} fits failed; their messages are in the results' 'error' column.")
    return "\n".join(lines)
