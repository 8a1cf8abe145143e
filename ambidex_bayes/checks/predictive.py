r"""Replicated data from a fit's posterior: the draws that posterior predictive checks use.

Replicated outcomes are drawn directly from the saved posterior, so the checks work on a
fresh fit and on a fit loaded from its file alike. Per posterior draw :math:`s` and row
:math:`i` (person :math:`j`),

.. math::

    \mu^{(s)}_i = x_i'\beta^{(s)} + z_i'u^{(s)}_j, \qquad
    y^{\mathrm{rep}(s)}_i = \mu^{(s)}_i + \sigma^{(s)}\varepsilon^{(s)}_i,

with :math:`\varepsilon \sim N(0, 1)` for the Gaussian family and
:math:`\varepsilon \sim t_{\nu^{(s)}}` for the Student-t family. The linear predictor
:math:`\mu` is the fixed design times the fixed effects plus each row's person deviations,
indexed by the row's person (person effects included, or left out for the marginal
predictor; :func:`linear_predictor`, :mod:`ambidex_bayes.checks.indexed_predictor`): the
same values as Bambi's ``Model.predict(kind="response_params")``, without its dense rows x
persons design. The noise comes from a seeded :class:`numpy.random.Generator`. Everything is returned on the
outcome's *original* scale: when the outcome was standardised, :math:`\mu \mapsto \mu s_y +
c_y` and :math:`\sigma \mapsto \sigma s_y` with the prepared data's centre and scale
(:func:`outcome_transform`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr

from ambidex_bayes import constants
from ambidex_bayes.checks.indexed_predictor import linear_predictor_draws, predictor_design
from ambidex_bayes.engine.limits import check_seed
from ambidex_bayes.errors import AmbidexError, ModelError
from ambidex_bayes.posterior import SAMPLE_DIMS, get_scalar, posterior_dataset

if TYPE_CHECKING:
    from ambidex_bayes.fit import FitResult

__all__ = [
    "PredictiveDraws",
    "MAX_DRAWS",
    "posterior_predictive",
    "linear_predictor",
    "outcome_transform",
    "thinning_step",
]

#: Most posterior draws used for replicated data (evenly thinned within each chain).
MAX_DRAWS: int = 1000


@dataclass(frozen=True, eq=False)
class PredictiveDraws:
    """Replicated outcomes and what is needed to check them, on the original outcome scale.

    Attributes
    ----------
    y_rep : xarray.DataArray
        Replicated outcomes, dims ``(chain, draw, __obs__)``.
    mu : xarray.DataArray
        The conditional mean (linear predictor with person effects), same dims.
    y_obs : numpy.ndarray
        The observed outcome per row.
    persons : numpy.ndarray
        Person id (str) per row.
    outcome : str
        Name of the outcome (as in the data).
    scale_range : tuple of float or None
        The outcome's declared range ``(lowest, highest)``, if any.
    family : str
        ``"gaussian"`` or ``"t"``.
    model : str
        Name of the fitted spec.
    draw_step : int
        Thinning step applied within each chain (1: every draw).
    seed : int
        Seed of the noise.
    """

    y_rep: xr.DataArray
    mu: xr.DataArray
    y_obs: np.ndarray
    persons: np.ndarray
    outcome: str
    scale_range: tuple[float, float] | None
    family: str
    model: str
    draw_step: int
    seed: int

    @property
    def n_draws(self) -> int:
        """Number of replicated data sets."""
        return int(self.y_rep.sizes["chain"] * self.y_rep.sizes["draw"])

    def flat(self) -> np.ndarray:
        """Replicated outcomes as an array ``(draws, rows)``."""
        return np.asarray(self.y_rep.transpose(*SAMPLE_DIMS, "__obs__").values).reshape(
            self.n_draws, -1
        )


def outcome_transform(fit: FitResult) -> tuple[float, float]:
    """Centre and scale that map the modelled outcome column back to its original units.

    Returns ``(centre, scale)`` with original = modelled * scale + centre; ``(0, 1)`` when the
    outcome was not transformed.
    """
    column = fit.terms.y_column
    transform = fit.prepared.transforms.get(column) if column else None
    if transform is None:
        return 0.0, 1.0
    return float(transform.centre), float(transform.scale)


def thinning_step(posterior: xr.Dataset, max_draws: int | None) -> int:
    """Step of even thinning within each chain that leaves about ``max_draws`` draws in all.

    ``max_draws`` defaults to :data:`MAX_DRAWS`; ``posterior.isel(draw=slice(None, None,
    step))`` applies the step (1: every draw).
    """
    limit = MAX_DRAWS if max_draws is None else int(max_draws)
    if limit < 1:
        raise AmbidexError(f"max_draws must be at least 1, got {max_draws!r}.")
    total = posterior.sizes["chain"] * posterior.sizes["draw"]
    return max(1, int(np.ceil(total / limit)))


def linear_predictor(
    fit: FitResult,
    *,
    group_specific: bool = True,
    data: pd.DataFrame | None = None,
    posterior: xr.Dataset | None = None,
) -> xr.DataArray:
    r"""The linear predictor :math:`\mu` per draw and row, on the *modelled* outcome scale.

    :math:`x_i'\beta` plus, with ``group_specific``, the row's person deviations indexed by
    its person (:mod:`ambidex_bayes.checks.indexed_predictor`); memory grows with rows x
    draws, never with rows x persons. Equal to Bambi's ``Model.predict(
    kind="response_params")`` on the same draws.

    Parameters
    ----------
    fit : FitResult
    group_specific : bool
        Include the person effects (conditional predictor) or not (marginal, fixed part only).
    data : DataFrame, optional
        Rows to predict (prepared columns); default the fitted rows. With
        ``group_specific``, every row's person must have effects in the posterior.
    posterior : Dataset, optional
        Draws to use (e.g. thinned); default the fit's whole posterior.

    Returns
    -------
    xarray.DataArray
        Dims ``(chain, draw, __obs__)``, named ``mu``.
    """
    post = posterior if posterior is not None else posterior_dataset(fit.idata)
    design = predictor_design(fit, post, group_specific=group_specific, data=data)
    values = linear_predictor_draws(design, post, name=fit.spec.name)
    return xr.DataArray(
        values,
        dims=(*SAMPLE_DIMS, "__obs__"),
        coords={
            "chain": post["chain"].values,
            "draw": post["draw"].values,
            "__obs__": np.arange(design.n_rows),
        },
        name="mu",
    )


def posterior_predictive(
    fit: FitResult,
    *,
    seed: int | None = None,
    max_draws: int | None = None,
) -> PredictiveDraws:
    """Draw replicated outcomes for the fitted rows, on the original outcome scale.

    Parameters
    ----------
    fit : FitResult
        A fresh or loaded fit (Gaussian or Student-t family).
    seed : int, optional
        Seed of the noise (default ``constants.SEED``).
    max_draws : int, optional
        Use at most this many posterior draws, evenly thinned within each chain (default
        :data:`MAX_DRAWS`).

    Returns
    -------
    PredictiveDraws

    Examples
    --------
    Replicated outcomes of M3 (``m3``, 2 chains of 200 draws) for the 397 rows of the
    bundled example, on the outcome's 1-5 scale:

    >>> pp = ab.ppc(m3, seed=1)
    >>> pp.model, pp.outcome, pp.family, pp.scale_range
    ('M3', 'innovation', 'gaussian', (1.0, 5.0))
    >>> pp.y_rep.dims, pp.y_rep.shape, pp.y_obs.shape
    (('chain', 'draw', '__obs__'), (2, 200, 397), (397,))
    """
    seed = constants.SEED if seed is None else check_seed(seed)
    post_all = posterior_dataset(fit.idata)
    step = thinning_step(post_all, max_draws)
    post = post_all.isel(draw=slice(None, None, step))
    mu = linear_predictor(fit, group_specific=True, posterior=post)
    sigma = get_scalar(post, fit.terms.sigma, "residual SD")
    rng = np.random.default_rng(seed)
    shape = mu.shape
    family = fit.spec.family
    if family == "gaussian":
        noise = rng.standard_normal(shape)
    elif family == "t":
        nu = get_scalar(post, "nu", "degrees of freedom of the Student-t family").values
        noise = rng.standard_t(np.broadcast_to(nu[..., None], shape))
    else:
        raise ModelError(
            f"{fit.spec.name}: posterior predictive draws for family {family!r} "
            "are not implemented (gaussian and t are)."
        )
    centre, scale = outcome_transform(fit)
    # In place: two arrays of draws x rows at a time (the mean and the replicates).
    mu_orig = mu.values
    mu_orig *= scale
    mu_orig += centre
    noise *= np.asarray(sigma.values, dtype=float)[..., None] * scale
    noise += mu_orig
    y_rep = mu.copy(data=noise).rename("y_rep")
    frame = fit.prepared.frame
    y_col = fit.terms.y_column
    if y_col not in frame.columns:
        raise ModelError(f"{fit.spec.name}: the prepared data have no outcome column {y_col!r}.")
    y_obs = frame[y_col].to_numpy(dtype=float) * scale + centre
    if y_obs.shape[0] != shape[-1]:
        raise ModelError(
            f"{fit.spec.name}: the prepared data have {y_obs.shape[0]} rows but the model "
            f"predicts {shape[-1]}; the fit and its data do not belong together."
        )
    mapping = fit.prepared.mapping
    declared = dict(mapping.ranges).get(mapping.outcome)
    return PredictiveDraws(
        y_rep=y_rep,
        mu=mu.rename("mu"),
        y_obs=y_obs,
        persons=frame[mapping.person].astype(str).to_numpy(),
        outcome=mapping.outcome,
        scale_range=None if declared is None else (float(declared[0]), float(declared[1])),
        family=family,
        model=fit.spec.name,
        draw_step=step,
        seed=seed,
    )
