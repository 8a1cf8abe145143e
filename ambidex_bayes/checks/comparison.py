r"""Model comparison: PSIS-LOO with a remedy for high Pareto k, leave-persons-out K-fold
cross-validation, ELPD differences and stacking weights.

This module gathers the names of the modules that do the work:

- :mod:`ambidex_bayes.checks.loo` -- PSIS-LOO of one fit and the remedy for high Pareto k
  (:func:`psis_loo`, :class:`LooResult`);
- :mod:`ambidex_bayes.checks.kfold` -- leave-persons-out K-fold cross-validation: folds,
  fold tasks and their refits (:func:`kfold_by_person`, :func:`person_folds`,
  :func:`fold_tasks`, :class:`KFoldResult`);
- :mod:`ambidex_bayes.checks.log_likelihood` -- log-likelihoods with the person effects
  integrated out, of a row given the person's other rows and of a whole new person
  (:func:`integrated_log_likelihood`, :func:`new_person_log_density`);
- :mod:`ambidex_bayes.checks.model_comparison` -- the comparison of fits (:func:`compare_fits`,
  :func:`compare_models`, :func:`loo_table`, :class:`Comparison`);
- :mod:`ambidex_bayes.checks.refit_settings` -- the sampler settings of refits
  (:func:`merged_settings`).

Which unit is left out?
-----------------------
Observation-level LOO scores :math:`\log p(y_{ij} \mid y_{-ij})`: how well the model predicts
*another day of a person it already knows* -- the person's own intercept and slope are
estimated from their other diaries. Leaving out *persons* scores
:math:`\log p(y_j \mid y_{-j})` for all diaries of a person at once, with the person's
effects drawn new from the population distribution: how well the model predicts *a new
person*. The two answer different questions and are not on the same scale (one term per
row against one per person), so they are never mixed in one comparison. A random slope,
for instance, mostly helps predict known persons; the moderator's cross-level
interaction also helps predict new ones.
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
    MC_DRAWS,
    integrated_log_likelihood,
    new_person_log_density,
)
from ambidex_bayes.checks.loo import MAX_REFITS, REMEDIES, LooResult, psis_loo
from ambidex_bayes.checks.model_comparison import (
    Comparison,
    compare_fits,
    compare_models,
    loo_table,
)
from ambidex_bayes.checks.refit_settings import merged_settings

__all__ = [
    "LooResult",
    "KFoldResult",
    "Comparison",
    "REMEDIES",
    "MAX_REFITS",
    "KFOLD_FOLDS",
    "MC_DRAWS",
    "merged_settings",
    "psis_loo",
    "integrated_log_likelihood",
    "new_person_log_density",
    "person_folds",
    "fold_tasks",
    "kfold_by_person",
    "compare_models",
    "loo_table",
    "compare_fits",
]
