"""Sampling a built model with the chosen backend, full or through the fast path.

:func:`sample_full` runs NUTS over every parameter of the full model. :func:`sample_marginal`
runs NUTS over the hyperparameters of the fast-path model, then draws the person effects
exactly and computes the pointwise log-likelihood, giving a posterior with the same variables
and dimensions as the full model's.

Compile once: with the nutpie backend, the compiled fast-path model is kept per model
structure (formula, family, prior families; see :attr:`BuiltModel.reuse_key`) and re-used
through ``with_data`` for new data, of any number of persons or rows, and new prior values,
without recompiling; its compiled callbacks are also kept on disk
(:mod:`ambidex_bayes.engine.nutpie_cache`), so a new process skips numba's compilation.

Every route samples through this module: :func:`sample_pymc` is the one call of
``pm.sample`` and :func:`sample_compiled` the one call of ``nutpie.sample`` (the
latent-centred models of :mod:`ambidex_bayes.engine.latent_sampling` included; only the
prior sets of :mod:`ambidex_bayes.engine.reuse` run PyMC's NUTS with a step of their own), and
:func:`compiled_model` keeps every compiled model, by structure. :func:`refuse_nonfinite_draws`
stops a fit whose sampler broke down.

PyMC and the model-building modules are imported by the functions that sample, so that
importing this module (as :mod:`ambidex_bayes.fit` does) stays light.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from ambidex_bayes.cache_dirs import user_cache_dir
from ambidex_bayes.diagnostics import nonfinite_draws
from ambidex_bayes.engine.nutpie_cache import compile_cached
from ambidex_bayes.errors import ModelError
from ambidex_bayes.light_imports import import_nutpie
from ambidex_bayes.posterior import without_internal
from ambidex_bayes.terms import correlation_name

if TYPE_CHECKING:
    import pymc as pm
    from nutpie.compile_pymc import CompiledPyMCModel

    from ambidex_bayes.engine.settings import SamplerSettings
    from ambidex_bayes.model.build import BuiltModel
    from ambidex_bayes.spec import ModelSpec

__all__ = [
    "sample_full",
    "sample_marginal",
    "complete_marginal",
    "correlation_draws",
    "without_internal",
    "check_reuse_key",
    "clear_compiled_cache",
    "compiled_cache_info",
    "compiled_for",
    "compiled_model",
    "compile_with_check",
    "flat_point",
    "sample_pymc",
    "sample_compiled",
    "jax_cache_dir",
    "numpyro_chain_method",
    "refuse_nonfinite_draws",
]

#: Compiled nutpie models of the fast path (with the model each was compiled from), by
#: model structure.
_COMPILED: dict[tuple, tuple[CompiledPyMCModel, pm.Model]] = {}
_CACHE_STATS = {"hits": 0, "misses": 0}


def clear_compiled_cache() -> None:
    """Forget every compiled fast-path model and initial-point check (the next fit compiles)."""
    from ambidex_bayes.model.build import _CHECKS

    _COMPILED.clear()
    _CHECKS.clear()


def compiled_cache_info() -> dict[str, int]:
    """How often a compiled fast-path model was re-used (hits) or compiled (misses)."""
    return dict(_CACHE_STATS, size=len(_COMPILED))


def jax_cache_dir() -> Path:
    """Where compiled JAX programs are kept between runs.

    ``$AMBIDEX_JAX_CACHE_DIR``, else ``$XDG_CACHE_HOME/ambidex_bayes/jax`` (by default
    ``~/.cache/ambidex_bayes/jax``).
    """
    return user_cache_dir("jax", "AMBIDEX_JAX_CACHE_DIR")


def _use_jax_compilation_cache() -> None:
    """Keep JAX's compiled programs on disk, unless the user configured a cache already.

    XLA compilation is a large part of a NumPyro fit's time on a CPU; with the cache, later
    processes on the same machine load the compiled sampler instead of compiling it again.
    Compiled programs do not change the draws.
    """
    import jax

    if jax.config.jax_compilation_cache_dir is None:
        folder = jax_cache_dir()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:  # a read-only home: compile in every process, as without the cache
            return
        jax.config.update("jax_compilation_cache_dir", str(folder))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


def numpyro_chain_method(
    chains: int, platform: str | None = None, n_devices: int | None = None
) -> str:
    """How NumPyro runs the chains: ``"vectorized"`` or ``"parallel"``.

    On a GPU (or another accelerator) with fewer devices than chains, the chains run as one
    vectorised program on the device; "parallel" would run them one after the other there.
    On the CPU the chains stay "parallel" (one per host device, else one after the other),
    which keeps the draws of CPU runs as they were.

    Parameters
    ----------
    chains : int
    platform, n_devices : optional
        JAX's default platform ("cpu", "gpu", "tpu") and its number of local devices;
        by default asked from JAX.
    """
    if platform is None or n_devices is None:
        import jax

        platform, n_devices = jax.default_backend(), jax.local_device_count()
    if platform != "cpu" and n_devices < chains:
        return "vectorized"
    return "parallel"


def sample_pymc(
    model: pm.Model,
    settings: SamplerSettings,
    progressbar: bool,
    *,
    dense_mass: bool = False,
    dense_backends: tuple[str, ...] = ("pymc",),
) -> xr.DataTree:
    """PyMC's ``pm.sample`` of ``model`` with ``settings`` (any backend, nutpie included,
    through ``nuts_sampler``); the one place every route calls it.

    Parameters
    ----------
    model : pymc.Model
    settings : SamplerSettings
        Resolved settings.
    progressbar : bool
    dense_mass : bool, default False
        Adapt a dense mass matrix (for models of few parameters) with the backends in
        ``dense_backends``.
    dense_backends : tuple of str, default ("pymc",)
        The backends ``dense_mass`` applies to, of ``"pymc"`` and ``"numpyro"`` (the
        observed fast path: PyMC only; small latent-centred models: NumPyro only).

    Returns
    -------
    xarray.DataTree
        The sampler's output, no convergence checks computed.
    """
    import pymc as pm

    extra: dict[str, Any] = {}
    if settings.backend == "nutpie":  # before PyMC imports it in full
        import_nutpie()
    if settings.backend == "numpyro":
        _use_jax_compilation_cache()
        if numpyro_chain_method(settings.chains) == "vectorized":
            extra["nuts"] = {"chain_method": "vectorized"}
    dense = dense_mass and settings.backend in dense_backends
    # few parameters (the fast path's hyperparameters): a dense mass matrix is cheap and
    # follows the correlations between the SDs, the intercept and the moderator effect
    if dense and settings.backend == "pymc":
        extra["init"] = "jitter+adapt_full"
    if dense and settings.backend == "numpyro":
        extra["nuts"] = {**extra.get("nuts", {}), "dense_mass": True}
    with model:
        return pm.sample(
            **extra,
            draws=settings.draws,
            tune=settings.tune,
            chains=settings.chains,
            cores=settings.parallel_chains,
            random_seed=settings.seed,
            nuts_sampler=settings.backend,
            target_accept=settings.target_accept,
            progressbar=progressbar,
            compute_convergence_checks=False,
        )


def sample_full(
    built: BuiltModel, settings: SamplerSettings, *, progressbar: bool, log_likelihood: bool
) -> xr.DataTree:
    """NUTS over all parameters of the full model (person effects included)."""
    import pymc as pm

    idata = sample_pymc(built.pymc_model, settings, progressbar)
    if log_likelihood:
        with built.pymc_model:
            pm.compute_log_likelihood(idata, model=built.pymc_model, progressbar=False)
    idata["posterior"] = xr.DataTree(without_internal(idata["posterior"].to_dataset()))
    return idata


def check_reuse_key(built: BuiltModel, settings: SamplerSettings) -> tuple | None:
    """Key under which the initial-point check may be shared, or None to build it afresh.

    Shared only with nutpie, which re-uses its compiled model too. PyMC's and numpyro's
    samplers build their graphs anew for each fit, and their draws turn out to depend, at
    the level of rounding (which tuning amplifies), on which graphs the process built
    before; building the check per fit keeps every fit's sequence the same, so the same
    seed gives the same draws however many fits came before.
    """
    return built.reuse_key if settings.backend == "nutpie" else None


def _structure_key(built: BuiltModel, settings: SamplerSettings) -> tuple:
    key = built.reuse_key
    if key is None:  # not re-usable: compile for this model alone
        key = ("model", id(built.pymc_model))
    return (*key, settings.backend)


def _compiled_entry(built: BuiltModel, settings: SamplerSettings) -> tuple:
    """The compiled model of ``built``'s structure and the model it was compiled from;
    compiled (a miss) on first use of the structure."""
    return _entry(_structure_key(built, settings), built.pymc_model)


def _entry(key: tuple, model: pm.Model) -> tuple[CompiledPyMCModel, pm.Model]:
    """The compiled model kept under ``key`` and the model it was compiled from; ``model``
    is compiled (a miss) when nothing is kept under ``key`` yet."""
    cached = _COMPILED.get(key)
    if cached is None:
        _CACHE_STATS["misses"] += 1
        cached = (_compile_nutpie(model), model)
        _COMPILED[key] = cached
    return cached


def flat_point(model: pm.Model, point: Mapping[str, np.ndarray]) -> np.ndarray:
    """``point`` (values of ``model``'s free variables on the sampler's scale, by name) as
    the one vector nutpie's compiled log density takes: the free variables in model order,
    each flattened."""
    names = [model.rvs_to_values[rv].name for rv in model.free_RVs]
    return np.concatenate([np.ravel(np.asarray(point[n], dtype=float)) for n in names])


def compile_with_check(built: BuiltModel, settings: SamplerSettings) -> bool:
    """Compile nutpie's fast-path model now and let it serve the initial-point check.

    :func:`ambidex_bayes.model.initial_point.check_initial_point` otherwise compiles a
    PyTensor function of the log density and its gradient of its own, which nutpie then
    compiles again for sampling. Here the check evaluates nutpie's compiled function (the
    very log density the sampler follows) at the model's initial point; it is registered in
    :data:`~ambidex_bayes.model.initial_point.COMPILED_CHECKS` under the key the fit checks
    with (:func:`check_reuse_key`).

    Returns
    -------
    bool
        True when the model was compiled here and the check registered: nutpie, the fast
        path, a re-usable structure, and no check of that structure compiled yet.
    """
    from ambidex_bayes.model.initial_point import COMPILED_CHECKS

    key = check_reuse_key(built, settings)
    if key is None or not built.is_marginal or key in COMPILED_CHECKS:
        return False
    compiled, source_model = _compiled_entry(built, settings)

    def check(model: pm.Model, point: Mapping[str, np.ndarray]) -> tuple[float, np.ndarray]:
        for var in model.data_vars:  # nutpie's log density reads the source model's data
            source_model[var.name].set_value(var.get_value())
        logp, grad = compiled.logp_func(flat_point(source_model, point))
        return float(logp), np.asarray(grad)

    COMPILED_CHECKS[key] = check
    return True


def compiled_for(built: BuiltModel, settings: SamplerSettings) -> CompiledPyMCModel:
    """nutpie's compiled fast-path model of ``built``'s structure, holding ``built``'s data.

    Compiled on first use of a structure, re-used afterwards (see :func:`compiled_cache_info`;
    a hit is a use by another model than the one it was compiled from).
    """
    return compiled_model(built.pymc_model, _structure_key(built, settings))


def compiled_model(model: pm.Model, key: tuple) -> CompiledPyMCModel:
    """nutpie's compiled model of the structure ``key``, holding ``model``'s data.

    The compiled model is kept under ``key`` with the compiled fast-path models (see
    :func:`compiled_cache_info`, :func:`clear_compiled_cache`): compiled from ``model`` on
    first use, re-used through ``with_data`` by every later model of the same structure
    (every data value and prior parameter is a ``pm.Data`` variable). ``key`` must name
    everything the compiled graph depends on besides those values (e.g.
    :attr:`~ambidex_bayes.model.latent_centring.LatentModel.structure_key` with a prefix of
    its own and the backend).
    """
    data = {var.name: var.get_value() for var in model.data_vars}
    cached = _entry(key, model)
    if cached[1] is not model:
        _CACHE_STATS["hits"] += 1
    compiled, source_model = cached
    # the compiled start-point function reads the data variables of the model it was
    # compiled from (prior values set the start): give them this model's values, so that
    # the draws do not depend on which data set was compiled first
    for var in source_model.data_vars:
        var.set_value(data[var.name])
    used = {var.name for var in compiled.shared_var_keys}  # the data the graph reads
    return compiled.with_data(**{k: v for k, v in data.items() if k in used})


def _compile_nutpie(model: pm.Model) -> CompiledPyMCModel:
    """nutpie's compiled model, its callbacks from the on-disk cache where possible.

    See :mod:`ambidex_bayes.engine.nutpie_cache`; models it cannot handle are compiled by
    nutpie itself (same draws up to rounding, slower to compile).
    """
    nutpie = import_nutpie()  # without ArviZ's statistics and plots (see light_imports)

    try:
        compiled = compile_cached(model)
    except Exception as error:  # noqa: BLE001 - the cache is an optimisation, never a failure
        warnings.warn(
            f"The compiled-model cache could not be used ({type(error).__name__}: {error}); "
            "compiling with nutpie directly, which is slower but gives the same posterior.",
            RuntimeWarning,
            stacklevel=3,
        )
        compiled = None
    return compiled if compiled is not None else nutpie.compile_pymc_model(model)


def _nutpie_sample(built: BuiltModel, settings: SamplerSettings, progressbar: bool) -> xr.DataTree:
    return sample_compiled(compiled_for(built, settings), settings, progressbar)


def sample_compiled(
    compiled: CompiledPyMCModel,
    settings: SamplerSettings,
    progressbar: bool,
    *,
    adaptation: str = "diag",
) -> xr.DataTree:
    """nutpie's sampler on a compiled model with ``settings``; the one place every route
    calls ``nutpie.sample``.

    Parameters
    ----------
    compiled : nutpie compiled model
        Holding the data to sample (see :func:`compiled_model`).
    settings : SamplerSettings
        Resolved settings.
    progressbar : bool
    adaptation : {"diag", "low_rank"}
        nutpie's mass-matrix adaptation: diagonal (the default), or diagonal plus a low-rank
        correction along the directions of strongest posterior correlation (latent-centred
        fits' second try, see :data:`ambidex_bayes.engine.latent_sampling.
        SECOND_TRY_ADAPTATION`).

    Returns
    -------
    xarray.DataTree
    """
    nutpie = import_nutpie()

    return nutpie.sample(
        compiled,
        draws=settings.draws,
        tune=settings.tune,
        chains=settings.chains,
        cores=settings.parallel_chains,
        seed=settings.seed,
        progress_bar=progressbar,
        target_accept=settings.target_accept,
        adaptation=adaptation,
        save_warmup=False,  # no route reads the tuning draws
    )


def sample_marginal(
    built: BuiltModel, settings: SamplerSettings, *, progressbar: bool, log_likelihood: bool
) -> xr.DataTree:
    """The fast path: NUTS over the hyperparameters, exact person effects afterwards."""
    if settings.backend == "nutpie":
        idata = _nutpie_sample(built, settings, progressbar)
    else:
        idata = sample_pymc(built.pymc_model, settings, progressbar, dense_mass=True)
    return complete_marginal(idata, built, settings, log_likelihood=log_likelihood)


def correlation_draws(posterior: xr.Dataset, names: list[str]) -> np.ndarray | None:
    """Correlation matrices (chain, draw, q, q) of the person effects ``names``.

    Assembled from the posterior's pairwise correlations (``correlation_name(a, b)``);
    None when the effects are independent (no correlation in the posterior).
    """
    q = len(names)
    pairs = [(a, b) for a in range(q) for b in range(a + 1, q)]
    if not pairs or correlation_name(names[0], names[1]) not in posterior:
        return None
    first = posterior[correlation_name(names[0], names[1])]
    corr = np.zeros((*first.shape, q, q))
    corr[..., range(q), range(q)] = 1.0
    for a, b in pairs:
        values = np.asarray(posterior[correlation_name(names[a], names[b])].values, dtype=float)
        corr[..., a, b] = corr[..., b, a] = values
    return corr


def complete_marginal(
    idata: xr.DataTree, built: BuiltModel, settings: SamplerSettings, *, log_likelihood: bool = True
) -> xr.DataTree:
    """Turn fast-path draws of the hyperparameters into the full model's posterior.

    Draws the person effects exactly (seeded from ``settings.seed``), adds the pointwise
    log-likelihood and the observed data, and drops internal variables and groups.
    """
    from ambidex_bayes.model.marginal import complete_posterior

    design = built.marginal
    posterior = idata["posterior"].to_dataset()
    names = list(design.fixed_names) + [f"{n}_sigma" for n in design.group_names] + ["sigma"]
    draws = {n: np.asarray(posterior[n].values, dtype=float) for n in names}
    corr = correlation_draws(posterior, design.group_names)
    rng = np.random.default_rng([int(settings.seed), 7919])
    effects, loglik = complete_posterior(
        draws, design, corr=corr, rng=rng, log_likelihood=log_likelihood
    )
    posterior = without_internal(posterior)
    posterior = posterior.assign_coords({design.factor_dim: design.levels})
    for name, values in effects.items():
        posterior[name] = (("chain", "draw", design.factor_dim), values)
    idata["posterior"] = xr.DataTree(posterior)
    obs = xr.Dataset(
        {design.response: (("__obs__",), design.y)}, coords={"__obs__": np.arange(len(design.y))}
    )
    idata["observed_data"] = xr.DataTree(obs)
    if loglik is not None:
        ll = xr.Dataset(
            {design.response: (("chain", "draw", "__obs__"), loglik)},
            coords={
                "chain": posterior["chain"].values,
                "draw": posterior["draw"].values,
                "__obs__": np.arange(len(design.y)),
            },
        )
        idata["log_likelihood"] = xr.DataTree(ll)
    for group in ("unconstrained_posterior", "warmup_posterior", "warmup_sample_stats"):
        if group in idata.children:
            del idata[group]
    return idata


def refuse_nonfinite_draws(idata: xr.DataTree, spec: ModelSpec) -> xr.DataTree:
    """``idata`` itself, after checking that no sampled parameter has NaN or infinite draws.

    Raises
    ------
    ModelError
        Some draws are not finite (the sampler broke down; the fit is not kept).
    """
    posterior = idata["posterior"].to_dataset()
    bad = nonfinite_draws(posterior)
    if bad:
        total = int(posterior.sizes.get("chain", 0) * posterior.sizes.get("draw", 0))
        shown = ", ".join(f"{name} ({n} values)" for name, n in list(bad.items())[:8])
        raise ModelError(
            f"{spec.source}: sampling {spec.name} gave non-finite (NaN or infinite) draws of "
            f"{shown} in {total} draws; the sampler broke down, so the fit is not saved. Check "
            "the priors (ambidex-bayes prior-check), standardise the variables (--standardize) "
            "or raise --target-accept, and fit again."
        )
    return idata
