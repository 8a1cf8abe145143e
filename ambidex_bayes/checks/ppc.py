"""Posterior predictive checks: replicated data, test statistics and their p-values.

This module gathers the names of the modules that do the work:

- :mod:`ambidex_bayes.checks.predictive` -- replicated outcomes drawn from a fit's posterior,
  on the original outcome scale, and the linear predictor they rest on
  (:func:`posterior_predictive`, :func:`linear_predictor`, :func:`outcome_transform`,
  :class:`PredictiveDraws`);
- :mod:`ambidex_bayes.checks.ppc_statistics` -- test statistics of the whole data and per
  person with posterior predictive p-values (:func:`statistic_checks`,
  :func:`person_checks`, :func:`flagged_persons`, :func:`ppc_p_value`);
- :mod:`ambidex_bayes.checks.predictive_summaries` -- the share of predictions outside a
  rating scale, density overlays and chosen persons' predictive intervals
  (:func:`range_check`, :func:`density_overlay`, :func:`person_intervals`);
- :mod:`ambidex_bayes.checks.loo_pit` -- LOO-PIT values (:func:`loo_pit_values`);
- :mod:`ambidex_bayes.checks.person_groups` -- per-person reductions over many draws at once.
"""

from __future__ import annotations

from ambidex_bayes.checks.loo_pit import loo_pit_values
from ambidex_bayes.checks.ppc_statistics import (
    P_VALUE_TAIL,
    PERSON_STATISTICS,
    STATISTICS,
    StatisticChecks,
    flagged_persons,
    person_checks,
    ppc_p_value,
    statistic_checks,
)
from ambidex_bayes.checks.predictive import (
    MAX_DRAWS,
    PredictiveDraws,
    linear_predictor,
    outcome_transform,
    posterior_predictive,
)
from ambidex_bayes.checks.predictive_summaries import (
    density_overlay,
    person_intervals,
    range_check,
)

__all__ = [
    "PredictiveDraws",
    "StatisticChecks",
    "P_VALUE_TAIL",
    "MAX_DRAWS",
    "STATISTICS",
    "PERSON_STATISTICS",
    "posterior_predictive",
    "linear_predictor",
    "outcome_transform",
    "ppc_p_value",
    "statistic_checks",
    "person_checks",
    "flagged_persons",
    "range_check",
    "density_overlay",
    "person_intervals",
    "loo_pit_values",
]
