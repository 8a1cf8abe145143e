"""The centring of the level-1 predictor: observed person means or latent ones.

``centring="observed"`` (the default) fits the spec on the observed split of the daily
predictor into ``{x}_cw`` and ``{x}_pm`` (:mod:`ambidex_bayes.prepare`).
``centring="latent"`` fits the same rung of the ladder (M1-M3) with latent person-mean
centring (:mod:`ambidex_bayes.model.latent_centring`): the person means are parameters, so an
unreliable observed mean no longer biases the between-person effect. ``centring="auto"``
takes latent centring when the reliability of the observed person means is below
:data:`LATENT_BELOW` and the model is one latent centring serves, observed centring otherwise.

:func:`fit_latent` is the latent route of :func:`ambidex_bayes.fit.fit`: it returns a
:class:`~ambidex_bayes.engine.result.FitResult` whose posterior uses the observed model's
names for the shared roles (so summaries read it as usual) and whose ``meta`` records
``centring = "latent"``, the method and what was imputed.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ambidex_bayes.errors import SpecError
from ambidex_bayes.spec import CENTRINGS

if TYPE_CHECKING:
    import pymc as pm
    from nutpie.compile_pymc import CompiledPyMCModel

    from ambidex_bayes.engine.result import FitResult
    from ambidex_bayes.engine.settings import SamplerSettings
    from ambidex_bayes.model.latent_centring import LatentModel
    from ambidex_bayes.prepared_data import PreparedData
    from ambidex_bayes.spec import ModelSpec

__all__ = [
    "CENTRINGS",
    "LATENT_BELOW",
    "LATENT_CODE_VERSION",
    "choose_centring",
    "latent_unavailable_reason",
    "fit_latent",
    "centring_line",
]

#: ``centring="auto"`` takes latent centring below this reliability of the observed person
#: means (Lüdtke et al., 2008: the bias of the between effect is about 1 - reliability).
LATENT_BELOW = 0.7

#: Version of the latent model's code, part of a latent fit's cache key.
LATENT_CODE_VERSION = 1

#: ``meta["method"]`` of latent fits, by whether the fast path was sampled.
LATENT_METHODS = {
    True: (
        "latent person-mean centring on the fast path (person means sampled, person effects "
        "integrated out given them and drawn exactly afterwards)"
    ),
    False: "latent person-mean centring with full NUTS over all parameters",
}


def centring_line(meta: Mapping[str, Any]) -> str:
    """The centring of a fit in one sentence (from its ``meta``), for summaries and reports.

    Parameters
    ----------
    meta : mapping
        A fit's ``meta``; fits without ``"centring"`` used observed centring.

    Returns
    -------
    str
    """
    if meta.get("centring") == "latent":
        imputed = meta.get("imputed")
        return (
            "Centring: latent person means of the level-1 predictor (estimated with the "
            "model, as in Mplus)." + (f" {imputed}" if imputed else "")
        )
    return "Centring: observed person means of the level-1 predictor."


def latent_unavailable_reason(spec: ModelSpec, prepared: PreparedData) -> str | None:
    """Why latent centring cannot fit ``spec`` on ``prepared`` (None when it can)."""
    from ambidex_bayes.model.latent_ladder import LADDER

    m = prepared.mapping
    if spec.name not in LADDER:
        return f"it serves the ladder's M1, M2 and M3, not {spec.name!r}"
    if spec.family != "gaussian":
        return f"it needs a Gaussian outcome (the spec's family is {spec.family!r})"
    if len(m.level1) != 1:
        return f"it takes one level-1 predictor (the data have {len(m.level1)})"
    if len(m.level2) > 1 or m.controls:
        return "it takes at most one level-2 moderator and no controls"
    if prepared.factor_codings:
        return "it takes a numeric moderator only"
    if prepared.standardize or prepared.detrend:
        return "it works on the unstandardised, undetrended predictor"
    if spec.name == "M3" and "w" not in prepared.roles:
        return "M3 needs a moderator"
    return None


def choose_centring(centring: str, spec: ModelSpec, prepared: PreparedData) -> str:
    """The centring a fit uses: ``"observed"`` or ``"latent"``.

    Parameters
    ----------
    centring : {"observed", "latent", "auto"}
    spec : ModelSpec
    prepared : PreparedData

    Returns
    -------
    str

    Raises
    ------
    SpecError
        An unknown centring, or ``"latent"`` for a model latent centring cannot serve.
    """
    if centring not in CENTRINGS:
        raise SpecError(f"centring must be one of {list(CENTRINGS)}, not {centring!r}.")
    if centring == "observed":
        return centring
    reason = latent_unavailable_reason(spec, prepared)
    if centring == "latent" and reason:
        raise SpecError(
            f"{spec.source}: latent centring cannot fit {spec.name}: {reason}; "
            "fit it with centring='observed'."
        )
    if centring == "auto":
        rel = prepared.person_mean_reliability.get(prepared.mapping.level1[0])
        low = rel is not None and rel < LATENT_BELOW
        return "latent" if low and reason is None else "observed"
    return centring


#: nutpie's compiled latent fast-path models (with the model each was compiled from), by
#: structure (:attr:`~ambidex_bayes.model.latent_centring.LatentModel.structure_key`).
_COMPILED: dict[tuple, tuple[CompiledPyMCModel, pm.Model]] = {}


def compiled_latent(model: LatentModel) -> CompiledPyMCModel:
    """nutpie's compiled model of ``model``, holding its data.

    Compiled once per structure and re-used through ``with_data`` for other data of the same
    structure (every data value and prior parameter of the fast path is a ``pm.Data``
    variable); its callbacks come from the on-disk cache of
    :mod:`ambidex_bayes.engine.nutpie_cache` where possible, so a new process skips numba's
    compilation too.
    """
    import nutpie

    from ambidex_bayes.engine.nutpie_cache import compile_cached

    data = {var.name: var.get_value() for var in model.pymc_model.data_vars}
    cached = _COMPILED.get(model.structure_key)
    if cached is None:
        compiled = compile_cached(model.pymc_model)
        if compiled is None:
            compiled = nutpie.compile_pymc_model(model.pymc_model)
        cached = _COMPILED[model.structure_key] = (compiled, model.pymc_model)
    compiled, source = cached
    # the start points are computed from the source model's data: give it this model's
    for var in source.data_vars:
        var.set_value(data[var.name])
    used = {var.name for var in compiled.shared_var_keys}  # data the graph reads
    return compiled.with_data(**{k: v for k, v in data.items() if k in used})


def _finite_at_start(model: LatentModel, compiled: CompiledPyMCModel) -> bool:
    """Whether the compiled log density and its gradient are finite at the model's initial
    point (the check before sampling, without compiling another function)."""
    import numpy as np

    pymc_model = model.pymc_model
    point = pymc_model.initial_point()
    names = [pymc_model.rvs_to_values[rv].name for rv in pymc_model.free_RVs]
    x = np.concatenate([np.ravel(np.asarray(point[n], dtype=float)) for n in names])
    logp, grad = compiled.logp_func(x)
    return bool(np.isfinite(logp) and np.all(np.isfinite(grad)))


def _latent_key(spec: ModelSpec, prepared: PreparedData, settings: SamplerSettings) -> str:
    from ambidex_bayes.engine.cache import fit_key

    base = fit_key(spec, prepared, settings, rescue=False)
    return hashlib.sha256(f"{base}|latent|{LATENT_CODE_VERSION}".encode()).hexdigest()


def fit_latent(
    spec: ModelSpec,
    prepared: PreparedData,
    settings: SamplerSettings,
    *,
    cache_dir: str | Path | bool | None = None,
    refit: bool = False,
    progressbar: bool = True,
    verbose: bool = True,
) -> FitResult:
    """Fit ``spec`` (M1-M3) with latent person-mean centring (or load the saved fit).

    Parameters
    ----------
    spec : ModelSpec
    prepared : PreparedData
        The rows used; the raw predictor column (``prepared.mapping.level1[0]``), the outcome
        and the centred moderator are read from it.
    settings : SamplerSettings
        Resolved settings; ``settings.fast_path`` chooses the fast path.
    cache_dir, refit, progressbar, verbose
        As for :func:`ambidex_bayes.fit.fit`.

    Returns
    -------
    FitResult
        ``meta["centring"] == "latent"``; ``meta["imputed"]`` says what was imputed.
    """
    from ambidex_bayes.diagnostics import check_convergence
    from ambidex_bayes.engine.cache import CacheEntry, cache_folder, cache_path
    from ambidex_bayes.engine.result import FitResult
    from ambidex_bayes.model.build import check_initial_point
    from ambidex_bayes.model.latent_centring import build_latent_model
    from ambidex_bayes.model.latent_data import latent_data
    from ambidex_bayes.model.latent_fit import sample_latent
    from ambidex_bayes.store import data_hash, package_versions

    choose_centring("latent", spec, prepared)
    key = _latent_key(spec, prepared, settings)
    folder = cache_folder(cache_dir)
    entry = CacheEntry(key=key, path=None if folder is None else cache_path(folder, spec, key))
    saved = entry.load(refit=refit)
    if saved is not None:
        if verbose:
            print(f"{spec.name}: re-using the saved fit {entry.path}")
        return saved
    m = prepared.mapping
    data = latent_data(
        prepared.frame,
        y=prepared.roles["y"],
        x=m.level1[0],
        person=m.person,
        w=prepared.roles.get("w"),
    )
    model = build_latent_model(
        data, spec.name, marginal=settings.fast_path, correlated=spec.correlated
    )
    compiled = None
    if settings.backend == "nutpie" and settings.fast_path:
        compiled = compiled_latent(model)
    if compiled is None or not _finite_at_start(model, compiled):
        # the check compiles a function of its own, and says what is not finite
        check_initial_point(model.pymc_model, source=spec.source)
    start = time.perf_counter()
    idata = sample_latent(
        model,
        compiled=compiled,
        draws=settings.draws,
        tune=settings.tune,
        chains=settings.chains,
        seed=settings.seed,
        backend=settings.backend,
        target_accept=settings.target_accept,
        cores=settings.parallel_chains,
        progressbar=progressbar,
    )
    wall = time.perf_counter() - start
    convergence = check_convergence(idata, warn=True)
    nm = data.names
    meta = {
        "fit_key": key,
        "settings": settings.to_dict(),
        "versions": package_versions(),
        "data_hash": data_hash(prepared.frame),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "wall_seconds": round(wall, 3),
        "method": LATENT_METHODS[settings.fast_path],
        "n_rows": int(len(prepared.frame)),
        "centring": "latent",
        "imputed": data.imputation_note(),
        "latent_names": {
            "person_means": nm.mu,
            "mean": nm.mu_mean,
            "sd": nm.mu_sd,
            "within_sd": nm.within_sd,
            "imputed": nm.imputed,
        },
    }
    from ambidex_bayes.model.formula import render_formula

    # the formula as the observed model reads it (a saved fit's formula must parse); what
    # latent centring changes is recorded apart
    formula = render_formula(spec, prepared).formula
    meta["latent_model"] = (
        f"{nm.x} = {nm.mu}[person] + within part; {nm.within} = {nm.x} - {nm.mu}[person], "
        f"{nm.between} = {nm.mu} - {nm.mu_mean}"
    )
    result = FitResult(
        spec=spec,
        prepared=prepared,
        idata=idata,
        terms=model.terms,
        formula=formula,
        priors=model.priors,
        meta=meta,
        convergence=convergence,
    )
    if verbose:
        print(f"{spec.name} (latent centring): {wall:.1f} s")
        print(convergence)
    entry.save(result)
    return result
