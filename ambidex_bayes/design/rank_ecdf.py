r"""The simultaneous ECDF test of simulation-based calibration: are one parameter's ranks
uniform?

Simulation-based calibration records the rank :math:`r_s \in \{0, \dots, L\}` of each true
value among :math:`L` thinned posterior draws (see :mod:`ambidex_bayes.design.sbc_stats`);
for a calibrated model and sampler the ranks are discrete uniform. This module builds the
simultaneous band of their empirical CDF (:func:`rank_ecdf_bands`) and tests one
parameter's ranks against it (:func:`ecdf_uniformity_test`), with the two summaries that
say which way a failing parameter is off (described in
:mod:`ambidex_bayes.design.sbc_stats`). The verdict over all parameters is
:func:`ambidex_bayes.design.sbc_stats.sbc_calibration`.

Simultaneous ECDF band (Säilynoja, Bürkner & Vehtari 2022)
----------------------------------------------------------
With :math:`N` ranks, scale them to :math:`z_s = (r_s + 1)/(L + 1) \in (0, 1]` and
evaluate their empirical CDF at :math:`K = \min(N, L + 1)` evenly spaced points
:math:`z_k = k/K`, :math:`k = 1, \dots, K`. Under uniformity the count

.. math::

    C_k = \#\{s : z_s \le z_k\} \sim \mathrm{Binomial}(N, p_k), \qquad
    p_k = \frac{\lfloor z_k (L + 1) \rfloor}{L + 1},

where :math:`p_k = z_k` whenever :math:`K = L + 1`; for :math:`K < L + 1` the floor makes
:math:`p_k` the exact probability for discrete ranks (at most :math:`1/(L+1)` below
:math:`z_k`). The two-sided pointwise tail probability of a count :math:`c` is

.. math::

    T_k(c) = \min\bigl(1,\; 2 \min\{F_k(c),\; 1 - F_k(c - 1)\}\bigr),

with :math:`F_k` the CDF of :math:`\mathrm{Binomial}(N, p_k)`, and the test statistic is
its smallest value over the grid, :math:`T = \min_k T_k(C_k)`. Simulating many samples of
:math:`N` uniform ranks gives the null distribution of :math:`T`; its
:math:`\alpha`-quantile :math:`\gamma` is the pointwise level that makes the bands
simultaneous. The band at :math:`z_k` is the set of counts with :math:`T_k(c) \ge \gamma`,

.. math::

    \{\,c : T_k(c) \ge \gamma\,\} = [\,F_k^{-1}(\gamma/2),\; F_k^{-1}(1 - \gamma/2)\,]

(binomial quantiles; the two sides agree except when a CDF value equals a bound exactly),
reported as ECDF values :math:`c/N`. Hence the ECDF stays inside the band at every
:math:`z_k` if and only if :math:`T \ge \gamma`, and under uniformity this happens with
probability :math:`1 - \alpha` (up to the Monte Carlo error of :math:`\gamma`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import special
from scipy.stats import binom

from ambidex_bayes.errors import AmbidexError, ValidationError

__all__ = ["RankBands", "EcdfTest", "rank_ecdf_bands", "ecdf_uniformity_test"]

#: The null distribution of the minimum tail probability is simulated so that about this
#: many simulated values fall below the alpha-quantile (at least DEFAULT_SIMULATIONS).
MIN_TAIL_SIMULATIONS = 25
DEFAULT_SIMULATIONS = 2000
_TABLE_LIMIT = 2_000_000  # largest K * (N + 1) tail table kept in memory
_CHUNK = 10_000  # simulated rank samples per block


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class RankBands:
    """Simultaneous band for the ECDF of ``n_ranks`` uniform ranks on ``0..n_draws``.

    Attributes
    ----------
    z : ndarray
        The evaluation points :math:`z_k = k/K`, :math:`k = 1..K`.
    lower, upper : ndarray
        The band as ECDF values (counts divided by ``n_ranks``) at each ``z``.
    gamma : float
        The pointwise tail level that makes the band simultaneous at level ``alpha``.
    alpha : float
        Probability that uniform ranks leave the band somewhere.
    n_ranks, n_draws : int
        Number of ranks :math:`N`, and :math:`L` (ranks lie in ``0..n_draws``).
    """

    z: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    gamma: float
    alpha: float
    n_ranks: int
    n_draws: int


@dataclass(frozen=True, eq=False)
class EcdfTest:
    r"""Result of the simultaneous ECDF test of one parameter's ranks.

    Attributes
    ----------
    passes : bool
        The ECDF stays within the band at every :math:`z_k`; equivalently
        ``min_tail_probability >= bands.gamma``.
    min_tail_probability : float
        :math:`T = \min_k T_k(C_k)` for the observed ranks.
    ecdf : ndarray
        The ECDF of the scaled ranks at ``bands.z``.
    mean_rank_shift : float
        :math:`\bar z - \mathrm{E}[z]` (positive: posteriors biased low).
    spread_ratio : float
        :math:`s_z^2 / \sigma_u^2` (above 1: posteriors too narrow; below 1: too wide).
    """

    passes: bool
    min_tail_probability: float
    ecdf: np.ndarray
    mean_rank_shift: float
    spread_ratio: float


# --------------------------------------------------------------------------- null band


def check_int(value: object, name: str, minimum: int) -> int:
    """``value`` as an int, or an AmbidexError unless it is a whole number >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise AmbidexError(f"{name} must be a whole number >= {minimum}; got {value!r}.")
    return int(value)


def check_alpha(alpha: object) -> float:
    """``alpha`` as a float, or an AmbidexError unless it lies strictly in (0, 1)."""
    if isinstance(alpha, bool) or not isinstance(alpha, float | int) or not 0 < alpha < 1:
        raise AmbidexError(f"alpha must be a number strictly between 0 and 1; got {alpha!r}.")
    return float(alpha)


def _grid(n_ranks: int, n_draws: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Evaluation grid: points :math:`z_k`, rank thresholds :math:`m_k`, probabilities.

    :math:`z_s \le z_k \iff r_s < m_k` with :math:`m_k = \lfloor k (L+1) / K \rfloor`
    (integer arithmetic, so no rounding), and :math:`p_k = m_k / (L + 1)`.
    """
    n_points = min(n_ranks, n_draws + 1)
    k = np.arange(1, n_points + 1, dtype=np.int64)
    thresholds = (k * (n_draws + 1)) // n_points
    return k / n_points, thresholds, thresholds / (n_draws + 1)


def _tail_probability(counts: np.ndarray, n_ranks: int, p: np.ndarray) -> np.ndarray:
    r""":math:`T_k(c) = \min(1, 2\min\{F_k(c), 1 - F_k(c-1)\})` for Binomial(N, p_k)."""
    counts = np.asarray(counts, dtype=float)
    below = special.bdtr(counts, n_ranks, p)
    above = np.where(counts > 0, special.bdtrc(counts - 1, n_ranks, p), 1.0)
    return np.minimum(1.0, 2.0 * np.minimum(below, above))


def _simulated_counts(
    rng: np.random.Generator, n_sim: int, n_ranks: int, thresholds: np.ndarray, n_draws: int
) -> np.ndarray:
    """ECDF counts at the grid of ``n_sim`` samples of uniform ranks (multinomial cells)."""
    cell_sizes = np.diff(np.concatenate(([0], thresholds)))
    cells = rng.multinomial(n_ranks, cell_sizes / (n_draws + 1), size=n_sim)
    return np.cumsum(cells, axis=1)


def _minimum_tails(
    counts: np.ndarray, n_ranks: int, p: np.ndarray, table: np.ndarray | None
) -> np.ndarray:
    r"""Row-wise :math:`\min_k T_k(C_k)`, from a precomputed table when one is given."""
    if table is None:
        return _tail_probability(counts, n_ranks, p[None, :]).min(axis=1)
    return table[np.arange(p.size)[None, :], counts].min(axis=1)


@lru_cache(maxsize=64)
def _null_minima(n_ranks: int, n_draws: int, n_simulations: int, seed: int) -> np.ndarray:
    """Sorted simulated null distribution of :math:`T` (read-only, cached)."""
    _, thresholds, p = _grid(n_ranks, n_draws)
    table = None
    if p.size * (n_ranks + 1) <= _TABLE_LIMIT:
        table = _tail_probability(np.arange(n_ranks + 1)[None, :], n_ranks, p[:, None])
    rng = np.random.default_rng(seed)
    minima = []
    for start in range(0, n_simulations, _CHUNK):
        size = min(_CHUNK, n_simulations - start)
        counts = _simulated_counts(rng, size, n_ranks, thresholds, n_draws)
        minima.append(_minimum_tails(counts, n_ranks, p, table))
    out = np.sort(np.concatenate(minima))
    out.flags.writeable = False
    return out


def _count_interval(n_ranks: int, p: np.ndarray, gamma: float) -> tuple[np.ndarray, np.ndarray]:
    r"""Smallest and largest count :math:`c` with :math:`T_k(c) \ge \gamma`, per point.

    Starts at the binomial quantiles and steps until the interval matches the tail
    function exactly, so that band membership and :math:`T \ge \gamma` always agree.
    The set is an interval because :math:`F_k(c)` rises and :math:`1 - F_k(c-1)` falls in
    :math:`c`; it is never empty because :math:`\gamma` is at most the largest
    :math:`T_k`.
    """
    lower = np.clip(binom.ppf(gamma / 2, n_ranks, p), 0, n_ranks).astype(np.int64)
    upper = np.clip(binom.ppf(1 - gamma / 2, n_ranks, p), 0, n_ranks).astype(np.int64)

    def inside(c: np.ndarray) -> np.ndarray:
        return _tail_probability(c, n_ranks, p) >= gamma

    for _ in range(n_ranks + 1):
        up = ~inside(lower) & (lower < n_ranks)
        down = (lower > 0) & inside(np.maximum(lower - 1, 0))
        if not (up.any() or down.any()):
            break
        lower = lower + up - (down & ~up)
    for _ in range(n_ranks + 1):
        down = ~inside(upper) & (upper > 0)
        up = (upper < n_ranks) & inside(np.minimum(upper + 1, n_ranks))
        if not (up.any() or down.any()):
            break
        upper = upper - down + (up & ~down)
    return lower, upper


@lru_cache(maxsize=256)
def _cached_bands(
    n_ranks: int, n_draws: int, alpha: float, n_simulations: int, seed: int
) -> RankBands:
    z, _, p = _grid(n_ranks, n_draws)
    minima = _null_minima(n_ranks, n_draws, n_simulations, seed)
    gamma = float(np.quantile(minima, alpha, method="inverted_cdf"))
    lower, upper = _count_interval(n_ranks, p, gamma)
    arrays = [z, lower / n_ranks, upper / n_ranks]
    for a in arrays:
        a.flags.writeable = False
    return RankBands(arrays[0], arrays[1], arrays[2], gamma, alpha, n_ranks, n_draws)


def rank_ecdf_bands(
    n_ranks: int,
    n_draws: int,
    *,
    alpha: float = 0.05,
    n_simulations: int = DEFAULT_SIMULATIONS,
    seed: int = 0,
) -> RankBands:
    r"""Simultaneous ``1 - alpha`` band for the ECDF of uniform ranks on ``0..n_draws``.

    The ECDF of the scaled ranks :math:`z = (r + 1)/(L + 1)` is evaluated at
    :math:`z_k = k/K`, :math:`K = \min(N, L + 1)`. ``n_simulations`` samples of :math:`N`
    discrete-uniform ranks give the null distribution of
    :math:`T = \min_k T_k(C_k)`, with
    :math:`T_k(c) = \min(1, 2\min\{F_k(c), 1 - F_k(c-1)\})` and :math:`F_k` the CDF of
    :math:`\mathrm{Binomial}(N, p_k)`, :math:`p_k = \lfloor z_k(L+1)\rfloor/(L+1)`
    (:math:`= z_k` when :math:`K = L + 1`). :math:`\gamma` is the ``alpha``-quantile of
    those minima (inverse-ECDF definition), and the band at :math:`z_k` is
    :math:`\{c : T_k(c) \ge \gamma\} = [F_k^{-1}(\gamma/2), F_k^{-1}(1 - \gamma/2)]`,
    divided by :math:`N` (Säilynoja, Bürkner & Vehtari 2022).

    Parameters
    ----------
    n_ranks : int
        Number of ranks :math:`N` (simulations that gave a rank for the parameter).
    n_draws : int
        :math:`L`: ranks lie in ``0..n_draws``.
    alpha : float
        Probability that uniform ranks leave the band at one or more points.
    n_simulations : int
        Null samples used to find :math:`\gamma`; ``alpha * n_simulations`` should be
        well above 1 (at least 1 is required).
    seed : int
        Seed of the null simulation; the result is deterministic given the arguments and
        is cached, so repeated calls are free.

    Returns
    -------
    RankBands
    """
    n_ranks = check_int(n_ranks, "n_ranks", 1)
    n_draws = check_int(n_draws, "n_draws", 1)
    alpha = check_alpha(alpha)
    n_simulations = check_int(n_simulations, "n_simulations", 1)
    if alpha * n_simulations < 1:
        raise AmbidexError(
            f"alpha = {alpha:g} needs at least {math.ceil(1 / alpha)} null simulations to "
            f"find its quantile; got n_simulations = {n_simulations}. Increase n_simulations."
        )
    return _cached_bands(n_ranks, n_draws, alpha, n_simulations, int(seed))


# --------------------------------------------------------------------------- one parameter


def _validated_rank_array(ranks: np.ndarray, n_draws: int, what: str) -> np.ndarray:
    values = np.asarray(ranks)
    if values.ndim != 1:
        raise ValidationError(f"{what} must be one-dimensional; got shape {values.shape}.")
    try:
        as_float = values.astype(float)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{what} must be numeric ranks in 0..{n_draws}.") from exc
    problems = []
    if np.isnan(as_float).any():
        problems.append(f"{int(np.isnan(as_float).sum())} missing rank(s); drop them first")
    finite = as_float[~np.isnan(as_float)]
    if (np.isfinite(finite) & (finite != np.floor(finite))).any():
        problems.append("ranks must be whole numbers (counts of posterior draws)")
    outside = ~np.isfinite(finite) | (finite < 0) | (finite > n_draws)
    if outside.any():
        problems.append(
            f"{int(outside.sum())} rank(s) outside 0..{n_draws} (e.g. {finite[outside][0]:g}); "
            "check that n_draws is the number of draws the ranks were computed against"
        )
    if problems:
        raise ValidationError(f"{what} cannot be tested:", problems)
    return as_float.astype(np.int64)


def uniform_moments(n_draws: int) -> tuple[float, float, float]:
    r"""Mean, variance and fourth central moment of :math:`(r+1)/(L+1)`, r uniform."""
    m = n_draws + 1
    mean = (m + 1) / (2 * m)
    var = (m * m - 1) / (12 * m * m)
    mu4 = (m * m - 1) * (3 * m * m - 7) / (240 * m**4)
    return mean, var, mu4


def ecdf_uniformity_test(
    ranks_of_one_parameter: np.ndarray, n_draws: int, bands: RankBands
) -> EcdfTest:
    r"""Test one parameter's ranks against a simultaneous band.

    Computes the counts :math:`C_k = \#\{s : z_s \le z_k\}` at ``bands.z``, the ECDF
    :math:`C_k / N`, and :math:`T = \min_k T_k(C_k)`. Because the band at :math:`z_k` is
    exactly the set of counts with :math:`T_k(c) \ge \gamma`,

    .. math::

        \text{ECDF inside the band at every } z_k
        \iff T \ge \gamma,

    so ``passes == (min_tail_probability >= bands.gamma)`` always.

    Parameters
    ----------
    ranks_of_one_parameter : ndarray
        ``bands.n_ranks`` whole numbers in ``0..n_draws``, no missing values.
    n_draws : int
        :math:`L`; must equal ``bands.n_draws``.
    bands : RankBands
        From :func:`rank_ecdf_bands` with ``n_ranks`` equal to the number of ranks.

    Returns
    -------
    EcdfTest
        With ``mean_rank_shift`` :math:`= \bar z - (L+2)/(2(L+1))` and ``spread_ratio``
        :math:`= s_z^2 / \sigma_u^2` (see the module notes).
    """
    n_draws = check_int(n_draws, "n_draws", 1)
    if n_draws != bands.n_draws:
        raise AmbidexError(
            f"the band was made for n_draws = {bands.n_draws}, not {n_draws}; make the band "
            "with rank_ecdf_bands(n_ranks, n_draws) for these ranks."
        )
    ranks = _validated_rank_array(ranks_of_one_parameter, n_draws, "ranks_of_one_parameter")
    if ranks.size != bands.n_ranks:
        raise AmbidexError(
            f"the band was made for {bands.n_ranks} ranks but {ranks.size} were given; make "
            "the band with rank_ecdf_bands(len(ranks), n_draws)."
        )
    _, thresholds, p = _grid(bands.n_ranks, n_draws)
    counts = np.searchsorted(np.sort(ranks), thresholds, side="left")
    ecdf = counts / bands.n_ranks
    ecdf.flags.writeable = False
    min_tail = float(_tail_probability(counts, bands.n_ranks, p).min())
    inside = bool(np.all((ecdf >= bands.lower) & (ecdf <= bands.upper)))
    z = (ranks + 1) / (n_draws + 1)
    mean, var, _ = uniform_moments(n_draws)
    spread = float(np.var(z, ddof=1) / var) if z.size > 1 else float("nan")
    return EcdfTest(inside, min_tail, ecdf, float(z.mean() - mean), spread)


# --------------------------------------------------------------------------- all parameters
