"""Strict mode for pipelines: one list of everything that should stop an automated run.

A fit fails strict mode when it has divergent transitions, an R-hat above
:data:`constants.RHAT_MAX`, a bulk-ESS below :data:`constants.ESS_BULK_MIN`, or observations
whose PSIS-LOO Pareto k exceeds :data:`constants.PARETO_K_MAX` (the leave-one-out estimate
is then unreliable for them). A diagnostic that cannot be computed fails too: no draws,
constant or non-finite draws, a single chain (no R-hat), a log-likelihood that is not finite
or too few draws for Pareto k.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np

from ambidex_bayes import constants
from ambidex_bayes.diagnostics import undefined_diagnostics
from ambidex_bayes.errors import ModelError

__all__ = ["strict_problems", "pareto_k", "pareto_k_problem"]

#: Fewer posterior draws than this (all chains together) give no Pareto k estimate.
MIN_LOO_DRAWS = 100

#: What arviz-stats says when the draws cannot give a Pareto k (its own fallbacks use these).
_NO_K_MESSAGES = ("All tail values are the same", "n_draws_tail must be at least")


def pareto_k(idata: Any) -> np.ndarray | None:
    """Pareto k of every observation (PSIS-LOO), or None without a log-likelihood group.

    Raises
    ------
    ModelError
        When the log-likelihood cannot give Pareto k (see :func:`pareto_k_problem`).
    """
    if "log_likelihood" not in idata.children:
        return None
    k, problem = _pareto_k(idata)
    if problem is not None:
        raise ModelError(problem)
    return k


def _pareto_k(idata: Any) -> tuple[np.ndarray | None, str | None]:
    import arviz_stats as azs

    loglik = idata["log_likelihood"].to_dataset()
    arrays = [np.asarray(v.values, dtype=float) for v in loglik.data_vars.values()]
    n_draws = int(loglik.sizes.get("chain", 0) * loglik.sizes.get("draw", 0))
    if n_draws < MIN_LOO_DRAWS:
        return None, _too_few_draws(n_draws)
    n_bad = sum(int((~np.isfinite(a)).reshape(-1, *a.shape[2:]).any(axis=0).sum()) for a in arrays)
    if n_bad:
        return None, (
            f"{n_bad} observation(s) have a non-finite log-likelihood in some draws (the "
            "sampler broke down, or an observation is impossible under the model), so PSIS-LOO "
            "cannot be computed. Check the data and the priors and sample again."
        )
    with warnings.catch_warnings():
        # the high-k warning of arviz-stats is replaced by our own message below
        warnings.filterwarnings("ignore", message=".*Pareto k.*")
        try:
            result = azs.loo(idata, pointwise=True)
        except ValueError as err:
            if not str(err).startswith(_NO_K_MESSAGES):
                raise
            return None, _no_k(err)
    k = np.asarray(result.pareto_k, dtype=float).ravel()
    return k, None


def _too_few_draws(n_draws: int) -> str:
    return (
        f"Pareto k cannot be estimated from {n_draws} draws (at least {MIN_LOO_DRAWS} are "
        "needed), so PSIS-LOO cannot be checked. Draw more samples (e.g. --draws 1000)."
    )


def _no_k(err: ValueError) -> str:
    return (
        f"Pareto k cannot be estimated ({err}): the draws of the log-likelihood are "
        "constant or too few, as when the sampler did not move. Check the convergence "
        "report and sample again."
    )


def _fit_pareto_k(result: Any) -> tuple[np.ndarray | None, str | None]:
    """Pareto k of a fit's rows and why it cannot be computed, as :func:`_pareto_k`.

    From the stored log-likelihood; for a fit that stores none (as the main job's), computed
    from the posterior one block of rows at a time
    (:func:`ambidex_bayes.checks.log_likelihood.row_log_likelihood`, the same Pareto k
    as PSIS-LOO's). ``(None, None)`` when the fit has neither (no stored log-likelihood,
    and no prepared data and family to compute it from).
    """
    if "log_likelihood" in result.idata.children:
        return _pareto_k(result.idata)
    family = getattr(getattr(result, "spec", None), "family", None)
    if getattr(result, "prepared", None) is None or family is None:
        return None, None
    from ambidex_bayes.checks.log_likelihood import row_log_likelihood
    from ambidex_bayes.checks.loo import blocked_loo, relative_efficiency
    from ambidex_bayes.posterior import posterior_dataset

    try:
        rows = row_log_likelihood(result)
    except ModelError:  # a family whose log-likelihood is not computed here
        return None, None
    if rows.n_samples < MIN_LOO_DRAWS:
        return None, _too_few_draws(rows.n_samples)
    try:
        loo = blocked_loo(rows, relative_efficiency(posterior_dataset(result.idata)))
    except ValueError as err:
        if not str(err).startswith(_NO_K_MESSAGES):
            raise
        return None, _no_k(err)
    return np.asarray(loo.pareto_k.values, dtype=float).ravel(), None


def pareto_k_problem(idata: Any) -> str | None:
    """Why Pareto k cannot be computed for a fit, in plain words, or None when it can."""
    if "log_likelihood" not in idata.children:
        return None
    return _pareto_k(idata)[1]


def strict_problems(fits: Iterable[Any], *, check_pareto: bool = True) -> list[str]:
    """What makes each fit fail strict mode, in plain words (empty: all passed).

    Parameters
    ----------
    fits : iterable of FitResult
    check_pareto : bool
        Also compute PSIS-LOO Pareto k (from the stored log-likelihood, or from the
        posterior by blocks of rows for a fit that stores none).
    """
    problems: list[str] = []
    for result in fits:
        name = result.spec.name
        conv = result.convergence
        posterior = result.idata["posterior"].to_dataset()
        problems += [f"{name}: {p}" for p in undefined_diagnostics(posterior, conv.table)]
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
            k, problem = _fit_pareto_k(result)
            if problem is not None:
                problems.append(f"{name}: {problem}")
            if k is not None:
                n_bad = int(np.sum(~(k <= constants.PARETO_K_MAX)))  # NaN k fails too
                if n_bad:
                    problems.append(
                        f"{name}: {n_bad} of {k.size} observations have Pareto k > "
                        f"{constants.PARETO_K_MAX} (PSIS-LOO is unreliable for them; use "
                        "moment matching, exact refits or K-fold cross-validation)."
                    )
    return problems
