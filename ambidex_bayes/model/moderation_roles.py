"""Which posterior variable of a built model plays which role in the moderation analysis.

The analyses read the posterior by role, not by name: the within-person slope, the
moderator, their cross-level interaction, the person intercepts and slopes with their SDs
and correlation, the residual SD. :func:`moderation_terms` names them for a model from the
prepared data's roles and the model's fixed and person-effect terms, for the first level-1
predictor and the first moderator; :func:`terms_for` names them for any (level-1 predictor,
moderator) pair of a fit, chosen by column name, and :func:`moderation_pairs` lists the pairs
that have a cross-level interaction.

A factor moderator (a role ``w<k>`` that holds a column of ``PreparedData.factor_codings``)
enters the model as contrast columns ``c``, with interactions ``x:c`` (or ``c:x``); its terms
record the levels, the reference, the contrast kind and the coding matrix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from ambidex_bayes.data.mapping import did_you_mean
from ambidex_bayes.errors import AmbidexError
from ambidex_bayes.terms import ModerationTerms, correlation_name

if TYPE_CHECKING:
    from ambidex_bayes.factor_coding import FactorCoding
    from ambidex_bayes.posterior import Fitted
    from ambidex_bayes.prepared_data import PreparedData
    from ambidex_bayes.spec import ModelSpec

__all__ = [
    "coding_matrix",
    "moderation_pairs",
    "moderation_terms",
    "pair_roles",
    "terms_for",
]


def coding_matrix(coding: FactorCoding) -> tuple[tuple[float, ...], ...]:
    r"""The coding matrix of a factor: one row per level, one column per contrast column.

    Treatment coding: the reference level's row is zero and level :math:`l`'s row is the
    unit vector of its column. Sum coding: the last level is coded :math:`-1` on every
    column, so that the level effects sum to zero (:meth:`FactorCoding.matrix`).

    Parameters
    ----------
    coding : FactorCoding
        The factor's coding.

    Returns
    -------
    tuple of tuple of float
        :math:`K \times (K-1)` for :math:`K` levels, rows in the order of the levels.
    """
    matrix = coding.matrix().reindex(index=list(coding.levels), columns=list(coding.columns))
    return tuple(tuple(float(v) for v in row) for row in matrix.to_numpy(dtype=float))


def _interaction_of(x: str | None, c: str | None, fixed_names: Sequence[str]) -> str | None:
    """The fixed-effect name of ``x:c`` (formulae may write it ``c:x``), or None."""
    found = None
    for cand in (f"{x}:{c}", f"{c}:{x}"):
        if cand in fixed_names:
            found = cand
    return found


def _factor_fields(
    x: str | None, coding: FactorCoding, fixed_names: Sequence[str]
) -> dict[str, object]:
    """The factor fields of the terms of level-1 predictor ``x`` with factor ``coding``."""
    columns = [str(c) for c in coding.columns]
    matrix = coding_matrix(coding)
    interactions = [_interaction_of(x, c, fixed_names) for c in columns]
    omitted = coding.reference
    if omitted not in coding.levels:
        omitted = next(
            str(lv)
            for lv, row in zip(coding.levels, matrix, strict=True)
            if not any(r > 0 for r in row)
        )
    return {
        "moderator_levels": tuple(str(v) for v in coding.levels),
        "moderator_reference": str(omitted),
        "moderator_contrast": str(coding.contrast),
        "moderator_terms": tuple(c for c in columns if c in fixed_names),
        "interaction_terms": tuple(i for i in interactions if i is not None)
        if all(i is not None for i in interactions)
        else (),
        "moderator_coding": matrix,
    }


def _terms(
    fields: Mapping[str, str],
    fixed_names: Sequence[str],
    by_factor: Mapping[str, Sequence[str]],
    *,
    correlated: bool,
    coding: FactorCoding | None = None,
) -> ModerationTerms:
    """The terms of the pair named by ``fields``'s ``x_within``, ``x_between`` and ``w``."""
    person = fields["person"]
    x = fields.get("x_within")
    w = fields.get("w")
    xb = fields.get("x_between")
    interaction = _interaction_of(x, w, fixed_names) if coding is None else None
    names = by_factor.get(person, [])
    g_int = f"1|{person}" if f"1|{person}" in names else None
    g_slope = f"{x}|{person}" if f"{x}|{person}" in names else None
    corr = None
    if g_int and g_slope and correlated:
        corr = correlation_name(g_int, g_slope)
    factor = _factor_fields(x, coding, fixed_names) if coding is not None else {}
    known = {"Intercept", x, w, xb, interaction}
    known |= set(factor.get("moderator_terms", ())) | set(factor.get("interaction_terms", ()))  # type: ignore[arg-type]
    return ModerationTerms(
        person_dim=f"{person}__factor_dim",
        x_column=x,
        w_column=w,
        y_column=fields.get("y"),
        intercept="Intercept" if "Intercept" in fixed_names else None,
        slope=x if x in fixed_names else None,
        moderator=w if w in fixed_names and coding is None else None,
        interaction=interaction,
        between=xb if xb in fixed_names else None,
        group_intercept=g_int,
        group_slope=g_slope,
        group_intercept_sd=f"{g_int}_sigma" if g_int else None,
        group_slope_sd=f"{g_slope}_sigma" if g_slope else None,
        correlation=corr,
        sigma="sigma",
        other_fixed=tuple(n for n in fixed_names if n not in known),
        **factor,  # type: ignore[arg-type]
    )


def _codings(prepared: object) -> Mapping[str, FactorCoding]:
    """The prepared data's factor codings by source column (none before factors existed)."""
    return getattr(prepared, "factor_codings", None) or {}


def moderation_terms(
    fields: Mapping[str, str],
    fixed_names: list[str],
    by_factor: Mapping[str, list[str]],
    spec: ModelSpec,
    *,
    factor_codings: Mapping[str, FactorCoding] | None = None,
) -> ModerationTerms:
    """The roles of a model's posterior variables, for its first predictor and moderator.

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
    factor_codings : mapping of str to FactorCoding, optional
        ``PreparedData.factor_codings``: a moderator role holding one of these columns is
        a factor.

    Returns
    -------
    ModerationTerms
        A role the model lacks is None.
    """
    codings = factor_codings or {}
    return _terms(
        fields,
        fixed_names,
        by_factor,
        correlated=spec.correlated,
        coding=codings.get(fields.get("w", "")),
    )


def _count(fields: Mapping[str, str], pattern: str) -> int:
    k = 0
    while pattern.format(k) in fields:
        k += 1
    return k


def _source(prepared: PreparedData, column: str) -> str:
    """The raw column a prepared column was made from (a factor's role holds it already)."""
    transform = prepared.transforms.get(column)
    return transform.source if transform is not None else column


def _choose(prepared: PreparedData, fields: Mapping[str, str], kind: str, name: str | None) -> int:
    """Index ``k`` of the level-1 predictor (``kind="x"``) or moderator (``"w"``) named."""
    pattern = "x{}_within" if kind == "x" else "w{}"
    what = "level-1 predictor" if kind == "x" else "moderator"
    n = _count(fields, pattern)
    if name is None:
        return 0
    if n == 0:
        raise AmbidexError(f"The data have no {what}, so {name!r} cannot be chosen.")
    sources = [_source(prepared, fields[pattern.format(k)]) for k in range(n)]
    for k in range(n):
        if name in (sources[k], fields[pattern.format(k)]):
            return k
    option = "focal" if kind == "x" else "moderator"
    raise AmbidexError(
        f"{option}={name!r} is not a {what} of this fit{did_you_mean(name, sources)}; the "
        f"{what}s are: {', '.join(sources)}."
    )


def pair_roles(fields: Mapping[str, str], k: int, m: int) -> dict[str, str]:
    """``fields`` with ``x_within``, ``x_between`` and ``w`` naming predictor ``k`` and
    moderator ``m`` (roles ``x<k>_within``, ``x<k>_between``, ``w<m>``)."""
    out = dict(fields)
    for alias, role in (
        ("x_within", f"x{k}_within"),
        ("x_between", f"x{k}_between"),
        ("w", f"w{m}"),
    ):
        if role in fields:
            out[alias] = fields[role]
        elif k == 0 and m == 0 and alias in fields:
            continue
        else:
            out.pop(alias, None)
    return out


def _posterior_names(fit: Fitted) -> list[str]:
    from ambidex_bayes.posterior import posterior_dataset

    return [str(v) for v in posterior_dataset(fit.idata).data_vars]


def terms_for(
    fit: Fitted, focal: str | None = None, moderator: str | None = None
) -> ModerationTerms:
    """The terms of a fit for a chosen level-1 predictor and moderator.

    A fit carries the terms of its first level-1 predictor and first moderator; this names
    the roles for any pair, from the fit's fixed effects (``fit.terms.fixed``), its person
    effects and correlations (the posterior's variables) and the prepared data's roles
    (``x<k>_within``, ``x<k>_between``, ``w<k>``) and factor codings.

    Parameters
    ----------
    fit : Fitted
        The fit.
    focal : str, optional
        The level-1 predictor, by its source column (e.g. ``"uncertainty"``) or prepared
        column (``"uncertainty_cw"``); default the first.
    moderator : str, optional
        The moderator, likewise (``"leader_support"``); default the first.

    Returns
    -------
    ModerationTerms
        ``fit.terms`` itself for the first pair (unless its moderator is a factor the saved
        terms do not describe yet); new terms otherwise.

    Raises
    ------
    AmbidexError
        If a name is not a level-1 predictor or moderator of the fit (with the choices and a
        did-you-mean hint).
    """
    terms, prepared = fit.terms, fit.prepared
    fields = prepared.formula_fields()
    k = _choose(prepared, fields, "x", focal)
    m = _choose(prepared, fields, "w", moderator)
    roles = pair_roles(fields, k, m)
    coding = _codings(prepared).get(roles.get("w", ""))
    described = coding is None or terms.factor_moderator
    if k == 0 and m == 0 and described:
        return terms
    variables = _posterior_names(fit)
    person = fields["person"]
    # a person effect counts when its draws or its SD are stored (a fit may be read
    # without the person effects' draws)
    effects = [v.removesuffix("_sigma") for v in variables if not v.startswith("corr(")]
    by_factor = {person: list(dict.fromkeys(v for v in effects if v.endswith(f"|{person}")))}
    x = roles.get("x_within")
    correlated = correlation_name(f"1|{person}", f"{x}|{person}") in variables
    return _terms(roles, list(terms.fixed), by_factor, correlated=correlated, coding=coding)


def moderation_pairs(fit: Fitted) -> list[tuple[str, str]]:
    """The (level-1 predictor, moderator) pairs of a fit with a cross-level interaction.

    Parameters
    ----------
    fit : Fitted
        The fit.

    Returns
    -------
    list of (str, str)
        Source column names, predictors in the order of the mapping, then moderators.
    """
    prepared = fit.prepared
    fields = prepared.formula_fields()
    pairs = []
    for k in range(_count(fields, "x{}_within")):
        for m in range(_count(fields, "w{}")):
            focal = _source(prepared, fields[f"x{k}_within"])
            moderator = _source(prepared, fields[f"w{m}"])
            if terms_for(fit, focal, moderator).moderated:
                pairs.append((focal, moderator))
    return pairs
