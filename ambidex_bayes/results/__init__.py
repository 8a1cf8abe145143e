"""Results of a fit: posterior summaries, the ICC, simple slopes, the moderation figure.

Compute functions return data (DataFrames, xarray objects); their plot twins in
:mod:`ambidex_bayes.results.plots` only draw. The simple slopes and the moderation lines are
computed in :mod:`ambidex_bayes.moderation` (``slopes``, ``lines``) and re-exported here.
Every analysis takes the fit first (:class:`~ambidex_bayes.posterior.Fitted`):
``posterior_summary(m3)``, ``icc(m0)``, ``simple_slopes(m3, at=[2, 3, 4])``.
"""

from __future__ import annotations

from ambidex_bayes.moderation.lines import default_x_range, moderation_lines
from ambidex_bayes.moderation.slopes import SimpleSlopes, SlopeKind, moderator_grid, simple_slopes
from ambidex_bayes.results.icc import icc, icc_draws
from ambidex_bayes.results.plots import (
    plot_fixed_effects,
    plot_icc,
    plot_moderation_lines,
    plot_simple_slopes,
)
from ambidex_bayes.results.summary import parameter_roles, posterior_summary

__all__ = [
    "posterior_summary",
    "parameter_roles",
    "icc",
    "icc_draws",
    "SimpleSlopes",
    "SlopeKind",
    "simple_slopes",
    "moderator_grid",
    "moderation_lines",
    "default_x_range",
    "plot_moderation_lines",
    "plot_simple_slopes",
    "plot_icc",
    "plot_fixed_effects",
]
