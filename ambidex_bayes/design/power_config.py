r"""The configuration of a power analysis: its grid, its checks and the design of each cell.

A :class:`PowerConfig` holds everything that defines a run (:mod:`.power`): the grid of
persons :math:`J` × mean diaries per person :math:`m` × true effect, the simulations per
cell, the model, prior set, centring and sampler settings, and overrides of the reference
design. It refuses, when made, any value a run could not use, with every problem named at
once. :func:`cell_design` gives the simulation design of one cell of the grid: the
reference design with the cell's persons and diaries, and its effect as the cross-level
interaction :math:`\gamma_{11}` or, with ``contrast``, as one level's slope difference
from the factor's reference level.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ambidex_bayes import constants
from ambidex_bayes.design.tasks import (
    RunConfig,
    default_backend,
    design_problem,
    every_predictor_problems,
)
from ambidex_bayes.engine.limits import sampler_problems
from ambidex_bayes.errors import SpecError

if TYPE_CHECKING:
    from ambidex_bayes.simulation_design import SimulationDesign

__all__ = ["PowerConfig", "cell_design"]


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
        tested parameter is its slope contrast (:mod:`.power`). None: the cross-level
        interaction with the numeric moderator.
    focal : str or None
        The level-1 predictor whose slope the contrast is about (a column of the design);
        default the design's ``x_col``. Only with ``contrast``.
    centring : {"observed", "latent", "auto"} or None
        Centring of every fit (:mod:`.power`); None: the spec's own, except that a spec's
        ``"auto"`` (the bundled M1-M3's) is read as ``"observed"``, so that every data set
        is fitted with the same model.
    every_predictor : bool
        Add the within and between parts of every further level-1 predictor of the design
        to the spec's formula (:mod:`.power_predictors`); the design must have some.
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
