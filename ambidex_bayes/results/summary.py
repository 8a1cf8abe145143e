"""Posterior summary of the moderation model's parameters, one row per parameter.

Every number here is computed from the posterior draws of one fit: means, medians, SDs and
equal-tailed credible intervals with numpy, the convergence diagnostics (rank-normalised
split R-hat, bulk and tail ESS) with ``arviz_stats``. The module also holds the small helpers
the other result modules share: reading the posterior out of a fit, fetching a named variable
with a clear error when it is missing, and describing a vector of draws.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import arviz_stats
import numpy as np
import pandas as pd
import xarray as xr

from ambidex_bayes import constants
from ambidex_bayes.errors import AmbidexError, ModelError
from ambidex_bayes.terms import ModerationTerms

__all__ = ["posterior_summary", "parameter_roles"]

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

#: Columns of :func:`posterior_summary`, in order.
SUMMARY_COLUMNS: tuple[str, ...] = (
    "parameter",
    "role",
    "mean",
    "sd",
    "median",
    "ci_lower",
    "ci_upper",
    "p_positive",
    "rhat",
    "ess_bulk",
    "ess_tail",
)


def parameter_roles(terms: ModerationTerms) -> dict[str, str]:
    """Map each posterior variable of the model to its role, in plain words.

    Parameters
    ----------
    terms : ModerationTerms
        Which posterior variable plays which role.

    Returns
    -------
    dict of str to str
        Variable name to role, in the order of the summary table: fixed effects
        (``terms.fixed``), SDs of the person effects, their correlation, the residual SD.
    """
    roles: dict[str, str] = {}
    named = (
        (terms.intercept, "intercept"),
        (terms.slope, "within-person slope"),
        (
            terms.between,
            "between-person effect of the person mean (minus the within slope: contextual)",
        ),
        (terms.moderator, "moderator effect on the intercept"),
        (terms.interaction, "cross-level interaction"),
    )
    for name, role in named:
        if name is not None:
            roles[name] = role
    for name in terms.other_fixed:
        roles.setdefault(name, "other fixed effect")
    for name, role in (
        (terms.group_intercept_sd, "SD of person intercepts"),
        (terms.group_slope_sd, "SD of person slopes"),
        (terms.correlation, "correlation of person intercepts and slopes"),
        (terms.sigma, "residual SD"),
    ):
        if name is not None:
            roles[name] = role
    return roles


def posterior_summary(
    idata: Any, terms: ModerationTerms, *, prob: float | None = None
) -> pd.DataFrame:
    r"""Summarise the posterior of every fixed effect, person-effect SD, correlation and sigma.

    For a parameter with posterior draws :math:`\theta^{(s)}`, :math:`s = 1..S` (all chains
    pooled), the table reports the mean, SD and median of the draws, the equal-tailed
    credible interval :math:`[q_{(1-p)/2}, q_{(1+p)/2}]` of width ``prob`` = :math:`p`, and
    for fixed effects the posterior probability that the effect is positive,
    :math:`P(\theta > 0) \approx \frac{1}{S}\sum_s [\theta^{(s)} > 0]`. Convergence is
    reported by the rank-normalised split R-hat and the bulk and tail effective sample
    sizes (``arviz_stats.rhat``, ``arviz_stats.ess``).

    Values are on the scale the model was fitted on (the prepared, possibly standardised
    columns); :func:`ambidex_bayes.results.simple_slopes` reports slopes in original units.

    Parameters
    ----------
    idata : xarray.DataTree
        The fit's posterior, with a ``posterior`` group of dims ``(chain, draw)``.
    terms : ModerationTerms
        Which posterior variable plays which role.
    prob : float, optional
        Width of the credible intervals, in (0, 1). Defaults to ``constants.CI_PROB``,
        read at call time.

    Returns
    -------
    pandas.DataFrame
        One row per parameter (a vector-valued fixed effect, e.g. a categorical control,
        gives one row per level, named ``"name[level]"``), with columns ``parameter, role,
        mean, sd, median, ci_lower, ci_upper, p_positive, rhat, ess_bulk, ess_tail``.
        ``p_positive`` is NaN for SDs, the correlation and sigma. ``attrs["ci_prob"]``
        holds the interval width.

    Raises
    ------
    ModelError
        If ``terms`` names a variable the posterior does not have.
    """
    prob = resolve_prob(prob)
    posterior = posterior_dataset(idata)
    fixed = set(terms.fixed)
    rows: list[dict[str, Any]] = []
    for name, role in parameter_roles(terms).items():
        da = get_variable(posterior, name, role)
        # constant draws give NaN here (0/0); the convergence report says so in words
        with np.errstate(invalid="ignore", divide="ignore"):
            rhat = arviz_stats.rhat(da)
            ess_bulk = arviz_stats.ess(da, method="bulk")
            ess_tail = arviz_stats.ess(da, method="tail")
        for label, selection in _elements(da):
            values = da.isel(selection).values.reshape(-1)
            row: dict[str, Any] = {"parameter": label, "role": role}
            row.update(describe_draws(values, prob))
            row["p_positive"] = float(np.mean(values > 0)) if name in fixed else math.nan
            row["rhat"] = float(rhat.isel(selection))
            row["ess_bulk"] = float(ess_bulk.isel(selection))
            row["ess_tail"] = float(ess_tail.isel(selection))
            rows.append(row)
    table = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    table.attrs["ci_prob"] = prob
    return table


# --- helpers shared by the result modules -------------------------------------------------


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


def _elements(da: xr.DataArray) -> Iterator[tuple[str, dict[str, int]]]:
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
