"""Results of a fit: posterior summaries, the ICC, simple slopes, the moderation figure.

Compute functions return data (DataFrames, xarray objects); their plot twins in
:mod:`ambidex_bayes.results.plots` only draw. The simple slopes and the moderation lines are
computed in :mod:`ambidex_bayes.moderation` (``slopes``, ``lines``) and re-exported here.
Every analysis takes the fit first (:class:`~ambidex_bayes.posterior.Fitted`):
``posterior_summary(m3)``, ``icc(m0)``, ``simple_slopes(m3, at=[2, 3, 4])``.

Names load on first use (:pep:`562`), so reading one module of the package (the
``summary`` command reads :mod:`.summary`) does not import the moderation tools or
matplotlib.
"""

from __future__ import annotations

from ambidex_bayes.lazy_face import lazy_names

_EXPORTS = {
    "posterior_summary": "ambidex_bayes.results.summary",
    "parameter_roles": "ambidex_bayes.results.summary",
    "summary_roles": "ambidex_bayes.results.summary",
    "icc": "ambidex_bayes.results.icc",
    "icc_draws": "ambidex_bayes.results.icc",
    "SimpleSlopes": "ambidex_bayes.moderation.slopes",
    "SlopeKind": "ambidex_bayes.moderation.slopes",
    "simple_slopes": "ambidex_bayes.moderation.slopes",
    "moderator_grid": "ambidex_bayes.moderation.slopes",
    "moderation_lines": "ambidex_bayes.moderation.lines",
    "default_x_range": "ambidex_bayes.moderation.lines",
    "plot_moderation_lines": "ambidex_bayes.results.plots",
    "plot_simple_slopes": "ambidex_bayes.results.plots",
    "plot_icc": "ambidex_bayes.results.plots",
    "plot_fixed_effects": "ambidex_bayes.results.plots",
}

__all__ = list(_EXPORTS)


__getattr__, __dir__ = lazy_names(globals(), _EXPORTS)
