r"""Within and between: the within-person effect next to the between-person and contextual
effects, when the model includes the person means of the level-1 predictor.

With the predictor split into its within-person part :math:`x_{ij} - \bar x_j` and the
person mean :math:`\bar x_j` (centred over persons), the fixed part of the model reads

.. math::

    \ldots + \gamma_{10}\,(x_{ij} - \bar x_j) + \gamma_{02}\,\bar x_j + \ldots

- the **within-person effect** :math:`\gamma_{10}`: how a person's outcome changes on days
  when the person's own predictor is one unit above their usual level (with a cross-level
  interaction: at the mean moderator over persons, :math:`w_c = 0`);
- the **between-person effect** :math:`\gamma_{02}`, the coefficient of the person mean:
  how the average outcome differs between persons whose person means differ by one unit;
- the **contextual effect** :math:`\gamma_{02} - \gamma_{10}`: the difference between
  persons whose person means differ by one unit *on a day with the same raw value of the
  predictor*. Because the within part is centred within person, raising :math:`\bar x_j`
  by one with :math:`x_{ij}` fixed lowers :math:`x_{ij} - \bar x_j` by one, so the effect
  is :math:`\gamma_{02} - \gamma_{10}` (with grand-mean centring instead, the coefficient
  of the person mean would be the contextual effect itself).

All three are computed per posterior draw in original units first (outcome units per raw
unit of the predictor, :math:`\gamma_{10} s_y/s_w` and :math:`\gamma_{02} s_y/s_b` with the
columns' scales), so the difference is meaningful also when the within part and the person
means were standardised by different SDs. Standardised: the within effect is multiplied by
:math:`SD_x/SD_y` (the within-person SD over rows, see
:mod:`ambidex_bayes.moderation.curve`), the between and contextual effects by
:math:`SD_{\bar x}/SD_y` with :math:`SD_{\bar x}` the SD of the person means over persons.

**Lüdtke bias.** With few diaries per person the observed person mean is an unreliable
measure of the person's true mean; the between-person and contextual effects are then
biased (the between slope is pulled toward the within slope) and their intervals too
narrow, while the within-person effect is not affected. The reliability of the person means
and any warning of :func:`ambidex_bayes.prepare.prepare` about it travel with the result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from ambidex_bayes.errors import ModelError
from ambidex_bayes.moderation.curve import (
    STANDARDISED_CONVENTION,
    Scale,
    check_scale,
    slope_scales,
    summarise_draws,
)
from ambidex_bayes.moderation.pair import pair_parts
from ambidex_bayes.moderation.slopes import transform_of
from ambidex_bayes.posterior import (
    DRAW_SUMMARY_COLUMNS,
    SAMPLE_DIMS,
    Fitted,
    get_scalar,
    posterior_dataset,
    resolve_prob,
)

__all__ = ["WithinBetween", "within_between"]

#: Columns of :attr:`WithinBetween.table`, in order.
EFFECT_COLUMNS: tuple[str, ...] = (
    "effect",
    "meaning",
    *DRAW_SUMMARY_COLUMNS,
    "scale",
)


@dataclass(frozen=True)
class WithinBetween:
    """The within-person, between-person and contextual effects of the level-1 predictor.

    Attributes
    ----------
    table : pandas.DataFrame
        Rows ``"within"``, ``"between"``, ``"contextual"`` with ``meaning`` in words and
        ``mean, median, sd, ci_lower, ci_upper, p_positive`` and ``scale``.
        ``attrs``: ``ci_prob, x_name, y_name, scale, reliability``.
    draws : xarray.Dataset
        Variables ``within``, ``between``, ``contextual``, dims ``(chain, draw)``, in the
        table's units.
    reliability : float
        Reliability of the observed person means (NaN when unknown).
    warnings : tuple of str
        Warnings of the prepared data about the person means of this predictor.
    description : str
        The effects and their caveats in words.
    """

    table: pd.DataFrame
    draws: xr.Dataset
    reliability: float
    warnings: tuple[str, ...]
    description: str


def within_between(
    fit: Fitted,
    *,
    prob: float | None = None,
    scale: Scale = "original",
    focal: str | None = None,
    moderator: str | None = None,
) -> WithinBetween:
    r"""Within-person, between-person and contextual effects, per posterior draw.

    See the module docstring for the definitions, units and the Lüdtke-bias caveat.

    Parameters
    ----------
    fit : Fitted
        The fit (:class:`~ambidex_bayes.fit.FitResult`, or
        :class:`~ambidex_bayes.posterior.PosteriorDraws`): posterior, terms and the
        data the model was fitted on.
        Needs the within-person slope and the person-mean term (``terms.between``).
    prob : float, optional
        Width of the credible intervals; default ``constants.CI_PROB`` at call time.
    scale : {"original", "standardised"}
        Units of the effects.
    focal : str, optional
        The level-1 predictor, by column name (e.g. ``"uncertainty"``); default the first.
    moderator : str, optional
        The moderator, by column name (e.g. ``"leader_support"``); default the first.

    Returns
    -------
    WithinBetween

    Raises
    ------
    ModelError
        If the model lacks the within-person slope or the person mean of the predictor.
    """
    idata, terms, prepared = pair_parts(fit, "within_between", focal, moderator)
    check_scale(scale)
    prob = resolve_prob(prob)
    if terms.slope is None or terms.x_column is None:
        raise ModelError(
            "The model has no within-person slope term (terms.slope is None); there is no "
            "within-person effect to compare."
        )
    if terms.between is None:
        raise ModelError(
            "The model has no person-mean term (terms.between is None), so the within- and "
            "between-person effects are not separated. Use a spec whose formula includes "
            "{x_between} (M1-M3 do)."
        )
    tx = transform_of(prepared, terms.x_column, "level-1 predictor")
    tb = transform_of(prepared, terms.between, "person mean of the level-1 predictor")
    ty = transform_of(prepared, terms.y_column, "outcome")
    if tb.kind != "person_mean" or tb.source != tx.source:
        raise ModelError(
            f"The between-person term {terms.between!r} is not the person mean of "
            f"{tx.source!r} (it comes from {tb.source!r}, kind {tb.kind!r}); the contextual "
            "effect compares the two parts of one predictor."
        )
    posterior = posterior_dataset(idata)
    g10 = get_scalar(posterior, terms.slope, "within-person slope")
    g02 = get_scalar(posterior, terms.between, "between-person effect")
    within = g10 * (float(ty.scale) / float(tx.scale))
    between = g02 * (float(ty.scale) / float(tb.scale))
    contextual = between - within
    if scale == "standardised":
        scales = slope_scales(terms, prepared)
        within = within * scales.within_to_standardised
        between = between * scales.between_to_standardised
        contextual = contextual * scales.between_to_standardised
    draws = xr.Dataset(
        {
            "within": within.transpose(*SAMPLE_DIMS),
            "between": between.transpose(*SAMPLE_DIMS),
            "contextual": contextual.transpose(*SAMPLE_DIMS),
        },
        attrs={"scale": scale, "ci_prob": prob},
    )
    at = " at the mean moderator over persons" if terms.interaction is not None else ""
    if terms.interaction_terms:
        at = (
            f" at the reference level {terms.moderator_reference} of {terms.w_column}"
            if terms.moderator_contrast == "treatment"
            else f" averaged over the levels of {terms.w_column}"
        )
    meanings = {
        "within": f"change on a day one unit above the person's own mean{at} (g10)",
        "between": "difference between persons whose person means differ by one unit (g02)",
        "contextual": (
            "difference between persons one unit apart in person mean, on a day with the "
            f"same value of {tx.source}{at} (g02 - g10)"
        ),
    }
    values = np.column_stack([draws[name].values.reshape(-1) for name in meanings])
    table = pd.DataFrame(summarise_draws(values, prob))
    table.insert(0, "effect", list(meanings))
    table.insert(1, "meaning", list(meanings.values()))
    table["scale"] = scale
    table = table[list(EFFECT_COLUMNS)]
    reliability = float(prepared.person_mean_reliability.get(tx.source, np.nan))
    table.attrs.update(
        {
            "ci_prob": prob,
            "x_name": tx.source,
            "y_name": ty.source,
            "scale": scale,
            "reliability": reliability,
        }
    )
    warnings = tuple(w for w in prepared.warnings if repr(tx.source) in w)

    rows = table.set_index("effect")
    units = (
        f"{ty.source} units per unit of {tx.source}"
        if scale == "original"
        else f"standardised units ({STANDARDISED_CONVENTION}; between and contextual "
        "effects use the SD of the person means over persons)"
    )
    text = [
        f"Effects of {tx.source} on {ty.source} in {units}: within persons "
        f"{rows.loc['within', 'median']:.3g} ({prob:.0%} interval "
        f"{rows.loc['within', 'ci_lower']:.3g} to {rows.loc['within', 'ci_upper']:.3g}), "
        f"between persons {rows.loc['between', 'median']:.3g} "
        f"({rows.loc['between', 'ci_lower']:.3g} to {rows.loc['between', 'ci_upper']:.3g}), "
        f"contextual {rows.loc['contextual', 'median']:.3g} "
        f"({rows.loc['contextual', 'ci_lower']:.3g} to "
        f"{rows.loc['contextual', 'ci_upper']:.3g}).",
        "The contextual effect is between minus within, because the within part is centred "
        "within person.",
    ]
    if np.isfinite(reliability):
        text.append(f"Reliability of the observed person means: {reliability:.2f}.")
    if warnings:
        text.append(
            "Caution (Lüdtke bias): the person means are unreliable, so the between-person "
            "and contextual effects are biased toward the within-person effect and their "
            "intervals are too narrow; the within-person effect is not affected."
        )
    return WithinBetween(
        table=table,
        draws=draws,
        reliability=reliability,
        warnings=warnings,
        description=" ".join(text),
    )
