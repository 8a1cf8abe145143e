"""The ranks of one SBC simulation: which parameters are checked, and where each drawn value
falls among the posterior draws.

For a parameter drawn as :math:`\\theta^\\ast` and :math:`L` posterior draws
:math:`\\theta^{(1)}, \\dots, \\theta^{(L)}` thinned evenly from a fit, the rank is

.. math::

    r = \\sum_{l=1}^{L} \\mathbb 1\\{\\theta^{(l)} < \\theta^\\ast\\} \\in \\{0, \\dots, L\\},

uniform over simulations when the model and its sampler are calibrated
(:mod:`ambidex_bayes.design.sbc`). Both the observed and the latent-centred SBC
(:mod:`ambidex_bayes.design.sbc_latent`) rank their draws here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import xarray as xr

    from ambidex_bayes.terms import ModerationTerms

__all__ = [
    "RANK_PREFIX",
    "TRUTH_PREFIX",
    "Checked",
    "checked_parameters",
    "thinned",
    "draw_values",
    "rank_row",
]

#: Column prefix of a parameter's rank in the stored results.
RANK_PREFIX = "rank__"
#: Column prefix of a parameter's drawn (true) value.
TRUTH_PREFIX = "truth__"

#: A checked parameter: its variable and the index of its element (None for a scalar).
Checked = tuple[str, int | None]


def checked_parameters(terms: ModerationTerms, levels: list[str]) -> dict[str, Checked]:
    """The parameters an SBC ranks, by label: the fixed effects, the person-effect SDs and
    correlation, the residual SD, and the first person's own intercept and slope
    (``"1|person[P001]"``)."""
    names = [
        terms.intercept,
        terms.slope,
        terms.between,
        terms.moderator,
        terms.interaction,
        *terms.moderator_terms,
        *terms.interaction_terms,
        *terms.other_fixed,
        terms.group_intercept_sd,
        terms.group_slope_sd,
        terms.correlation,
        terms.sigma,
    ]
    checked: dict[str, Checked] = {n: (n, None) for n in names if n}
    for effect in (terms.group_intercept, terms.group_slope):
        if effect:
            checked[f"{effect}[{levels[0]}]"] = (effect, 0)
    return checked


def draw_values(dataset: xr.Dataset, variable: str, index: int | None) -> np.ndarray:
    """A variable's draws over chains, ``(draws, ...)``, or of its element ``index``."""
    values = np.asarray(dataset[variable].values, dtype=float)
    values = values.reshape(-1, *values.shape[2:])  # (draws, ...) over chains
    return values if index is None else values[..., index]


def thinned(draws: np.ndarray, n: int) -> np.ndarray:
    """``n`` draws taken at evenly spaced positions of ``draws`` (chains concatenated)."""
    positions = np.linspace(0, len(draws) - 1, n).round().astype(int)
    return draws[positions]


def rank_row(
    prior: xr.Dataset, posterior: xr.Dataset, checked: Mapping[str, Checked], rank_draws: int
) -> dict[str, Any]:
    """``rank__<label>`` and ``truth__<label>`` of every checked parameter: the drawn value
    (the first draw of ``prior``) and its rank among ``rank_draws`` thinned draws of
    ``posterior``."""
    row: dict[str, Any] = {}
    for label, (variable, index) in checked.items():
        truth = float(draw_values(prior, variable, index).ravel()[0])
        draws = thinned(draw_values(posterior, variable, index).ravel(), rank_draws)
        row[f"{RANK_PREFIX}{label}"] = int((draws < truth).sum())
        row[f"{TRUTH_PREFIX}{label}"] = truth
    return row
