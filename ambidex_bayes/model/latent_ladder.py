"""Which models of the ladder latent person-mean centring serves, and with which controls.

Kept apart from :mod:`ambidex_bayes.model.latent_centring` so that choosing a fit's centring
imports neither PyMC nor PyTensor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ambidex_bayes.prepared_data import PreparedData
    from ambidex_bayes.spec import ModelSpec

__all__ = ["LADDER", "latent_controls", "latent_controls_reason"]

#: The ladder's levels: (random slope, cross-level interaction) of each.
LADDER: dict[str, tuple[bool, bool]] = {
    "M1": (False, False),
    "M2": (True, False),
    "M3": (True, True),
}


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
