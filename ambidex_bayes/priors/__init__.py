"""Priors: prior sets, prior predictive checks, and comparing a model under several priors.

- :mod:`~ambidex_bayes.priors.sets`: prior-set files (bundled ones in
  ``ambidex_bayes/models/priors/``, read by name), priors relative to the declared response
  ranges, checking a set's keys against a model; the one prior-set loader.
- :mod:`~ambidex_bayes.priors.predictive`: what data and slopes a prior set expects.
- :mod:`~ambidex_bayes.priors.compare`: fit one model under several sets (compiled once) and
  put the results side by side.
- :mod:`~ambidex_bayes.priors.sensitivity`: contraction and power-scaling sensitivity.
- :mod:`~ambidex_bayes.priors.bayes_factor`: Savage–Dickey Bayes factors and their
  dependence on the prior's width.
- :mod:`~ambidex_bayes.priors.plots`: their plot twins.
"""

from __future__ import annotations

from ambidex_bayes.priors.bayes_factor import (
    BayesFactorRefused,
    BayesFactorWarning,
    SavageDickey,
    bf_width_sensitivity,
    savage_dickey,
)
from ambidex_bayes.priors.compare import (
    PriorComparison,
    ReusableModel,
    compare_priors,
    fit_priors,
    model_priors,
)
from ambidex_bayes.priors.plots import (
    plot_bf_sensitivity,
    plot_prior_forest,
    plot_prior_predictive,
    plot_prior_sensitivity,
    plot_prior_slopes,
)
from ambidex_bayes.priors.predictive import (
    ImplausiblePriorWarning,
    PriorPredictive,
    prior_predictive_check,
    prior_predictive_table,
)
from ambidex_bayes.priors.sensitivity import (
    add_log_prior,
    contraction,
    log_prior_dataset,
    power_scaling,
)
from ambidex_bayes.priors.sets import (
    PriorSet,
    available_prior_sets,
    check_prior_keys,
    load_prior_set,
    read_prior_set,
)

__all__ = [
    "PriorSet",
    "available_prior_sets",
    "read_prior_set",
    "load_prior_set",
    "check_prior_keys",
    "PriorPredictive",
    "ImplausiblePriorWarning",
    "prior_predictive_check",
    "prior_predictive_table",
    "PriorComparison",
    "ReusableModel",
    "compare_priors",
    "model_priors",
    "fit_priors",
    "log_prior_dataset",
    "add_log_prior",
    "contraction",
    "power_scaling",
    "SavageDickey",
    "BayesFactorRefused",
    "BayesFactorWarning",
    "savage_dickey",
    "bf_width_sensitivity",
    "plot_prior_predictive",
    "plot_prior_slopes",
    "plot_prior_forest",
    "plot_bf_sensitivity",
    "plot_prior_sensitivity",
]
