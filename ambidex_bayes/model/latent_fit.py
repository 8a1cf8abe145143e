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

from ambidex_bayes.model.latent_centring import LatentModel
from ambidex_bayes.model.latent_fast_path import draw_from_sums, draw_person_effects_latent
from ambidex_bayes.model.latent_ladder import ladder_structure
from ambidex_bayes.model.latent_many import many_sums, many_terms
from ambidex_bayes.posterior import without_internal

__all__ = ["complete_latent", "real_persons"]


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
    a = _flat(posterior, "Intercept")[:, None]
    if nm.between in posterior:
        a = a + _flat(posterior, nm.between)[:, None] * (mu - mu0)
    a = np.broadcast_to(a, (S, J))
    within = _flat(posterior, nm.within) if nm.within in posterior else np.zeros(S)
    b = np.broadcast_to(within[:, None], (S, J))
    if data.w is not None:
        a = a + _flat(posterior, nm.w)[:, None] * data.w
        if nm.interaction in posterior:
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


def _complete_many(model: LatentModel, posterior: xr.Dataset, seed: int) -> xr.Dataset:
    """:func:`_complete` for several level-1 predictors: the sums of the residualised
    outcome (:func:`~ambidex_bayes.model.latent_many.many_terms`) one draw at a time."""
    data, nm = model.data, model.data.names
    structure = model.structure or ladder_structure(model.level, data.n_predictors)
    chains, draws = posterior.sizes["chain"], posterior.sizes["draw"]
    S, J = chains * draws, data.n_persons
    views = [data.predictor(p) for p in range(data.n_predictors)]
    zero = np.zeros((S, 1))

    def scalar(name: str, present: bool = True) -> np.ndarray:
        return _flat(posterior, name)[:, None] if present else zero

    mus = [posterior[v.names.mu].to_numpy().reshape(S, J) for v in views]
    imputed = [
        posterior[v.names.imputed].to_numpy().reshape(S, -1) if v.n_imputed else None for v in views
    ]
    a = np.broadcast_to(scalar("Intercept"), (S, J)).copy()
    bs = []
    for p, view in enumerate(views):
        vn = view.names
        if structure.between[p]:
            a = a + scalar(vn.between) * (mus[p] - scalar(vn.mu_mean))
        b = np.broadcast_to(scalar(vn.within, structure.within[p]), (S, J)).copy()
        if structure.interaction[p]:
            b = b + scalar(vn.interaction) * data.w
        bs.append(b)
    if data.w is not None:
        a = a + scalar(nm.w) * data.w
    gamma = np.stack([_flat(posterior, c) for c in nm.controls], axis=1) if nm.controls else None
    s = structure.slope or 0
    ms = many_sums(data)
    base = model.sums
    out = {k: np.empty((S, J)) for k in ("Sy", "Sx", "Sxx", "Sxy", "a")}
    for d in range(S):
        Sy, _, Sx, Sxx, Sxy, a_r = many_terms(
            ms,
            J,
            [None if x is None else x[d] for x in imputed],
            [mu[d] for mu in mus],
            a[d],
            [b[d] for b in bs],
            None if gamma is None else gamma[d],
            s,
            base.Sy,
            base.Syy,
            module=np,
        )
        for key, value in zip(out, (Sy, Sx, Sxx, Sxy, a_r), strict=True):
            out[key][d] = value
    slope_names = views[s].names
    names = [nm.intercept_effect] + ([slope_names.slope_effect] if model.random_slope else [])
    tau = np.stack([_flat(posterior, f"{n}_sigma") for n in names], axis=1)
    rho = _flat(posterior, slope_names.correlation) if model.correlated else None
    u = draw_from_sums(
        base.n,
        out["Sy"],
        out["Sx"],
        out["Sxx"],
        out["Sxy"],
        mus[s],
        out["a"],
        bs[s],
        _flat(posterior, "sigma"),
        tau,
        rho,
        np.random.default_rng(seed),
    )
    for k, name in enumerate(names):
        posterior[name] = (("chain", "draw", nm.person_dim), u[..., k].reshape(chains, draws, J))
    return posterior


def real_persons(posterior: xr.Dataset, model: LatentModel) -> xr.Dataset:
    """``posterior`` over the real persons of ``model``, labelled with their ids.

    Drops the padding persons (:attr:`~ambidex_bayes.model.latent_centring.LatentModel.
    n_padding`, after the real ones) and sets the person labels: a compiled model re-used
    for another data set of the same size still carries the labels of the data it was
    compiled from.
    """
    dim, data = model.data.names.person_dim, model.data
    if dim not in posterior.dims:
        return posterior
    posterior = posterior.isel({dim: slice(0, data.n_persons)})
    return posterior.assign_coords({dim: list(data.levels)})


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
        ``idata`` over the real persons (padding dropped, labels of ``model``'s data; see
        :func:`real_persons`), with the fast path's person effects added (drawn exactly
        given each posterior draw) and the internal variables dropped.
    """
    posterior = real_persons(idata["posterior"].to_dataset(), model)
    if model.marginal and model.data.n_predictors > 1:
        posterior = _complete_many(model, posterior, seed)
    elif model.marginal:
        posterior = _complete(model, posterior, seed)
    idata["posterior"] = xr.DataTree(without_internal(posterior))
    return idata
