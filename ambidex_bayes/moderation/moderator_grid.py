r"""The moderator values at which slopes and predictions are evaluated, and how far they lie
from the data.

:func:`moderator_grid` places the level-2 moderator :math:`W` at raw values, at percentiles
over persons or at :math:`\bar W + k\,s_W`, and gives the value entered in the model,
:math:`w_c = (W - c) / s`, with the centre :math:`c` and scale :math:`s` of the moderator
column's transform. :func:`moderator_by_person` reads each person's raw moderator value back
from the prepared rows; :func:`extrapolation_of` and :func:`extrapolation_message` flag
values outside the range observed over persons. :func:`transform_of` and
:func:`refuse_nonfinite` are the checks the moderation modules share.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ambidex_bayes import constants
from ambidex_bayes.errors import AmbidexError, ModelError

if TYPE_CHECKING:
    from ambidex_bayes.prepare import PreparedData, Transform
    from ambidex_bayes.terms import ModerationTerms

__all__ = [
    "EXTRAPOLATION_LEVELS",
    "NO_MODERATOR_LABEL",
    "ExtrapolationWarning",
    "extrapolation_message",
    "extrapolation_of",
    "moderator_by_person",
    "moderator_grid",
    "observed_moderator_range",
    "refuse_nonfinite",
    "transform_of",
]

#: Values of the ``extrapolation`` column: inside the moderator's observed range over
#: persons, outside it, or more than ``constants.EXTRAPOLATION_FAR`` range widths outside.
EXTRAPOLATION_LEVELS: tuple[str, ...] = ("none", "outside", "far outside")

#: Label used when the model has no moderator at all.
NO_MODERATOR_LABEL = "no moderator"


class ExtrapolationWarning(UserWarning):
    """Slopes were asked for at moderator values outside the range observed over persons."""


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
