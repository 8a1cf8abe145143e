r"""How a prepared column was made from a raw one, and the SDs used to standardise.

A :class:`Transform` records the centre, scale and detrend slope of one created column, so
that new rows can be transformed the same way and results turned back into raw units.

Standard deviations (``ddof=1``) are computed on the values divided by their largest
magnitude :math:`a = \max|v|`, as :math:`a \cdot SD(v / a)`, so that the squares neither
overflow nor underflow (:func:`robust_sd`). An SD at or below :data:`NO_VARIANCE_RTOL` of
that magnitude is rounding noise (values equal but for rounding, such as ``0.1 + 0.2`` and
``0.3``) and counts as no variance, which cannot be standardised (:func:`standardising_sd`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ambidex_bayes.errors import DataError, SpecError

__all__ = [
    "TRANSFORM_KINDS",
    "NO_VARIANCE_RTOL",
    "Transform",
    "largest_magnitude",
    "robust_sd",
    "standardising_sd",
]

#: The kinds of :class:`Transform`.
TRANSFORM_KINDS = (
    "within_centred",
    "person_mean",
    "grand_centred",
    "outcome",
    "control",
    "factor_contrast",
)

#: A standard deviation at or below this fraction of the largest absolute value it was
#: computed from is rounding noise (values that are equal in exact arithmetic), not variance.
NO_VARIANCE_RTOL = 1e-12


@dataclass(frozen=True)
class Transform:
    """How one column of the prepared frame was made from a raw column.

    The prepared value is ``(raw - centre - detrend_slope * t_c) / scale``, where for
    ``within_centred`` the centre is the person's own mean (``centre`` is 0.0 here) and
    ``t_c`` is the occasion centred within person (only when detrended).

    Attributes
    ----------
    column
        Column created in the prepared frame.
    source
        Raw column it came from.
    kind
        One of :data:`TRANSFORM_KINDS`.
    centre
        Value subtracted.
    scale
        Value divided by after centring (1.0 unless standardised).
    detrend_slope
        Slope per occasion removed when detrending (0.0 if none).
    """

    column: str
    source: str
    kind: str
    centre: float
    scale: float
    detrend_slope: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in TRANSFORM_KINDS:
            raise SpecError(
                f"unknown transform kind {self.kind!r}; expected one of {TRANSFORM_KINDS}"
            )


def largest_magnitude(values: pd.Series) -> float:
    """Largest absolute value (0.0 for no values)."""
    v = np.abs(values.to_numpy(dtype="float64"))
    return float(np.nanmax(v)) if np.isfinite(v).any() else 0.0


def robust_sd(values: pd.Series) -> float:
    r"""Standard deviation (``ddof=1``), computed as :math:`a \cdot SD(v / a)` with
    :math:`a = \max|v|`, so that the squares neither overflow nor underflow. NaN for fewer
    than two values."""
    v = values.to_numpy(dtype="float64")
    v = v[~np.isnan(v)]
    if len(v) < 2:
        return float("nan")
    top = float(np.max(np.abs(v)))
    if top == 0:
        return 0.0
    return float(np.std(v / top, ddof=1)) * top


def standardising_sd(values: pd.Series, what: str, *, reference: pd.Series | None = None) -> float:
    """SD of ``values`` for standardising, or a DataError when it is 0 or rounding noise.

    ``reference``: the raw values ``values`` were computed from (default ``values``); an SD
    at or below ``NO_VARIANCE_RTOL`` times their largest magnitude counts as no variance.
    """
    sd = robust_sd(values)
    ref = largest_magnitude(values if reference is None else reference)
    if not (math.isfinite(sd) and sd > 0 and sd > NO_VARIANCE_RTOL * ref):
        raise DataError(
            f"cannot standardise {what}: it has no variance in the rows used; "
            "prepare without standardize=True"
        )
    return sd
