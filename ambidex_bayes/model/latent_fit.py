"""Sampling a latent-centred model and completing its posterior.

Full NUTS samples every parameter, person effects included. The fast path samples everything
but the person effects (:mod:`ambidex_bayes.model.latent_fast_path`), then draws them exactly
per posterior draw, so both give a posterior with the same variables: the observed model's
names for the shared roles plus the predictor model's (person means ``{x}_mu`` and their
hyperparameters, imputed ``{x}_imputed``). Internal variables (names starting with ``"_"``)
are dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from ambidex_bayes.model.latent_centring import LADDER, LatentModel, build_latent_model
from ambidex_bayes.model.latent_fast_path import draw_person_effects_latent
from ambidex_bayes.posterior import without_internal

if TYPE_CHECKING:
    from nutpie.compile_pymc import CompiledPyMCModel

    from ambidex_bayes.model.latent_data import LatentData

__all__ = ["sample_latent", "fit_latent_model"]


def _flat(posterior: xr.Dataset, name: str) -> np.ndarray:
    """A scalar variable's draws as (S,)."""
    return posterior[name].to_numpy().reshape(-1)


def _complete(model: LatentModel, posterior: xr.Dataset, seed: int) -> xr.Dataset:
    """Add the fast path's person effects, drawn exactly given each posterior draw."""
    data, nm = model.data, model.data.names
    chains, draws = posterior.sizes["chain"], posterior.sizes["draw"]
    S, J = chains * draws, data.n_persons
    mu = posterior[nm.mu].to_numpy().reshape(S, J)
    mu0 = _flat(posterior, nm.mu_mean)[:, None]
    x_imp = posterior[nm.imputed].to_numpy().reshape(S, -1) if data.n_imputed else np.zeros((S, 0))
    a = _flat(posterior, "Intercept")[:, None] + _flat(posterior, nm.between)[:, None] * (mu - mu0)
    b = np.broadcast_to(_flat(posterior, nm.within)[:, None], (S, J))
    if data.w is not None:
        a = a + _flat(posterior, nm.w)[:, None] * data.w
        if LADDER[model.level][1]:
            b = b + _flat(posterior, nm.interaction)[:, None] * data.w
    names = [nm.intercept_effect] + ([nm.slope_effect] if model.random_slope else [])
    tau = np.stack([_flat(posterior, f"{n}_sigma") for n in names], axis=1)
    rho = _flat(posterior, nm.correlation) if model.correlated else None
    u = draw_person_effects_latent(
        model.sums,
        mu,
        x_imp,
        a,
        b,
        _flat(posterior, "sigma"),
        tau,
        rho,
        np.random.default_rng(seed),
    )
    for k, name in enumerate(names):
        posterior[name] = (("chain", "draw", nm.person_dim), u[..., k].reshape(chains, draws, J))
    return posterior


def _pymc_sample(
    model: LatentModel,
    *,
    draws: int,
    tune: int,
    chains: int,
    cores: int,
    seed: int,
    backend: str,
    target_accept: float,
    progressbar: bool,
) -> xr.DataTree:
    import pymc as pm

    with model.pymc_model:
        return pm.sample(
            draws=draws,
            tune=tune,
            chains=chains,
            cores=cores,
            random_seed=seed,
            nuts_sampler=backend,
            target_accept=target_accept,
            progressbar=progressbar,
            compute_convergence_checks=False,
        )


def sample_latent(
    model: LatentModel,
    *,
    draws: int,
    tune: int,
    chains: int,
    seed: int,
    backend: str = "nutpie",
    target_accept: float = 0.8,
    cores: int | None = None,
    progressbar: bool = False,
    compiled: CompiledPyMCModel | None = None,
) -> xr.DataTree:
    """Sample a latent-centred model; the posterior has the person effects either way.

    Parameters
    ----------
    model : LatentModel
    draws, tune, chains, seed : int
        Draws and tuning steps per chain, chains, seed.
    backend : str
        NUTS sampler: ``"nutpie"``, ``"pymc"`` or ``"numpyro"``.
    target_accept : float
    cores : int, optional
        Chains run at once (default: one per chain).
    progressbar : bool
    compiled : nutpie compiled model, optional
        With ``backend="nutpie"``: the compiled model to sample (holding this model's data,
        e.g. a compiled model of the same structure re-used through ``with_data``); by
        default nutpie compiles ``model.pymc_model``.

    Returns
    -------
    xarray.DataTree
        With groups ``posterior`` and ``sample_stats`` (and whatever else the sampler gives).
    """
    if compiled is not None and backend == "nutpie":
        import nutpie

        idata = nutpie.sample(
            compiled,
            draws=draws,
            tune=tune,
            chains=chains,
            cores=cores or chains,
            seed=seed,
            progress_bar=progressbar,
            target_accept=target_accept,
        )
    else:
        idata = _pymc_sample(
            model,
            draws=draws,
            tune=tune,
            chains=chains,
            cores=cores or chains,
            seed=seed,
            backend=backend,
            target_accept=target_accept,
            progressbar=progressbar,
        )
    posterior = idata["posterior"].to_dataset()
    if model.marginal:
        posterior = _complete(model, posterior, seed + 1)
    idata["posterior"] = xr.DataTree(without_internal(posterior))
    return idata


def fit_latent_model(
    data: LatentData,
    level: str,
    *,
    marginal: bool = True,
    correlated: bool = True,
    **sampling: int | float | str | bool | None,
) -> tuple[LatentModel, xr.DataTree]:
    """Build and sample a latent-centred model of ``level`` on ``data``.

    Parameters
    ----------
    data : LatentData
    level : {"M1", "M2", "M3"}
    marginal : bool, default True
        The fast path (person effects integrated out given the person means).
    correlated : bool, default True
    **sampling
        Passed to :func:`sample_latent` (draws, tune, chains, seed, backend, ...).

    Returns
    -------
    LatentModel, xarray.DataTree
    """
    model = build_latent_model(data, level, marginal=marginal, correlated=correlated)
    return model, sample_latent(model, **sampling)
