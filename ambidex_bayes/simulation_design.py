r"""The design of a simulated diary study: what :func:`ambidex_bayes.simulate.simulate_diary`
draws from, checked field by field when it is built.

:class:`SimulationDesign` holds the sample (persons, diaries per person and how their number
is drawn, missing values), the true coefficients and variance components of the model family
(see :mod:`ambidex_bayes.simulate` for the equations), the predictor and moderator
distributions and the column names. :func:`diary_count_probabilities` gives the distribution
of the number of diaries per person that a design implies, and :func:`reference_design` the
design that mirrors the reference study.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from ambidex_bayes.errors import SpecError
from ambidex_bayes.simulation_terms import (
    FactorModerator,
    Level1Predictor,
    as_corr,
    as_factor,
    as_predictors,
    corr_problems,
    factor_problems,
    mean_corr_problems,
    predictor_problems,
)

__all__ = [
    "DesignError",
    "DiaryDistribution",
    "SimulationDesign",
    "ExtendedDesign",
    "EXTENSION_FIELDS",
    "diary_count_probabilities",
    "reference_design",
]

DiaryDistribution = Literal["fixed", "uniform", "poisson", "negbin"]
_DIARY_DISTRIBUTIONS: tuple[str, ...] = ("fixed", "uniform", "poisson", "negbin")


class DesignError(SpecError, ValueError):
    """A simulation design is invalid; the message names every offending field."""


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _is_whole(value: Any) -> bool:
    return _is_number(value) and math.isfinite(value) and float(value).is_integer()


@dataclass(frozen=True)
class SimulationDesign:
    """Everything that defines a simulated diary study (except the seed).

    Exactly one of ``tau0`` and ``icc`` must be given. Use :meth:`replace` (or
    :func:`reference_design` with overrides) to derive a variant; it swaps ``tau0`` and
    ``icc`` for you.

    Parameters
    ----------
    n_persons : int
        Number of persons (level-2 units), at least 1.
    diaries_dist : {"fixed", "uniform", "poisson", "negbin"}
        How the number of diaries :math:`n_j` per person is drawn:

        - ``"fixed"``: every person writes ``diaries_mean`` diaries (a whole number; the
          bounds are not used);
        - ``"uniform"``: uniform on the integers ``diaries_min .. diaries_max``
          (``diaries_mean`` is not used);
        - ``"poisson"``: Poisson truncated to ``[diaries_min, diaries_max]``;
        - ``"negbin"``: negative binomial with size ``diaries_dispersion`` (variance
          :math:`m + m^2/r` before truncation), truncated to ``[diaries_min, diaries_max]``.

        For the two truncated counts the location is solved so that the mean *after*
        truncation equals ``diaries_mean``, which must then lie strictly between the bounds
        (unless the bounds are equal).
    diaries_mean, diaries_min, diaries_max, diaries_dispersion : float, int, int, float
        Parameters of the diary-count distribution (see above).
    missing_rate : float
        Share of outcome values set to NaN completely at random, in ``[0, 1)``. The number of
        missing values is ``round(missing_rate * n_rows)``, placed uniformly at random.
    missing_rate_x : float
        The same for the level-1 predictor (drawn independently of the outcome's gaps).
    g00, g01, g02, g10, g11 : float
        Fixed effects: intercept, moderator, contextual (person mean of x), within-person slope
        and cross-level interaction.
    tau0 : float or None
        SD of the person intercepts :math:`u_{0j}`.
    tau1 : float
        SD of the person slopes :math:`u_{1j}`.
    rho : float
        Correlation of intercepts and slopes, in ``[-1, 1]``.
    sigma : float
        Residual SD.
    icc : float or None
        Intercept-only ICC in ``[0, 1)``, an alternative to ``tau0``.
    x_mean, x_sd_within, x_sd_between : float
        Population mean of x, SD of the daily deviations, SD of the true person means.
    w_mean, w_sd : float
        Population mean and SD of the moderator.
    likert : tuple of two whole numbers or None
        If set, ``y``, ``x`` and ``w`` are rounded to integers and clipped to this range.
    person_col, occasion_col, y_col, x_col : str
        Column names of the simulated long table.
    w_col : str or None
        Column name of the numeric moderator; None for a design without one (then ``g01``
        and ``g11`` must be 0, and ``w_mean``, ``w_sd`` are not used).

    Notes
    -----
    Further level-1 predictors, a factor moderator, the correlation of all person effects
    and that of the predictors' true person means are the fields of :class:`ExtendedDesign`;
    :meth:`replace` with any of them returns one.
    """

    n_persons: int = 97
    diaries_dist: DiaryDistribution = "poisson"
    diaries_mean: float = 4.2
    diaries_min: int = 1
    diaries_max: int = 7
    diaries_dispersion: float = 5.0
    missing_rate: float = 0.0
    missing_rate_x: float = 0.0
    g00: float = 0.0
    g01: float = 0.0
    g02: float = 0.0
    g10: float = 0.0
    g11: float = 0.0
    tau0: float | None = None
    tau1: float = 0.0
    rho: float = 0.0
    sigma: float = 1.0
    icc: float | None = None
    x_mean: float = 0.0
    x_sd_within: float = 1.0
    x_sd_between: float = 1.0
    w_mean: float = 0.0
    w_sd: float = 1.0
    likert: tuple[float, float] | None = None
    person_col: str = "person"
    occasion_col: str = "day"
    y_col: str = "y"
    x_col: str = "x"
    w_col: str | None = "w"

    def __post_init__(self) -> None:
        self._check(_design_problems(self))

    def _check(self, problems: list[str]) -> None:
        if problems:
            raise DesignError(
                "Invalid simulation design:\n"
                + "\n".join(f"  - {p}" for p in problems)
                + "\nFix the named field(s) and build the design again."
            )
        if self.likert is not None:
            object.__setattr__(self, "likert", (float(self.likert[0]), float(self.likert[1])))

    @property
    def resolved_tau0(self) -> float:
        r"""SD of the person intercepts, from ``tau0`` or from ``icc``.

        :math:`\tau_0 = \sigma\sqrt{\mathrm{ICC}/(1-\mathrm{ICC})}` when ``icc`` is given.
        """
        if self.tau0 is not None:
            return float(self.tau0)
        assert self.icc is not None  # guaranteed by validation
        return float(self.sigma * math.sqrt(self.icc / (1.0 - self.icc)))

    @property
    def resolved_icc(self) -> float:
        r"""Intercept-only ICC :math:`\tau_0^2/(\tau_0^2+\sigma^2)` (0 when both are 0)."""
        if self.icc is not None:
            return float(self.icc)
        total = self.resolved_tau0**2 + self.sigma**2
        return float(self.resolved_tau0**2 / total) if total > 0 else 0.0

    def replace(self, **changes: Any) -> SimulationDesign:
        """Return a copy with ``changes`` applied.

        Giving ``tau0`` clears ``icc`` and giving ``icc`` clears ``tau0`` (unless both are
        given, which is an error). Unknown field names raise :class:`DesignError` with a
        suggestion.
        """
        names = [f.name for f in dataclasses.fields(self)]
        names += [n for n in EXTENSION_FIELDS if n not in names]
        unknown = [k for k in changes if k not in names]
        if unknown:
            hints = []
            for key in unknown:
                close = difflib.get_close_matches(key, names, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                hints.append(f"unknown design field '{key}'{hint}")
            raise DesignError(
                "Invalid simulation design:\n"
                + "\n".join(f"  - {h}" for h in hints)
                + f"\nValid fields: {', '.join(names)}."
            )
        changes = dict(changes)
        if "tau0" in changes and "icc" not in changes:
            changes["icc"] = None
        elif "icc" in changes and "tau0" not in changes:
            changes["tau0"] = None
        if not isinstance(self, ExtendedDesign) and set(changes) & set(EXTENSION_FIELDS):
            return ExtendedDesign(**{**vars(self), **changes})
        return dataclasses.replace(self, **changes)

    @property
    def predictor_names(self) -> tuple[str, ...]:
        """The level-1 predictor columns: ``x_col`` (and those of further predictors)."""
        return (self.x_col,)

    @property
    def extended(self) -> bool:
        """Whether the design has further predictors, a factor or a correlation matrix."""
        return False


def _design_problems(d: SimulationDesign) -> list[str]:
    """Return one plain-words line per invalid field of ``d`` (empty when valid)."""
    problems: list[str] = []

    if not (isinstance(d.n_persons, (int, np.integer)) and not isinstance(d.n_persons, bool)):
        problems.append(f"n_persons must be a whole number, got {d.n_persons!r}")
    elif d.n_persons < 1:
        problems.append(f"n_persons must be at least 1, got {d.n_persons}")

    numeric = [
        "diaries_mean",
        "diaries_dispersion",
        "missing_rate",
        "missing_rate_x",
        "g00",
        "g01",
        "g02",
        "g10",
        "g11",
        "tau1",
        "rho",
        "sigma",
        "x_mean",
        "x_sd_within",
        "x_sd_between",
        "w_mean",
        "w_sd",
    ]
    bad_numbers = set()
    for name in numeric:
        value = getattr(d, name)
        if not (_is_number(value) and math.isfinite(value)):
            problems.append(f"{name} must be a finite number, got {value!r}")
            bad_numbers.add(name)
    for name in ("tau0", "icc"):
        value = getattr(d, name)
        if value is not None and not (_is_number(value) and math.isfinite(value)):
            problems.append(f"{name} must be a finite number or None, got {value!r}")
            bad_numbers.add(name)

    def ok(name: str) -> bool:
        return name not in bad_numbers

    for name in ("tau1", "sigma", "x_sd_within", "x_sd_between", "w_sd"):
        if ok(name) and getattr(d, name) < 0:
            problems.append(f"{name} is an SD and must be >= 0, got {getattr(d, name)}")
    if ok("tau0") and d.tau0 is not None and d.tau0 < 0:
        problems.append(f"tau0 is an SD and must be >= 0, got {d.tau0}")
    if ok("rho") and not -1.0 <= d.rho <= 1.0:
        problems.append(f"rho is a correlation and must lie in [-1, 1], got {d.rho}")
    if ok("icc") and d.icc is not None and not 0.0 <= d.icc < 1.0:
        problems.append(f"icc must lie in [0, 1), got {d.icc}")
    for name in ("missing_rate", "missing_rate_x"):
        if ok(name) and not 0.0 <= getattr(d, name) < 1.0:
            problems.append(f"{name} must lie in [0, 1), got {getattr(d, name)}")

    if d.tau0 is None and d.icc is None:
        problems.append(
            "tau0 / icc: give exactly one of tau0 (SD of person intercepts) or icc "
            "(intercept-only ICC); neither was given"
        )
    elif d.tau0 is not None and d.icc is not None:
        problems.append(
            f"tau0 / icc: give exactly one of tau0 or icc, not both (tau0={d.tau0}, icc={d.icc})"
        )

    if d.w_col is None:
        for name in ("g01", "g11"):
            if ok(name) and getattr(d, name) != 0:
                problems.append(
                    f"{name} acts through the numeric moderator, which the design leaves out "
                    "(w_col is None); set it to 0"
                )

    problems.extend(_diary_problems(d, ok))
    problems.extend(_likert_problems(d.likert))
    problems.extend(_column_problems(d))
    return problems


def _diary_problems(d: SimulationDesign, ok: Callable[[str], bool]) -> list[str]:
    problems: list[str] = []
    if d.diaries_dist not in _DIARY_DISTRIBUTIONS:
        close = difflib.get_close_matches(str(d.diaries_dist), _DIARY_DISTRIBUTIONS, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        problems.append(
            f"diaries_dist must be one of {', '.join(_DIARY_DISTRIBUTIONS)}, "
            f"got {d.diaries_dist!r}{hint}"
        )
        return problems
    bounds_ok = True
    for name in ("diaries_min", "diaries_max"):
        value = getattr(d, name)
        if not (isinstance(value, (int, np.integer)) and not isinstance(value, bool)):
            problems.append(f"{name} must be a whole number, got {value!r}")
            bounds_ok = False
    if bounds_ok:
        if d.diaries_min < 1:
            problems.append(f"diaries_min must be at least 1, got {d.diaries_min}")
        if d.diaries_max < d.diaries_min:
            problems.append(
                f"diaries_max ({d.diaries_max}) must be >= diaries_min ({d.diaries_min})"
            )
    if not ok("diaries_mean"):
        return problems
    if d.diaries_dist == "fixed":
        if not (_is_whole(d.diaries_mean) and d.diaries_mean >= 1):
            problems.append(
                "diaries_mean must be a whole number >= 1 when diaries_dist is 'fixed', "
                f"got {d.diaries_mean}"
            )
    elif d.diaries_dist in ("poisson", "negbin") and bounds_ok:
        lo, hi = d.diaries_min, d.diaries_max
        if lo < hi and not lo < d.diaries_mean < hi:
            problems.append(
                f"diaries_mean must lie strictly between diaries_min ({lo}) and diaries_max "
                f"({hi}) for a truncated {d.diaries_dist} count, got {d.diaries_mean}"
            )
        if d.diaries_dist == "negbin" and ok("diaries_dispersion") and d.diaries_dispersion <= 0:
            problems.append(f"diaries_dispersion must be > 0, got {d.diaries_dispersion}")
    return problems


def _likert_problems(likert: Any) -> list[str]:
    if likert is None:
        return []
    if not (isinstance(likert, (tuple, list)) and len(likert) == 2):
        return [f"likert must be None or a pair (low, high), got {likert!r}"]
    lo, hi = likert
    if not (_is_whole(lo) and _is_whole(hi)):
        return [f"likert bounds must be whole numbers, got {likert!r}"]
    if not lo < hi:
        return [f"likert low bound must be below the high bound, got {likert!r}"]
    return []


def _column_problems(d: SimulationDesign) -> list[str]:
    problems: list[str] = []
    names = {}
    for name in ("person_col", "occasion_col", "y_col", "x_col", "w_col"):
        value = getattr(d, name)
        if name == "w_col" and value is None:
            continue
        if not (isinstance(value, str) and value.strip()):
            problems.append(f"{name} must be a non-empty string, got {value!r}")
        else:
            names.setdefault(value, []).append(name)
    for value, fields in names.items():
        if len(fields) > 1:
            problems.append(f"{' and '.join(fields)} share the column name '{value}'")
    return problems


#: The fields :class:`ExtendedDesign` adds to :class:`SimulationDesign`.
EXTENSION_FIELDS: tuple[str, ...] = ("predictors", "factor", "person_corr", "mean_corr")


@dataclass(frozen=True)
class ExtendedDesign(SimulationDesign):
    """A :class:`SimulationDesign` with further level-1 predictors, a factor moderator, the
    correlation of all person effects and that of the predictors' true person means (see
    :mod:`ambidex_bayes.simulation_terms`).

    Parameters
    ----------
    predictors : tuple of Level1Predictor
        Further level-1 predictors after ``x_col`` (dicts of their fields are accepted).
    factor : FactorModerator or None
        A person-level factor (a dict of its fields is accepted); with ``w_col=None`` it is
        the study's only moderator.
    person_corr : square matrix or None
        Correlation of the person effects (intercept, slope of ``x_col``, the further
        predictors' slopes in order); its entry ``[0][1]`` must equal ``rho``. None: the
        first two correlate by ``rho``, further slopes are independent.
    mean_corr : square matrix or None
        Correlation of the level-1 predictors' true person means (``x_col``, then the
        further predictors in order). None: independent person means.

    Examples
    --------
    Two level-1 predictors and a three-level factor instead of the numeric moderator:

    >>> design = ab.reference_design(
    ...     w_col=None, g01=0.0, g11=0.0, likert=None,
    ...     predictors=[{"name": "workload", "g10": -0.2, "tau1": 0.1}],
    ...     factor={"name": "sector", "levels": ("A", "B", "C"),
    ...             "slopes": {"uncertainty": {"B": 0.2, "C": -0.1}}},
    ... )
    >>> type(design).__name__, design.predictor_names
    ('ExtendedDesign', ('uncertainty', 'workload'))
    """

    predictors: tuple[Level1Predictor, ...] = ()
    factor: FactorModerator | None = None
    person_corr: tuple[tuple[float, ...], ...] | None = None
    mean_corr: tuple[tuple[float, ...], ...] | None = None

    def __post_init__(self) -> None:
        for name, convert in (
            ("predictors", as_predictors),
            ("factor", as_factor),
            ("person_corr", as_corr),
            ("mean_corr", as_corr),
        ):
            try:
                object.__setattr__(self, name, convert(getattr(self, name)))
            except TypeError as err:  # a dict with a field the part does not have
                self._check([f"{name}: {err}"])
        problems = _design_problems(self)
        taken = [
            getattr(self, c)
            for c in ("person_col", "occasion_col", "y_col", "x_col", "w_col")
            if getattr(self, c) is not None
        ]
        more = predictor_problems(self.predictors, taken, has_moderator=self.w_col is not None)
        if not more:
            taken += [p.name for p in self.predictors]
            more += factor_problems(self.factor, taken, self.predictor_names)
            more += corr_problems(self.person_corr, 2 + len(self.predictors), self.rho)
            more += mean_corr_problems(self.mean_corr, 1 + len(self.predictors))
        self._check(problems + more)
        if self.likert is not None:
            object.__setattr__(self, "likert", (float(self.likert[0]), float(self.likert[1])))

    @property
    def predictor_names(self) -> tuple[str, ...]:
        """The level-1 predictor columns: ``x_col`` and those of further predictors."""
        return (self.x_col, *(p.name for p in self.predictors))

    @property
    def extended(self) -> bool:
        """Whether the design has further predictors, a factor or a correlation matrix."""
        return (
            bool(self.predictors)
            or self.factor is not None
            or self.person_corr is not None
            or self.mean_corr is not None
        )


def diary_count_probabilities(design: SimulationDesign) -> pd.Series:
    """Probability of each number of diaries per person under ``design``.

    Parameters
    ----------
    design : SimulationDesign
        The design whose ``diaries_*`` fields define the distribution.

    Returns
    -------
    pandas.Series
        Indexed by the possible counts, summing to 1. For the truncated Poisson and negative
        binomial the location :math:`m` solves
        :math:`\\sum_k k\\,p_m(k) / \\sum_k p_m(k) = \\text{diaries\\_mean}` over
        ``k = diaries_min .. diaries_max``.
    """
    lo, hi = int(design.diaries_min), int(design.diaries_max)
    if design.diaries_dist == "fixed":
        k = int(design.diaries_mean)
        return pd.Series([1.0], index=pd.Index([k], name="n_diaries"), name="probability")
    support = np.arange(lo, hi + 1)
    if design.diaries_dist == "uniform" or lo == hi:
        probs = np.full(support.size, 1.0 / support.size)
    else:
        probs = _truncated_count_probs(design, support)
    return pd.Series(probs, index=pd.Index(support, name="n_diaries"), name="probability")


def _truncated_count_probs(design: SimulationDesign, support: np.ndarray) -> np.ndarray:
    def probs_at(log_m: float) -> np.ndarray:
        m = math.exp(log_m)
        if design.diaries_dist == "poisson":
            logp = stats.poisson.logpmf(support, m)
        else:
            r = float(design.diaries_dispersion)
            logp = stats.nbinom.logpmf(support, r, r / (r + m))
        return np.exp(logp - special.logsumexp(logp))

    target = float(design.diaries_mean)

    def gap(log_m: float) -> float:
        return float(probs_at(log_m) @ support) - target

    lo_log, hi_log = -20.0, math.log(max(support[-1], 1)) + 1.0
    while gap(hi_log) <= 0:
        hi_log += 2.0
    while gap(lo_log) >= 0:
        lo_log -= 10.0
    log_m = optimize.brentq(gap, lo_log, hi_log, xtol=1e-12)
    return probs_at(log_m)


#: The design that mirrors the reference study (see :func:`reference_design`).
_REFERENCE = SimulationDesign(
    n_persons=97,
    diaries_dist="poisson",
    diaries_mean=4.2,
    diaries_min=1,
    diaries_max=7,
    missing_rate=0.02,
    g00=3.3,
    g01=0.20,
    g02=0.10,
    g10=0.15,
    g11=0.25,
    icc=0.45,
    tau1=0.10,
    rho=-0.20,
    sigma=0.50,
    x_mean=3.0,
    x_sd_within=1.00,
    x_sd_between=0.55,
    w_mean=3.4,
    w_sd=0.70,
    likert=(1, 5),
    person_col="person_id",
    occasion_col="day",
    y_col="innovation",
    x_col="uncertainty",
    w_col="leader_support",
)


def reference_design(**overrides: Any) -> SimulationDesign:
    """A design that mirrors the shape of the reference diary study.

    About 97 persons writing 1 to 7 diaries each (truncated Poisson with mean 4.2, so about
    405 rows), 1-5 rating scales, about 2% missing outcome values, and a cross-level
    interaction whose simple slope is about zero at low moderator (-1 SD) and clearly positive
    at high moderator (+1 SD):

    ========  =====  ============================================
    field     value  meaning
    ========  =====  ============================================
    g00       3.3    outcome at average moderator and person mean
    g01       0.20   moderator effect on the outcome level
    g02       0.10   contextual effect of the person mean of x
    g10       0.15   within-person slope at average moderator
    g11       0.25   change of that slope per moderator unit
    icc       0.45   intercept-only ICC (tau0 about 0.452)
    tau1      0.10   SD of person slopes
    rho       -0.20  intercept-slope correlation
    sigma     0.50   residual SD
    x         3.0    mean; SD 1.00 within, 0.55 between persons
    w         3.4    mean; SD 0.70 over persons
    ========  =====  ============================================

    True simple slopes: ``0.15 - 0.25 * 0.7 = -0.025`` at -1 SD and ``0.325`` at +1 SD.
    Columns are ``person_id, day, innovation, uncertainty, leader_support``. These values are
    chosen to resemble the study's shape; they are not estimates from its data.

    Parameters
    ----------
    **overrides
        Any :class:`SimulationDesign` field, applied with :meth:`SimulationDesign.replace`
        (so ``tau0=...`` replaces the reference ``icc``).

    Returns
    -------
    SimulationDesign
        The validated design; :func:`simulate_diary` (``ab.simulate``) draws studies from it.

    Examples
    --------
    >>> design = ab.reference_design(n_persons=200, g11=0.15)
    >>> design.n_persons, design.g11, design.g10
    (200, 0.15, 0.15)
    >>> ab.reference_design(n_persons=0)
    Traceback (most recent call last):
    ...
    ambidex_bayes.simulation_design.DesignError: Invalid simulation design:
      - n_persons must be at least 1, got 0
    Fix the named field(s) and build the design again.
    """
    return _REFERENCE.replace(**overrides)
