"""Which models of the ladder latent person-mean centring serves.

Kept apart from :mod:`ambidex_bayes.model.latent_centring` so that choosing a fit's centring
imports neither PyMC nor PyTensor.
"""

from __future__ import annotations

__all__ = ["LADDER"]

#: The ladder's levels: (random slope, cross-level interaction) of each.
LADDER: dict[str, tuple[bool, bool]] = {
    "M1": (False, False),
    "M2": (True, False),
    "M3": (True, True),
}
