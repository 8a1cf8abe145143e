"""Reading a posterior: the variable playing a role, its draws, their description.

The small helpers every analysis module shares: the posterior group of a fit, a named
variable with a clear error when it is missing, the credible-interval width resolved at call
time, and the description of a vector of draws. A leaf of the package: it imports only
:mod:`ambidex_bayes.constants` and :mod:`ambidex_bayes.errors`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import xarray as xr

from ambidex_bayes import constants
from ambidex_bayes.errors import AmbidexError, ModelError

__all__ = [
    "SAMPLE_DIMS",
    "DRAW_SUMMARY_COLUMNS",
    "resolve_prob",
    "posterior_dataset",
    "get_variable",
    "get_scalar",
    "describe_draws",
    "elements",
]

#: Dimensions that index posterior draws.
SAMPLE_DIMS: tuple[str, str] = ("chain", "draw")

#: Columns describing the draws of one quantity, in the order result tables show them
#: (:func:`describe_draws` plus the share of draws above zero).
DRAW_SUMMARY_COLUMNS: tuple[str, ...] = (
    "mean",
    "median",
    "sd",
    "ci_lower",
    "ci_upper",
    "p_positive",
)


def resolve_prob(prob: float | None) -> float:
    """Return ``prob`` or, when ``None``, ``constants.CI_PROB`` as it is now; check (0, 1)."""
    value = constants.CI_PROB if prob is None else prob
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AmbidexError(f"prob must be a number between 0 and 1 (e.g. 0.95), got {value!r}.")
    if not 0.0 < float(value) < 1.0:
        raise AmbidexError(
            f"prob must lie strictly between 0 and 1 (e.g. 0.95 for a 95% interval), got {value!r}."
        )
    return float(value)


def posterior_dataset(idata: Any) -> xr.Dataset:
    """Return the ``posterior`` group of a fit as an :class:`xarray.Dataset`.

    Accepts an :class:`xarray.DataTree` with a ``posterior`` group, an object with a
    ``posterior`` attribute, or a posterior :class:`xarray.Dataset` itself.
    """
    if isinstance(idata, xr.DataTree):
        if "posterior" not in idata.children:
            groups = ", ".join(sorted(idata.children)) or "none"
            raise ModelError(
                f"The fit has no 'posterior' group (groups present: {groups}). "
                "Pass the DataTree returned by the fit, after sampling."
            )
        posterior = idata["posterior"].to_dataset()
    elif isinstance(idata, xr.Dataset):
        posterior = idata
    elif hasattr(idata, "posterior"):
        return posterior_dataset(idata.posterior)
    else:
        raise ModelError(
            f"Expected the fit's posterior as an xarray.DataTree with a 'posterior' group, "
            f"got {type(idata).__name__}."
        )
    missing = [d for d in SAMPLE_DIMS if d not in posterior.dims]
    if missing:
        raise ModelError(
            f"The posterior lacks the dimension(s) {missing}; draws must be indexed by "
            f"{SAMPLE_DIMS}. Dimensions present: {sorted(map(str, posterior.dims))}."
        )
    return posterior


def get_variable(posterior: xr.Dataset, name: str | None, role: str) -> xr.DataArray:
    """Fetch posterior variable ``name`` (playing ``role``), or say clearly that it is missing."""
    if name is None:
        raise ModelError(f"The model has no {role}; it is needed here.")
    if name not in posterior.data_vars:
        present = ", ".join(repr(str(v)) for v in posterior.data_vars)
        raise ModelError(
            f"The posterior has no variable {name!r} (the {role}). Variables present: "
            f"{present}. Check that the ModerationTerms belong to this fit."
        )
    return posterior[name]


def get_scalar(posterior: xr.Dataset, name: str | None, role: str) -> xr.DataArray:
    """Like :func:`get_variable`, for a variable that must have only ``(chain, draw)`` dims."""
    da = get_variable(posterior, name, role)
    extra = [d for d in da.dims if d not in SAMPLE_DIMS]
    if extra:
        raise ModelError(
            f"The posterior variable {name!r} (the {role}) has extra dimension(s) {extra}; "
            "a single value per draw was expected."
        )
    return da.transpose(*SAMPLE_DIMS)


def describe_draws(values: np.ndarray, prob: float) -> dict[str, float]:
    """Mean, SD (ddof=1), median and equal-tailed ``prob`` interval of a flat vector of draws."""
    values = np.asarray(values, dtype=float).reshape(-1)
    lower, upper = np.quantile(values, [(1.0 - prob) / 2.0, (1.0 + prob) / 2.0])
    return {
        "mean": float(np.mean(values)),
        "sd": float(np.std(values, ddof=1)) if values.size > 1 else math.nan,
        "median": float(np.median(values)),
        "ci_lower": float(lower),
        "ci_upper": float(upper),
    }


def elements(da: xr.DataArray) -> Iterator[tuple[str, dict[str, int]]]:
    """Yield a label and an ``isel`` selection per element of a variable's non-sample dims."""
    extra = [d for d in da.dims if d not in SAMPLE_DIMS]
    if not extra:
        yield str(da.name), {}
        return
    shape = tuple(da.sizes[d] for d in extra)
    for index in np.ndindex(shape):
        selection = dict(zip(extra, index, strict=True))
        parts = []
        for dim, i in selection.items():
            coord = da[dim].values[i] if dim in da.coords else i
            parts.append(str(coord))
        yield f"{da.name}[{', '.join(parts)}]", selection
