"""Sampling a latent-centred model with the engine's samplers and compiled-model cache.

A latent-centred model (:mod:`ambidex_bayes.model.latent_centring`) is sampled like any
other: nutpie's compiled fast-path model is kept in the engine's cache
(:func:`ambidex_bayes.engine.sampling.compiled_model`, under its
:attr:`~ambidex_bayes.model.latent_centring.LatentModel.structure_key`) and sampled by
:func:`~ambidex_bayes.engine.sampling.sample_compiled`; full NUTS and the other backends go
through :func:`~ambidex_bayes.engine.sampling.sample_pymc`. The sampled posterior is then
completed by :func:`ambidex_bayes.model.latent_fit.complete_latent` (the fast path's person
effects drawn exactly, internal variables dropped).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from ambidex_bayes import constants
from ambidex_bayes.engine.sampling import (
    compiled_model,
    flat_point,
    sample_compiled,
    sample_pymc,
)
from ambidex_bayes.engine.settings import SamplerSettings

if TYPE_CHECKING:
    import xarray as xr
    from nutpie.compile_pymc import CompiledPyMCModel

    from ambidex_bayes.model.latent_centring import LatentModel
    from ambidex_bayes.model.latent_data import LatentData

__all__ = [
    "SECOND_TRY_ADAPTATION",
    "LOW_RANK_MAX_PARAMETERS",
    "PADDING_OCTAVE_STEPS",
    "adaptation_for",
    "free_parameters",
    "model_persons",
    "real_parameters",
    "latent_settings",
    "compiled_latent",
    "finite_at_start",
    "sample_latent",
    "fit_latent_model",
]

#: nutpie's mass-matrix adaptation for the second try of a latent-centred fit of up to
#: :data:`LOW_RANK_MAX_PARAMETERS` free parameters (the first try adapts a diagonal one; PyMC's
#: dense adaptation broke down on a reference-size study, giving non-finite draws, NumPyro's
#: is dense there). With few diaries per person the between-person effect, the moderator's
#: effect, the SD of person intercepts and the SD of the latent means are strongly
#: correlated a posteriori (0.87 between the first two at reliability 0.37), which a
#: diagonal mass matrix cannot follow. Over 204 reference-size studies
#: (``benchmarks/bench_reliability.py --centring latent --datasets 34``, default seed and
#: ``--seed 7000000``) the low-rank adaptation on both tries passed 203; the diagonal one on
#: both tries 200, at about half the wall time per fit (median 1.7 s against 3.7 s, same
#: leapfrog steps and bulk ESS on the studies both pass). A diagonal first try and a low-rank
#: second try passed 202 (99.0%): of the diagonal first try's 13 failures, the low-rank
#: second try passed 11 (the diagonal one 9); the two it failed were at reliability 0.37
#: (which fails with either adaptation) and 0.34 (bulk ESS 395 against 400). So the common
#: case samples at the diagonal adaptation's speed and the hard one gets the correlations
#: followed. Since the latent means are sampled conditionally non-centred
#: (:mod:`ambidex_bayes.model.latent_means`), the diagonal first try passed 203 of the same
#: 204 studies and the low-rank second try the last one (reliability 0.40, where the first
#: try's R-hat was 1.014 for the between-person effect and the moderator's effect).
SECOND_TRY_ADAPTATION = "low_rank"

#: The most free parameters (one latent mean per person and predictor, imputed values and
#: the hyperparameters) for which a latent-centred fit's second try adapts a low-rank mass
#: matrix; larger models adapt a diagonal one on both tries. The low-rank adaptation's cost during tuning rises steeply
#: with the number of free parameters: latent M3 with 8 diaries per person took 3.4 s
#: against 0.7 s with the diagonal adaptation at 97 persons (110 free parameters), 12.2 s
#: against 0.6 s at 105 and 41 s against 2.0 s at 125 (``benchmarks/
#: bench_latent_adaptation.py --persons 97 105 115 125``, compiled models re-used), and 280 s
#: against 8.9 s at 2000 persons (``--persons 2000``), while the diagonal adaptation's
#: smallest bulk ESS there was ample (2567 at 125 persons, 1863 at 2000): the
#: hyperparameters' posterior correlations matter less as the persons grow.
LOW_RANK_MAX_PARAMETERS = 120


#: Person counts are padded up to a multiple of a power of 2 (:func:`model_persons`), at
#: most an eighth more persons, which gives eight model sizes per doubling of the persons.
PADDING_OCTAVE_STEPS = 3


def model_persons(n_persons: int) -> int:
    r"""The persons of nutpie's compiled fast-path model for data with ``n_persons``.

    Compiling a latent-centred model takes about as long as sampling it at the reference
    study's size, and the compiled model depends on the number of persons (the length of
    the latent means). Padding the persons (:func:`~ambidex_bayes.model.latent_data.
    with_padding_persons`) up to the next multiple of
    :math:`2^{\lfloor \log_2 J \rfloor - 3}` lets one compiled model serve every study of
    nearby size in a process (a simulation, a power analysis, a multiverse, the reference
    studies of 85-100 persons: 88, 96 or 104) at the cost of fewer than :math:`J/8` latent
    means sampled from their prior alone.

    Parameters
    ----------
    n_persons : int
        J, the data's persons.

    Returns
    -------
    int
        At least ``n_persons``; ``n_persons`` itself below 16.
    """
    step = 2 ** max(0, n_persons.bit_length() - 1 - PADDING_OCTAVE_STEPS)
    return -(-n_persons // step) * step


def free_parameters(model: LatentModel) -> int:
    """Number of free (sampled) parameters of ``model``: the sizes of its initial point,
    without the padding persons' latent means (:func:`real_parameters`)."""
    total = int(sum(np.size(value) for value in model.pymc_model.initial_point().values()))
    return real_parameters(model, total)


def real_parameters(model: LatentModel, n_dim: int) -> int:
    """``n_dim`` sampled parameters of ``model`` less the padding persons' latent means
    (one per padding person and predictor), which follow their prior alone."""
    return int(n_dim) - model.n_padding * model.data.n_predictors


def adaptation_for(n_parameters: int, *, second_try: bool = False) -> str:
    """nutpie's mass-matrix adaptation for a latent-centred model with ``n_parameters`` free
    parameters: diagonal, except on the second try of a model of up to
    :data:`LOW_RANK_MAX_PARAMETERS`, which adapts :data:`SECOND_TRY_ADAPTATION`.

    The second try is the one of :func:`~ambidex_bayes.engine.rescue.sample_with_rescue`.
    """
    if second_try and n_parameters <= LOW_RANK_MAX_PARAMETERS:
        return SECOND_TRY_ADAPTATION
    return "diag"


def latent_settings(
    settings: SamplerSettings,
    n_parameters: int,
    *,
    target_accept_given: bool,
    tune_given: bool = False,
) -> SamplerSettings:
    """The settings a latent-centred model of ``n_parameters`` free parameters samples with.

    Above :data:`LOW_RANK_MAX_PARAMETERS` (a diagonal mass matrix, see
    :func:`adaptation_for`) the target acceptance is
    :data:`ambidex_bayes.constants.LARGE_LATENT_TARGET_ACCEPT` unless the caller chose one
    (``target_accept_given``), and the tuning steps are
    :data:`ambidex_bayes.constants.LARGE_LATENT_TUNE` unless the caller chose them
    (``tune_given``); ``settings`` otherwise. A fit that then fails its checks is sampled
    once more with the second try's settings, as every fit.
    """
    if n_parameters <= LOW_RANK_MAX_PARAMETERS:
        return settings
    changes: dict[str, float | int] = {}
    if not target_accept_given:
        changes["target_accept"] = constants.LARGE_LATENT_TARGET_ACCEPT
    if not tune_given:
        changes["tune"] = constants.LARGE_LATENT_TUNE
    return dataclasses.replace(settings, **changes)


def compiled_latent(model: LatentModel, settings: SamplerSettings) -> CompiledPyMCModel | None:
    """nutpie's compiled fast-path model of ``model``, holding its data (None unless the
    backend is nutpie and ``model`` is the fast path).

    Compiled once per structure and kept with the engine's compiled models (see
    :func:`ambidex_bayes.engine.sampling.compiled_cache_info`); later models of the same
    structure re-use it through ``with_data``.
    """
    if settings.backend != "nutpie" or not model.marginal:
        return None
    return compiled_model(model.pymc_model, ("latent", *model.structure_key, settings.backend))


def finite_at_start(model: LatentModel, compiled: CompiledPyMCModel) -> bool:
    """Whether the compiled log density and its gradient are finite at the model's initial
    point (the check before sampling, without compiling another function)."""
    pymc_model = model.pymc_model
    logp, grad = compiled.logp_func(flat_point(pymc_model, pymc_model.initial_point()))
    return bool(np.isfinite(logp) and np.all(np.isfinite(grad)))


def sample_latent(
    model: LatentModel,
    settings: SamplerSettings,
    *,
    progressbar: bool = False,
    compiled: CompiledPyMCModel | None = None,
    second_try: bool = False,
) -> xr.DataTree:
    """Sample a latent-centred model; the posterior has the person effects either way.

    Parameters
    ----------
    model : LatentModel
    settings : SamplerSettings
        Resolved settings (backend, draws, tuning steps, chains, seed, target acceptance).
    progressbar : bool
    compiled : nutpie compiled model, optional
        :func:`compiled_latent` of ``model``, when the caller holds it already (nutpie and
        the fast path); found or compiled here otherwise.
    second_try : bool, default False
        Whether this is the second try of a fit that failed its checks (nutpie then adapts
        the mass matrix of :func:`adaptation_for`).

    Returns
    -------
    xarray.DataTree
        With groups ``posterior`` and ``sample_stats`` (and whatever else the sampler
        gives); the fast path's person effects are drawn with seed ``settings.seed + 1``.
    """
    from ambidex_bayes.model.latent_fit import complete_latent

    if compiled is None:
        compiled = compiled_latent(model, settings)
    if compiled is not None:
        adaptation = adaptation_for(real_parameters(model, compiled.n_dim), second_try=second_try)
        idata = sample_compiled(compiled, settings, progressbar, adaptation=adaptation)
    else:
        dense = free_parameters(model) <= LOW_RANK_MAX_PARAMETERS
        idata = sample_pymc(
            model.pymc_model,
            settings,
            progressbar,
            dense_mass=dense,
            dense_backends=("numpyro",),
        )
    return complete_latent(model, idata, int(settings.seed) + 1)


def fit_latent_model(
    data: LatentData,
    level: str,
    *,
    marginal: bool = True,
    correlated: bool = True,
    progressbar: bool = False,
    **settings: int | float | str | None,
) -> tuple[LatentModel, xr.DataTree]:
    """Build and sample a latent-centred model of ``level`` on ``data``.

    Parameters
    ----------
    data : LatentData
    level : {"M1", "M2", "M3"}
    marginal : bool, default True
        The fast path (person effects integrated out given the person means).
    correlated : bool, default True
    progressbar : bool, default False
    **settings
        Fields of :class:`~ambidex_bayes.engine.settings.SamplerSettings` (backend, draws,
        tune, chains, seed, target_accept, cores); unset ones take their defaults.

    Returns
    -------
    LatentModel, xarray.DataTree
    """
    from ambidex_bayes.model.latent_centring import build_latent_model

    resolved = SamplerSettings(**settings, fast_path=marginal).resolved()
    padded = model_persons(data.n_persons) if resolved.backend == "nutpie" else None
    model = build_latent_model(
        data, level, marginal=marginal, correlated=correlated, model_persons=padded
    )
    return model, sample_latent(model, resolved, progressbar=progressbar)
