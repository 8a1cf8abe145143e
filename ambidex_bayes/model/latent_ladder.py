"""Which models of the ladder latent person-mean centring serves, with which terms and controls.

:func:`latent_structure` reads the terms of a spec's formula: which level-1 predictors enter
(each by its within part ``{x<k>_within}`` and/or between part ``{x<k>_between}``), which
have a cross-level interaction with the moderator ``{x<k>_within}:{w}``, and which one (at
most) has person slopes; a latent-centred fit then has the observed fit's fixed-effect and
person-effect names. Kept apart from :mod:`ambidex_bayes.model.latent_centring` so that choosing a fit's centring
imports neither PyMC nor PyTensor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ambidex_bayes.formula_guard import is_group_term, split_top_level

if TYPE_CHECKING:
    from ambidex_bayes.prepared_data import PreparedData
    from ambidex_bayes.spec import ModelSpec

__all__ = [
    "LADDER",
    "LatentStructure",
    "ladder_level",
    "ladder_structure",
    "latent_structure",
    "latent_controls",
    "latent_controls_reason",
]

#: The ladder's levels: (random slope, cross-level interaction) of each.
LADDER: dict[str, tuple[bool, bool]] = {
    "M1": (False, False),
    "M2": (True, False),
    "M3": (True, True),
}


def ladder_level(name: str) -> str | None:
    """The ladder's level of a spec name (None for a model off the ladder).

    A spec with a prior set's priors is named after both (``"M3[sceptical]"``, see
    :meth:`~ambidex_bayes.spec.ModelSpec.with_priors`); its level is the part before the
    bracket.

    Parameters
    ----------
    name : str

    Returns
    -------
    str or None
        ``"M1"``, ``"M2"`` or ``"M3"``, or None.
    """
    found = re.fullmatch(r"(M[123])(\[[^\[\]]*\])?", name)
    return None if found is None else found.group(1)


def latent_controls_reason(spec: ModelSpec, prepared: PreparedData) -> str | None:
    """Why the controls of ``spec`` on ``prepared`` keep latent centring from fitting it
    (None when they do not: no controls in the formula, or numeric ones used as they are).

    Parameters
    ----------
    spec : ModelSpec
    prepared : PreparedData

    Returns
    -------
    str or None
    """
    if not spec.include_controls:
        return None
    m = prepared.mapping
    factors = [c for c in m.controls if c in prepared.factor_codings]
    if factors:
        return f"it takes numeric controls only (the control(s) {factors} are factors)"
    split = [c for k, c in enumerate(m.controls) if f"c{k}_within" in prepared.roles]
    if split:
        return (
            f"it takes controls as they are, not split into within- and between-person parts "
            f"(split_controls names {split}); take them out of 'split_controls'"
        )
    return None


def latent_controls(spec: ModelSpec, prepared: PreparedData) -> tuple[str, ...]:
    """The control columns that ``spec``'s formula includes on ``prepared``, which are also
    their fixed effects' names (as in the observed formula); empty unless
    ``spec.include_controls``.

    Parameters
    ----------
    spec : ModelSpec
    prepared : PreparedData

    Returns
    -------
    tuple of str
    """
    if not spec.include_controls:
        return ()
    return tuple(prepared.roles.get(f"c{k}", c) for k, c in enumerate(prepared.mapping.controls))


@dataclass(frozen=True)
class LatentStructure:
    """The terms of a latent-centred model, per level-1 predictor it uses.

    Attributes
    ----------
    predictors : tuple of int
        Positions in the mapping's ``level1`` of the predictors the model uses (the first
        is the focal one, ``x`` of :class:`~ambidex_bayes.model.latent_data.LatentNames`).
    within, between, interaction : tuple of bool
        Per predictor: a fixed effect of its within part, of its centred person mean, and
        of its within part times the moderator.
    slope : int or None
        Position in ``predictors`` of the predictor whose within slope varies over persons.
    """

    predictors: tuple[int, ...]
    within: tuple[bool, ...]
    between: tuple[bool, ...]
    interaction: tuple[bool, ...]
    slope: int | None

    @property
    def n_predictors(self) -> int:
        """P."""
        return len(self.predictors)


def ladder_structure(level: str, n_predictors: int = 1) -> LatentStructure:
    """The structure of the ladder's ``level`` with ``n_predictors`` level-1 predictors:
    within and between effects of each; the first predictor's person slopes (M2, M3) and
    cross-level interaction (M3)."""
    slope, interaction = LADDER[level]
    P = n_predictors
    return LatentStructure(
        predictors=tuple(range(P)),
        within=(True,) * P,
        between=(True,) * P,
        interaction=(interaction,) + (False,) * (P - 1),
        slope=0 if slope else None,
    )


def _predictor_role(role: str) -> tuple[str, int] | None:
    """``("within", k)`` or ``("between", k)`` for a level-1 predictor's role, else None."""
    found = re.fullmatch(r"x(\d*)_(within|between)", role)
    if found is None:
        return None
    return found.group(2), int(found.group(1) or 0)


def _role(term: str) -> str | None:
    """The role of a term that is one placeholder ``{role}``, else None."""
    found = re.fullmatch(r"\{([^{}]+)\}", term.strip())
    return None if found is None else found.group(1)


def latent_structure(spec: ModelSpec, prepared: PreparedData) -> LatentStructure | str:
    """The latent model's terms for ``spec`` on ``prepared``, or why it has none.

    The spec's formula (less the terms left out for lack of an optional role) may hold the
    intercept, within and between parts of level-1 predictors, the moderator ``{w}``,
    products ``{x<k>_within}:{w}`` and one person-effect term on the person with the
    intercept and at most one within part.

    Parameters
    ----------
    spec : ModelSpec
    prepared : PreparedData

    Returns
    -------
    LatentStructure or str
        The structure, or a sentence saying what latent centring cannot model.
    """
    fields = prepared.formula_fields()
    dropped = set(spec.dropped_terms(fields))
    _, rhs = split_top_level(spec.formula, "~")
    terms = [t.strip() for t in split_top_level(rhs, "+") if t.strip() not in dropped]
    used: dict[int, dict[str, bool]] = {}
    slope: int | None = None
    groups = 0

    def entry(k: int) -> dict[str, bool]:
        return used.setdefault(k, {"within": False, "between": False, "interaction": False})

    for term in terms:
        if term in {"1", ""}:
            continue
        if is_group_term(term):
            groups += 1
            inside = term.strip()[1:-1]
            expr, factor = split_top_level(inside, "|")
            parts = [p.strip() for p in split_top_level(expr, "+")]
            if _role(factor) != "person" or any(p in {"0", "-1"} for p in parts):
                return f"it takes person intercepts only as person effects, not {term!r}"
            slopes = [p for p in parts if p != "1"]
            roles = [_predictor_role(_role(p) or "") for p in slopes]
            if len(slopes) > 1 or any(r is None or r[0] != "within" for r in roles):
                return (
                    "it takes person intercepts and at most one person slope of a level-1 "
                    f"predictor's within part, not {term!r}"
                )
            if roles:
                slope = roles[0][1]
                entry(slope)
            continue
        role = _role(term)
        if role is not None and role in {"w", "w0"}:
            continue
        found = _predictor_role(role or "")
        if found is not None:
            entry(found[1])[found[0]] = True
            continue
        # the product as the observed model names it: within part first
        factors = [_role(f) for f in split_top_level(term, ":")]
        if len(factors) == 2 and factors[1] in {"w", "w0"}:
            other = _predictor_role(factors[0] or "")
            if other is not None and other[0] == "within":
                entry(other[1])["interaction"] = True
                continue
        return f"it cannot model the formula term {term!r}"
    if groups != 1:
        return "it needs exactly one person-effect term (person intercepts)"
    if not used:
        return "the formula uses no level-1 predictor"
    order = sorted(used)
    return LatentStructure(
        predictors=tuple(order),
        within=tuple(used[k]["within"] for k in order),
        between=tuple(used[k]["between"] for k in order),
        interaction=tuple(used[k]["interaction"] for k in order),
        slope=None if slope is None else order.index(slope),
    )
