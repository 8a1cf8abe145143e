"""Reading a posterior: what an analysis takes, the variable playing a role, its draws.

Every analysis of :mod:`ambidex_bayes.results` and :mod:`ambidex_bayes.moderation` takes one
object first: a :class:`Fitted`, anything with the posterior (``idata``), the names of the
parameters by role (``terms``) and the data the model was fitted on (``prepared``).
:class:`ambidex_bayes.fit.FitResult` is one; :class:`PosteriorDraws` holds the same three
pieces for draws that come from elsewhere (prior draws, simulations, fake posteriors in
tests). So a notebook writes ``simple_slopes(m3)`` as it writes ``psis_loo(m3)``.

Next to that, the small helpers every analysis module shares: the posterior group of a fit,
a named variable with a clear error when it is missing, the credible-interval width resolved
at call time, and the description of a vector of draws. A leaf of the package: at run time
it imports only :mod:`ambidex_bayes.constants`, :mod:`ambidex_bayes.errors` and
:mod:`ambidex_bayes.terms`; :class:`~ambidex_bayes.prepared_data.PreparedData` is named for type
checkers only.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import xarray as xr

from ambidex_bayes import constants
from ambidex_bayes.errors import AmbidexError, ModelError
from ambidex_bayes.terms import ModerationTerms

if TYPE_CHECKING:
    from ambidex_bayes.prepared_data import PreparedData

__all__ = [
    "Fitted",
    "PosteriorDraws",
    "fitted_parts",
    "SAMPLE_DIMS",
    "DRAW_SUMMARY_COLUMNS",
    "resolve_prob",
    "posterior_dataset",
    "get_variable",
    "get_scalar",
    "describe_draws",
    "elements",
    "without_internal",
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


@runtime_checkable
class Fitted(Protocol):
    """What every analysis takes first: a posterior with its parameter names and its data.

    Any object with these three attributes will do (structural typing):
    :class:`ambidex_bayes.fit.FitResult` (a fit, fresh or loaded from a file) and
    :class:`PosteriorDraws` (draws from elsewhere) are the two in the package.

    Attributes
    ----------
    idata : xarray.DataTree
        The draws: a ``posterior`` group with dims ``(chain, draw)`` (a prior-draws tree
        may hold prior draws in that group, see :class:`PosteriorDraws`).
    terms : ModerationTerms
        Which posterior variable plays which role (slope, interaction, SDs, ...).
    prepared : PreparedData
        The data the model was fitted on: transforms back to original units, moderator
        values of the persons, the rows.
    """

    @property
    def idata(self) -> xr.DataTree:
        """The draws, with a ``posterior`` group."""
        ...

    @property
    def terms(self) -> ModerationTerms:
        """Which posterior variable plays which role."""
        ...

    @property
    def prepared(self) -> PreparedData:
        """The data the model was fitted on."""
        ...


@dataclass(frozen=True)
class PosteriorDraws:
    """Draws that do not come from a fit, in the form every analysis takes (a :class:`Fitted`).

    Use it for prior draws (``xr.DataTree.from_dict({"posterior": prior})``, so that the
    analyses read them as they read a posterior), simulated draws, or a fake posterior of
    known draws in a test::

        draws = PosteriorDraws(idata=tree, terms=terms, prepared=prepared)
        simple_slopes(draws, at=[2.0, 4.0])

    Attributes
    ----------
    idata : xarray.DataTree
        The draws, in a ``posterior`` group with dims ``(chain, draw)``.
    terms : ModerationTerms
        Which variable of the draws plays which role.
    prepared : PreparedData
        The data the draws belong to (for moderator values and units).
    """

    idata: xr.DataTree
    terms: ModerationTerms
    prepared: PreparedData


def fitted_parts(fit: Fitted, function: str) -> tuple[xr.DataTree, ModerationTerms, PreparedData]:
    """The posterior, terms and prepared data of ``fit``, or a clear error when it is no fit.

    Parameters
    ----------
    fit : Fitted
        A :class:`~ambidex_bayes.fit.FitResult` or :class:`PosteriorDraws`.
    function : str
        Name of the calling analysis, for the message.

    Returns
    -------
    tuple of (xarray.DataTree, ModerationTerms, PreparedData)

    Raises
    ------
    AmbidexError
        If ``fit`` lacks ``idata``, ``terms`` or ``prepared`` (e.g. the posterior alone
        was passed, in the earlier ``(idata, terms, prepared)`` convention), or its
        ``terms`` are not :class:`~ambidex_bayes.terms.ModerationTerms`.
    """
    missing = [name for name in ("idata", "terms", "prepared") if not hasattr(fit, name)]
    if missing:
        raise AmbidexError(
            f"{function} takes the fit first: a FitResult (from fit or load_fit), or "
            "PosteriorDraws(idata=..., terms=..., prepared=...) for draws from elsewhere. "
            f"Got {type(fit).__name__}, which has no "
            f"{', '.join(missing)}. Write {function}(fit, ...), not "
            f"{function}(fit.idata, fit.terms, fit.prepared, ...)."
        )
    if not isinstance(fit.terms, ModerationTerms):
        raise AmbidexError(
            f"{function}: fit.terms must be the ModerationTerms of the model, got "
            f"{type(fit.terms).__name__}."
        )
    return fit.idata, fit.terms, fit.prepared


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


def without_internal(posterior: xr.Dataset) -> xr.Dataset:
    """The posterior without internal variables (names starting with "_") and their dims."""
    internal = [v for v in posterior.data_vars if str(v).startswith("_")]
    posterior = posterior.drop_vars(internal)
    used = {dim for var in posterior.data_vars.values() for dim in var.dims}
    return posterior.drop_dims([d for d in posterior.dims if d not in used])
