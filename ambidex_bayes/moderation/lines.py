r"""The study's figure data: predicted outcome against the level-1 predictor, at low and high
values of the moderator, on the original scales.

For a person whose person mean of :math:`x` equals the average person mean
:math:`\bar{\bar x}`, with person effects at zero and moderator value :math:`w_c`,

.. math::

    \mu(x) = \gamma_{00} + \gamma_{01} w_c + \gamma_{02} \bar x_c
             + (\gamma_{10} + \gamma_{11} w_c)\,\frac{x - \bar{\bar x}}{s_x},

computed per posterior draw and mapped back to the outcome's original scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr

from ambidex_bayes.errors import AmbidexError, ModelError
from ambidex_bayes.moderation.factor_levels import coded_effect, level_grid
from ambidex_bayes.moderation.pair import pair_parts
from ambidex_bayes.moderation.slopes import moderator_grid, transform_of
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

__all__ = ["moderation_lines", "default_x_range"]

#: Columns of :func:`moderation_lines`, in order.
LINE_COLUMNS: tuple[str, ...] = (
    "x",
    "moderator_label",
    "moderator",
    "mean",
    "ci_lower",
    "ci_upper",
)


def _average_person_mean(terms: ModerationTerms, prepared: PreparedData) -> float:
    """Mean over persons of the raw person means of the level-1 predictor."""
    source = transform_of(prepared, terms.x_column, "level-1 predictor").source
    person_means = prepared.person_means
    if source not in person_means.columns:
        raise ModelError(
            f"prepared.person_means has no column for the level-1 predictor {source!r} "
            f"(columns: {', '.join(map(repr, person_means.columns)) or 'none'})."
        )
    values = person_means[source].to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise ModelError(f"prepared.person_means[{source!r}] holds no finite person means.")
    return float(np.mean(values))


def _within_sd(terms: ModerationTerms, prepared: PreparedData) -> float:
    """Pooled within-person SD of the level-1 predictor on its raw scale."""
    transform = transform_of(prepared, terms.x_column, "level-1 predictor")
    if terms.x_column not in prepared.frame.columns:
        raise ModelError(
            f"The prepared frame has no column {terms.x_column!r} (the within-person centred "
            "level-1 predictor)."
        )
    deviations = prepared.frame[terms.x_column].to_numpy(dtype=float) * float(transform.scale)
    deviations = deviations[np.isfinite(deviations)]
    n_persons = len(prepared.person_means)
    dof = deviations.size - n_persons
    if dof <= 0:
        raise ModelError(
            f"Cannot estimate the within-person SD of {transform.source!r}: "
            f"{deviations.size} rows for {n_persons} persons. Pass x_range=(low, high)."
        )
    return float(np.sqrt(np.sum(deviations**2) / dof))


def default_x_range(
    terms: ModerationTerms, prepared: PreparedData, *, width: float = 2.0
) -> tuple[float, float]:
    r"""Default range of the level-1 predictor for the moderation figure.

    :math:`\bar{\bar x} \pm \text{width} \cdot s_w`, where :math:`\bar{\bar x}` is the mean
    over persons of the raw person means and :math:`s_w` the pooled within-person SD,
    :math:`s_w^2 = \sum_{ij} (x_{ij} - \bar x_j)^2 / (N - J)`. The range is clipped to the
    predictor's declared range (``prepared.mapping.ranges``) when there is one.

    Parameters
    ----------
    terms : ModerationTerms
        Names the within-person centred predictor column.
    prepared : PreparedData
        The data the model was fitted on.
    width : float
        Half-width in within-person SDs.

    Returns
    -------
    tuple of float
        ``(low, high)`` on the predictor's raw scale.
    """
    centre = _average_person_mean(terms, prepared)
    spread = width * _within_sd(terms, prepared)
    low, high = centre - spread, centre + spread
    source = transform_of(prepared, terms.x_column, "level-1 predictor").source
    declared = prepared.mapping.ranges.get(source)
    if declared is not None:
        low, high = max(low, float(declared[0])), min(high, float(declared[1]))
    if not low < high:
        raise ModelError(
            f"The default range of {source!r} ({low:g} to {high:g}) is empty; the predictor "
            "does not vary within persons. Pass x_range=(low, high)."
        )
    return (low, high)


def _check_x_range(x_range: Sequence[float]) -> tuple[float, float]:
    try:
        values = np.asarray(x_range, dtype=float)
    except (TypeError, ValueError) as exc:
        raise AmbidexError(f"x_range must be two numbers (low, high), got {x_range!r}.") from exc
    if values.shape != (2,) or not np.all(np.isfinite(values)) or not values[0] < values[1]:
        raise AmbidexError(
            f"x_range must be two finite numbers (low, high) with low < high, got {x_range!r}."
        )
    return (float(values[0]), float(values[1]))


def moderation_lines(
    fit: Fitted,
    *,
    at: Sequence[float] | None = None,
    sds: Sequence[float] = (-1.0, 1.0),
    n_points: int = 50,
    prob: float | None = None,
    x_range: Sequence[float] | None = None,
    focal: str | None = None,
    moderator: str | None = None,
) -> pd.DataFrame:
    r"""Predicted outcome against the level-1 predictor at low and high moderator values.

    For each moderator value :math:`w_c` (centred, in model units; see
    :func:`ambidex_bayes.results.moderator_grid`), each value :math:`x` of the level-1
    predictor on its raw scale and each posterior draw :math:`s`,

    .. math::

        \mu^{(s)}(x) = \gamma_{00}^{(s)} + \gamma_{01}^{(s)} w_c + \gamma_{02}^{(s)} \bar x_c
                 + (\gamma_{10}^{(s)} + \gamma_{11}^{(s)} w_c)\,\frac{x - \bar{\bar x}}{s_x}

    for a person whose person mean equals the average person mean :math:`\bar{\bar x}`,
    with person effects at zero (a typical person), where :math:`s_x` is the predictor's
    scale (1 unless standardised). When the model has a between-person term,
    :math:`\bar x_c` is that average person mean in the between column's units, i.e. 0 when
    the person means are centred at their mean over persons: the line belongs to a person
    at the average person mean. Other fixed effects (controls) are held at 0, their centred
    value. The prediction is returned on the outcome's original scale,
    :math:`\mu \cdot s_y + c_y` with the outcome transform's scale and centre (a detrended
    outcome is shown at the person's mean occasion, where the removed trend is zero).

    Parameters
    ----------
    fit : Fitted
        The fit (:class:`~ambidex_bayes.fit.FitResult`, or
        :class:`~ambidex_bayes.posterior.PosteriorDraws`): posterior, terms and the
        data the model was fitted on.
    at : sequence of float, optional
        Raw moderator values; default: mean over persons plus ``sds`` SDs over persons.
    sds : sequence of float
        Multiples of the moderator's SD over persons; default ``(-1, 1)``.
    n_points : int
        Number of values of x per line (at least 2).
    prob : float, optional
        Width of the credible bands; defaults to ``constants.CI_PROB`` at call time.
    x_range : (float, float), optional
        Range of x on its raw scale; default :func:`default_x_range`.
    focal : str, optional
        The level-1 predictor, by column name (e.g. ``"uncertainty"``); default the first.
    moderator : str, optional
        The moderator, by column name (e.g. ``"leader_support"``); default the first.
        With a factor moderator there is one line per level (``at`` and ``sds`` do not
        apply): its main effects shift the level and its interactions the slope.

    Returns
    -------
    pandas.DataFrame
        Columns ``x, moderator_label, moderator, mean, ci_lower, ci_upper``, one row per
        moderator value and x. ``attrs`` holds ``ci_prob``, ``x_name``, ``y_name``,
        ``moderator_name`` and ``person_mean`` (the average person mean used).

    Raises
    ------
    ModelError
        If the model has no within-person slope, or a variable or transform is missing.
    """
    idata, terms, prepared = pair_parts(fit, "moderation_lines", focal, moderator)
    factor_moderator = terms.factor_moderator
    if terms.slope is None or terms.x_column is None:
        raise ModelError(
            "The model has no within-person slope term (terms.slope is None); the moderation "
            "figure plots the outcome against the level-1 predictor and needs one."
        )
    if terms.intercept is None:
        raise ModelError("The model has no intercept; predicted outcome levels need one.")
    moderator_terms = [n for n in (terms.moderator, terms.interaction) if n is not None]
    moderator_terms += [*terms.moderator_terms, *terms.interaction_terms]
    if moderator_terms and terms.w_column is None:
        raise ModelError(
            f"The model has moderator term(s) {moderator_terms} but the terms name no "
            "moderator column (terms.w_column is None); cannot place the moderator."
        )
    if isinstance(n_points, bool) or not isinstance(n_points, int) or n_points < 2:
        raise AmbidexError(f"n_points must be an integer of at least 2, got {n_points!r}.")
    prob = resolve_prob(prob)
    posterior = posterior_dataset(idata)
    if factor_moderator:
        grid = level_grid(terms, asked=at is not None)
    else:
        grid = moderator_grid(terms, prepared, at=at, sds=sds)

    tx = transform_of(prepared, terms.x_column, "level-1 predictor")
    ty = transform_of(prepared, terms.y_column, "outcome")
    person_mean = _average_person_mean(terms, prepared)
    low, high = default_x_range(terms, prepared) if x_range is None else _check_x_range(x_range)
    x = np.linspace(low, high, n_points)
    x_model = xr.DataArray((x - person_mean) / float(tx.scale), dims="x")
    wc = xr.DataArray(grid["moderator_centred"].to_numpy(dtype=float), dims="moderator")

    level = get_scalar(posterior, terms.intercept, "intercept")
    slope = get_scalar(posterior, terms.slope, "within-person slope")
    if factor_moderator:
        for total, names, role in (
            ("level", terms.moderator_terms, "moderator effect"),
            ("slope", terms.interaction_terms, "cross-level interaction"),
        ):
            shift = coded_effect(posterior, names, terms, role)
            if shift is None:
                continue
            if total == "level":
                level = level + shift
            else:
                slope = slope + shift
    if terms.moderator is not None:
        level = level + get_scalar(posterior, terms.moderator, "moderator effect") * wc
    if terms.interaction is not None:
        slope = slope + get_scalar(posterior, terms.interaction, "cross-level interaction") * wc
    if terms.between is not None:
        between_c = 0.0
        if terms.between in prepared.transforms:
            tb = prepared.transforms[terms.between]
            between_c = (person_mean - float(tb.centre)) / float(tb.scale)
        level = level + get_scalar(posterior, terms.between, "between-person effect") * between_c

    mu = level + slope * x_model
    mu = mu.broadcast_like(wc).transpose(*SAMPLE_DIMS, "moderator", "x")
    y = mu.values * float(ty.scale) + float(ty.centre)
    y = y.reshape(-1, len(grid), n_points)
    q = np.quantile(y, [(1.0 - prob) / 2.0, (1.0 + prob) / 2.0], axis=0)
    mean = y.mean(axis=0)

    n_mod = len(grid)
    table = pd.DataFrame(
        {
            "x": np.tile(x, n_mod),
            "moderator_label": np.repeat(grid["moderator_label"].to_numpy(dtype=object), n_points),
            "moderator": np.repeat(grid["moderator"].to_numpy(dtype=float), n_points),
            "mean": mean.reshape(-1),
            "ci_lower": q[0].reshape(-1),
            "ci_upper": q[1].reshape(-1),
        },
        columns=list(LINE_COLUMNS),
    )
    if factor_moderator:
        w_name = terms.w_column
    elif terms.w_column is not None:
        w_name = transform_of(prepared, terms.w_column, "moderator").source
    else:
        w_name = None
    table.attrs.update(
        {
            "ci_prob": prob,
            "x_name": tx.source,
            "y_name": ty.source,
            "moderator_name": w_name,
            "person_mean": person_mean,
        }
    )
    return table
