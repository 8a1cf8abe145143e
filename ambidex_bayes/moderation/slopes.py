r"""Simple slopes: the within-person slope of the outcome on the level-1 predictor at chosen
values of the level-2 moderator, with its full posterior.

In the moderation model

.. math::

    y_{ij} = \gamma_{00} + \gamma_{01} W_j + (\gamma_{10} + \gamma_{11} W_j + u_{1j})
             (x_{ij} - \bar x_j) + u_{0j} + e_{ij}

the slope of a person with moderator value :math:`w` (centred at the mean over persons) is
:math:`\gamma_{10} + \gamma_{11} w + u_{1j}`. Which :math:`u_{1j}` is meant must be said;
this module offers three answers (see :func:`simple_slopes`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from ambidex_bayes import constants
from ambidex_bayes.errors import AmbidexError, ModelError
from ambidex_bayes.posterior import (
    DRAW_SUMMARY_COLUMNS,
    SAMPLE_DIMS,
    Fitted,
    describe_draws,
    fitted_parts,
    get_scalar,
    get_variable,
    posterior_dataset,
    resolve_prob,
)
from ambidex_bayes.terms import ModerationTerms

if TYPE_CHECKING:
    from ambidex_bayes.prepare import PreparedData, Transform

__all__ = [
    "ExtrapolationWarning",
    "SimpleSlopes",
    "simple_slopes",
    "moderator_grid",
    "moderator_by_person",
    "slope_differences",
    "SlopeKind",
]

SlopeKind = Literal["population", "new_person", "observed_average"]
_KINDS: tuple[str, ...] = ("population", "new_person", "observed_average")

#: Columns of :attr:`SimpleSlopes.table`, in order.
SLOPE_COLUMNS: tuple[str, ...] = (
    "moderator_label",
    "moderator",
    "moderator_centred",
    *DRAW_SUMMARY_COLUMNS,
    "which",
    "scale",
    "extrapolation",
)

#: Values of the ``extrapolation`` column: inside the moderator's observed range over
#: persons, outside it, or more than ``constants.EXTRAPOLATION_FAR`` range widths outside.
EXTRAPOLATION_LEVELS: tuple[str, ...] = ("none", "outside", "far outside")

#: Label used when the model has no moderator at all.
NO_MODERATOR_LABEL = "no moderator"

#: Columns of :func:`slope_differences`, in order.
DIFFERENCE_COLUMNS: tuple[str, ...] = (
    "contrast",
    "high_label",
    "low_label",
    "high",
    "low",
    "moderator_difference",
    *DRAW_SUMMARY_COLUMNS,
    "which",
    "scale",
)


class ExtrapolationWarning(UserWarning):
    """Slopes were asked for at moderator values outside the range observed over persons."""


@dataclass(frozen=True)
class SimpleSlopes:
    """Posterior of the within-person slope at chosen moderator values.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per moderator value: ``moderator_label`` (e.g. ``"-1 SD"``, ``"mean"``,
        ``"+1 SD"``, ``"at 3.5"``), ``moderator`` (raw value), ``moderator_centred`` (the
        value entered in the model: centred at the mean over persons, and divided by the
        moderator's SD if it was standardised), ``mean, median, sd, ci_lower, ci_upper,
        p_positive`` of the slope in original units of the outcome per original unit of the
        predictor, ``which`` (the kind of slope), ``scale`` (``"original"``) and
        ``extrapolation`` (``"none"``, ``"outside"`` or ``"far outside"`` the moderator's
        observed range over persons; see :func:`extrapolation_of`). ``attrs`` holds
        ``ci_prob``, ``x_name``, ``y_name``, ``moderator_name`` and ``observed_range``.
    draws : xarray.DataArray
        Slope draws, dims ``(chain, draw, moderator)``, coordinate ``moderator`` = the
        labels, with ``moderator_value`` and ``moderator_centred`` along it.
    description : str
        Which slope this is, in words.
    warnings : tuple of str
        What the reader must know, in words (moderator values outside the observed range).
    """

    table: pd.DataFrame
    draws: xr.DataArray
    description: str
    warnings: tuple[str, ...] = ()


def transform_of(prepared: PreparedData, column: str | None, role: str) -> Transform:
    """Transform of a prepared column, or a :class:`ModelError` naming what is missing."""
    if column is None:
        raise ModelError(f"The model terms name no {role} column; it is needed here.")
    transforms = prepared.transforms
    if column not in transforms:
        raise ModelError(
            f"The prepared data have no transform for the {role} column {column!r} "
            f"(columns with transforms: {', '.join(map(repr, transforms)) or 'none'}). "
            "Check that the ModerationTerms and the prepared data come from the same fit."
        )
    return transforms[column]


def _label_for_sd(k: float) -> str:
    if k == 0:
        return "mean"
    return f"{k:+g} SD"


def _finite_numbers(values: Sequence[float], name: str) -> list[float]:
    if isinstance(values, str | bytes):
        raise AmbidexError(f"{name} must be a sequence of numbers, got {values!r}.")
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise AmbidexError(f"{name} must hold numbers only, got {values!r}.") from exc
    if array.ndim != 1:
        raise AmbidexError(
            f"{name} must be a flat sequence of numbers, e.g. [2.5, 4.0]; got {values!r}."
        )
    if array.size == 0:
        raise AmbidexError(f"{name} is empty; give at least one value.")
    if not np.all(np.isfinite(array)):
        raise AmbidexError(f"{name} must hold finite numbers; got {values!r}.")
    out = [float(v) for v in array]
    if len(set(out)) != len(out):
        raise AmbidexError(f"{name} repeats a value ({out}); give each value once.")
    return out


def moderator_by_person(terms: ModerationTerms, prepared: PreparedData) -> pd.Series:
    """The raw moderator value of every person in the prepared data, one value per person.

    Read from the moderator column the model uses (``terms.w_column``) and mapped back to
    the raw scale with its transform (``value * scale + centre``).

    Parameters
    ----------
    terms : ModerationTerms
        Names the moderator column.
    prepared : PreparedData
        The data the model was fitted on, with its rows.

    Returns
    -------
    pandas.Series
        Index: person id (str), in order of first appearance; values: raw moderator values.
        ``name`` is the moderator's raw column name.

    Raises
    ------
    ModelError
        If the model has no moderator, or the prepared rows lack the person or moderator
        column (e.g. prepared data restored without their rows).
    """
    transform = transform_of(prepared, terms.w_column, "moderator")
    person = prepared.roles.get("person", prepared.mapping.person)
    frame = prepared.frame
    missing = [c for c in (person, transform.column) if c not in frame.columns]
    if missing or len(frame) == 0:
        raise ModelError(
            f"The prepared data hold no rows with the column(s) {[person, transform.column]} "
            f"(missing: {missing or 'none'}; rows: {len(frame)}), so the moderator value of "
            "each person is unknown. Use the prepared data the model was fitted on, with its "
            "rows (a saved fit keeps them)."
        )
    centred = (
        frame[transform.column].astype("float64").groupby(frame[person].astype(str), sort=False)
    )
    per_person = centred.first() * float(transform.scale) + float(transform.centre)
    per_person.index = per_person.index.astype(str)
    per_person.index.name = person
    return per_person.rename(transform.source)


def observed_moderator_range(
    terms: ModerationTerms, prepared: PreparedData
) -> tuple[float, float] | None:
    """Smallest and largest raw moderator value over the persons, or None if unknown."""
    if terms.w_column is None:
        return None
    try:
        values = moderator_by_person(terms, prepared).to_numpy(dtype=float)
    except ModelError:  # prepared data without rows: the range is unknown, nothing to flag
        return None
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    return float(values.min()), float(values.max())


def extrapolation_of(values: Sequence[float], low: float, high: float) -> list[str]:
    """``"none"``, ``"outside"`` or ``"far outside"`` the range ``[low, high]`` per value.

    A value is far outside when its distance beyond the nearer end exceeds
    ``constants.EXTRAPOLATION_FAR`` times the width ``high - low`` (read at call time).
    """
    width = high - low
    out = []
    for value in values:
        beyond = max(low - value, value - high, 0.0)
        if beyond == 0.0:
            out.append("none")
        elif beyond > constants.EXTRAPOLATION_FAR * width:
            out.append("far outside")
        else:
            out.append("outside")
    return out


def extrapolation_message(
    values: Sequence[float], levels: Sequence[str], low: float, high: float, name: str
) -> str | None:
    """A warning in words for the values outside ``[low, high]``, or None if there are none."""
    outside = [(v, lev) for v, lev in zip(values, levels, strict=True) if lev != "none"]
    if not outside:
        return None

    def where(v: float) -> str:
        return (
            f"{v - high:.3g} above the largest" if v > high else f"{low - v:.3g} below the smallest"
        )

    shown = ", ".join(f"{v:g} ({where(v)})" for v, _ in outside[:6])
    more = f" and {len(outside) - 6} more" if len(outside) > 6 else ""
    far = [v for v, lev in outside if lev == "far outside"]
    text = (
        f"Moderator value(s) {shown}{more} lie outside the range of {name} observed over "
        f"persons ({low:.4g} to {high:.4g}): there the slope is an extrapolation of the "
        "linear cross-level interaction, which no person in the data supports."
    )
    if far:
        text += (
            f" {', '.join(f'{v:g}' for v in far[:6])} lie(s) more than "
            f"{constants.EXTRAPOLATION_FAR:g} x the observed range's width beyond it: those "
            "slopes are guesses, not estimates."
        )
    return text + " Choose values within the observed range to describe the data."


def refuse_nonfinite(values: np.ndarray, labels: Sequence[str], what: str, cause: str) -> None:
    """Raise a ModelError when ``values`` (draws x items) hold NaN or infinite numbers.

    ``labels`` name the items (columns), ``what`` the quantity and ``cause`` the likely
    reason, in words.
    """
    array = np.asarray(values, dtype=float)
    array = array.reshape(-1, array.shape[-1]) if array.ndim > 1 else array.reshape(-1, 1)
    bad = ~np.isfinite(array)
    if not bad.any():
        return
    items = [str(labels[i]) for i in np.flatnonzero(bad.any(axis=0))]
    shown = ", ".join(items[:6]) + (f" and {len(items) - 6} more" if len(items) > 6 else "")
    raise ModelError(
        f"The {what} is not a finite number in {int(bad.sum())} of {bad.size} draws (at "
        f"{shown}): {cause} A table of such values would be meaningless, so none is given."
    )


def _percentile_values(
    terms: ModerationTerms, prepared: PreparedData, percentiles: Sequence[float]
) -> tuple[list[float], list[str]]:
    wanted = _finite_numbers(percentiles, "percentiles")
    outside = [p for p in wanted if not 0.0 <= p <= 100.0]
    if outside:
        raise AmbidexError(
            f"percentiles must lie between 0 and 100 (e.g. [10, 50, 90]); got {outside}."
        )
    values = moderator_by_person(terms, prepared).to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise ModelError("No person has a finite moderator value; percentiles are undefined.")
    raw = [float(v) for v in np.percentile(values, wanted)]
    return raw, [f"P{p:g}" for p in wanted]


def moderator_grid(
    terms: ModerationTerms,
    prepared: PreparedData,
    *,
    at: Sequence[float] | None = None,
    sds: Sequence[float] = constants.SIMPLE_SLOPE_SDS,
    percentiles: Sequence[float] | None = None,
) -> pd.DataFrame:
    r"""Moderator values at which to evaluate slopes or predictions.

    With ``at`` the values are raw moderator values, labelled ``"at <value>"``. With
    ``percentiles`` they are percentiles of the moderator over persons (each person counted
    once, ``numpy.percentile``'s linear interpolation), labelled ``"P10"``, ``"P50"``...
    Otherwise they are :math:`\bar W + k\,s_W` for each ``k`` in ``sds``, where
    :math:`\bar W` and :math:`s_W` are the mean and SD of the moderator over persons on its
    raw scale (``prepared.moderator_stats``), labelled ``"-1 SD"``, ``"mean"``, ``"+1 SD"``...

    The value entered in the model is :math:`w_c = (W - c) / s`, with the centre :math:`c`
    and scale :math:`s` of the moderator column's transform.

    Parameters
    ----------
    terms : ModerationTerms
        Names the moderator column (``w_column``).
    prepared : PreparedData
        The data the model was fitted on.
    at : sequence of float, optional
        Raw moderator values.
    sds : sequence of float
        Multiples of the SD over persons, used when neither ``at`` nor ``percentiles`` is
        given.
    percentiles : sequence of float, optional
        Percentiles (0-100) of the moderator over persons; not together with ``at``.

    Returns
    -------
    pandas.DataFrame
        Columns ``moderator_label, moderator, moderator_centred``. When the model has no
        moderator column, one row labelled ``"no moderator"`` with NaN values.
    """
    if at is not None and percentiles is not None:
        raise AmbidexError(
            "Give either at= (raw moderator values) or percentiles= (percentiles over "
            "persons), not both."
        )
    if terms.w_column is None:
        chosen = "at=" if at is not None else "percentiles=" if percentiles is not None else None
        if chosen is not None:
            raise AmbidexError(
                f"{chosen} was given, but the model has no level-2 moderator column "
                "(terms.w_column is None), so there is nothing to set it to."
            )
        return pd.DataFrame(
            {
                "moderator_label": [NO_MODERATOR_LABEL],
                "moderator": [math.nan],
                "moderator_centred": [math.nan],
            }
        )
    transform = transform_of(prepared, terms.w_column, "moderator")
    if at is not None:
        _refuse_nonfinite_at(at, terms, prepared, transform.source)
        raw = _finite_numbers(at, "at")
        labels = [f"at {v:g}" for v in raw]
    elif percentiles is not None:
        raw, labels = _percentile_values(terms, prepared, percentiles)
    else:
        multiples = _finite_numbers(sds, "sds")
        stats = prepared.moderator_stats
        source = transform.source
        if source not in stats.index:
            raise ModelError(
                f"prepared.moderator_stats has no row for the moderator {source!r} "
                f"(rows: {', '.join(map(repr, stats.index)) or 'none'}); cannot place the "
                "moderator at its mean +/- SDs. Pass raw values with at=[...] instead."
            )
        mean = float(stats.loc[source, "mean_over_persons"])
        sd = float(stats.loc[source, "sd_over_persons"])
        raw = [mean + k * sd for k in multiples]
        labels = [_label_for_sd(k) for k in multiples]
    scale = float(transform.scale)
    centre = float(transform.centre)
    return pd.DataFrame(
        {
            "moderator_label": labels,
            "moderator": raw,
            "moderator_centred": [(v - centre) / scale for v in raw],
        }
    )


def _refuse_nonfinite_at(
    at: Sequence[float], terms: ModerationTerms, prepared: PreparedData, name: str
) -> None:
    """A clear error for NaN or infinite moderator values (``--at nan``, ``at=[inf]``)."""
    if isinstance(at, str | bytes):
        return  # _finite_numbers says what is wrong
    try:
        array = np.asarray(at, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        return
    bad = [float(v) for v in array if not math.isfinite(v)]
    if not bad:
        return
    observed = observed_moderator_range(terms, prepared)
    seen = (
        f" {name} was observed from {observed[0]:.4g} to {observed[1]:.4g} over persons."
        if observed is not None
        else ""
    )
    raise AmbidexError(
        f"Moderator values (at=, --at) must be finite numbers; got {', '.join(map(str, bad))}. "
        f"Give raw values of {name}, e.g. within its observed range.{seen}"
    )


def _describe(
    which: str,
    terms: ModerationTerms,
    x_name: str,
    y_name: str,
    w_name: str | None,
    has_random_slope: bool,
) -> str:
    units = f"in original units of {y_name} per one-unit change of {x_name} within a person"
    if which == "population":
        kind = (
            f"Population-level within-person slope of {y_name} on {x_name}, "
            "g10 + g11*w with the person effects set to zero: the slope of a typical "
            "person at each moderator value (its interval reflects uncertainty about the "
            "fixed effects only)"
        )
    elif which == "new_person":
        if has_random_slope:
            kind = (
                f"Predictive within-person slope of {y_name} on {x_name} for a new person "
                "at each moderator value, g10 + g11*w + u1_new with u1_new ~ N(0, tau1^2) "
                "drawn once per posterior draw (shared across moderator values): it adds "
                "the spread of slopes between persons, so its interval is wider than the "
                "population slope's and says where one new person's slope is likely to lie"
            )
        else:
            kind = (
                f"Within-person slope of {y_name} on {x_name} for a new person; the model "
                "has no person-specific slopes, so a new person's slope equals the "
                "population-level slope g10 + g11*w"
            )
    else:
        kind = (
            f"Within-person slope of {y_name} on {x_name} averaged over the observed "
            "persons at each moderator value, g10 + g11*w + mean_j(u1j): the population "
            "slope shifted by the average slope deviation of the persons in the data"
        )
    parts = [kind + ", " + units + "."]
    if w_name is None:
        parts.append("The model has no moderator, so there is one slope for everyone.")
    elif terms.interaction is None:
        parts.append(
            f"The model has no cross-level interaction, so the slope does not vary with "
            f"{w_name}: it is the same at every moderator value."
        )
    else:
        parts.append(f"Moderator values are raw values of {w_name}.")
    parts.append(
        "Person effects are handled explicitly, unlike a default bambi.interpret grid, which "
        "holds the person id at one level."
    )
    return " ".join(parts)


def simple_slopes(
    fit: Fitted,
    *,
    at: Sequence[float] | None = None,
    sds: Sequence[float] = constants.SIMPLE_SLOPE_SDS,
    which: SlopeKind = "population",
    prob: float | None = None,
    seed: int | None = None,
    percentiles: Sequence[float] | None = None,
    warn: bool = True,
) -> SimpleSlopes:
    r"""Posterior of the within-person slope at chosen moderator values.

    For a centred moderator value :math:`w_c` (see :func:`moderator_grid`) and every
    posterior draw :math:`s`, the slope on the model scale is

    - ``"population"``: :math:`\gamma_{10}^{(s)} + \gamma_{11}^{(s)} w_c` — person effects
      at zero; the slope of a typical person;
    - ``"new_person"``: :math:`\gamma_{10}^{(s)} + \gamma_{11}^{(s)} w_c + u^{(s)}` with
      :math:`u^{(s)} \sim N(0, \tau_1^{(s)2})` drawn once per draw (seeded) — the
      posterior predictive slope of a person not in the data with that moderator value; its
      interval also covers the spread of slopes between persons;
    - ``"observed_average"``: :math:`\gamma_{10}^{(s)} + \gamma_{11}^{(s)} w_c +
      \frac{1}{J}\sum_j u_{1j}^{(s)}` — the population slope plus the average slope
      deviation of the :math:`J` observed persons.

    Slopes are then converted to original units (outcome units per predictor unit) by
    multiplying with ``prepared.slope_to_original(x_column, y_column)``
    (:math:`s_y / s_x`). Without a cross-level interaction, the slope does not vary with
    the moderator; the description says so.

    This deliberately does not use ``bambi.interpret``'s default grid: it holds every
    covariate that is not named — the person id included — at one value, so its "simple
    slope" silently becomes the slope of one particular person.

    Parameters
    ----------
    fit : Fitted
        The fit (:class:`~ambidex_bayes.fit.FitResult`, or
        :class:`~ambidex_bayes.posterior.PosteriorDraws`): posterior, terms and the
        data the model was fitted on.
    at : sequence of float, optional
        Raw moderator values; default: mean over persons plus ``sds`` SDs over persons.
    sds : sequence of float
        Multiples of the moderator's SD over persons; default
        ``constants.SIMPLE_SLOPE_SDS``.
    which : {"population", "new_person", "observed_average"}
        Which slope (see above).
    prob : float, optional
        Width of the credible intervals; defaults to ``constants.CI_PROB`` at call time.
    seed : int, optional
        Seed of the draws of ``u1_new`` (``which="new_person"``); defaults to
        ``constants.SEED``.
    percentiles : sequence of float, optional
        Percentiles (0-100) of the moderator over persons at which to evaluate the slope,
        instead of ``at`` or ``sds`` (see :func:`moderator_grid`).
    warn : bool
        Emit an :class:`ExtrapolationWarning` when a moderator value lies outside the range
        observed over persons (the table's ``extrapolation`` column and the result's
        ``warnings`` say so either way).

    Returns
    -------
    SimpleSlopes
        The table, the draws, a description in words and the warnings.

    Raises
    ------
    ModelError
        If the model has no within-person slope term, if ``which="observed_average"`` and
        the model has no person slopes, if a named variable or transform is missing, or if
        a slope is not finite in some draw (non-finite draws of the fit, or a moderator
        value so extreme that the product overflows).
    AmbidexError
        If a moderator value is NaN or infinite.

    Examples
    --------
    ``m3`` is model M3 fitted to the example (``ab.fit(ab.load_spec("M3"), data)``). By
    default the population-level slope at -1 SD, the mean and +1 SD of the moderator over
    persons:

    >>> slopes = ab.simple_slopes(m3)
    >>> slopes.table[["moderator_label", "moderator"]].round(2)
      moderator_label  moderator
    0           -1 SD       2.74
    1            mean       3.46
    2           +1 SD       4.19
    >>> print(slopes.description)  # doctest: +ELLIPSIS
    Population-level within-person slope of innovation on uncertainty, g10 + g11*w ...

    At raw moderator values, for a new person (adds the spread of the person slopes):

    >>> new = ab.simple_slopes(m3, at=[2, 3, 4], which="new_person")
    >>> new.table[["moderator_label", "which"]]
      moderator_label       which
    0            at 2  new_person
    1            at 3  new_person
    2            at 4  new_person
    """
    idata, terms, prepared = fitted_parts(fit, "simple_slopes")
    if which not in _KINDS:
        raise AmbidexError(f"which must be one of {_KINDS}, got {which!r}.")
    if terms.slope is None or terms.x_column is None:
        raise ModelError(
            "The model has no within-person slope term (terms.slope is None), so there is no "
            "slope to evaluate. Simple slopes need a model with the within-person predictor "
            "(M1 or later)."
        )
    if terms.interaction is not None and terms.w_column is None:
        raise ModelError(
            f"The model has a cross-level interaction {terms.interaction!r} but the terms "
            "name no moderator column (terms.w_column is None); cannot place the moderator."
        )
    prob = resolve_prob(prob)
    posterior = posterior_dataset(idata)
    grid = moderator_grid(terms, prepared, at=at, sds=sds, percentiles=percentiles)

    g10 = get_scalar(posterior, terms.slope, "within-person slope")
    slope = g10.expand_dims(moderator=len(grid)).transpose(*SAMPLE_DIMS, "moderator")
    if terms.interaction is not None:
        g11 = get_scalar(posterior, terms.interaction, "cross-level interaction")
        wc = xr.DataArray(grid["moderator_centred"].to_numpy(dtype=float), dims="moderator")
        slope = slope + g11 * wc

    has_random_slope = terms.group_slope_sd is not None
    if which == "new_person" and has_random_slope:
        tau1 = get_scalar(posterior, terms.group_slope_sd, "SD of person slopes")
        rng = np.random.default_rng(constants.SEED if seed is None else seed)
        z = xr.DataArray(rng.standard_normal(tau1.shape), dims=SAMPLE_DIMS)
        slope = slope + tau1 * z
    elif which == "observed_average":
        if terms.group_slope is None:
            raise ModelError(
                "which='observed_average' needs person-specific slopes, and this model has "
                "none (terms.group_slope is None). Use which='population'."
            )
        u1 = get_variable(posterior, terms.group_slope, "person slope effects")
        if terms.person_dim not in u1.dims:
            raise ModelError(
                f"The person slope effects {terms.group_slope!r} lack the person dimension "
                f"{terms.person_dim!r} (dims: {list(u1.dims)})."
            )
        slope = slope + u1.mean(terms.person_dim)

    x_name = transform_of(prepared, terms.x_column, "level-1 predictor").source
    y_name = transform_of(prepared, terms.y_column, "outcome").source
    w_name = (
        transform_of(prepared, terms.w_column, "moderator").source
        if terms.w_column is not None
        else None
    )
    factor = float(prepared.slope_to_original(terms.x_column, terms.y_column))
    slope = (slope * factor).transpose(*SAMPLE_DIMS, "moderator")
    refuse_nonfinite(
        slope.values,
        grid["moderator_label"].tolist(),
        "simple slope",
        "the fit has non-finite draws of the slope, the interaction or the person effects, "
        "or a moderator value is so extreme that the slope overflows. Check the fit's "
        "convergence report and use moderator values near the observed range.",
    )
    slope = slope.assign_coords(
        moderator=grid["moderator_label"].to_list(),
        moderator_value=("moderator", grid["moderator"].to_numpy(dtype=float)),
        moderator_centred=("moderator", grid["moderator_centred"].to_numpy(dtype=float)),
    ).rename("simple_slope")
    slope.attrs = {"which": which, "scale": "original", "ci_prob": prob}

    observed = observed_moderator_range(terms, prepared)
    raw_values = grid["moderator"].to_numpy(dtype=float)
    if observed is not None and np.all(np.isfinite(raw_values)):
        levels = extrapolation_of(raw_values, *observed)
    else:
        levels = ["none"] * len(grid)
    notes: list[str] = []
    message = (
        extrapolation_message(raw_values, levels, *observed, w_name or "the moderator")
        if observed is not None and terms.interaction is not None
        else None
    )
    if message is not None:
        notes.append(message)
        if warn:
            warnings.warn(message, ExtrapolationWarning, stacklevel=2)

    rows = []
    for i, grid_row in enumerate(grid.itertuples(index=False)):
        values = slope.isel(moderator=i).values.reshape(-1)
        row: dict[str, Any] = {
            "moderator_label": grid_row.moderator_label,
            "moderator": grid_row.moderator,
            "moderator_centred": grid_row.moderator_centred,
        }
        row.update(describe_draws(values, prob))
        row["p_positive"] = float(np.mean(values > 0))
        row["which"] = which
        row["scale"] = "original"
        row["extrapolation"] = levels[i]
        rows.append(row)
    table = pd.DataFrame(rows, columns=list(SLOPE_COLUMNS))
    table.attrs.update(
        {
            "ci_prob": prob,
            "x_name": x_name,
            "y_name": y_name,
            "moderator_name": w_name,
            "observed_range": observed,
        }
    )
    description = _describe(which, terms, x_name, y_name, w_name, has_random_slope)
    if message is not None:
        description += " " + message
    return SimpleSlopes(table=table, draws=slope, description=description, warnings=tuple(notes))


def _position(labels: list[str], label: str) -> int:
    if label not in labels:
        raise AmbidexError(
            f"No simple slope is labelled {label!r}; the labels are {labels}. Pass pairs of "
            "these labels, e.g. [('+1 SD', '-1 SD')]."
        )
    return labels.index(label)


def slope_differences(
    slopes: SimpleSlopes,
    *,
    pairs: Sequence[tuple[str, str]] | None = None,
    prob: float | None = None,
) -> pd.DataFrame:
    r"""Posterior of differences between simple slopes, e.g. high minus low moderator.

    For two moderator values :math:`w_h` and :math:`w_l` the difference is computed per
    posterior draw from the slope draws themselves,

    .. math::

        \Delta^{(s)} = \beta^{(s)}(w_h) - \beta^{(s)}(w_l)
                     = \gamma_{11}^{(s)}\,(w_{c,h} - w_{c,l}) \cdot \frac{s_y}{s_x},

    which for population slopes is the cross-level interaction times the distance between
    the two moderator values, in the slopes' units. For ``which="new_person"`` and
    ``"observed_average"`` the person part is shared by both values and cancels, so the
    difference is the same as for population slopes.

    Parameters
    ----------
    slopes : SimpleSlopes
        Output of :func:`simple_slopes`, with at least two moderator values.
    pairs : sequence of (str, str), optional
        ``(high_label, low_label)`` pairs of moderator labels (``slopes.table`` column
        ``moderator_label``). Default: the highest moderator value minus the lowest.
    prob : float, optional
        Width of the credible intervals; defaults to the width the slopes were summarised
        with.

    Returns
    -------
    pandas.DataFrame
        One row per pair: ``contrast`` (e.g. ``"+1 SD − -1 SD"``), ``high_label``,
        ``low_label``, ``high`` and ``low`` (raw moderator values), ``moderator_difference``
        (raw), ``mean, median, sd, ci_lower, ci_upper, p_positive`` of the difference,
        ``which`` and ``scale`` (copied from the slopes). ``attrs`` as the slopes' table.

    Raises
    ------
    AmbidexError
        If fewer than two moderator values are given, or a label is unknown.
    """
    if not isinstance(slopes, SimpleSlopes):
        raise AmbidexError(
            f"slopes must be the SimpleSlopes returned by simple_slopes, got "
            f"{type(slopes).__name__}."
        )
    table = slopes.table
    if len(table) < 2:
        raise AmbidexError(
            "Differences need at least two moderator values; these slopes have "
            f"{len(table)}. Evaluate the slopes at two or more values (e.g. sds=(-1, 1))."
        )
    prob = resolve_prob(prob if prob is not None else slopes.draws.attrs.get("ci_prob"))
    labels = [str(v) for v in table["moderator_label"]]
    values = table["moderator"].to_numpy(dtype=float)
    if pairs is None:
        order = np.argsort(values, kind="stable")
        chosen = [(int(order[-1]), int(order[0]))]
    else:
        chosen = []
        for pair in pairs:
            if isinstance(pair, str) or len(pair) != 2:
                raise AmbidexError(
                    f"Each pair must be (high_label, low_label), got {pair!r}; labels: {labels}."
                )
            chosen.append((_position(labels, str(pair[0])), _position(labels, str(pair[1]))))
    draws = slopes.draws.transpose(*SAMPLE_DIMS, "moderator").values
    rows = []
    for high, low in chosen:
        diff = (draws[..., high] - draws[..., low]).reshape(-1)
        row: dict[str, Any] = {
            "contrast": f"{labels[high]} \u2212 {labels[low]}",
            "high_label": labels[high],
            "low_label": labels[low],
            "high": values[high],
            "low": values[low],
            "moderator_difference": values[high] - values[low],
        }
        row.update(describe_draws(diff, prob))
        row["p_positive"] = float(np.mean(diff > 0))
        row["which"] = table["which"].iloc[0]
        row["scale"] = table["scale"].iloc[0]
        rows.append(row)
    out = pd.DataFrame(rows, columns=list(DIFFERENCE_COLUMNS))
    out.attrs.update(dict(table.attrs))
    out.attrs["ci_prob"] = prob
    return out
