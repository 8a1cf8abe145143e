"""Which posterior variable of a built model plays which role in the moderation analysis.

The analyses read the posterior by role, not by name: the within-person slope, the
moderator, their cross-level interaction, the person intercepts and slopes with their SDs
and correlation, the residual SD. :func:`moderation_terms` names them for a model from the
prepared data's roles and the model's fixed and person-effect terms.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ambidex_bayes.terms import ModerationTerms, correlation_name

if TYPE_CHECKING:
    from ambidex_bayes.spec import ModelSpec

__all__ = ["moderation_terms"]


def moderation_terms(
    fields: Mapping[str, str],
    fixed_names: list[str],
    by_factor: Mapping[str, list[str]],
    spec: ModelSpec,
) -> ModerationTerms:
    """The roles of a model's posterior variables.

    Parameters
    ----------
    fields : mapping of str to str
        The prepared data's roles (``PreparedData.formula_fields()``).
    fixed_names : list of str
        The model's fixed-effect terms.
    by_factor : mapping of str to list of str
        Grouping factor -> its person-effect terms.
    spec : ModelSpec
        Whether the person effects are correlated.

    Returns
    -------
    ModerationTerms
        A role the model lacks is None.
    """
    person = fields["person"]
    x = fields.get("x_within")
    w = fields.get("w")
    xb = fields.get("x_between")
    interaction = None
    for cand in (f"{x}:{w}", f"{w}:{x}"):
        if cand in fixed_names:
            interaction = cand
    names = by_factor.get(person, [])
    g_int = f"1|{person}" if f"1|{person}" in names else None
    g_slope = f"{x}|{person}" if f"{x}|{person}" in names else None
    corr = None
    if g_int and g_slope and spec.correlated:
        corr = correlation_name(g_int, g_slope)
    known = {"Intercept", x, w, xb, interaction}
    return ModerationTerms(
        person_dim=f"{person}__factor_dim",
        x_column=x,
        w_column=w,
        y_column=fields.get("y"),
        intercept="Intercept" if "Intercept" in fixed_names else None,
        slope=x if x in fixed_names else None,
        moderator=w if w in fixed_names else None,
        interaction=interaction,
        between=xb if xb in fixed_names else None,
        group_intercept=g_int,
        group_slope=g_slope,
        group_intercept_sd=f"{g_int}_sigma" if g_int else None,
        group_slope_sd=f"{g_slope}_sigma" if g_slope else None,
        correlation=corr,
        sigma="sigma",
        other_fixed=tuple(n for n in fixed_names if n not in known),
    )
