r"""The Bayesian Johnson–Neyman analysis: where along the moderator the within-person slope
is credibly different from zero, and how uncertain the boundary itself is.

The classical Johnson–Neyman technique finds the moderator values where a frequentist
confidence interval of the simple slope excludes zero. Its Bayesian counterpart (pitfall 5
of the design notes) reads the posterior of the population slope

.. math::

    \beta^{(s)}(W) = \Big(\gamma_{10}^{(s)} + \gamma_{11}^{(s)}\,\frac{W - c}{k}\Big)
                     \cdot \frac{s_y}{s_x}

along the raw moderator :math:`W` (centre :math:`c` = mean over persons, scale :math:`k`)
in three ways:

1. **Credible-interval region**: the values of :math:`W` where the equal-tailed ``prob``
   credible interval of :math:`\beta(W)` lies entirely above (or below) zero.
2. **Probability region**: the values where :math:`P(\beta(W) > 0)` (or
   :math:`P(\beta(W) < 0)`) reaches a chosen ``level``.
3. **The boundary's own posterior**: in every draw the slope is zero at

   .. math::

       W^{*(s)} = c - k\,\frac{\gamma_{10}^{(s)}}{\gamma_{11}^{(s)}},

   so the boundary has a posterior distribution: its median, its credible interval and the
   share of draws whose boundary lies inside the observed range of :math:`W`. (Its mean
   is not reported: a ratio with a denominator near zero has heavy tails.)

The probability region and the boundary's posterior are two views of one thing: when
:math:`\gamma_{11}^{(s)} > 0` the slope of draw :math:`s` is positive exactly for
:math:`W > W^{*(s)}`, so :math:`P(\beta(W) > 0)` is the share of draws whose boundary lies
below :math:`W` (plus, for draws with :math:`\gamma_{11}^{(s)} < 0`, those whose boundary
lies above). Where all draws agree on the sign of :math:`\gamma_{11}`, the probability
region starts at an order statistic of the :math:`W^{*(s)}`.

Region ends are located exactly: the credible-interval ends by root finding
(``scipy.optimize.brentq``) on the interval limit between two grid values where it changes
sign, the probability ends at the :math:`W^{*(s)}` where the share crosses the level.
A region narrower than the grid step can be missed; raise ``n_points`` if in doubt.
Scaling the slope by a positive factor changes none of this, so the regions are the same on
the original and the standardised scale; the moderator is reported raw and in SDs over
persons.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr
from scipy import optimize

from ambidex_bayes.errors import AmbidexError, ModelError
from ambidex_bayes.moderation.curve import (
    ModerationCurve,
    moderation_curve,
    observed_range,
)
from ambidex_bayes.moderation.pair import pair_parts, refuse_factor
from ambidex_bayes.moderation.slopes import refuse_nonfinite, transform_of
from ambidex_bayes.posterior import (
    SAMPLE_DIMS,
    Fitted,
    get_scalar,
    posterior_dataset,
    resolve_prob,
)
from ambidex_bayes.terms import ModerationTerms

if TYPE_CHECKING:
    from ambidex_bayes.prepare import PreparedData

__all__ = ["JohnsonNeyman", "johnson_neyman", "boundary_draws"]

#: Columns of :attr:`JohnsonNeyman.regions`, in order.
REGION_COLUMNS: tuple[str, ...] = (
    "criterion",
    "direction",
    "lower",
    "upper",
    "lower_sd_units",
    "upper_sd_units",
    "lower_is_range_end",
    "upper_is_range_end",
    "share_of_range",
)

#: Columns of :attr:`JohnsonNeyman.boundary`, in order.
BOUNDARY_COLUMNS: tuple[str, ...] = (
    "median",
    "ci_lower",
    "ci_upper",
    "median_sd_units",
    "share_in_observed_range",
    "share_interaction_positive",
    "observed_min",
    "observed_max",
)

#: Default level of P(slope > 0) for the probability region.
DEFAULT_LEVEL: float = 0.95


@dataclass(frozen=True)
class JohnsonNeyman:
    """Regions of the moderator where the slope is credibly non-zero, and its boundary.

    Attributes
    ----------
    regions : pandas.DataFrame
        One row per region: ``criterion`` (``"interval"``: the ``prob`` credible interval
        excludes zero; ``"probability"``: P(slope > 0) or P(slope < 0) reaches ``level``),
        ``direction`` (``"positive"`` or ``"negative"``), ``lower`` and ``upper`` (raw
        moderator values), the same in SDs over persons, whether each end is the end of the
        evaluated range rather than a crossing, and the region's share of that range. Empty
        when no value qualifies. ``attrs``: ``ci_prob, level, range_min, range_max,
        moderator_name``.
    boundary : pandas.DataFrame
        One row: posterior ``median``, ``ci_lower``, ``ci_upper`` of the raw boundary
        :math:`W^*`, the median in SDs over persons, the share of draws whose boundary lies
        in the observed range, the share of draws with a positive interaction and the
        observed range itself.
    boundary_draws : xarray.DataArray
        :math:`W^{*(s)}`, dims ``(chain, draw)``, raw scale.
    curve : ModerationCurve
        The population slope along the evaluated range (original units).
    description : str
        The result in plain words.
    """

    regions: pd.DataFrame
    boundary: pd.DataFrame
    boundary_draws: xr.DataArray
    curve: ModerationCurve
    description: str


def _check_level(level: float) -> float:
    if isinstance(level, bool) or not isinstance(level, int | float):
        raise AmbidexError(f"level must be a probability such as 0.95, got {level!r}.")
    if not 0.5 <= float(level) < 1.0:
        raise AmbidexError(
            f"level must lie in [0.5, 1) (e.g. 0.95: P(slope > 0) at least 95%), got {level!r}."
        )
    return float(level)


def _line(
    idata: xr.DataTree, terms: ModerationTerms, prepared: PreparedData
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Per-draw intercept ``a`` and raw-unit moderator slope ``b`` of the model-scale slope
    ``a + b * (W - centre)``, with the moderator's centre and scale."""
    refuse_factor(terms, "johnson_neyman")
    if terms.slope is None or terms.x_column is None:
        raise ModelError(
            "The model has no within-person slope term (terms.slope is None); a "
            "Johnson–Neyman analysis needs one."
        )
    if terms.interaction is None or terms.w_column is None:
        raise ModelError(
            "The model has no cross-level interaction (terms.interaction is None), so the "
            "slope does not change with the moderator and has no Johnson–Neyman boundary. "
            "Use a model with the interaction (M3)."
        )
    posterior = posterior_dataset(idata)
    g10 = get_scalar(posterior, terms.slope, "within-person slope").values.reshape(-1)
    g11 = get_scalar(posterior, terms.interaction, "cross-level interaction").values.reshape(-1)
    refuse_nonfinite(
        np.column_stack([g10, g11]),
        [terms.slope, terms.interaction],
        "slope or interaction draw",
        "the fit has non-finite draws, so the region where the slope differs from zero is "
        "undefined. Check the fit's convergence report and fit again.",
    )
    tw = transform_of(prepared, terms.w_column, "moderator")
    scale = float(tw.scale)
    return g10, g11 / scale, float(tw.centre), scale


def boundary_draws(
    fit: Fitted, *, focal: str | None = None, moderator: str | None = None
) -> xr.DataArray:
    r"""Posterior draws of the moderator value where the population slope is zero.

    :math:`W^{*(s)} = c - k\,\gamma_{10}^{(s)} / \gamma_{11}^{(s)}` on the moderator's raw
    scale (centre :math:`c`, scale :math:`k` of the moderator column). A draw with
    :math:`\gamma_{11}^{(s)} = 0` has no boundary and gives NaN.

    Parameters
    ----------
    fit : Fitted
        The fit.
    focal : str, optional
        The level-1 predictor, by column name (e.g. ``"uncertainty"``); default the first.
    moderator : str, optional
        The moderator, by column name (e.g. ``"leader_support"``); default the first.

    Returns
    -------
    xarray.DataArray
        Dims ``(chain, draw)``, named ``"boundary"``.
    """
    idata, terms, prepared = pair_parts(fit, "boundary_draws", focal, moderator)
    posterior = posterior_dataset(idata)
    _line(idata, terms, prepared)  # checks the terms
    g10 = get_scalar(posterior, terms.slope, "within-person slope")
    g11 = get_scalar(posterior, terms.interaction, "cross-level interaction")
    tw = transform_of(prepared, terms.w_column, "moderator")
    ratio = -g10 / g11.where(g11 != 0)
    out = (float(tw.centre) + float(tw.scale) * ratio).transpose(*SAMPLE_DIMS)
    out.attrs = {"moderator_name": tw.source, "scale": "raw"}
    return out.rename("boundary")


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Index ranges ``(first, last)`` of the runs of True in a boolean vector."""
    runs = []
    start = None
    for i, flag in enumerate(mask):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            runs.append((start, i - 1))
            start = None
    if start is not None:
        runs.append((start, len(mask) - 1))
    return runs


def _root(func: Callable[[float], float], left: float, right: float) -> float:
    f_left, f_right = func(left), func(right)
    if f_left == 0.0:
        return left
    if f_right == 0.0 or f_left * f_right > 0:
        return right
    return float(optimize.brentq(func, left, right, xtol=1e-12, rtol=1e-12))


def _step_end(
    state: Callable[[float], bool], left: float, right: float, knots: np.ndarray
) -> float:
    """Where a step function ``state`` (constant between ``knots``) flips in (left, right]."""
    inside = np.sort(knots[(knots > left) & (knots <= right)])
    points = np.concatenate([[left], inside, [right]])
    start = state(left)
    for k in range(1, len(points)):
        middle = 0.5 * (points[k - 1] + points[k])
        if state(middle) != start:
            return float(points[k - 1])
    return float(right)


def _regions(
    grid: np.ndarray,
    mask: np.ndarray,
    end: Callable[[float, float], float],
) -> list[tuple[float, float, bool, bool]]:
    out = []
    last = len(grid) - 1
    for first, final in _runs(mask):
        lower = grid[0] if first == 0 else end(grid[first - 1], grid[first])
        upper = grid[last] if final == last else end(grid[final], grid[final + 1])
        out.append((float(lower), float(upper), first == 0, final == last))
    return out


def _describe(
    regions: pd.DataFrame,
    *,
    criterion: str,
    low: float,
    high: float,
    words: dict[str, str],
    w_name: str,
) -> str:
    """One sentence on the regions of one criterion.

    ``words`` holds ``lead`` (subject), ``positive``/``negative`` (what holds in such a
    region), ``none`` (what holds nowhere) and ``rest`` (what holds outside the regions).
    """
    part = regions[regions["criterion"] == criterion]
    span = f"{low:.3g} to {high:.3g}"
    if part.empty:
        return (
            f"Nowhere in the range of {w_name} examined ({span}) {words['none']}: there is "
            "no Johnson–Neyman region."
        )
    first = part.iloc[0]
    if len(part) == 1 and first["lower_is_range_end"] and first["upper_is_range_end"]:
        return (
            f"Over the whole range of {w_name} examined ({span}) {words['lead']} "
            f"{words[first['direction']]}: the slope is credibly {first['direction']} for "
            "every value, so there is no boundary inside it."
        )
    pieces = []
    for row in part.itertuples(index=False):
        if row.lower_is_range_end:
            where = f"up to {row.upper:.3g}"
        elif row.upper_is_range_end:
            where = f"from {row.lower:.3g} up"
        else:
            where = f"between {row.lower:.3g} and {row.upper:.3g}"
        pieces.append(f"{words[row.direction]} for {w_name} {where}")
    sentence = f"{words['lead']} {' and '.join(pieces)}"
    return (
        f"{sentence[:1].upper()}{sentence[1:]}; elsewhere in the range examined ({span}) "
        f"{words['rest']}."
    )


def johnson_neyman(
    fit: Fitted,
    *,
    prob: float | None = None,
    level: float = DEFAULT_LEVEL,
    n_points: int = 201,
    w_range: tuple[float, float] | None = None,
    focal: str | None = None,
    moderator: str | None = None,
) -> JohnsonNeyman:
    r"""Bayesian Johnson–Neyman regions of the population slope and the boundary's posterior.

    See the module docstring for the three criteria. Regions are searched over
    ``w_range`` (default: the moderator's observed range over persons) on a grid of
    ``n_points`` values and their ends located exactly between grid values.

    Parameters
    ----------
    fit : Fitted
        The fit (:class:`~ambidex_bayes.fit.FitResult`, or
        :class:`~ambidex_bayes.posterior.PosteriorDraws`): posterior, terms and the
        data the model was fitted on.
        Needs a within-person slope and a cross-level interaction.
    prob : float, optional
        Width of the credible interval; default ``constants.CI_PROB`` at call time.
    level : float
        Level that P(slope > 0) (or P(slope < 0)) must reach, in [0.5, 1).
    n_points : int
        Grid size of the search.
    w_range : (float, float), optional
        Raw moderator range to search.
    focal : str, optional
        The level-1 predictor, by column name (e.g. ``"uncertainty"``); default the first.
    moderator : str, optional
        The moderator, by column name (e.g. ``"leader_support"``); default the first.

    Returns
    -------
    JohnsonNeyman

    Raises
    ------
    ModelError
        Without a within-person slope or a cross-level interaction, or when the moderator
        is a factor (its per-level slopes are :func:`ambidex_bayes.results.simple_slopes`).

    Examples
    --------
    ``m3`` is model M3 fitted to the example (``ab.fit(ab.load_spec("M3"), data)``):

    >>> jn = ab.johnson_neyman(m3)
    >>> print(jn.description)  # doctest: +ELLIPSIS
    Population-level within-person slope of innovation on uncertainty (person effects at
    zero) along leader_support. The 95% credible interval of the slope ...
    >>> list(jn.regions.columns[:4])
    ['criterion', 'direction', 'lower', 'upper']
    >>> bool(2.0 < jn.boundary["median"].iloc[0] < 5.0)  # the slope is zero in the range
    True
    """
    idata, terms, prepared = pair_parts(fit, "johnson_neyman", focal, moderator)
    prob = resolve_prob(prob)
    level = _check_level(level)
    a, b, centre, _ = _line(idata, terms, prepared)
    curve = moderation_curve(
        fit, n_points=n_points, w_range=w_range, prob=prob, focal=focal, moderator=moderator
    )
    grid = curve.table["moderator"].to_numpy(dtype=float)
    low, high = float(grid[0]), float(grid[-1])
    obs_low, obs_high = observed_range(terms, prepared)
    q_lo, q_hi = (1.0 - prob) / 2.0, (1.0 + prob) / 2.0

    def lower(w: float) -> float:
        return float(np.quantile(a + b * (w - centre), q_lo))

    def upper(w: float) -> float:
        return float(np.quantile(a + b * (w - centre), q_hi))

    def share_positive(w: float) -> float:
        return float(np.mean(a + b * (w - centre) > 0))

    def share_negative(w: float) -> float:
        return float(np.mean(a + b * (w - centre) < 0))

    wstar = boundary_draws(fit, focal=focal, moderator=moderator)
    knots = wstar.values.reshape(-1)
    knots = knots[np.isfinite(knots)]

    found: list[tuple[str, str, tuple[float, float, bool, bool]]] = []
    lower_on_grid = np.array([lower(w) for w in grid])
    upper_on_grid = np.array([upper(w) for w in grid])
    for region in _regions(grid, lower_on_grid > 0, lambda x, y: _root(lower, x, y)):
        found.append(("interval", "positive", region))
    for region in _regions(grid, upper_on_grid < 0, lambda x, y: _root(upper, x, y)):
        found.append(("interval", "negative", region))
    for direction, share in (("positive", share_positive), ("negative", share_negative)):

        def state(w: float, share: Callable[[float], float] = share) -> bool:
            return share(w) >= level

        mask = np.array([state(w) for w in grid])
        for region in _regions(grid, mask, lambda x, y, s=state: _step_end(s, x, y, knots)):
            found.append(("probability", direction, region))

    stats = prepared.moderator_stats
    source = curve.observed.name
    if source in stats.index:
        mean_w = float(stats.loc[source, "mean_over_persons"])
        sd_w = float(stats.loc[source, "sd_over_persons"])
    else:
        mean_w, sd_w = float(curve.observed.mean()), float(curve.observed.std(ddof=1))

    def sd_units(value: float) -> float:
        return (value - mean_w) / sd_w if sd_w > 0 else math.nan

    rows = [
        {
            "criterion": criterion,
            "direction": direction,
            "lower": lo,
            "upper": hi,
            "lower_sd_units": sd_units(lo),
            "upper_sd_units": sd_units(hi),
            "lower_is_range_end": lo_end,
            "upper_is_range_end": hi_end,
            "share_of_range": (hi - lo) / (high - low),
        }
        for criterion, direction, (lo, hi, lo_end, hi_end) in found
    ]
    regions = pd.DataFrame(rows, columns=list(REGION_COLUMNS))
    regions = regions.sort_values(["criterion", "lower"], ignore_index=True)
    w_name = str(source)
    regions.attrs.update(
        {
            "ci_prob": prob,
            "level": level,
            "range_min": low,
            "range_max": high,
            "moderator_name": w_name,
        }
    )

    valid = knots
    if valid.size:
        median = float(np.median(valid))
        ci = np.quantile(valid, [q_lo, q_hi])
    else:
        median, ci = math.nan, np.array([math.nan, math.nan])
    all_draws = wstar.values.reshape(-1)
    in_range = float(np.mean((all_draws >= obs_low) & (all_draws <= obs_high)))
    positive = float(np.mean(b > 0))
    boundary = pd.DataFrame(
        [
            {
                "median": median,
                "ci_lower": float(ci[0]),
                "ci_upper": float(ci[1]),
                "median_sd_units": sd_units(median),
                "share_in_observed_range": in_range,
                "share_interaction_positive": positive,
                "observed_min": obs_low,
                "observed_max": obs_high,
            }
        ],
        columns=list(BOUNDARY_COLUMNS),
    )
    boundary.attrs.update({"ci_prob": prob, "moderator_name": w_name})

    y_name = curve.table.attrs.get("y_name", "the outcome")
    x_name = curve.table.attrs.get("x_name", "the predictor")
    interval_words = {
        "lead": f"the {prob:.0%} credible interval of the slope lies",
        "positive": "above zero",
        "negative": "below zero",
        "none": f"does the {prob:.0%} credible interval of the slope exclude zero",
        "rest": "it includes zero",
    }
    probability_words = {
        "lead": "the posterior probability reaches",
        "positive": f"{level:.0%} that the slope is positive",
        "negative": f"{level:.0%} that the slope is negative",
        "none": f"does P(slope > 0) or P(slope < 0) reach {level:.0%}",
        "rest": "neither does",
    }
    text = [
        f"Population-level within-person slope of {y_name} on {x_name} (person effects at "
        f"zero) along {w_name}.",
        _describe(
            regions, criterion="interval", low=low, high=high, words=interval_words, w_name=w_name
        ),
        _describe(
            regions,
            criterion="probability",
            low=low,
            high=high,
            words=probability_words,
            w_name=w_name,
        ),
    ]
    if valid.size:
        text.append(
            f"The slope is zero at {w_name} = {median:.3g} (posterior median; {prob:.0%} "
            f"interval {ci[0]:.3g} to {ci[1]:.3g}); {in_range:.0%} of the posterior draws put "
            f"this boundary inside the observed range ({obs_low:.3g} to {obs_high:.3g})"
            + (
                ", so within the data the slope most likely keeps one sign."
                if in_range < 0.5
                else "."
            )
        )
    text.append(
        f"In {positive:.0%} of the draws the slope grows with {w_name} (positive interaction)."
    )
    if low < obs_low or high > obs_high:
        text.append("Part of the range examined lies outside the observed values.")
    return JohnsonNeyman(
        regions=regions,
        boundary=boundary,
        boundary_draws=wstar,
        curve=curve,
        description=" ".join(text),
    )
