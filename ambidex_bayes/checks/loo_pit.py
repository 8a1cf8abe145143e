r"""LOO-PIT: calibration of a fit's leave-one-out predictive distributions.

The leave-one-out probability integral transform

.. math::

    \mathrm{PIT}_i = \Pr(y^{\mathrm{rep}}_i \le y_i \mid y_{-i})
        \approx \sum_s w_{is}\,\mathbf 1[y^{\mathrm{rep}(s)}_i < y_i]
        + U_i \sum_s w_{is}\,\mathbf 1[y^{\mathrm{rep}(s)}_i = y_i],
    \qquad U_i \sim \mathrm{Uniform}(0, 1),

with :math:`w_{is}` the normalised PSIS-LOO weights of leaving out row :math:`i`, is
computed by :func:`loo_pit_values` one block of rows at a time: the pointwise
log-likelihood of the block (read from the fit, or computed from its posterior,
:func:`~ambidex_bayes.checks.log_likelihood.row_log_likelihood`), its smoothed weights
(:func:`~ambidex_bayes.checks.psis.psis_log_weights`) and the PIT of the block's replicated
outcomes (arviz-stats' own array function, or for Pareto-smoothed tails
:func:`~ambidex_bayes.checks.pareto_pit.pareto_pit_rows`, the same computation vectorised
over the rows), so no draws x rows array of all rows is held.
The values are those of ``arviz_stats.loo_pit`` (its definition, its tie-breaking draws and
its seed); with ``pareto_pit=True`` the tails are refined by a generalized Pareto fit, as
arviz-plots' figure computes them. For a calibrated model the values are uniform.

:func:`loo_pit_uniformity` is the check that :func:`arviz_plots.plot_loo_pit` draws (and
the report and the ``ppc`` command state): the pointwise order-based test with Cauchy
combination (``pot_c``, Tesso et al. 2026) of arviz-stats on the PIT values with
Pareto-smoothed tails. It allows for the dependence between LOO-PIT values; its p-value is
printed on the figure and, when it is below :math:`\alpha = 1 - \mathrm{prob}`, the diaries
that contribute most to the departure are marked.

PIT is unchanged by the standardisation (a monotone map), so the log-likelihood of the model
scale serves for the original scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from ambidex_bayes.checks.log_likelihood import row_log_likelihood
from ambidex_bayes.checks.loo import relative_efficiency
from ambidex_bayes.checks.pareto_pit import pareto_pit_rows
from ambidex_bayes.checks.predictive import PredictiveDraws
from ambidex_bayes.checks.predictive_tree import OBS_DIM
from ambidex_bayes.checks.psis import psis_log_weights
from ambidex_bayes.errors import AmbidexError, ModelError
from ambidex_bayes.posterior import SAMPLE_DIMS, posterior_dataset, resolve_prob

if TYPE_CHECKING:
    from ambidex_bayes.fit import FitResult

__all__ = [
    "PitUniformity",
    "UNIFORMITY_METHOD",
    "PIT_GROUP",
    "PIT_SEED",
    "PIT_BLOCK_NUMBERS",
    "loo_pit_tree",
    "loo_pit_values",
    "loo_pit_uniformity",
]

#: arviz-stats' uniformity test for LOO-PIT values (the default of ``plot_loo_pit``).
UNIFORMITY_METHOD = "pot_c"

#: Group of :func:`loo_pit_tree` holding the PIT values (as ``arviz_plots.plot_loo_pit``
#: names it before drawing them).
PIT_GROUP = "loo_pit"

#: Seed of the tie-breaking draws when none is given: arviz-stats' default, so the values
#: equal ``arviz_stats.loo_pit``'s.
PIT_SEED = 214

#: Numbers (draws x rows) of one block of the log-likelihood; the weights, the replicated
#: outcomes and arviz-stats' temporaries of the block are of the same size.
PIT_BLOCK_NUMBERS: int = 4_000_000


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


def loo_pit_values(
    fit: FitResult,
    draws: PredictiveDraws,
    *,
    pareto_pit: bool = False,
    random_state: int | np.random.Generator | None = None,
    block_numbers: int | None = None,
) -> np.ndarray:
    r"""LOO-PIT value :math:`\Pr(y^{rep}_i \le y_i \mid y_{-i})` per row, PSIS-weighted.

    The rows are taken in blocks (see the module docstring): per block, the pointwise
    log-likelihood thinned like the draws, its PSIS log weights and the PIT of the block's
    replicated outcomes (``arviz_stats``' array function ``loo_pit``, which breaks ties at
    the observed value with a uniform draw; with ``pareto_pit``,
    :func:`~ambidex_bayes.checks.pareto_pit.pareto_pit_rows`, its computation for many rows
    at once). One random generator serves every block in
    row order, so the values do not depend on the block size and equal
    ``arviz_stats.loo_pit``'s on the same draws. The relative efficiency of the weights is
    that of the fit's scalar parameters, thinned like the draws.

    Parameters
    ----------
    fit : FitResult
        The fit the draws come from (its pointwise log-likelihood is read when stored,
        otherwise computed block by block from its posterior).
    draws : PredictiveDraws
        From :func:`~ambidex_bayes.checks.predictive.posterior_predictive` on the same fit.
    pareto_pit : bool
        Refine the tails by a generalized Pareto fit (``arviz_stats.loo_pit``'s
        ``pareto_pit``; what the figure and :func:`loo_pit_uniformity` use).
    random_state : int or numpy.random.Generator, optional
        Seed of the tie-breaking draws (default :data:`PIT_SEED`).
    block_numbers : int, optional
        Numbers (all draws x rows) of the log-likelihood per block (default
        :data:`PIT_BLOCK_NUMBERS`); at least one row a block.

    Returns
    -------
    numpy.ndarray
        Shape ``(rows,)``, values in :math:`[0, 1]`.

    Raises
    ------
    ModelError
        The draws do not match the fit's rows or its thinned draws.
    """
    from arviz_stats.base import array_stats

    rows = row_log_likelihood(fit)
    y_rep = draws.y_rep.transpose(*SAMPLE_DIMS, OBS_DIM)
    step = draws.draw_step
    thinned = (rows.n_chain, len(range(0, rows.n_draw, step)), rows.n_rows)
    if thinned != y_rep.shape:
        raise ModelError(
            f"{fit.spec.name}: the log-likelihood thinned by {step} has shape {thinned} but the "
            f"replicated data {y_rep.shape}; pass draws made from this fit."
        )
    y_obs = np.asarray(draws.y_obs, dtype=float)
    if y_obs.shape != (rows.n_rows,):
        raise ModelError(
            f"{fit.spec.name}: {y_obs.shape} observed values for {rows.n_rows} rows; pass draws "
            "made from this fit."
        )
    rng = np.random.default_rng(PIT_SEED if random_state is None else random_state)
    r_eff = relative_efficiency(_scalar_posterior(fit, step))
    n_chain, n_draw = thinned[0], thinned[1]
    pit = np.empty(rows.n_rows)
    for block, piece in rows.blocks(block_numbers or PIT_BLOCK_NUMBERS):
        ll = piece.transpose(*SAMPLE_DIMS, OBS_DIM).isel(draw=slice(None, None, step))
        ll = np.asarray(ll.values, dtype=float).reshape(n_chain * n_draw, -1)
        log_weights, _ = psis_log_weights(ll, r_eff)
        # rows first, then the draws chain after chain (arviz-stats' layout)
        predicted = np.asarray(y_rep[:, :, block].values, dtype=float).reshape(n_chain * n_draw, -1)
        if pareto_pit:
            pit[block] = pareto_pit_rows(predicted.T, y_obs[block], log_weights.T, rng)
        else:
            pit[block] = array_stats.loo_pit(
                predicted.T, y_obs[block], log_weights.T, chain_axis=None, random_state=rng
            )
    return pit


def _scalar_posterior(fit: FitResult, step: int) -> xr.Dataset:
    """The fit's scalar parameters, thinned by ``step`` within each chain."""
    post = posterior_dataset(fit.idata).isel(draw=slice(None, None, step))
    return post[[v for v in post.data_vars if set(post[v].dims) == set(SAMPLE_DIMS)]]


def loo_pit_tree(fit: FitResult, draws: PredictiveDraws) -> xr.DataTree:
    """The DataTree that the LOO-PIT figure and its uniformity test read.

    The observed outcome (``observed_data``, as in
    :func:`~ambidex_bayes.checks.predictive_tree.predictive_tree`) and its LOO-PIT values
    with Pareto-smoothed tails (group :data:`PIT_GROUP`, from :func:`loo_pit_values` with
    ``pareto_pit=True``), one variable named after the outcome in each: the values
    :func:`arviz_plots.plot_loo_pit` computes before drawing them, computed here by blocks
    of rows and once for the figure and the test.

    Parameters
    ----------
    fit : FitResult
        The fit the draws come from (for its pointwise log-likelihood).
    draws : PredictiveDraws
        From :func:`~ambidex_bayes.checks.predictive.posterior_predictive` on the same fit.

    Returns
    -------
    xarray.DataTree
        Groups ``observed_data`` and ``loo_pit`` (dim ``__obs__``); ``attrs`` as in
        ``predictive_tree`` (``model``, ``outcome``, ``range``).
    """
    pit = loo_pit_values(fit, draws, pareto_pit=True)
    name, rows = draws.outcome, {OBS_DIM: np.arange(pit.size)}
    tree = xr.DataTree.from_dict(
        {
            "observed_data": xr.Dataset(
                {name: (OBS_DIM, np.asarray(draws.y_obs, dtype=float))}, coords=rows
            ),
            PIT_GROUP: xr.Dataset({name: (OBS_DIM, pit)}, coords=rows),
        }
    )
    tree.attrs.update(model=draws.model, outcome=name, range=draws.scale_range)
    return tree


def loo_pit_uniformity(tree: xr.DataTree, *, prob: float | None = None) -> PitUniformity:
    r"""Test the uniformity of the LOO-PIT values as :func:`arviz_plots.plot_loo_pit` does.

    The PIT values, with Pareto-smoothed tails as the figure computes them, are those of
    the tree (:func:`loo_pit_values` with ``pareto_pit=True``); the test is arviz-stats'
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
    prob = resolve_prob(prob)
    if not isinstance(tree, xr.DataTree) or PIT_GROUP not in tree.children:
        raise AmbidexError("loo_pit_uniformity needs the DataTree returned by loo_pit_tree().")
    pit = tree[PIT_GROUP].to_dataset()
    values = np.asarray(pit[next(iter(pit.data_vars))].values, dtype=float)
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
