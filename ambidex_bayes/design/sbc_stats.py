r"""Statistics of simulation-based calibration (SBC): is each parameter's rank uniform?

Simulation-based calibration (Talts, Betancourt, Simpson, Vehtari & Gelman 2018) draws a
true value :math:`\theta^{(s)}` from the prior, simulates data from it, fits the model
and records the rank

.. math::

    r_s = \#\{\,l : \tilde\theta^{(s)}_l < \theta^{(s)}\,\} \in \{0, \dots, L\}

of the true value among :math:`L` thinned posterior draws. If the fitted model is the
model the simulator draws from, and the sampler is right, every rank is discrete uniform
on :math:`0, \dots, L`. This module tests that for every parameter at a family-wise level
(each with the simultaneous ECDF test of :mod:`ambidex_bayes.design.rank_ecdf`, where its
maths is written out) and says in words how a failing parameter is off; it takes the ranks
as given and fits nothing.

Reading a failure
-----------------
Two summaries of the scaled ranks say which way a failing parameter is off:

- ``mean_rank_shift`` :math:`= \bar z - \mathrm{E}[z]`, with
  :math:`\mathrm{E}[z] = (L + 2)/(2(L + 1))` under uniformity (:math:`\approx 0.5`;
  centring on the exact value keeps the shift at zero in expectation for any :math:`L`).
  Positive: the true values sit high in their posteriors, i.e. the posteriors are biased
  low.
- ``spread_ratio`` :math:`= s_z^2 / \sigma_u^2`, the sample variance (``ddof=1``) over the
  variance of the discrete uniform scaled ranks,
  :math:`\sigma_u^2 = ((L + 1)^2 - 1) / (12 (L + 1)^2)`. Above 1: ranks pile up at both
  ends, the posteriors are too narrow (overconfident); below 1: ranks bunch in the
  middle, the posteriors are too wide.

Each is scaled by its standard deviation under uniformity,

.. math::

    \mathrm{sd}(\bar z) = \sqrt{\sigma_u^2 / N}, \qquad
    \mathrm{sd}(s_z^2/\sigma_u^2) = \frac{1}{\sigma_u^2}
        \sqrt{\frac{\mu_4}{N} - \frac{\sigma_u^4 (N - 3)}{N (N - 1)}},

with :math:`\mu_4 = ((L+1)^2 - 1)(3(L+1)^2 - 7) / (240 (L+1)^4)` the fourth central moment
of the scaled uniform ranks. The larger of
:math:`|\text{shift}| / \mathrm{sd}` and :math:`|\text{ratio} - 1| / \mathrm{sd}` names the
dominant feature (ties go to the shift).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ambidex_bayes.design.rank_ecdf import (
    DEFAULT_SIMULATIONS,
    MIN_TAIL_SIMULATIONS,
    EcdfTest,
    RankBands,
    check_alpha,
    check_int,
    ecdf_uniformity_test,
    rank_ecdf_bands,
    uniform_moments,
)
from ambidex_bayes.errors import ValidationError

# RankBands, EcdfTest, rank_ecdf_bands and ecdf_uniformity_test live in
# :mod:`ambidex_bayes.design.rank_ecdf` and are re-exported here.
__all__ = [
    "RankBands",
    "EcdfTest",
    "SBCCalibration",
    "rank_ecdf_bands",
    "ecdf_uniformity_test",
    "sbc_calibration",
]

REQUIRED_COLUMNS = ("simulation", "parameter", "rank")
MIN_SIMULATIONS_FOR_POWER = 50
READING_UNIFORM = "consistent with uniform"
READING_NARROW = "posterior too narrow (ranks at both ends)"
READING_WIDE = "posterior too wide (ranks in the middle)"
READING_LOW = "posterior biased low (ranks high)"
READING_HIGH = "posterior biased high (ranks low)"


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class SBCCalibration:
    """Family-wise SBC verdict over all parameters.

    Attributes
    ----------
    table : DataFrame
        One row per parameter (input order): ``parameter``, ``n``, ``passes``,
        ``min_tail_probability``, ``gamma``, ``mean_rank_shift``, ``spread_ratio``,
        ``reading``.
    calibrated : bool
        Every parameter passes.
    n_failed_fits : int
        Simulations with at least one missing rank (left out of the tests).
    n_dropped_ranks : int
        Rows with a missing rank that were dropped.
    n_simulations : int
        Simulations with at least one rank used.
    alpha : float
        Family-wise level; each parameter is tested at ``alpha / n_parameters``.
    n_draws : int
        :math:`L`, the number of posterior draws each rank was computed against.
    bands_by_parameter : dict of str to RankBands
        The band each parameter was tested against.
    tests_by_parameter : dict of str to EcdfTest
        Each parameter's test, with its ECDF at the band's points.
    """

    table: pd.DataFrame
    calibrated: bool
    n_failed_fits: int
    n_dropped_ranks: int
    n_simulations: int
    alpha: float
    n_draws: int
    bands_by_parameter: dict[str, RankBands] = field(repr=False)
    tests_by_parameter: dict[str, EcdfTest] = field(repr=False)

    @property
    def parameters(self) -> list[str]:
        """Parameter names in input order."""
        return list(self.table["parameter"])

    @property
    def failing(self) -> list[str]:
        """Parameters whose ranks leave their band."""
        return list(self.table.loc[~self.table["passes"].astype(bool), "parameter"])

    @property
    def headline(self) -> str:
        """The verdict's first sentence."""
        return _verdict_sentences(self)[0]

    @property
    def verdict(self) -> str:
        """Plain-English verdict: calibrated or not, which parameters fail and how."""
        return " ".join(_verdict_sentences(self))


# --------------------------------------------------------------------------- ranks table


def _clean_ranks(ranks: pd.DataFrame, n_draws: int) -> tuple[pd.DataFrame, int, int]:
    """Validate the long rank table; return it without missing ranks, and what was dropped.

    Returns the cleaned frame (``rank`` as int), the number of dropped rows and the number
    of simulations with at least one missing rank.
    """
    if not isinstance(ranks, pd.DataFrame):
        raise ValidationError(
            f"ranks must be a pandas DataFrame with columns {list(REQUIRED_COLUMNS)}; got "
            f"{type(ranks).__name__}."
        )
    missing = [c for c in REQUIRED_COLUMNS if c not in ranks.columns]
    if missing:
        raise ValidationError(
            f"ranks lacks the column(s) {missing} (present: {list(ranks.columns)}); pass the "
            "long table with one row per simulation and parameter."
        )
    if ranks.empty:
        raise ValidationError("ranks has no rows; run the simulations first.")
    rank = pd.to_numeric(ranks["rank"], errors="coerce")
    bad_type = rank.isna() & ranks["rank"].notna()
    if bad_type.any():
        raise ValidationError(
            "ranks has non-numeric values in column 'rank' (e.g. "
            f"{ranks.loc[bad_type, 'rank'].iloc[0]!r}); ranks are whole numbers in "
            f"0..{n_draws}."
        )
    dropped = rank.isna()
    failed_fits = int(ranks.loc[dropped, "simulation"].nunique())
    clean = ranks.loc[~dropped, list(REQUIRED_COLUMNS)].copy()
    clean["rank"] = rank[~dropped]
    _check_rank_values(clean, n_draws)
    _check_duplicates(clean)
    clean["rank"] = clean["rank"].astype(np.int64)
    return clean, int(dropped.sum()), failed_fits


def _check_rank_values(clean: pd.DataFrame, n_draws: int) -> None:
    r = clean["rank"].to_numpy(dtype=float)
    problems = []
    fractional = np.isfinite(r) & (r != np.floor(r))
    if fractional.any():
        problems.append(
            f"{int(fractional.sum())} rank(s) are not whole numbers, e.g. parameter "
            f"{clean['parameter'].iloc[int(np.argmax(fractional))]!s}: {r[fractional][0]:g}"
        )
    outside = ~np.isfinite(r) | (r < 0) | (r > n_draws)
    if outside.any():
        params = pd.unique(clean.loc[outside, "parameter"])
        problems.append(
            f"{int(outside.sum())} rank(s) outside 0..{n_draws} (parameter(s) "
            f"{', '.join(map(str, params[:5]))}; e.g. {r[outside][0]:g}); check that n_draws "
            "is the number of posterior draws the ranks were computed against"
        )
    if problems:
        raise ValidationError("ranks breaks the rules of SBC ranks:", problems)


def _check_duplicates(clean: pd.DataFrame) -> None:
    dup = clean.duplicated(["simulation", "parameter"])
    if dup.any():
        first = clean.loc[dup].iloc[0]
        raise ValidationError(
            f"ranks has {int(dup.sum())} repeated (simulation, parameter) pair(s), e.g. "
            f"simulation {first['simulation']!s}, parameter {first['parameter']!s}; each "
            "simulation gives one rank per parameter."
        )


def _null_simulations(alpha_each: float) -> int:
    """Null samples so that about 25 fall below the quantile (at least 2000)."""
    return max(DEFAULT_SIMULATIONS, math.ceil(MIN_TAIL_SIMULATIONS / alpha_each))


def _reading(test: EcdfTest, n: int, n_draws: int) -> str:
    """Name the dominant feature of a failing parameter (rule in the module notes)."""
    if test.passes:
        return READING_UNIFORM
    _, var, mu4 = uniform_moments(n_draws)
    sd_shift = math.sqrt(var / n)
    sd_ratio = math.sqrt(max(mu4 / n - var**2 * (n - 3) / (n * (n - 1)), 0.0)) / var
    shift_score = abs(test.mean_rank_shift) / sd_shift
    spread_score = abs(test.spread_ratio - 1.0) / sd_ratio if sd_ratio > 0 else 0.0
    if shift_score >= spread_score:
        return READING_LOW if test.mean_rank_shift > 0 else READING_HIGH
    return READING_NARROW if test.spread_ratio > 1 else READING_WIDE


def sbc_calibration(
    ranks: pd.DataFrame, n_draws: int, *, alpha: float = 0.05, seed: int = 0
) -> SBCCalibration:
    r"""Test every parameter's ranks for uniformity at family-wise level ``alpha``.

    Each of the :math:`P` parameters is tested against its simultaneous band at level
    :math:`\alpha / P` (Bonferroni), so the chance that a calibrated model fails for any
    parameter is at most about :math:`\alpha`. The null simulation for each band uses
    :math:`\max(2000, \lceil 25 P / \alpha \rceil)` samples, so that the small
    per-parameter quantile is estimated from enough values.

    Parameters
    ----------
    ranks : DataFrame
        Long table with columns ``simulation``, ``parameter`` and ``rank`` (whole numbers
        in ``0..n_draws``). Rows with a missing rank (failed fits) are dropped and counted.
    n_draws : int
        :math:`L`, the number of thinned posterior draws each rank was computed against.
    alpha : float
        Family-wise level.
    seed : int
        Seed of the null simulations (results are deterministic).

    Returns
    -------
    SBCCalibration

    Raises
    ------
    ValidationError
        Missing columns, non-numeric or fractional ranks, ranks outside ``0..n_draws``,
        repeated (simulation, parameter) pairs, or a parameter with fewer than 2 ranks.
    """
    n_draws = check_int(n_draws, "n_draws", 1)
    alpha = check_alpha(alpha)
    clean, n_dropped, n_failed = _clean_ranks(ranks, n_draws)
    parameters = list(pd.unique(ranks["parameter"]))
    by_param = {p: part["rank"].to_numpy() for p, part in clean.groupby("parameter", sort=False)}
    sizes = {p: len(by_param.get(p, ())) for p in parameters}
    too_few = [f"{p!s}: {n} rank(s)" for p, n in sizes.items() if n < 2]
    if too_few:
        raise ValidationError(
            "every parameter needs at least 2 non-missing ranks (better 50 or more):", too_few
        )
    alpha_each = alpha / len(parameters)
    n_null = _null_simulations(alpha_each)
    rows, bands_by, tests_by = [], {}, {}
    for p in parameters:
        values = by_param[p]
        bands = rank_ecdf_bands(
            values.size, n_draws, alpha=alpha_each, n_simulations=n_null, seed=seed
        )
        test = ecdf_uniformity_test(values, n_draws, bands)
        bands_by[p], tests_by[p] = bands, test
        rows.append(_table_row(p, values.size, test, bands, n_draws))
    table = pd.DataFrame(rows)
    return SBCCalibration(
        table=table,
        calibrated=bool(table["passes"].all()),
        n_failed_fits=n_failed,
        n_dropped_ranks=n_dropped,
        n_simulations=int(clean["simulation"].nunique()),
        alpha=alpha,
        n_draws=n_draws,
        bands_by_parameter=bands_by,
        tests_by_parameter=tests_by,
    )


def _table_row(p: object, n: int, test: EcdfTest, bands: RankBands, n_draws: int) -> dict:
    return {
        "parameter": p,
        "n": n,
        "passes": test.passes,
        "min_tail_probability": test.min_tail_probability,
        "gamma": bands.gamma,
        "mean_rank_shift": test.mean_rank_shift,
        "spread_ratio": test.spread_ratio,
        "reading": _reading(test, n, n_draws),
    }


# --------------------------------------------------------------------------- verdict


def _names(items: list[object]) -> str:
    return ", ".join(str(i) for i in items)


def _verdict_sentences(cal: SBCCalibration) -> list[str]:
    n_par = len(cal.table)
    setting = (
        f"family-wise level {cal.alpha:g}, {cal.n_simulations} simulations, "
        f"{cal.n_draws} draws each"
    )
    if cal.calibrated:
        who = "the parameter" if n_par == 1 else f"all {n_par} parameters"
        sentences = [f"Calibrated: the ranks of {who} are consistent with uniform ({setting})."]
    else:
        failing = cal.table.loc[~cal.table["passes"].astype(bool)]
        band = "band" if len(failing) == 1 else "bands"
        sentences = [
            f"Not calibrated: the ranks of {_names(list(failing['parameter']))} leave their "
            f"{100 * (1 - cal.alpha):g}% simultaneous {band} ({setting}) — the fitted model "
            "does not recover what the simulator generates.",
            "Readings: "
            + "; ".join(
                f"{p!s}: {r}" for p, r in zip(failing["parameter"], failing["reading"], strict=True)
            )
            + ".",
            "Typical causes: the fit's priors differ from the simulation's, a bug in the "
            "model, or a sampler problem (check divergences).",
        ]
    if cal.n_simulations < MIN_SIMULATIONS_FOR_POWER:
        sentences.append(
            f"Warning: only {cal.n_simulations} simulations, so the test has little power and "
            f"a pass says little; run at least {MIN_SIMULATIONS_FOR_POWER}, better 100 or more."
        )
    if cal.n_failed_fits:
        sentences.append(
            f"{cal.n_failed_fits} simulation(s) had failed fits ({cal.n_dropped_ranks} missing "
            "rank(s) dropped); if failures depend on the true values the remaining ranks are "
            "biased, so look at which simulations failed."
        )
    return sentences
