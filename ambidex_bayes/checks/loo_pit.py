r"""LOO-PIT: calibration of a fit's leave-one-out predictive distributions.

The leave-one-out probability integral transform
:math:`\mathrm{PIT}_i = \Pr(y^{\mathrm{rep}}_i \le y_i \mid y_{-i})` is computed with
PSIS-LOO weights (``arviz_stats.loo_pit``) from the DataTree of :func:`loo_pit_tree`; for a
calibrated model the values are uniform. :func:`loo_pit_uniformity` is the check that
:func:`arviz_plots.plot_loo_pit` draws (and the report and the ``ppc`` command state): the
pointwise order-based test with Cauchy combination (``pot_c``, Tesso et al. 2026) of
arviz-stats on the PIT values with Pareto-smoothed tails. It allows for the dependence
between LOO-PIT values; its p-value is printed on the figure and, when it is below
:math:`\alpha = 1 - \mathrm{prob}`, the diaries that contribute most to the departure are
marked.

PIT is unchanged by the standardisation (a monotone map), so the log-likelihood of the model
scale serves for the original scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from ambidex_bayes.checks.predictive import PredictiveDraws
from ambidex_bayes.checks.predictive_tree import OBS_DIM, predictive_tree
from ambidex_bayes.errors import AmbidexError, ModelError
from ambidex_bayes.posterior import SAMPLE_DIMS, posterior_dataset, resolve_prob

if TYPE_CHECKING:
    from ambidex_bayes.fit import FitResult

__all__ = [
    "PitUniformity",
    "UNIFORMITY_METHOD",
    "loo_pit_tree",
    "loo_pit_values",
    "loo_pit_uniformity",
]

#: arviz-stats' uniformity test for LOO-PIT values (the default of ``plot_loo_pit``).
UNIFORMITY_METHOD = "pot_c"


@dataclass(frozen=True)
class PitUniformity:
    """Result of the uniformity test of a fit's LOO-PIT values.

    Attributes
    ----------
    p_value : float
        p-value of the test (arviz-stats ``uniformity_test``, method :attr:`method`).
    prob : float
        The figure's level: a p-value below ``alpha = 1 - prob`` rejects uniformity.
    n : int
        Number of finite PIT values tested.
    n_marked : int
        Diaries marked in the figure as contributing to the departure (a positive Shapley
        value; 0 when uniformity is not rejected).
    model : str
        Name of the fitted spec.
    method : str
        The test (``"pot_c"``).
    """

    p_value: float
    prob: float
    n: int
    n_marked: int
    model: str
    method: str = UNIFORMITY_METHOD

    @property
    def alpha(self) -> float:
        """Level of the test, ``1 - prob``."""
        return 1.0 - self.prob

    @property
    def calibrated(self) -> bool:
        """Whether uniformity is not rejected (``p_value >= alpha``)."""
        return bool(self.p_value >= self.alpha)


def loo_pit_tree(fit: FitResult, draws: PredictiveDraws) -> xr.DataTree:
    """The DataTree that LOO-PIT is computed and drawn from.

    :func:`~ambidex_bayes.checks.predictive_tree.predictive_tree` (replicated and observed
    outcome) plus the fit's pointwise ``log_likelihood`` and its scalar ``posterior``
    parameters (for the relative efficiency of the PSIS weights), thinned like the draws,
    the log-likelihood variable named after the outcome.

    Parameters
    ----------
    fit : FitResult
        The fit the draws come from (for its pointwise log-likelihood).
    draws : PredictiveDraws
        From :func:`~ambidex_bayes.checks.predictive.posterior_predictive` on the same fit.

    Returns
    -------
    xarray.DataTree
        Groups ``posterior``, ``posterior_predictive``, ``observed_data``,
        ``log_likelihood``, as :func:`arviz_stats.loo_pit` and
        :func:`arviz_plots.plot_loo_pit` take them; ``attrs`` as in ``predictive_tree``.
    """
    if "log_likelihood" not in fit.idata.children:
        raise ModelError(
            f"{fit.spec.name}: the fit has no log_likelihood group, which LOO-PIT needs; "
            "refit it with ambidex_bayes.fit.fit."
        )
    loglik = fit.idata["log_likelihood"].to_dataset()
    ll = loglik[next(iter(loglik.data_vars))].isel(draw=slice(None, None, draws.draw_step))
    ll = ll.transpose(*SAMPLE_DIMS, ...)
    if ll.shape != draws.y_rep.transpose(*SAMPLE_DIMS, OBS_DIM).shape:
        raise ModelError(
            f"{fit.spec.name}: the log-likelihood has shape {ll.shape} but the replicated "
            f"data {draws.y_rep.shape}; pass draws made from this fit."
        )
    post = posterior_dataset(fit.idata).isel(draw=slice(None, None, draws.draw_step))
    scalars = [v for v in post.data_vars if set(post[v].dims) == set(SAMPLE_DIMS)]
    sample_coords = {dim: post[dim].values for dim in SAMPLE_DIMS}
    predictive = predictive_tree(draws)
    replicated = predictive["posterior_predictive"].to_dataset().assign_coords(sample_coords)
    name = draws.outcome
    log_likelihood = xr.Dataset(
        {name: ((*SAMPLE_DIMS, OBS_DIM), np.asarray(ll.values, dtype=float))},
        coords={**sample_coords, OBS_DIM: replicated[OBS_DIM].values},
    )
    tree = xr.DataTree.from_dict(
        {
            "posterior": post[scalars],
            "posterior_predictive": replicated,
            "observed_data": predictive["observed_data"].to_dataset(),
            "log_likelihood": log_likelihood,
        }
    )
    tree.attrs.update(predictive.attrs)
    return tree


def loo_pit_values(fit: FitResult, draws: PredictiveDraws) -> np.ndarray:
    r"""LOO-PIT value :math:`\Pr(y^{rep}_i \le y_i \mid y_{-i})` per row, PSIS-weighted.

    Parameters
    ----------
    fit : FitResult
        The fit the draws come from (for its pointwise log-likelihood).
    draws : PredictiveDraws
        From :func:`posterior_predictive` on the same fit.
    """
    import arviz_stats as azs

    pit = azs.loo_pit(loo_pit_tree(fit, draws), var_names=[draws.outcome])
    return np.asarray(pit[draws.outcome].values, dtype=float)


def loo_pit_uniformity(tree: xr.DataTree, *, prob: float | None = None) -> PitUniformity:
    r"""Test the uniformity of the LOO-PIT values as :func:`arviz_plots.plot_loo_pit` does.

    The PIT values are computed by :func:`arviz_stats.loo_pit` with Pareto-smoothed tails
    (``pareto_pit=True``, as the figure computes them) and tested by arviz-stats'
    ``uniformity_test`` (``pot_c``): each sorted value :math:`u_{(i)}` is compared with its
    distribution under uniformity, :math:`\mathrm{Beta}(i, n + 1 - i)`, and the pointwise
    two-sided p-values are combined by the Cauchy combination test, which stays valid for
    the dependent values of LOO-PIT.

    Parameters
    ----------
    tree : xarray.DataTree
        From :func:`loo_pit_tree`.
    prob : float, optional
        Level of the figure (``envelope_prob``); uniformity is rejected when the p-value is
        below ``1 - prob`` (default ``constants.CI_PROB``).

    Returns
    -------
    PitUniformity
    """
    import arviz_stats as azs

    prob = resolve_prob(prob)
    if not isinstance(tree, xr.DataTree) or "log_likelihood" not in tree.children:
        raise AmbidexError("loo_pit_uniformity needs the DataTree returned by loo_pit_tree().")
    name = next(iter(tree["observed_data"].data_vars))
    pit = azs.loo_pit(tree, var_names=[name], pareto_pit=True)[name]
    values = np.asarray(pit.values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size < 2:
        raise AmbidexError("the LOO-PIT uniformity test needs at least two finite PIT values.")
    p_value, shapley, _ = xr.DataArray(values, dims=OBS_DIM).azstats.uniformity_test(
        dim=OBS_DIM, method=UNIFORMITY_METHOD
    )
    p = float(p_value)
    marked = int(np.sum(np.asarray(shapley) > 0)) if p < 1.0 - prob else 0
    return PitUniformity(
        p_value=p, prob=prob, n=int(values.size), n_marked=marked, model=tree.attrs.get("model", "")
    )
