r"""Simple slopes: the within-person slope of the outcome on the level-1 predictor at chosen
values of the level-2 moderator, with its full posterior.

In the moderation model

.. math::

    y_{ij} = \gamma_{00} + \gamma_{01} W_j + (\gamma_{10} + \gamma_{11} W_j + u_{1j})
             (x_{ij} - \bar x_j) + u_{0j} + e_{ij}

the slope of a person with moderator value :math:`w` (centred at the mean over persons) is
:math:`\gamma_{10} + \gamma_{11} w + u_{1j}`. Which :math:`u_{1j}` is meant must be said;
this module offers three answers (see :func:`simple_slopes`), and the differences between
slopes at two moderator values (:func:`slope_differences`). Where the moderator values come
from is :mod:`ambidex_bayes.moderation.moderator_grid`. With a factor moderator the slopes
are given at each level and their differences are the pairwise contrasts of the levels
(:mod:`ambidex_bayes.moderation.factor_levels`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from ambidex_bayes import constants
from ambidex_bayes.errors import AmbidexError, ModelError
from ambidex_bayes.moderation.factor_levels import (
    coded_effect,
    describe_levels,
    factor_attrs,
    level_grid,
    level_pairs,
    p_direction,
)
from ambidex_bayes.moderation.moderator_grid import (
    EXTRAPOLATION_LEVELS,
    NO_MODERATOR_LABEL,
    ExtrapolationWarning,
    extrapolation_message,
    extrapolation_of,
    moderator_by_person,
    moderator_grid,
    observed_moderator_range,
    refuse_nonfinite,
    transform_of,
)
from ambidex_bayes.moderation.pair import pair_parts
from ambidex_bayes.posterior import (
    DRAW_SUMMARY_COLUMNS,
    SAMPLE_DIMS,
    Fitted,
    describe_draws,
    get_scalar,
    get_variable,
    posterior_dataset,
    resolve_prob,
)
from ambidex_bayes.terms import ModerationTerms

# The moderator grid, its extrapolation flags and the shared checks live in
# :mod:`ambidex_bayes.moderation.moderator_grid`; they are re-exported here, where the other
# moderation modules and the tests import them.
__all__ = [
    "EXTRAPOLATION_LEVELS",
    "NO_MODERATOR_LABEL",
    "ExtrapolationWarning",
    "SimpleSlopes",
    "simple_slopes",
    "moderator_grid",
    "moderator_by_person",
    "observed_moderator_range",
    "extrapolation_of",
    "extrapolation_message",
    "refuse_nonfinite",
    "transform_of",
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
    focal: str | None = None,
    moderator: str | None = None,
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
    focal : str, optional
        The level-1 predictor, by column name (e.g. ``"uncertainty"``); default the first.
    moderator : str, optional
        The moderator, by column name (e.g. ``"leader_support"``); default the first. For a
        factor moderator the slopes are given at each of its levels (``at``, ``sds`` and
        ``percentiles`` do not apply).

    Returns
    -------
    SimpleSlopes
        The table, the draws, a description in words and the warnings. With a factor
        moderator, one row per level (``moderator_label`` is the level, ``moderator`` and
        ``moderator_centred`` are NaN) with the probability of direction ``p_direction``
        added, and ``attrs`` also holding ``moderator_kind`` (``"factor"``), ``levels``,
        ``reference`` and ``contrast``: with treatment coding the slope at the reference
        level is :math:`\gamma_{10}` and at level :math:`l` it is
        :math:`\gamma_{10} + \gamma_{11,l}`; with sum coding the level coded -1 has
        :math:`\gamma_{10} - \sum_c \gamma_{11,c}`.

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
    idata, terms, prepared = pair_parts(fit, "simple_slopes", focal, moderator)
    factor_moderator = terms.factor_moderator
    if which not in _KINDS:
        raise AmbidexError(f"which must be one of {_KINDS}, got {which!r}.")
    if terms.slope is None or terms.x_column is None:
        raise ModelError(
            "The model has no within-person slope term (terms.slope is None), so there is no "
            "slope to evaluate. Simple slopes need a model with the within-person predictor "
            "(M1 or later)."
        )
    if terms.moderated and terms.w_column is None:
        raise ModelError(
            f"The model has a cross-level interaction {terms.interaction!r} but the terms "
            "name no moderator column (terms.w_column is None); cannot place the moderator."
        )
    prob = resolve_prob(prob)
    posterior = posterior_dataset(idata)
    if factor_moderator:
        grid = level_grid(terms, asked=at is not None or percentiles is not None)
    else:
        grid = moderator_grid(terms, prepared, at=at, sds=sds, percentiles=percentiles)

    g10 = get_scalar(posterior, terms.slope, "within-person slope")
    slope = g10.expand_dims(moderator=len(grid)).transpose(*SAMPLE_DIMS, "moderator")
    if factor_moderator:
        shift = coded_effect(posterior, terms.interaction_terms, terms, "cross-level interaction")
        if shift is not None:
            slope = slope + shift
    elif terms.interaction is not None:
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
    if factor_moderator:
        w_name = terms.w_column
    elif terms.w_column is not None:
        w_name = transform_of(prepared, terms.w_column, "moderator").source
    else:
        w_name = None
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

    observed = None if factor_moderator else observed_moderator_range(terms, prepared)
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
        if factor_moderator:
            row["p_direction"] = p_direction(values)
        rows.append(row)
    columns = [*SLOPE_COLUMNS, "p_direction"] if factor_moderator else list(SLOPE_COLUMNS)
    table = pd.DataFrame(rows, columns=columns)
    table.attrs.update(
        {
            "ci_prob": prob,
            "x_name": x_name,
            "y_name": y_name,
            "moderator_name": w_name,
            "observed_range": observed,
        }
    )
    if factor_moderator:
        table.attrs.update(factor_attrs(terms))
        description = describe_levels(which, terms, x_name, y_name, has_random_slope)
    else:
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
        For the per-level slopes of a factor moderator the default pairs are every pair of
        levels (later level minus earlier one, the pairwise contrasts),
        ``moderator_difference`` is NaN and ``p_direction`` (the probability of direction)
        is added.

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
    by_level = table.attrs.get("moderator_kind") == "factor"
    if pairs is None and by_level:
        chosen = level_pairs(len(labels))
    elif pairs is None:
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
        if by_level:
            row["p_direction"] = p_direction(diff)
        rows.append(row)
    columns = [*DIFFERENCE_COLUMNS, "p_direction"] if by_level else list(DIFFERENCE_COLUMNS)
    out = pd.DataFrame(rows, columns=columns)
    out.attrs.update(dict(table.attrs))
    out.attrs["ci_prob"] = prob
    return out
