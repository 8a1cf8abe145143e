"""Strict mode for pipelines: one list of everything that should stop an automated run.

A fit fails strict mode when it has divergent transitions, an R-hat above
:data:`constants.RHAT_MAX`, a bulk-ESS below :data:`constants.ESS_BULK_MIN`, or observations
whose PSIS-LOO Pareto k exceeds :data:`constants.PARETO_K_MAX` (the leave-one-out estimate
is then unreliable for them).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np

from ambidex_bayes import constants

__all__ = ["strict_problems", "pareto_k"]


def pareto_k(idata: Any) -> np.ndarray | None:
    """Pareto k of every observation (PSIS-LOO), or None without a log-likelihood group."""
    import arviz_stats as azs

    if "log_likelihood" not in idata.children:
        return None
    with warnings.catch_warnings():
        # the high-k warning of arviz-stats is replaced by our own message below
        warnings.filterwarnings("ignore", message=".*Pareto k.*")
        result = azs.loo(idata, pointwise=True)
    return np.asarray(result.pareto_k).ravel()


def strict_problems(fits: Iterable[Any], *, check_pareto: bool = True) -> list[str]:
    """What makes each fit fail strict mode, in plain words (empty: all passed).

    Parameters
    ----------
    fits : iterable of FitResult
    check_pareto : bool
        Also compute PSIS-LOO Pareto k (needs the fits' log-likelihood).
    """
    problems: list[str] = []
    for result in fits:
        name = result.spec.name
        conv = result.convergence
        if conv.n_divergent:
            problems.append(f"{name}: {conv.n_divergent} divergent transitions.")
        table = conv.table
        bad = table.index[table["rhat"] > constants.RHAT_MAX].tolist()
        if bad:
            problems.append(f"{name}: R-hat > {constants.RHAT_MAX} for {', '.join(bad)}.")
        low = table.index[table["ess_bulk"] < constants.ESS_BULK_MIN].tolist()
        if low:
            problems.append(
                f"{name}: bulk-ESS < {constants.ESS_BULK_MIN:.0f} for {', '.join(low)}."
            )
        if check_pareto:
            k = pareto_k(result.idata)
            if k is not None:
                n_bad = int(np.sum(k > constants.PARETO_K_MAX))
                if n_bad:
                    problems.append(
                        f"{name}: {n_bad} of {k.size} observations have Pareto k > "
                        f"{constants.PARETO_K_MAX} (PSIS-LOO is unreliable for them; use "
                        "moment matching, exact refits or K-fold cross-validation)."
                    )
    return problems
