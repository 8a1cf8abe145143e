"""Completing the posterior of a sampled latent-centred model.

Full NUTS samples every parameter, person effects included. The fast path samples everything
but the person effects (:mod:`ambidex_bayes.model.latent_fast_path`), then
:func:`complete_latent` draws them exactly per posterior draw, so both give a posterior with
the same variables: the observed model's
names for the shared roles plus the predictor model's (person means ``{x}_mu`` and their
hyperparameters, imputed ``{x}_imputed``). Internal variables (names starting with ``"_"``)
are dropped. The sampling itself is the engine's
(:mod:`ambidex_bayes.engine.latent_sampling`).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ambidex_bayes.model.latent_centring import LADDER, LatentModel
from ambidex_bayes.model.latent_fast_path import draw_person_effects_latent
from ambidex_bayes.posterior import without_internal

__all__ = ["complete_latent"]


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
    gamma = np.stack([_flat(posterior, c) for c in nm.controls], axis=1) if nm.controls else None
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
        gamma=gamma,
    )
    for k, name in enumerate(names):
        posterior[name] = (("chain", "draw", nm.person_dim), u[..., k].reshape(chains, draws, J))
    return posterior


def complete_latent(model: LatentModel, idata: xr.DataTree, seed: int) -> xr.DataTree:
    """The posterior of a sampled latent-centred model, with the person effects either way.

    Parameters
    ----------
    model : LatentModel
        The model that was sampled.
    idata : xarray.DataTree
        The sampler's output (groups ``posterior`` and ``sample_stats``).
    seed : int
        Seed of the exact draws of the fast path's person effects.

    Returns
    -------
    xarray.DataTree
        ``idata`` with the fast path's person effects added (drawn exactly given each
        posterior draw) and the internal variables dropped.
    """
    posterior = idata["posterior"].to_dataset()
    if model.marginal:
        posterior = _complete(model, posterior, seed)
    idata["posterior"] = xr.DataTree(without_internal(posterior))
    return idata
