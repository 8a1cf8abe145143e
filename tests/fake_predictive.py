"""Hand-made posterior predictive draws with a fit-like object that holds their posterior and
pointwise log-likelihood: enough for the density overlay and LOO-PIT without a fit."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import xarray as xr
from scipy.stats import norm

from ambidex_bayes.checks.predictive import PredictiveDraws


def predictive_pair(
    scale: float, *, n_rows: int = 60, seed: int = 1
) -> tuple[PredictiveDraws, SimpleNamespace]:
    """Draws and a fit-like object for observed values from N(0, 1) and a model N(mu, scale).

    ``mu`` varies a little between draws (2 chains x 200 draws); ``scale = 1`` is a
    calibrated model, ``scale > 1`` one whose predictions are too wide. The fit-like object
    has ``spec.name`` and ``idata`` with ``posterior`` (``mu``) and ``log_likelihood``.
    """
    rng = np.random.default_rng(seed)
    chains, n_draws = 2, 200
    y_obs = rng.normal(size=n_rows)
    mu = rng.normal(0.0, 0.1, size=(chains, n_draws))
    y_rep = mu[..., None] + scale * rng.normal(size=(chains, n_draws, n_rows))
    coords = {"chain": np.arange(chains), "draw": np.arange(n_draws)}
    replicated = xr.DataArray(y_rep, dims=("chain", "draw", "__obs__"), coords=coords)
    draws = PredictiveDraws(
        y_rep=replicated,
        mu=replicated,
        y_obs=y_obs,
        persons=np.repeat(["a", "b"], n_rows - n_rows // 2)[:n_rows],
        outcome="inno",
        scale_range=(-4.0, 4.0),
        family="gaussian",
        model="M3",
        draw_step=1,
        seed=0,
    )
    log_lik = norm.logpdf(y_obs, loc=mu[..., None], scale=scale)
    idata = xr.DataTree.from_dict(
        {
            "posterior": xr.Dataset({"mu": (("chain", "draw"), mu)}, coords=coords),
            "log_likelihood": xr.Dataset(
                {"inno_z": (("chain", "draw", "__obs__"), log_lik)}, coords=coords
            ),
        }
    )
    return draws, SimpleNamespace(spec=SimpleNamespace(name="M3"), idata=idata)


def arviz_tree(fit: SimpleNamespace, draws: PredictiveDraws, log_lik: np.ndarray) -> xr.DataTree:
    """The whole DataTree ``arviz_stats.loo_pit`` reads: the fit's scalar posterior
    parameters, the replicated and observed outcome and ``log_lik`` (``(chain, draw, rows)``,
    the draws' thinning already applied), one variable named after the outcome.

    The reference the blocked LOO-PIT must reproduce (it holds every row at once).
    """
    post = fit.idata["posterior"].to_dataset().isel(draw=slice(None, None, draws.draw_step))
    scalars = [v for v in post.data_vars if set(post[v].dims) == {"chain", "draw"}]
    coords = {"chain": post["chain"].values, "draw": post["draw"].values}
    rows = {"__obs__": np.arange(len(draws.y_obs))}
    cube = ("chain", "draw", "__obs__")
    name = draws.outcome
    return xr.DataTree.from_dict(
        {
            "posterior": post[scalars],
            "posterior_predictive": xr.Dataset(
                {name: (cube, draws.y_rep.transpose(*cube).values)}, coords={**coords, **rows}
            ),
            "observed_data": xr.Dataset({name: ("__obs__", draws.y_obs)}, coords=rows),
            "log_likelihood": xr.Dataset(
                {name: (cube, np.asarray(log_lik, dtype=float))}, coords={**coords, **rows}
            ),
        }
    )
