"""Model checks: posterior predictive checks, model comparison, explained variance.

- :mod:`ambidex_bayes.checks.ppc` -- replicated data from a fit's posterior, test statistics
  with posterior predictive p-values (whole data and per person), the share of predictions
  outside a rating scale, LOO-PIT calibration;
- :mod:`ambidex_bayes.checks.comparison` -- PSIS-LOO with Pareto k diagnostics and a remedy,
  leave-persons-out K-fold cross-validation, ELPD differences and stacking weights;
- :mod:`ambidex_bayes.checks.r2` -- Bayesian R² (marginal, conditional), the between/within
  variance decomposition, the share of slope variance the moderator explains;
- :mod:`ambidex_bayes.checks.plots` -- their plot twins;
- :mod:`ambidex_bayes.checks.report_section` -- the report's checks section.
"""

from __future__ import annotations

__all__ = ["comparison", "plots", "ppc", "r2", "report_section"]
