"""Model checks: posterior predictive checks, model comparison, explained variance.

- :func:`posterior_predictive` -- replicated data from a fit's posterior
  (:mod:`~ambidex_bayes.checks.predictive`); :func:`statistic_checks`,
  :func:`person_checks` and :func:`flagged_persons` -- test statistics with posterior
  predictive p-values, whole data and per person (:mod:`~ambidex_bayes.checks.ppc_statistics`);
  :func:`range_check`, :func:`density_overlay`, :func:`person_intervals` -- the share of
  predictions outside a rating scale and the data of the check plots
  (:mod:`~ambidex_bayes.checks.predictive_summaries`); :func:`loo_pit_values` --
  LOO-PIT values (:mod:`~ambidex_bayes.checks.loo_pit`).
  :mod:`~ambidex_bayes.checks.ppc` gathers them all.
- :func:`psis_loo` -- PSIS-LOO with Pareto k diagnostics and a remedy
  (:mod:`~ambidex_bayes.checks.loo`); :func:`kfold_by_person` -- leave-persons-out K-fold
  cross-validation (:mod:`~ambidex_bayes.checks.kfold`); :func:`compare_fits` and
  :func:`compare_models` -- ELPD differences and stacking weights
  (:mod:`~ambidex_bayes.checks.model_comparison`); the log-likelihoods with person effects
  integrated out in :mod:`~ambidex_bayes.checks.log_likelihood`.
  :mod:`~ambidex_bayes.checks.comparison` gathers them all.
- :func:`explained_variance` and :func:`r2_table` -- Bayesian R² (marginal, conditional);
  :func:`variance_decomposition` -- the between/within variance decomposition;
  :func:`slope_variance_explained` -- the share of slope variance the moderator explains
  (:mod:`~ambidex_bayes.checks.r2`).
- plot twins in :mod:`~ambidex_bayes.checks.plots`, and the report's checks section in
  :mod:`~ambidex_bayes.checks.report_section`.

Every check takes the fit first: ``psis_loo(m3)``, ``posterior_predictive(m3, seed=1)``.
"""

from __future__ import annotations

from ambidex_bayes.checks.kfold import (
    KFOLD_FOLDS,
    KFoldResult,
    fold_tasks,
    kfold_by_person,
    person_folds,
)
from ambidex_bayes.checks.log_likelihood import (
    integrated_log_likelihood,
    new_person_log_density,
)
from ambidex_bayes.checks.loo import REMEDIES, LooResult, psis_loo
from ambidex_bayes.checks.loo_pit import loo_pit_values
from ambidex_bayes.checks.model_comparison import (
    Comparison,
    compare_fits,
    compare_models,
    loo_table,
)
from ambidex_bayes.checks.ppc_statistics import (
    PERSON_STATISTICS,
    STATISTICS,
    StatisticChecks,
    flagged_persons,
    person_checks,
    ppc_p_value,
    statistic_checks,
)
from ambidex_bayes.checks.predictive import (
    PredictiveDraws,
    linear_predictor,
    posterior_predictive,
)
from ambidex_bayes.checks.predictive_summaries import (
    density_overlay,
    person_intervals,
    range_check,
)
from ambidex_bayes.checks.r2 import (
    explained_variance,
    r2_draws,
    r2_table,
    slope_models,
    slope_variance_explained,
    variance_decomposition,
)

__all__ = [
    # posterior predictive checks
    "PredictiveDraws",
    "posterior_predictive",
    "linear_predictor",
    "StatisticChecks",
    "STATISTICS",
    "PERSON_STATISTICS",
    "ppc_p_value",
    "statistic_checks",
    "person_checks",
    "flagged_persons",
    "range_check",
    "density_overlay",
    "person_intervals",
    "loo_pit_values",
    # model comparison
    "LooResult",
    "REMEDIES",
    "psis_loo",
    "KFoldResult",
    "KFOLD_FOLDS",
    "person_folds",
    "fold_tasks",
    "kfold_by_person",
    "integrated_log_likelihood",
    "new_person_log_density",
    "Comparison",
    "compare_models",
    "loo_table",
    "compare_fits",
    # explained variance
    "r2_draws",
    "explained_variance",
    "r2_table",
    "variance_decomposition",
    "slope_variance_explained",
    "slope_models",
]
