"""Which (level-1 predictor, moderator) pair an analysis reads: the ``focal=``/``moderator=``
options every moderation analysis shares.

A fit carries the terms of its first level-1 predictor and first moderator;
:func:`pair_parts` gives an analysis the posterior, the terms of the pair it was asked for
(:func:`ambidex_bayes.model.moderation_roles.terms_for`) and the prepared data, and
:func:`refuse_factor` stops the analyses that need a numeric moderator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ambidex_bayes.errors import ModelError
from ambidex_bayes.model.moderation_roles import terms_for
from ambidex_bayes.posterior import Fitted, fitted_parts
from ambidex_bayes.terms import ModerationTerms

if TYPE_CHECKING:
    import xarray as xr

    from ambidex_bayes.prepared_data import PreparedData

# Helpers of the analyses, not analyses themselves: nothing public.
__all__: list[str] = []


def pair_parts(
    fit: Fitted, function: str, focal: str | None, moderator: str | None
) -> tuple[xr.DataTree, ModerationTerms, PreparedData]:
    """The posterior, the terms of the chosen pair and the prepared data of ``fit``.

    Parameters
    ----------
    fit : Fitted
        The fit.
    function : str
        Name of the calling analysis, for the messages.
    focal, moderator : str or None
        The level-1 predictor and the moderator, by column name; None for the first.

    Returns
    -------
    tuple of (xarray.DataTree, ModerationTerms, PreparedData)
        ``fit.terms`` itself for the first pair of a model with numeric moderators.

    Raises
    ------
    AmbidexError
        If ``fit`` is no fit, or a name is not a predictor or moderator of it.
    ModelError
        If the predictor asked for is in the data but not in the model.
    """
    idata, _, prepared = fitted_parts(fit, function)
    terms = terms_for(fit, focal, moderator)
    if focal is not None and terms.slope is None:
        raise ModelError(
            f"{function}: the model has no within-person slope of {focal!r} (no term "
            f"{terms.x_column!r} in its formula), so there is no slope of it to analyse. Fit "
            "a model whose formula includes it (e.g. {x1_within} for the second level-1 "
            "predictor), or choose another focal predictor."
        )
    return idata, terms, prepared


def refuse_factor(terms: ModerationTerms, function: str) -> None:
    """Stop an analysis along a numeric moderator when the moderator is a factor.

    Raises
    ------
    ModelError
        With the per-level slopes to use instead.
    """
    if terms.factor_moderator:
        levels = ", ".join(terms.moderator_levels)
        raise ModelError(
            f"{function}: the moderator {terms.w_column!r} is a factor (levels {levels}), so "
            "the slope has one value per level, not a course along a numeric moderator. Use "
            f"the per-level slopes: simple_slopes(fit, moderator={terms.w_column!r}) and "
            "their contrasts with slope_differences (command: ambidex-bayes slopes FIT "
            f"--moderator {terms.w_column})."
        )
