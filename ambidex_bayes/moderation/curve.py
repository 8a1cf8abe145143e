r"""The moderation curve: the posterior of the within-person slope as a function of the
level-2 moderator, over the moderator's observed range.

In the cross-level model the slope of a person with raw moderator value :math:`W` is, per
posterior draw :math:`s`,

.. math::

    \beta^{(s)}(W) = \Big(\gamma_{10}^{(s)} + \gamma_{11}^{(s)}\,\frac{W - c}{k}\Big)
                     \cdot \frac{s_y}{s_x},

with :math:`c` and :math:`k` the centre (the mean over persons) and scale of the moderator
column, and :math:`s_y / s_x` the factor back to original units
(:meth:`PreparedData.slope_to_original`). The curve is :func:`simple_slopes` evaluated on a
dense grid of raw moderator values, summarised at every value by its median, credible band
and :math:`P(\beta(W) > 0)`.

The standardised scale
----------------------
A standardised within-person slope is the original-unit slope times :math:`SD_x / SD_y`,
where (the convention of ``prepare(standardize=True)``, so that the numbers equal the
coefficients of a model fitted on standardised data)

- :math:`SD_x` is the SD over diary rows (ddof = 1) of the within-person part
  :math:`x_{ij} - \bar x_j` on its raw scale: the pooled within-person SD;
- :math:`SD_y` is the SD over diary rows (ddof = 1) of the outcome on its raw scale (after
  detrending, when the data were detrended): the total SD, not the within-person SD.

One unit of the standardised slope is then "SDs of the outcome per within-person SD of the
predictor". The moderator is shown in SDs over persons next to its raw value
(``moderator_sd_units``). Between-person slopes use the SD over persons of the person means
of :math:`x` instead (see :mod:`ambidex_bayes.moderation.contextual`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
import xarray as xr

from ambidex_bayes.errors import AmbidexError, ModelError
from ambidex_bayes.moderation.pair import pair_parts, refuse_factor
from ambidex_bayes.moderation.slopes import (
    ExtrapolationWarning,
    SimpleSlopes,
    SlopeKind,
    extrapolation_message,
    extrapolation_of,
    moderator_by_person,
    simple_slopes,
    transform_of,
)
from ambidex_bayes.posterior import (
    DRAW_SUMMARY_COLUMNS,
    SAMPLE_DIMS,
    Fitted,
    describe_draws,
    resolve_prob,
)
from ambidex_bayes.terms import ModerationTerms

if TYPE_CHECKING:
    from ambidex_bayes.prepare import PreparedData

__all__ = [
    "ModerationCurve",
    "Scale",
    "SlopeScales",
    "moderation_curve",
    "observed_range",
    "slope_scales",
    "standardise_simple_slopes",
    "summarise_draws",
]

Scale = Literal["original", "standardised"]
_SCALES: tuple[str, ...] = ("original", "standardised")

#: Columns of :attr:`ModerationCurve.table`, in order.
CURVE_COLUMNS: tuple[str, ...] = (
    "moderator",
    "moderator_centred",
    "moderator_sd_units",
    *DRAW_SUMMARY_COLUMNS,
    "scale",
)

#: How the standardised scale is defined, in words (shown in tables' attrs and reports).
STANDARDISED_CONVENTION = (
    "standardised slope = original slope x SD_x / SD_y, with SD_x the SD over diary rows of "
    "the within-person part of the predictor (the pooled within-person SD) and SD_y the SD "
    "over diary rows of the outcome (ddof = 1; the convention of prepare(standardize=True))"
)


@dataclass(frozen=True)
class SlopeScales:
    """The factors that turn slopes into original and standardised units.

    Attributes
    ----------
    to_original : float
        :math:`s_y / s_x`: model-scale within-person slope to original units.
    sd_x_within : float
        SD over rows (ddof = 1) of the within-person part of the predictor, raw units.
    sd_x_between : float
        SD over persons (ddof = 1) of the observed person means of the predictor.
    sd_y : float
        SD over rows (ddof = 1) of the outcome, raw units.
    sd_w : float
        SD over persons of the moderator (NaN without a moderator).
    mean_w : float
        Mean over persons of the moderator (NaN without a moderator).
    """

    to_original: float
    sd_x_within: float
    sd_x_between: float
    sd_y: float
    sd_w: float
    mean_w: float

    @property
    def within_to_standardised(self) -> float:
        """Original-unit within-person slope to standardised: :math:`SD_x / SD_y`."""
        return self.sd_x_within / self.sd_y

    @property
    def between_to_standardised(self) -> float:
        """Original-unit between-person slope to standardised: :math:`SD_{\\bar x} / SD_y`."""
        return self.sd_x_between / self.sd_y


def check_scale(scale: str) -> str:
    """Return ``scale`` if it is ``"original"`` or ``"standardised"``, else raise."""
    if scale not in _SCALES:
        raise AmbidexError(f"scale must be one of {_SCALES}, got {scale!r}.")
    return scale


def _row_sd(values: pd.Series, what: str) -> float:
    array = values.to_numpy(dtype=float)
    array = array[np.isfinite(array)]
    sd = float(np.std(array, ddof=1)) if array.size > 1 else math.nan
    if not (math.isfinite(sd) and sd > 0):
        raise ModelError(
            f"Cannot put slopes on the standardised scale: {what} has no spread in the "
            "prepared rows. Report the slopes on the original scale."
        )
    return sd


def slope_scales(terms: ModerationTerms, prepared: PreparedData) -> SlopeScales:
    """Compute the SDs that define the standardised scale (see the module docstring).

    Parameters
    ----------
    terms : ModerationTerms
        Names the within-person predictor and outcome columns.
    prepared : PreparedData
        The data the model was fitted on, with its rows.

    Returns
    -------
    SlopeScales

    Raises
    ------
    ModelError
        If a column or transform is missing, the prepared rows are absent, or a variable
        does not vary.
    """
    tx = transform_of(prepared, terms.x_column, "level-1 predictor")
    ty = transform_of(prepared, terms.y_column, "outcome")
    frame = prepared.frame
    missing = [c for c in (tx.column, ty.column) if c not in frame.columns]
    if missing or len(frame) == 0:
        raise ModelError(
            f"The prepared data hold no rows with the column(s) {missing or [tx.column]}; "
            "the standardised scale needs the rows the model was fitted on."
        )
    sd_x = _row_sd(frame[tx.column] * float(tx.scale), f"the within-person part of {tx.source!r}")
    sd_y = _row_sd(frame[ty.column] * float(ty.scale), f"the outcome {ty.source!r}")
    means = prepared.person_means
    sd_b = (
        _row_sd(means[tx.source], f"the person means of {tx.source!r}")
        if tx.source in means.columns and len(means) > 1
        else math.nan
    )
    sd_w = mean_w = math.nan
    if terms.w_column is not None and not terms.factor_moderator:
        tw = transform_of(prepared, terms.w_column, "moderator")
        stats = prepared.moderator_stats
        if tw.source in stats.index:
            sd_w = float(stats.loc[tw.source, "sd_over_persons"])
            mean_w = float(stats.loc[tw.source, "mean_over_persons"])
    return SlopeScales(
        to_original=float(prepared.slope_to_original(tx.column, ty.column)),
        sd_x_within=sd_x,
        sd_x_between=sd_b,
        sd_y=sd_y,
        sd_w=sd_w,
        mean_w=mean_w,
    )


def observed_range(terms: ModerationTerms, prepared: PreparedData) -> tuple[float, float]:
    """Smallest and largest raw moderator value over the persons in the data."""
    values = moderator_by_person(terms, prepared).to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise ModelError("No person has a finite moderator value.")
    low, high = float(values.min()), float(values.max())
    if not low < high:
        raise ModelError(
            f"The moderator takes one value ({low:g}) for every person; a slope cannot be "
            "traced over its range."
        )
    return low, high


def summarise_draws(
    draws: np.ndarray, prob: float, *, positive: bool = True
) -> list[dict[str, float]]:
    """Describe each column of a ``(n_draws, n_values)`` array of draws.

    Each entry holds ``mean, median, sd, ci_lower, ci_upper`` (equal-tailed ``prob``
    interval) and, when ``positive``, ``p_positive`` = share of draws above zero.
    """
    array = np.asarray(draws, dtype=float)
    rows = []
    for column in array.reshape(array.shape[0], -1).T:
        row = describe_draws(column, prob)
        if positive:
            row["p_positive"] = float(np.mean(column > 0))
        rows.append(row)
    return rows


def _check_range(w_range: Sequence[float]) -> tuple[float, float]:
    try:
        values = np.asarray(w_range, dtype=float)
    except (TypeError, ValueError) as exc:
        raise AmbidexError(f"w_range must be two numbers (low, high), got {w_range!r}.") from exc
    if values.shape != (2,) or not np.all(np.isfinite(values)) or not values[0] < values[1]:
        raise AmbidexError(
            f"w_range must be two finite numbers (low, high) with low < high, got {w_range!r}."
        )
    return float(values[0]), float(values[1])


def _check_points(n_points: int) -> int:
    if isinstance(n_points, bool) or not isinstance(n_points, int) or n_points < 2:
        raise AmbidexError(f"n_points must be an integer of at least 2, got {n_points!r}.")
    return n_points


@dataclass(frozen=True)
class ModerationCurve:
    """The posterior of the within-person slope along the moderator.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per grid value: ``moderator`` (raw), ``moderator_centred`` (as entered in
        the model), ``moderator_sd_units`` (SDs over persons from the mean over persons),
        ``mean, median, sd, ci_lower, ci_upper, p_positive`` of the slope and ``scale``.
        ``attrs``: ``ci_prob, x_name, y_name, moderator_name, which, scale,
        observed_min, observed_max, convention``.
    draws : xarray.DataArray
        Slope draws, dims ``(chain, draw, moderator)``; coordinate ``moderator`` = raw
        values.
    observed : pandas.Series
        Raw moderator value of every person (for a rug of the data under the curve).
    description : str
        Which slope, which units, in words.
    """

    table: pd.DataFrame
    draws: xr.DataArray
    observed: pd.Series
    description: str


def _scaled(slopes: SimpleSlopes, factor: float) -> np.ndarray:
    return slopes.draws.transpose(*SAMPLE_DIMS, "moderator").values * factor


def _standardised_words(description: str) -> str:
    return (
        f"Standardised scale ({STANDARDISED_CONVENTION}): the slopes described next, "
        f"multiplied by SD_x / SD_y. {description}"
    )


def standardise_simple_slopes(fit: Fitted, slopes: SimpleSlopes) -> SimpleSlopes:
    """Simple slopes on the standardised scale (see the module docstring).

    Every draw is multiplied by :math:`SD_x / SD_y`; the table is summarised again from
    the scaled draws and its ``scale`` column reads ``"standardised"``.

    Parameters
    ----------
    fit : Fitted
        The fit the slopes come from (its terms and prepared data give the SDs).
    slopes : SimpleSlopes
        Output of :func:`ambidex_bayes.results.simple_slopes` on ``fit`` (original units).

    Returns
    -------
    SimpleSlopes
    """
    if not isinstance(slopes, SimpleSlopes):
        raise AmbidexError(
            f"slopes must be the SimpleSlopes of simple_slopes, got {type(slopes).__name__}."
        )
    if slopes.draws.attrs.get("scale", "original") != "original":
        raise AmbidexError("These slopes are already standardised.")
    attrs = slopes.table.attrs
    # the pair the slopes were computed for (their source columns)
    _, terms, prepared = pair_parts(
        fit, "standardise_simple_slopes", attrs.get("x_name"), attrs.get("moderator_name")
    )
    factor = slope_scales(terms, prepared).within_to_standardised
    prob = float(slopes.draws.attrs.get("ci_prob", resolve_prob(None)))
    draws = (slopes.draws * factor).rename(slopes.draws.name)
    draws.attrs = {**slopes.draws.attrs, "scale": "standardised"}
    values = _scaled(slopes, factor)
    table = slopes.table.copy()
    for i, row in enumerate(summarise_draws(values.reshape(-1, values.shape[-1]), prob)):
        for key, value in row.items():
            table.loc[table.index[i], key] = value
    table["scale"] = "standardised"
    table.attrs = {**slopes.table.attrs, "convention": STANDARDISED_CONVENTION}
    description = _standardised_words(slopes.description)
    return SimpleSlopes(table=table, draws=draws, description=description, warnings=slopes.warnings)


def moderation_curve(
    fit: Fitted,
    *,
    n_points: int = 101,
    w_range: Sequence[float] | None = None,
    which: SlopeKind = "population",
    scale: Scale = "original",
    prob: float | None = None,
    seed: int | None = None,
    focal: str | None = None,
    moderator: str | None = None,
) -> ModerationCurve:
    r"""The within-person slope as a function of the moderator, with its credible band.

    At each of ``n_points`` evenly spaced raw moderator values :math:`W` (by default from
    the smallest to the largest value observed over persons) the slope's draws are those of
    :func:`ambidex_bayes.results.simple_slopes` at ``at=W`` (so ``which`` chooses the
    population slope, a new person's slope or the observed-persons average; see pitfall 4
    of the design notes), in original units or standardised (module docstring). Each value
    is summarised by mean, median, SD, the equal-tailed ``prob`` interval and
    :math:`P(\beta(W) > 0) = \frac1S\sum_s[\beta^{(s)}(W) > 0]`.

    Why not ``bambi.interpret.slopes``: with ``conditional={moderator: grid}`` its grid
    holds every unnamed covariate at one value, the person id included, so its "slope" is
    one observed person's slope :math:`\gamma_{10} + \gamma_{11}w + u_{1j}` for that
    person :math:`j`, not the population slope; its ``sample_new_groups`` option is
    deprecated in Bambi 0.21, and a new person's effects drawn by Bambi would ignore the
    intercept-slope correlation this toolkit estimates. The slope is linear in the
    parameters, so it is computed exactly from the draws instead.

    Parameters
    ----------
    fit : Fitted
        The fit (:class:`~ambidex_bayes.fit.FitResult`, or
        :class:`~ambidex_bayes.posterior.PosteriorDraws`): posterior, terms and the
        data the model was fitted on.
        Needs a slope and a moderator.
    n_points : int
        Number of moderator values (at least 2).
    w_range : (float, float), optional
        Raw moderator range; default the observed range over persons.
    which : {"population", "new_person", "observed_average"}
        Which slope (see :func:`ambidex_bayes.results.simple_slopes`).
    scale : {"original", "standardised"}
        Units of the slope.
    prob : float, optional
        Width of the credible band; default ``constants.CI_PROB`` at call time.
    seed : int, optional
        Seed for ``which="new_person"``.
    focal : str, optional
        The level-1 predictor, by column name (e.g. ``"uncertainty"``); default the first.
    moderator : str, optional
        The moderator, by column name (e.g. ``"leader_support"``); default the first.

    Returns
    -------
    ModerationCurve

    Raises
    ------
    ModelError
        If the model has no within-person slope or no moderator, or the moderator is a
        factor (its per-level slopes are :func:`ambidex_bayes.results.simple_slopes`).

    Examples
    --------
    ``m3`` is model M3 fitted to the example (``ab.fit(ab.load_spec("M3"), data)``); the
    curve runs over the moderator's observed range (1-5 ratings, here 2 to 5):

    >>> curve = ab.moderation_curve(m3, n_points=7)
    >>> curve.table["moderator"].tolist()
    [2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0]
    >>> list(curve.table.columns)
    ['moderator', 'moderator_centred', 'moderator_sd_units', 'mean', 'median', 'sd',
     'ci_lower', 'ci_upper', 'p_positive', 'scale']
    >>> ax = ab.plot_moderation_curve(curve)  # its plot twin
    """
    _, terms, prepared = pair_parts(fit, "moderation_curve", focal, moderator)
    refuse_factor(terms, "moderation_curve")
    check_scale(scale)
    n_points = _check_points(n_points)
    if terms.w_column is None:
        raise ModelError(
            "The model has no level-2 moderator (terms.w_column is None), so the slope "
            "cannot be traced along one. Use a model with a moderator (M3)."
        )
    prob = resolve_prob(prob)
    observed = moderator_by_person(terms, prepared)
    obs_low, obs_high = observed_range(terms, prepared)
    low, high = (obs_low, obs_high) if w_range is None else _check_range(w_range)
    grid = np.linspace(low, high, n_points)
    slopes = simple_slopes(
        fit,
        at=grid,
        which=which,
        prob=prob,
        seed=seed,
        warn=False,
        focal=focal,
        moderator=moderator,
    )
    scales = slope_scales(terms, prepared) if scale == "standardised" else None
    factor = scales.within_to_standardised if scales is not None else 1.0
    values = _scaled(slopes, factor)

    centred = slopes.table["moderator_centred"].to_numpy(dtype=float)
    draws = xr.DataArray(
        values,
        dims=(*SAMPLE_DIMS, "moderator"),
        coords={
            "chain": slopes.draws["chain"].values,
            "draw": slopes.draws["draw"].values,
            "moderator": grid,
            "moderator_centred": ("moderator", centred),
        },
        name="slope",
        attrs={"which": which, "scale": scale, "ci_prob": prob},
    )
    stats = prepared.moderator_stats
    source = observed.name
    if source in stats.index:
        mean_w = float(stats.loc[source, "mean_over_persons"])
        sd_w = float(stats.loc[source, "sd_over_persons"])
    else:
        mean_w = float(observed.mean())
        sd_w = float(observed.std(ddof=1))
    rows = summarise_draws(values.reshape(-1, n_points), prob)
    table = pd.DataFrame(rows)
    table.insert(0, "moderator", grid)
    table.insert(1, "moderator_centred", centred)
    table.insert(2, "moderator_sd_units", (grid - mean_w) / sd_w if sd_w > 0 else math.nan)
    table["scale"] = scale
    table = table[list(CURVE_COLUMNS)]
    table.attrs.update(
        {
            **slopes.table.attrs,
            "which": which,
            "scale": scale,
            "observed_min": obs_low,
            "observed_max": obs_high,
            "convention": STANDARDISED_CONVENTION if scale == "standardised" else "original",
        }
    )
    name = slopes.table.attrs.get("moderator_name") or "the moderator"
    parts = [
        slopes.description if scale == "original" else _standardised_words(slopes.description),
        f"The curve traces this slope over {n_points} values of {name} from {low:.3g} to "
        f"{high:.3g} (observed over persons: {obs_low:.3g} to {obs_high:.3g}), with its "
        f"median, {prob:.0%} credible band and P(slope > 0) at every value.",
    ]
    if w_range is not None and (low < obs_low or high > obs_high):
        parts.append(
            "Part of the range lies outside the observed values: there the curve is an "
            "extrapolation of the linear interaction."
        )
        ends = [v for v in (low, high) if not obs_low <= v <= obs_high]
        message = extrapolation_message(
            ends, extrapolation_of(ends, obs_low, obs_high), obs_low, obs_high, str(name)
        )
        if message is not None:
            message = f"The curve's range ({low:g} to {high:g}) goes beyond the data. " + message
            warnings.warn(message, ExtrapolationWarning, stacklevel=2)
            table.attrs["warnings"] = (message,)
    return ModerationCurve(table=table, draws=draws, observed=observed, description=" ".join(parts))
