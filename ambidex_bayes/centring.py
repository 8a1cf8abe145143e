"""The centring of the level-1 predictor: observed person means or latent ones.

``centring="observed"`` (the default of a spec file without a ``centring`` key) fits the
spec on the observed split of the daily predictor into ``{x}_cw`` and ``{x}_pm``
(:mod:`ambidex_bayes.prepare`).
``centring="latent"`` fits the same rung of the ladder (M1-M3) with latent person-mean
centring (:mod:`ambidex_bayes.model.latent_centring`): the person means are parameters, so an
unreliable observed mean no longer biases the between-person effect. ``centring="auto"``
takes latent centring when the reliability of the observed person means is below
:data:`LATENT_BELOW` and the model is one latent centring serves, observed centring otherwise;
it is the centring of the bundled ladder's M1-M3 (their spec files say so). A fit records an
automatic choice and its grounds in ``meta["centring_choice"]`` (:func:`auto_choice`), which
:func:`~ambidex_bayes.centring_record.centring_line` states.

:func:`fit_latent` is the latent route of :func:`ambidex_bayes.fit.fit`: it returns a
:class:`~ambidex_bayes.engine.result.FitResult` whose posterior uses the observed model's
names for the shared roles (so summaries read it as usual) and whose ``meta`` records
``centring = "latent"``, the method and what was imputed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ambidex_bayes.centring_record import LATENT_BELOW, imputed_record
from ambidex_bayes.diagnostics import check_convergence
from ambidex_bayes.errors import SpecError
from ambidex_bayes.spec import CENTRINGS

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr

    from ambidex_bayes.engine.result import FitResult
    from ambidex_bayes.engine.settings import SamplerSettings
    from ambidex_bayes.model.latent_centring import LatentModel
    from ambidex_bayes.model.latent_data import LatentData
    from ambidex_bayes.prepared_data import PreparedData
    from ambidex_bayes.spec import ModelSpec

__all__ = [
    "CENTRINGS",
    "LATENT_BELOW",
    "LATENT_CODE_VERSION",
    "choose_centring",
    "auto_choice",
    "latent_unavailable_reason",
    "fit_latent",
    "fitted_prepared",
    "latent_model_for",
]

#: Version of the latent model's code, part of a latent fit's cache key (5: the spec's
#: priors, its own or a prior set's, apply to the latent model; 6: models with more free
#: parameters than :data:`~ambidex_bayes.engine.latent_sampling.LOW_RANK_MAX_PARAMETERS`
#: adapt a diagonal mass matrix; 7: and sample at a lower target acceptance unless one is
#: chosen; 8: PyMC and NumPyro adapt a dense mass matrix up to that limit; 9: and tune
#: for fewer steps unless they are chosen; 10: nutpie's fast path pads the persons, see
#: :func:`~ambidex_bayes.engine.latent_sampling.model_persons`; 11: nutpie's first try adapts
#: a diagonal mass matrix, the second a low-rank one; 12: the fast path samples the latent
#: means conditionally non-centred, see :mod:`ambidex_bayes.model.latent_means`; 13: so
#: do models with several level-1 predictors).
LATENT_CODE_VERSION = 13

#: ``meta["method"]`` of latent fits, by whether the fast path was sampled.
LATENT_METHODS = {
    True: (
        "latent person-mean centring on the fast path (person means sampled, person effects "
        "integrated out given them and drawn exactly afterwards)"
    ),
    False: "latent person-mean centring with full NUTS over all parameters",
}


def latent_unavailable_reason(spec: ModelSpec, prepared: PreparedData) -> str | None:
    """Why latent centring cannot fit ``spec`` on ``prepared`` (None when it can).

    Each level-1 predictor the formula uses gets latent person means
    (:func:`~ambidex_bayes.model.latent_ladder.latent_structure` says which terms it can
    model); numeric controls the spec includes are fitted as in the observed model
    (:func:`~ambidex_bayes.model.latent_ladder.latent_controls_reason` says which are not).
    """
    from ambidex_bayes.model.latent_ladder import (
        ladder_level,
        latent_controls_reason,
        latent_structure,
    )

    m = prepared.mapping
    level = ladder_level(spec.name)
    if level is None:
        return f"it serves the ladder's M1, M2 and M3, not {spec.name!r}"
    if spec.family != "gaussian":
        return f"it needs a Gaussian outcome (the spec's family is {spec.family!r})"
    structure = latent_structure(spec, prepared)
    if isinstance(structure, str):
        return structure
    if len(m.level2) > 1:
        return f"it takes at most one level-2 moderator (the data have {len(m.level2)})"
    controls = latent_controls_reason(spec, prepared)
    if controls:
        return controls
    if any(w in prepared.factor_codings for w in m.level2):
        return "it takes a numeric moderator only"
    if prepared.standardize or prepared.detrend:
        return "it works on the unstandardised, undetrended predictor"
    if level == "M3" and "w" not in prepared.roles:
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


def auto_choice(centring: str, spec: ModelSpec, prepared: PreparedData) -> dict[str, Any] | None:
    """The record of a centring chosen by ``centring="auto"``, for ``meta["centring_choice"]``.

    Parameters
    ----------
    centring : {"observed", "latent", "auto"}
        The centring a fit was asked for (the spec's own when no other was given).
    spec : ModelSpec
    prepared : PreparedData

    Returns
    -------
    dict or None
        None unless ``centring`` is ``"auto"``. Otherwise ``asked`` (``"auto"``),
        ``reliability`` (:math:`\\lambda` of the observed person means of the first
        level-1 predictor, or None when unknown), ``threshold`` (:data:`LATENT_BELOW`) and
        ``latent_unavailable`` (why latent centring cannot fit the model, or None):
        :func:`choose_centring` took latent centring when :math:`\\lambda <` ``threshold``
        and ``latent_unavailable`` is None.
    """
    if centring != "auto":
        return None
    level1 = prepared.mapping.level1
    rel = prepared.person_mean_reliability.get(level1[0]) if level1 else None
    return {
        "asked": "auto",
        "reliability": _finite_or_none(rel),
        "threshold": LATENT_BELOW,
        "latent_unavailable": latent_unavailable_reason(spec, prepared),
    }


def _latent_key(
    spec: ModelSpec, prepared: PreparedData, settings: SamplerSettings, *, rescue: bool
) -> str:
    """The cache key of a latent fit: the observed fit's inputs, the partial rows (which
    latent centring uses and observed centring does not) and the latent model's code."""
    from ambidex_bayes.engine.cache import fit_key
    from ambidex_bayes.store import data_hash

    base = fit_key(spec, prepared, settings, rescue=rescue)
    partial = prepared.partial_rows
    extra = "none" if partial is None or partial.empty else data_hash(partial)
    return hashlib.sha256(f"{base}|latent|{LATENT_CODE_VERSION}|{extra}".encode()).hexdigest()


def _finite_or_none(value: float | None) -> float | None:
    """``value`` as a float when it is a finite number, else None (for a fit's record)."""
    return float(value) if value is not None and math.isfinite(value) else None


def fitted_prepared(prepared: PreparedData, rows: pd.DataFrame, data: LatentData) -> PreparedData:
    """The prepared data a latent fit keeps: ``prepared`` with the rows of its outcome model.

    Its frame holds the rows of the outcome model in the model's order: the prepared rows,
    then the partial rows with an outcome (whose predictor the model imputed; NaN in the
    predictor and its within part). Its partial rows are the days with the predictor but no
    outcome (which informed the person means only), so that
    :func:`~ambidex_bayes.partial_rows.latent_rows` of it gives the same rows again.
    ``prepared`` itself when it has no partial rows.

    Parameters
    ----------
    prepared : PreparedData
    rows : DataFrame
        :func:`~ambidex_bayes.partial_rows.latent_rows` of ``prepared``.
    data : LatentData
        :func:`~ambidex_bayes.model.latent_data.latent_data` of ``rows``.

    Returns
    -------
    PreparedData
    """
    if prepared.partial_rows is None:
        return prepared
    return dataclasses.replace(
        prepared,
        frame=rows.iloc[data.source_rows].reset_index(drop=True),
        partial_rows=rows.iloc[data.x_only_source_rows].reset_index(drop=True),
    )


def latent_model_for(
    spec: ModelSpec, prepared: PreparedData, *, marginal: bool, pad: bool = False
) -> tuple[pd.DataFrame, LatentData, LatentModel]:
    """The latent-centred model of ``spec`` on ``prepared``, built as a latent fit builds it.

    The rows are :func:`~ambidex_bayes.partial_rows.latent_rows` of ``prepared``; the
    model's terms come from the spec's formula
    (:func:`~ambidex_bayes.model.latent_ladder.latent_structure`) and its priors are the
    defaults, replaced for the parameters the spec's priors name (its own or a prior set's,
    rendered with the data's roles; see :mod:`ambidex_bayes.model.latent_priors`).

    Parameters
    ----------
    spec : ModelSpec
        A model latent centring serves (:func:`latent_unavailable_reason` is None), named
        by its level of the ladder, with or without a prior set's label (``"M3[sceptical]"``).
    prepared : PreparedData
    marginal : bool
        The fast path (person effects integrated out) or full NUTS.
    pad : bool, default False
        Pad the fast path's persons to the size of a compiled model that serves nearby
        sizes too (:func:`~ambidex_bayes.engine.latent_sampling.model_persons`; for nutpie,
        which keeps compiled models). The posterior holds the real persons only.

    Returns
    -------
    rows : DataFrame
        The rows of the model.
    data : LatentData
    model : LatentModel

    Raises
    ------
    SpecError
        A prior of the spec that names no parameter of the latent model, or gives one of
        its SDs a distribution that is not positive.
    """
    from ambidex_bayes.engine.latent_sampling import model_persons
    from ambidex_bayes.model.latent_centring import build_latent_model
    from ambidex_bayes.model.latent_data import latent_data
    from ambidex_bayes.model.latent_ladder import ladder_level, latent_controls, latent_structure
    from ambidex_bayes.partial_rows import latent_rows

    m = prepared.mapping
    rows = latent_rows(prepared)
    structure = latent_structure(spec, prepared)
    if isinstance(structure, str):
        raise SpecError(f"{spec.source}: latent centring cannot fit {spec.name}: {structure}.")
    predictors = [m.level1[k] for k in structure.predictors]
    data = latent_data(
        rows,
        y=prepared.roles["y"],
        x=predictors[0],
        person=m.person,
        w=prepared.roles.get("w"),
        controls=latent_controls(spec, prepared),
        others=tuple(predictors[1:]),
    )
    model = build_latent_model(
        data,
        ladder_level(spec.name) or spec.name,
        marginal=marginal,
        correlated=spec.correlated,
        structure=structure,
        priors=spec.render_priors(prepared.formula_fields(), factors=prepared.formula_columns()),
        prior_source=f"{spec.source} ({spec.name})",
        model_persons=model_persons(data.n_persons) if pad and marginal else None,
    )
    return rows, data, model


def _check_latent_memory(
    spec: ModelSpec, data: LatentData, model: LatentModel, settings: SamplerSettings
) -> None:
    """Refuse, before sampling, a latent fit whose posterior clearly exceeds the memory
    (person effects, latent person means and imputed values of every draw; see
    :func:`ambidex_bayes.memory.check_fit_memory`)."""
    from ambidex_bayes.memory import check_fit_memory

    each = [data.predictor(p) for p in range(data.n_predictors)]
    check_fit_memory(
        source=spec.source,
        rows=len(data.y),
        persons=data.n_persons,
        effects=1 + int(model.random_slope),
        draws=int(settings.draws),
        chains=int(settings.chains),
        log_likelihood=False,
        latent_means=data.n_predictors,
        imputed=sum(one.n_imputed for one in each),
    )


def fit_latent(
    spec: ModelSpec,
    prepared: PreparedData,
    settings: SamplerSettings,
    *,
    cache_dir: str | Path | bool | None = None,
    refit: bool = False,
    progressbar: bool = True,
    verbose: bool = True,
    rescue: bool = True,
    choice: Mapping[str, Any] | None = None,
    target_accept_given: bool = False,
    tune_given: bool = False,
) -> FitResult:
    """Fit ``spec`` (M1-M3) with latent person-mean centring (or load the saved fit).

    The rows are the prepared rows and the partial rows (``prepared.partial_rows``: rows
    left out by :func:`~ambidex_bayes.prepare.prepare` only for a missing predictor or
    outcome, see :mod:`ambidex_bayes.partial_rows`): a missing predictor on a day with an
    outcome is imputed by the model, a day with the predictor but no outcome informs the
    person mean. The model is sampled by the engine
    (:func:`ambidex_bayes.engine.latent_sampling.sample_latent`) and, when it fails its
    convergence checks, sampled once more as every fit is
    (:func:`ambidex_bayes.engine.rescue.sample_with_rescue`).

    Parameters
    ----------
    spec : ModelSpec
    prepared : PreparedData
        The raw predictor column (``prepared.mapping.level1[0]``), the outcome and the
        centred moderator are read from its rows and partial rows.
    settings : SamplerSettings
        Resolved settings; ``settings.fast_path`` chooses the fast path.
    cache_dir, refit, progressbar, verbose, rescue
        As for :func:`ambidex_bayes.fit.fit`.
    choice : mapping, optional
        The record of a centring chosen by ``centring="auto"`` (:func:`auto_choice`),
        saved as ``meta["centring_choice"]`` of a new fit.
    target_accept_given : bool, default False
        Whether the caller chose ``settings.target_accept``; otherwise a large model samples
        at a lower one (:func:`~ambidex_bayes.engine.latent_sampling.latent_settings`; the
        fit's ``meta["settings"]`` says which).
    tune_given : bool, default False
        Whether the caller chose ``settings.tune``; otherwise a large model tunes for fewer
        steps (same function).

    Returns
    -------
    FitResult
        ``meta["centring"] == "latent"``; ``meta["imputed"]`` says what was imputed
        (:func:`imputed_record`); ``meta["rescue"]`` records a second try.
    """
    from ambidex_bayes.engine.cache import CacheEntry, cache_folder, cache_path
    from ambidex_bayes.engine.latent_sampling import (
        adaptation_for,
        compiled_latent,
        finite_at_start,
        latent_settings,
        real_parameters,
        sample_latent,
    )
    from ambidex_bayes.engine.rescue import sample_with_rescue
    from ambidex_bayes.engine.result import FitResult
    from ambidex_bayes.engine.sampling import refuse_nonfinite_draws
    from ambidex_bayes.model.build import check_initial_point
    from ambidex_bayes.store import data_hash, package_versions

    choose_centring("latent", spec, prepared)
    key = _latent_key(spec, prepared, settings, rescue=rescue)
    folder = cache_folder(cache_dir)
    entry = CacheEntry(key=key, path=None if folder is None else cache_path(folder, spec, key))
    saved = entry.load(refit=refit)
    if saved is not None:
        if verbose:
            print(f"{spec.name}: re-using the saved fit {entry.path}")
        return saved
    from ambidex_bayes.model.prior_scale import check_prior_scales

    check_prior_scales(spec, prepared)  # the spec's priors apply to the shared parameters
    rows, data, model = latent_model_for(
        spec, prepared, marginal=settings.fast_path, pad=settings.backend == "nutpie"
    )
    _check_latent_memory(spec, data, model, settings)
    fitted = fitted_prepared(prepared, rows, data)
    start = time.perf_counter()
    compiled = compiled_latent(model, settings)
    n_parameters = None if compiled is None else real_parameters(model, compiled.n_dim)
    if n_parameters is not None:
        settings = latent_settings(
            settings,
            n_parameters,
            target_accept_given=target_accept_given,
            tune_given=tune_given,
        )
    if compiled is None or not finite_at_start(model, compiled):
        # the check compiles a function of its own, and says what is not finite
        check_initial_point(model.pymc_model, source=spec.source)

    def sample(with_settings: SamplerSettings, second_try: bool = False) -> xr.DataTree:
        idata = sample_latent(
            model, with_settings, progressbar=progressbar, compiled=compiled, second_try=second_try
        )
        return refuse_nonfinite_draws(idata, spec)

    low_rank = n_parameters is not None and adaptation_for(n_parameters, second_try=True) != "diag"
    idata, convergence, rescued = sample_with_rescue(
        sample,
        settings,
        name=spec.name,
        check=check_convergence,
        rescue=rescue,
        verbose=verbose,
        stacklevel=4,
        second_sample=lambda with_settings: sample(with_settings, second_try=True),
        second_change=(
            "a mass matrix that follows the correlations between the hyperparameters"
            if low_rank
            else ""
        ),
    )
    wall = time.perf_counter() - start
    nm = data.names
    meta = {
        "fit_key": key,
        "settings": settings.to_dict(),
        "versions": package_versions(),
        "data_hash": data_hash(fitted.frame),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "wall_seconds": round(wall, 3),
        "method": LATENT_METHODS[settings.fast_path],
        "n_rows": int(len(fitted.frame)),
        "centring": "latent",
        "person_mean_reliability": _finite_or_none(
            prepared.person_mean_reliability.get(prepared.mapping.level1[0])
        ),
        "imputed": imputed_record(data, len(prepared.frame)),
        "latent_names": {
            "person_means": nm.mu,
            "mean": nm.mu_mean,
            "sd": nm.mu_sd,
            "within_sd": nm.within_sd,
            "imputed": nm.imputed,
            "predictors": list(nm.predictors),
        },
    }
    if rescued is not None:
        meta["rescue"] = rescued
    if choice is not None:
        meta["centring_choice"] = dict(choice)
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
        prepared=fitted,
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
