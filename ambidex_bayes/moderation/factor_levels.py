r"""A factor moderator: its levels as the moderator grid, and the coded sums of its effects.

A factor with :math:`K` levels enters the model as :math:`K-1` contrast columns with
coding matrix :math:`C` (:attr:`~ambidex_bayes.terms.ModerationTerms.moderator_coding`; one
row per level). The within-person slope at level :math:`l` is

.. math::

    \beta_l = \gamma_{10} + \sum_c C_{lc}\,\gamma_{11,c},

so with treatment coding the slope at the reference level is :math:`\gamma_{10}` and at
level :math:`l` it is :math:`\gamma_{10} + \gamma_{11,l}`; with sum coding
:math:`\gamma_{10}` is the mean of the level slopes and the level coded :math:`-1` has
:math:`\gamma_{10} - \sum_c \gamma_{11,c}`. The intercept shifts the same way with the
moderator's main effects :math:`\gamma_{01,c}`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ambidex_bayes.errors import AmbidexError, ModelError
from ambidex_bayes.posterior import SAMPLE_DIMS, get_scalar
from ambidex_bayes.terms import ModerationTerms

# Helpers of the slope analyses, not analyses themselves: nothing public.
__all__: list[str] = []


def level_grid(terms: ModerationTerms, *, asked: bool = False) -> pd.DataFrame:
    """The moderator grid of a factor: one row per level, in the factor's order.

    Parameters
    ----------
    terms : ModerationTerms
        Terms with a factor moderator.
    asked : bool
        Whether moderator values were asked for (``at``, ``percentiles``): refused, since a
        factor has levels, not values.

    Returns
    -------
    pandas.DataFrame
        Columns ``moderator_label`` (the level), ``moderator`` and ``moderator_centred``
        (NaN: a level has no numeric value).
    """
    if asked:
        raise AmbidexError(
            f"The moderator {terms.w_column!r} is a factor: its slopes are given at each of its "
            f"levels ({', '.join(terms.moderator_levels)}), not at numeric values. Leave out "
            "at, percentiles and sds."
        )
    n = len(terms.moderator_levels)
    return pd.DataFrame(
        {
            "moderator_label": list(terms.moderator_levels),
            "moderator": np.full(n, np.nan),
            "moderator_centred": np.full(n, np.nan),
        }
    )


def coded_effect(
    posterior: xr.Dataset, names: tuple[str, ...], terms: ModerationTerms, role: str
) -> xr.DataArray | None:
    r"""Per level, the coded sum :math:`\sum_c C_{lc}\,\beta_c` of one effect per contrast column.

    Parameters
    ----------
    posterior : xarray.Dataset
        The posterior.
    names : tuple of str
        The effects, one per contrast column (``terms.interaction_terms`` or
        ``terms.moderator_terms``); empty when the model lacks them.
    terms : ModerationTerms
        Terms with a factor moderator (the coding matrix).
    role : str
        What the effects are, for the messages.

    Returns
    -------
    xarray.DataArray or None
        Dims ``(chain, draw, moderator)``, one value per level; None without the effects.
    """
    if not names:
        return None
    coding = np.asarray(terms.moderator_coding, dtype=float)
    if coding.shape != (len(terms.moderator_levels), len(names)):
        raise ModelError(
            f"The coding of the factor {terms.w_column!r} has shape {coding.shape}, but there "
            f"are {len(terms.moderator_levels)} levels and {len(names)} {role} terms."
        )
    effects = xr.concat(
        [get_scalar(posterior, name, role) for name in names], dim="contrast"
    ).transpose(*SAMPLE_DIMS, "contrast")
    matrix = xr.DataArray(coding, dims=("moderator", "contrast"))
    return (effects * matrix).sum("contrast").transpose(*SAMPLE_DIMS, "moderator")


def p_direction(values: np.ndarray) -> float:
    """Probability of direction: the larger of the shares of draws above and below zero."""
    values = np.asarray(values, dtype=float).reshape(-1)
    return float(max(np.mean(values > 0), np.mean(values < 0)))


def level_pairs(n_levels: int) -> list[tuple[int, int]]:
    """Every pair of levels ``(later, earlier)``, in the levels' order (all pairwise contrasts)."""
    return [(b, a) for a in range(n_levels) for b in range(a + 1, n_levels)]


def factor_attrs(terms: ModerationTerms) -> dict[str, object]:
    """What a table of per-level slopes records about the factor (its ``attrs``)."""
    return {
        "moderator_kind": "factor",
        "levels": tuple(terms.moderator_levels),
        "reference": terms.moderator_reference,
        "contrast": terms.moderator_contrast,
    }


_KIND_WORDS = {
    "population": "population-level (person effects at zero)",
    "new_person": "predictive, for a new person (adds the spread of slopes between persons)",
    "observed_average": "averaged over the observed persons",
}


def describe_levels(
    which: str, terms: ModerationTerms, x_name: str, y_name: str, has_random_slope: bool
) -> str:
    """The per-level slopes of a factor moderator, in words."""
    levels = ", ".join(terms.moderator_levels)
    kind = _KIND_WORDS.get(which, which)
    if which == "new_person" and not has_random_slope:
        kind = "for a new person, equal to the population-level slope (no person slopes)"
    parts = [
        f"Within-person slope of {y_name} on {x_name} at each level of the factor "
        f"{terms.w_column} ({levels}), {kind}, in original units of {y_name} per one-unit "
        f"change of {x_name} within a person."
    ]
    if not terms.interaction_terms:
        parts.append(
            f"The model has no interaction of {x_name} with {terms.w_column}, so the slope is "
            "the same at every level."
        )
    elif terms.moderator_contrast == "sum":
        parts.append(
            f"Sum coding: g10 is the mean of the level slopes; the level "
            f"{terms.moderator_reference} (coded -1) has g10 minus the sum of the interaction "
            "terms, every other level g10 plus its own."
        )
    else:
        parts.append(
            f"Treatment coding: g10 is the slope at the reference level "
            f"{terms.moderator_reference}; each other level adds its interaction term."
        )
    parts.append(
        "p_direction is the probability of direction (the larger of P(slope > 0) and "
        "P(slope < 0)); slope_differences gives the contrasts between levels."
    )
    return " ".join(parts)
