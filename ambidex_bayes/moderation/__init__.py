"""Moderation analysis in depth: how the within-person slope depends on the level-2 moderator.

- :func:`moderation_curve` — the slope's posterior along the moderator's observed range
  (:mod:`~ambidex_bayes.moderation.curve`);
- :func:`johnson_neyman` — the Bayesian Johnson–Neyman regions and the posterior of the
  boundary (:mod:`~ambidex_bayes.moderation.johnson_neyman`);
- :func:`person_slopes` — every person's own slope against their moderator value
  (:mod:`~ambidex_bayes.moderation.person_slopes`);
- :func:`within_between` — within-person, between-person and contextual effects
  (:mod:`~ambidex_bayes.moderation.contextual`);
- :func:`simple_slopes` — the slope at chosen moderator values, and
  :func:`slope_differences` between them (:mod:`~ambidex_bayes.moderation.slopes`);
- :func:`moderation_lines` — the study's figure data: predicted outcome against the level-1
  predictor at low and high moderator values (:mod:`~ambidex_bayes.moderation.lines`);
- plot twins in :mod:`~ambidex_bayes.moderation.plots`, and the report section in
  :mod:`~ambidex_bayes.moderation.report_section`.

Every analysis reads one (level-1 predictor, moderator) pair, by default the first of each;
``focal=`` and ``moderator=`` choose another by column name
(:func:`ambidex_bayes.model.moderation_roles.terms_for`). A factor moderator gives the slope
at each level and the contrasts between levels (:mod:`~ambidex_bayes.moderation.factor_levels`);
the curve and the Johnson–Neyman regions need a numeric moderator.

:mod:`ambidex_bayes.results` re-exports the simple slopes and the moderation lines too.

Every analysis takes the fit first (a :class:`~ambidex_bayes.fit.FitResult`, or a
:class:`~ambidex_bayes.posterior.PosteriorDraws` for draws from elsewhere), then keyword
options: ``simple_slopes(m3, at=[2, 3, 4])``, ``johnson_neyman(m3)``.
"""

from __future__ import annotations

from ambidex_bayes.moderation.contextual import WithinBetween, within_between
from ambidex_bayes.moderation.curve import (
    STANDARDISED_CONVENTION,
    ModerationCurve,
    SlopeScales,
    moderation_curve,
    observed_range,
    slope_scales,
    standardise_simple_slopes,
)
from ambidex_bayes.moderation.johnson_neyman import (
    JohnsonNeyman,
    boundary_draws,
    johnson_neyman,
)
from ambidex_bayes.moderation.lines import default_x_range, moderation_lines
from ambidex_bayes.moderation.person_slopes import (
    PersonSlopes,
    person_slopes,
    person_slopes_bambi,
)
from ambidex_bayes.moderation.plots import (
    plot_boundary_posterior,
    plot_moderation_curve,
    plot_person_slopes,
)
from ambidex_bayes.moderation.report_section import (
    ModerationResults,
    focus_pair,
    moderation_results,
    report_section,
    write_moderation_files,
)
from ambidex_bayes.moderation.slopes import (
    SimpleSlopes,
    SlopeKind,
    moderator_by_person,
    moderator_grid,
    simple_slopes,
    slope_differences,
)

__all__ = [
    "STANDARDISED_CONVENTION",
    "ModerationCurve",
    "SlopeScales",
    "moderation_curve",
    "observed_range",
    "slope_scales",
    "standardise_simple_slopes",
    "JohnsonNeyman",
    "johnson_neyman",
    "boundary_draws",
    "PersonSlopes",
    "person_slopes",
    "person_slopes_bambi",
    "WithinBetween",
    "within_between",
    "SimpleSlopes",
    "SlopeKind",
    "simple_slopes",
    "slope_differences",
    "moderator_by_person",
    "moderator_grid",
    "moderation_lines",
    "default_x_range",
    "plot_moderation_curve",
    "plot_boundary_posterior",
    "plot_person_slopes",
    "ModerationResults",
    "moderation_results",
    "write_moderation_files",
    "report_section",
    "focus_pair",
]
