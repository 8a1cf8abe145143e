"""Fit a spec to prepared data: build, check, sample, diagnose, save.

:func:`fit` is the one entry point. It validates everything that can be validated before
sampling (spec roles and columns, priors, constant or collinear predictors, a finite
log-density gradient at the initial point), samples with the chosen backend, computes the
pointwise log-likelihood (for LOO), runs the convergence diagnostics and reports them in
plain words (a fit that fails them is sampled once more with smaller steps and longer
tuning, announced, see :mod:`ambidex_bayes.engine.rescue`), and saves the fit to one file.
Re-running with the same spec, data, sampler settings and seed re-uses the saved fit
instead of sampling again. The default backend is nutpie when it is installed
(:func:`default_backend`).

The engine's parts do the work: :mod:`ambidex_bayes.engine.cache` (the cache key and file,
the choice between the fast path and full NUTS, the fit's record),
:mod:`ambidex_bayes.engine.sampling` (the samplers) and :mod:`ambidex_bayes.engine.result`
(:class:`FitResult`, :func:`load_fit`); this module re-exports their public names.
Importing it does not import PyMC or Bambi: :func:`fit` does, when it builds the model.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import xarray as xr

from ambidex_bayes.centring import auto_choice, choose_centring, fit_latent
from ambidex_bayes.diagnostics import check_convergence
from ambidex_bayes.engine.cache import cache_entry, fit_key, fit_meta, sampling_model
from ambidex_bayes.engine.limits import BACKENDS
from ambidex_bayes.engine.rescue import sample_with_rescue
from ambidex_bayes.engine.result import FitResult, load_fit
from ambidex_bayes.engine.sampling import (
    check_reuse_key,
    compile_with_check,
    refuse_nonfinite_draws,
    sample_full,
    sample_marginal,
)
from ambidex_bayes.engine.settings import SamplerSettings, default_backend, require_backend
from ambidex_bayes.memory import check_fit_memory
from ambidex_bayes.prepare import PreparedData
from ambidex_bayes.spec import ModelSpec

if TYPE_CHECKING:
    from ambidex_bayes.model.build import BuiltModel

__all__ = [
    "FitResult",
    "SamplerSettings",
    "fit",
    "fit_key",
    "load_fit",
    "BACKENDS",
    "default_backend",
    "require_backend",
]


def _check_posterior_memory(
    built: BuiltModel, prepared: PreparedData, settings: SamplerSettings, *, log_likelihood: bool
) -> None:
    """Refuse, before sampling, a fit whose posterior clearly exceeds the memory."""
    from ambidex_bayes.model.build import group_expressions, split_formula

    _, groups = split_formula(built.formula)
    frame = prepared.frame
    check_fit_memory(
        source=built.spec.source,
        rows=len(frame),
        persons=int(frame[prepared.mapping.person].nunique()),
        effects=sum(len(group_expressions(expr)) for expr, _ in groups),
        draws=int(settings.draws),
        chains=int(settings.chains),
        log_likelihood=log_likelihood,
    )


def _with_choice(result: FitResult, choice: dict[str, Any] | None) -> FitResult:
    """``result`` with ``meta["centring_choice"]`` saying how this call chose its centring.

    A saved fit is found by its inputs, which do not include whether its centring was asked
    for or chosen by ``centring="auto"``, so the record of a loaded fit is set (or removed)
    for the call that loaded it.
    """
    if choice is None:
        result.meta.pop("centring_choice", None)
    else:
        result.meta["centring_choice"] = choice
    return result


def fit(
    spec: ModelSpec,
    prepared: PreparedData,
    *,
    settings: SamplerSettings | None = None,
    cache_dir: str | Path | bool | None = None,
    refit: bool = False,
    progressbar: bool = True,
    verbose: bool = True,
    log_likelihood: bool = True,
    rescue: bool = True,
    centring: str | None = None,
) -> FitResult:
    """Fit ``spec`` to prepared data (or re-use the saved fit of the same inputs).

    Parameters
    ----------
    spec : ModelSpec
    prepared : PreparedData
    settings : SamplerSettings, optional
        Backend, draws, tuning steps, chains, seed, target acceptance.
    cache_dir : path, optional
        Folder of saved fits (default :data:`constants.CACHE_DIR`). A fit whose inputs
        hash equal to a saved one is loaded instead of sampled; pass ``refit=True`` to
        sample anyway. ``cache_dir=False`` neither reads nor writes (see
        :func:`ambidex_bayes.engine.cache.cache_entry`).
    progressbar : bool
        Show the sampler's progress bar.
    verbose : bool
        Print the convergence report in plain words.
    log_likelihood : bool
        Store the pointwise log-likelihood (needed for LOO; large for big data).
    rescue : bool
        When the fit fails its convergence checks, sample once more with a higher target
        acceptance and longer tuning (:func:`ambidex_bayes.engine.rescue.rescue_settings`),
        announced before it starts (printed and as a ``ConvergenceWarning``) and followed by
        a verdict; ``meta["rescue"]`` records it. The second fit's draws are kept, whether
        or not it passes (its problems are reported as usual). Fits of fewer than
        ``constants.RESCUE_MIN_DRAWS`` draws in all get no second try.
    centring : {"observed", "latent", "auto"}, optional
        How the level-1 predictor is split into within and between parts (default: the
        spec's ``centring``, which is "observed" unless it says otherwise): observed person
        means, or latent person means estimated with the model (M1-M3, one predictor, a
        numeric moderator; see :mod:`ambidex_bayes.centring`); ``"auto"`` takes latent
        centring when the observed person means' reliability is below 0.7 and latent
        centring can fit the model, observed centring otherwise. The bundled M1-M3 say
        ``"auto"``; M0 and spec files without a ``centring`` key say ``"observed"``.
        A latent fit records ``meta["centring"] = "latent"``; a centring chosen by
        ``"auto"`` is recorded with its grounds in ``meta["centring_choice"]``
        (:func:`ambidex_bayes.centring.auto_choice`).

    Notes
    -----
    Gaussian models with person effects on one grouping factor use the fast path by
    default (``settings.fast_path``): the person effects are integrated out analytically,
    NUTS samples only the hyperparameters, and the person effects are then drawn exactly
    from their conditional posterior (see :mod:`ambidex_bayes.model.marginal`). The
    result has the same variables as the full model's. Other models use full NUTS.

    Returns
    -------
    FitResult

    Examples
    --------
    M3 on the bundled example (``data``) with small ``settings`` (2 chains of 200 draws);
    ``cache`` is a folder of saved fits, so the same call again loads the fit instead of
    sampling. The example's observed person means have reliability 0.49, so M3's own
    centring, ``"auto"``, takes latent centring:

    >>> m3 = ab.fit(
    ...     ab.load_spec("M3"),
    ...     data,
    ...     settings=settings,
    ...     cache_dir=cache,
    ...     progressbar=False,
    ...     verbose=False,
    ... )
    >>> m3.spec.name, m3.meta["centring"], m3.meta["method"]
    ('M3', 'latent', 'latent person-mean centring on the fast path ...')
    >>> round(m3.meta["centring_choice"]["reliability"], 2)
    0.49
    >>> m3.posterior.sizes["chain"], m3.posterior.sizes["draw"]
    (2, 200)
    """
    target_accept_given = settings is not None and settings.target_accept is not None
    tune_given = settings is not None and settings.tune is not None
    settings = (settings or SamplerSettings()).resolved()
    require_backend(settings.backend)
    asked = centring or spec.centring
    choice = auto_choice(asked, spec, prepared)
    if choose_centring(asked, spec, prepared) == "latent":
        result = fit_latent(
            spec,
            prepared,
            settings,
            cache_dir=cache_dir,
            refit=refit,
            progressbar=progressbar,
            verbose=verbose,
            rescue=rescue,
            choice=choice,
            target_accept_given=target_accept_given,
            tune_given=tune_given,
        )
        return _with_choice(result, choice)
    entry = cache_entry(spec, prepared, settings, cache_dir, rescue=rescue)
    saved = entry.load(refit=refit)
    if saved is not None:
        if verbose:
            print(f"{spec.name}: re-using the saved fit {entry.path}")
            print(saved.convergence)
        return _with_choice(saved, choice)

    from ambidex_bayes.model.build import check_initial_point

    built = sampling_model(spec, prepared, settings, verbose=verbose)
    _check_posterior_memory(built, prepared, settings, log_likelihood=log_likelihood)
    start = time.perf_counter()
    # nutpie's compiled model serves the check, and its compilation counts as sampling
    compiled_here = compile_with_check(built, settings)
    check_initial_point(
        built.pymc_model, source=spec.source, reuse_key=check_reuse_key(built, settings)
    )
    sample = sample_marginal if built.is_marginal else sample_full
    if not compiled_here:  # the check's own compilation is not sampling
        start = time.perf_counter()

    def draws(with_settings: SamplerSettings) -> xr.DataTree:
        idata = sample(built, with_settings, progressbar=progressbar, log_likelihood=log_likelihood)
        refuse_nonfinite_draws(idata, spec)
        return idata

    idata, convergence, rescued = sample_with_rescue(
        draws,
        settings,
        name=spec.name,
        check=check_convergence,
        rescue=rescue,
        verbose=verbose,
    )
    wall = time.perf_counter() - start
    extra = {} if rescued is None else {"rescue": rescued}
    if choice is not None:
        extra["centring_choice"] = choice
    meta = fit_meta(entry.key, settings, prepared, built, wall_seconds=wall, **extra)
    result = FitResult.from_model(built, prepared, idata, meta=meta, convergence=convergence)
    if verbose:
        print(f"{spec.name}: {built.formula}  ({wall:.1f} s)")
        print(convergence)
    entry.save(result)  # a fit the cache cannot take is kept in memory, with a warning
    return result
