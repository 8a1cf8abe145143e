r"""Further terms of a simulated diary study: more level-1 predictors, a factor moderator and
the correlation of all person effects.

A :class:`~ambidex_bayes.simulation_design.SimulationDesign` always has one level-1
predictor (``x_col``) and, unless ``w_col`` is None, one numeric moderator. These parts add:

:class:`Level1Predictor`
    a further daily predictor :math:`x^{(k)}` with its own true person means and daily
    deviations, within slope :math:`\gamma^{(k)}_{10}`, between (contextual) effect
    :math:`\gamma^{(k)}_{02}`, cross-level interaction with the numeric moderator
    :math:`\gamma^{(k)}_{11}` and person-slope SD :math:`\tau^{(k)}_1`;
:class:`FactorModerator`
    a person-level factor with levels :math:`L_0, \dots, L_{K-1}`, each person belonging to
    one level (shares given), and per-level effects written as *treatment contrasts*
    against the reference level :math:`L_r`: an effect :math:`a_L` on the intercept and
    effects :math:`b^{(k)}_L` on the slope of each predictor, so that the true slope of
    predictor :math:`k` at level :math:`L` is :math:`\gamma^{(k)}_{10} + b^{(k)}_L`
    (:math:`b^{(k)}_{L_r} = 0`);
``person_corr``
    the correlation matrix of the person effects
    :math:`(u_0, u_1, u^{(1)}_1, u^{(2)}_1, \dots)` (intercept, slope of ``x_col``, slopes of
    the further predictors in order); without it the intercept and the first slope correlate
    by ``rho`` and every further slope is independent;
``mean_corr``
    the correlation matrix of the level-1 predictors' true person means
    :math:`(\bar x_j, \bar x^{(1)}_j, \bar x^{(2)}_j, \dots)` (``x_col`` first); without it
    they are independent.

This module holds the parts and their checks; :mod:`ambidex_bayes.simulate` draws the data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "Level1Predictor",
    "FactorModerator",
    "as_predictors",
    "as_factor",
    "as_corr",
    "predictor_problems",
    "factor_problems",
    "corr_problems",
    "mean_corr_problems",
    "allocate_levels",
]

#: Share sums within this distance of 1 are accepted.
_SHARE_TOL = 1e-9
#: Smallest eigenvalue a correlation matrix may have (rounding below 0 is allowed).
_PSD_TOL = -1e-10
#: Smallest eigenvalue of the person means' correlation matrix (its Cholesky factor must exist).
_PD_TOL = 1e-8


def _finite(value: Any) -> bool:
    return (
        isinstance(value, (int, float, np.integer, np.floating))
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


@dataclass(frozen=True)
class Level1Predictor:
    """A further level-1 predictor of a simulated study.

    Parameters
    ----------
    name : str
        Its column in the simulated table.
    g10 : float
        Fixed within-person slope (at the reference level of a factor moderator and at the
        mean of a numeric one).
    g02 : float
        Between (contextual) effect of its centred true person mean.
    g11 : float
        Cross-level interaction with the numeric moderator (0 when the design has none).
    tau1 : float
        SD of the person slopes (:math:`\\ge 0`).
    x_mean, x_sd_within, x_sd_between : float
        Population mean, SD of the daily deviations, SD of the true person means.
    """

    name: str
    g10: float = 0.0
    g02: float = 0.0
    g11: float = 0.0
    tau1: float = 0.0
    x_mean: float = 0.0
    x_sd_within: float = 1.0
    x_sd_between: float = 1.0


@dataclass(frozen=True)
class FactorModerator:
    """A person-level factor of a simulated study, its shares and its effects.

    Parameters
    ----------
    name : str
        Its column in the simulated table (text levels, the same on every row of a person).
    levels : tuple of str
        At least two distinct level names.
    shares : tuple of float, optional
        Share of persons in each level (positive, summing to 1); default equal shares. The
        persons of each level are allocated exactly (see :func:`allocate_levels`).
    reference : str, optional
        The reference level of the treatment contrasts; default the first level.
    intercept : mapping of str to float
        Effect of each non-reference level on the intercept (difference from the
        reference level); levels left out have 0.
    slopes : mapping of str to mapping of str to float
        Per predictor column (``x_col`` or a further predictor's name): the effect of each
        non-reference level on its within-person slope (difference from the slope at the
        reference level); left out: 0.
    """

    name: str
    levels: tuple[str, ...]
    shares: tuple[float, ...] | None = None
    reference: str | None = None
    intercept: Mapping[str, float] = field(default_factory=dict)
    slopes: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "levels", tuple(str(v) for v in self.levels))
        if self.shares is not None:
            object.__setattr__(self, "shares", tuple(self.shares))
        object.__setattr__(self, "intercept", dict(self.intercept))
        object.__setattr__(
            self,
            "slopes",
            {str(k): dict(v) if isinstance(v, Mapping) else v for k, v in self.slopes.items()},
        )

    def __hash__(self) -> int:
        return hash(
            (
                self.name,
                self.levels,
                self.shares,
                self.reference,
                tuple(sorted(self.intercept.items())),
                tuple((k, tuple(sorted(v.items()))) for k, v in sorted(self.slopes.items())),
            )
        )

    @property
    def resolved_reference(self) -> str:
        """The reference level (the first level unless ``reference`` names another)."""
        return self.reference if self.reference is not None else self.levels[0]

    @property
    def resolved_shares(self) -> tuple[float, ...]:
        """The share of each level (equal shares unless ``shares`` is given)."""
        if self.shares is None:
            return tuple(1.0 / len(self.levels) for _ in self.levels)
        return tuple(float(s) for s in self.shares)

    @property
    def others(self) -> tuple[str, ...]:
        """The non-reference levels, in level order (one treatment contrast each)."""
        return tuple(v for v in self.levels if v != self.resolved_reference)

    def intercept_effects(self) -> np.ndarray:
        """The intercept effect of every level, in level order (0 at the reference)."""
        return np.array([float(self.intercept.get(v, 0.0)) for v in self.levels])

    def slope_effects(self, predictor: str) -> np.ndarray:
        """The slope effect of every level on ``predictor``, in level order."""
        effects = self.slopes.get(predictor, {})
        return np.array([float(effects.get(v, 0.0)) for v in self.levels])


def as_predictors(value: Any) -> tuple[Level1Predictor, ...]:
    """The further predictors from a sequence of :class:`Level1Predictor` or dicts."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        return value  # left for predictor_problems to name
    return tuple(Level1Predictor(**p) if isinstance(p, Mapping) else p for p in value)


def as_factor(value: Any) -> FactorModerator | None:
    """The factor moderator from a :class:`FactorModerator`, a dict or None."""
    if isinstance(value, Mapping):
        return FactorModerator(**value)
    return value


def as_corr(value: Any) -> tuple[tuple[float, ...], ...] | None:
    """The person-effect correlation matrix as a tuple of rows (None stays None)."""
    if value is None:
        return None
    try:
        return tuple(tuple(row) for row in value)
    except TypeError:
        return value


def predictor_problems(predictors: Any, taken: Sequence[str], *, has_moderator: bool) -> list[str]:
    """One line per invalid further predictor (names must differ from ``taken``)."""
    if not isinstance(predictors, tuple) or not all(
        isinstance(p, Level1Predictor) for p in predictors
    ):
        return [
            "predictors must be a list of Level1Predictor (or dicts of its fields), "
            f"got {predictors!r}"
        ]
    problems: list[str] = []
    names = list(taken)
    for i, p in enumerate(predictors):
        where = f"predictors[{i}]"
        if not (isinstance(p.name, str) and p.name.strip()):
            problems.append(f"{where}.name must be a non-empty string, got {p.name!r}")
        elif p.name in names:
            problems.append(f"{where}.name '{p.name}' is already the name of another column")
        names.append(p.name)
        for key in ("g10", "g02", "g11", "tau1", "x_mean", "x_sd_within", "x_sd_between"):
            value = getattr(p, key)
            if not _finite(value):
                problems.append(f"{where}.{key} must be a finite number, got {value!r}")
            elif key in ("tau1", "x_sd_within", "x_sd_between") and value < 0:
                problems.append(f"{where}.{key} is an SD and must be >= 0, got {value}")
        if not has_moderator and _finite(p.g11) and p.g11 != 0:
            problems.append(
                f"{where}.g11 is an interaction with the numeric moderator, which the design "
                "leaves out (w_col is None); set it to 0"
            )
    return problems


def factor_problems(factor: Any, taken: Sequence[str], predictor_names: Sequence[str]) -> list[str]:
    """One line per invalid field of the factor moderator (None is valid)."""
    if factor is None:
        return []
    if not isinstance(factor, FactorModerator):
        return [f"factor must be a FactorModerator (or a dict of its fields), got {factor!r}"]
    problems: list[str] = []
    f = factor
    if not (isinstance(f.name, str) and f.name.strip()):
        problems.append(f"factor.name must be a non-empty string, got {f.name!r}")
    elif f.name in taken:
        problems.append(f"factor.name '{f.name}' is already the name of another column")
    if len(f.levels) < 2 or len(set(f.levels)) != len(f.levels) or not all(f.levels):
        problems.append(
            f"factor.levels must be at least two distinct non-empty names, got {list(f.levels)}"
        )
        return problems
    if f.shares is not None:
        shares = f.shares
        if len(shares) != len(f.levels) or not all(_finite(s) and s > 0 for s in shares):
            problems.append(
                f"factor.shares must be {len(f.levels)} positive numbers (one per level), "
                f"got {list(shares)}"
            )
        elif abs(sum(shares) - 1.0) > _SHARE_TOL:
            problems.append(f"factor.shares must sum to 1, got {sum(shares):g}")
    if f.reference is not None and f.reference not in f.levels:
        problems.append(f"factor.reference {f.reference!r} is not one of {list(f.levels)}")
        return problems
    others = f.others
    problems.extend(_effect_problems(f.intercept, others, "factor.intercept"))
    for predictor, effects in f.slopes.items():
        where = f"factor.slopes[{predictor!r}]"
        if predictor not in predictor_names:
            problems.append(
                f"{where}: '{predictor}' is not a level-1 predictor {list(predictor_names)}"
            )
        elif not isinstance(effects, Mapping):
            problems.append(f"{where} must map levels to slope effects, got {effects!r}")
        else:
            problems.extend(_effect_problems(effects, others, where))
    return problems


def _effect_problems(effects: Mapping[str, Any], others: tuple[str, ...], where: str) -> list[str]:
    problems = []
    for level, value in effects.items():
        if level not in others:
            problems.append(
                f"{where}: {level!r} is not a non-reference level {list(others)} (the "
                "reference level's effect is 0 by definition)"
            )
        elif not _finite(value):
            problems.append(f"{where}[{level!r}] must be a finite number, got {value!r}")
    return problems


def _matrix_problems(
    corr: Any, size: int, name: str, rows: str
) -> tuple[list[str], np.ndarray | None]:
    """One line per way ``corr`` (the field ``name``; ``rows`` says what its rows are) is
    not a ``size`` x ``size`` correlation matrix, and the matrix (None when it is not a
    square matrix of finite numbers, or ``corr`` is None)."""
    if corr is None:
        return [], None
    try:
        matrix = np.array(corr, dtype=float)
    except (TypeError, ValueError):
        return [f"{name} must be a square matrix of numbers, got {corr!r}"], None
    if matrix.shape != (size, size):
        return [f"{name} must be {size} x {size} ({rows}), got shape {matrix.shape}"], None
    if not np.isfinite(matrix).all():
        return [f"{name} must hold finite numbers"], None
    problems = []
    if not np.allclose(np.diag(matrix), 1.0):
        problems.append(f"{name} must have 1 on its diagonal")
    if not np.allclose(matrix, matrix.T):
        problems.append(f"{name} must be symmetric")
    if np.abs(matrix).max() > 1.0:
        problems.append(f"{name} entries must lie in [-1, 1]")
    if not problems and np.linalg.eigvalsh(matrix).min() < _PSD_TOL:
        problems.append(f"{name} must be positive semi-definite (a valid correlation matrix)")
    return problems, matrix


def corr_problems(corr: Any, size: int, rho: float) -> list[str]:
    """One line per problem of the person-effect correlation matrix (None is valid)."""
    rows = "intercept, the slope of x_col and one slope per further predictor"
    problems, matrix = _matrix_problems(corr, size, "person_corr", rows)
    if matrix is not None and _finite(rho) and not math.isclose(matrix[0, 1], rho, abs_tol=1e-12):
        problems.append(
            f"person_corr[0][1] ({matrix[0, 1]:g}) must equal rho ({rho:g}): both are the "
            "intercept-slope correlation"
        )
    return problems


def mean_corr_problems(corr: Any, size: int) -> list[str]:
    """One line per problem of the correlation matrix of the predictors' true person means
    (None is valid)."""
    rows = "x_col, then one row per further predictor"
    problems, matrix = _matrix_problems(corr, size, "mean_corr", rows)
    if matrix is not None and not problems and np.linalg.eigvalsh(matrix).min() < _PD_TOL:
        problems.append(
            "mean_corr must be positive definite (person means that correlate perfectly "
            "belong to one predictor)"
        )
    return problems


def allocate_levels(
    rng: np.random.Generator, n_persons: int, shares: Sequence[float]
) -> np.ndarray:
    r"""The level index of every person: exact counts, in random order.

    Level :math:`l` gets :math:`\lfloor n s_l \rfloor` persons, and the persons left over go
    one each to the levels with the largest remainders :math:`n s_l - \lfloor n s_l \rfloor`
    (ties to the earlier level); the assignment is then shuffled with ``rng``. So each
    level's share of persons is within :math:`1/n` of its design share.

    Parameters
    ----------
    rng : numpy.random.Generator
        Draws the order (one permutation).
    n_persons : int
        Number of persons.
    shares : sequence of float
        Share of each level, summing to 1.

    Returns
    -------
    numpy.ndarray
        Integers in ``0 .. len(shares) - 1``, one per person.
    """
    exact = n_persons * np.asarray(shares, dtype=float)
    counts = np.floor(exact).astype(np.int64)
    left = n_persons - int(counts.sum())
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[:left]] += 1
    return rng.permutation(np.repeat(np.arange(len(shares)), counts))
