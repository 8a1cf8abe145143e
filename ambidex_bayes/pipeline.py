"""The main job: diary file -> validated, prepared data -> the model ladder -> results.

:func:`run_analysis` returns an :class:`Analysis` holding every intermediate result; the
report writer (:mod:`ambidex_bayes.report`) and the CLI's ``run`` only present it. Each
stage is timed (:class:`ambidex_bayes.stage_timing.StageTimes`, ``Analysis.timings``) and,
unless ``progressbar=False``, announced by a line as it starts.

The fits do not store the pointwise log-likelihood (a draws x rows array per model, the
largest part of a fit of many rows): every check of the job that reads it -- PSIS-LOO and
its remedy, LOO-PIT, the model comparison, strict mode's Pareto k -- computes it from the
posterior one block of rows at a time
(:func:`ambidex_bayes.checks.log_likelihood.row_log_likelihood`), and so do ``compare`` and
``report`` on the saved fits later.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ambidex_bayes.data import ColumnMapping, DiaryData, load_diary
from ambidex_bayes.errors import ModelError
from ambidex_bayes.fit import FitResult, SamplerSettings, fit
from ambidex_bayes.ladder import ladder_specs
from ambidex_bayes.moderation.slopes import SimpleSlopes
from ambidex_bayes.prepare import PreparedData, prepare
from ambidex_bayes.results import (
    icc,
    moderation_lines,
    posterior_summary,
    simple_slopes,
)
from ambidex_bayes.spec import ModelSpec
from ambidex_bayes.stage_timing import StageTimes

if TYPE_CHECKING:
    from ambidex_bayes.model.build import BuiltModel

__all__ = [
    "Analysis",
    "run_analysis",
    "ladder_centrings",
    "analysis_from_fits",
    "load_mapping",
    "example_inputs",
]

#: Whether the job's fits store the pointwise log-likelihood (no: the checks compute it by
#: blocks of rows from the posterior; see the module docstring).
STORE_LOG_LIKELIHOOD: bool = False


@dataclass
class Analysis:
    """Everything the main job produced.

    Attributes
    ----------
    diary : DiaryData
        Validated data with compliance summary and scale reliabilities.
    prepared : PreparedData
        Centred/decomposed data with every transformation recorded.
    fits : dict of str to FitResult
        One fit per spec, in ladder order.
    summaries : dict of str to DataFrame
        Posterior summary per model.
    icc : DataFrame or None
        ICC of the outcome from the null model.
    slopes : SimpleSlopes or None
        Simple slopes from the last model with a cross-level interaction.
    lines : DataFrame or None
        The study's figure data: predicted outcome against the level-1 predictor at low and
        high moderator values.
    moderation_model : str or None
        Name of the model the slopes and lines come from.
    notes : list of str
        Parts that could not be computed, and why.
    timings : StageTimes
        Wall-clock time of each stage so far (the report writer adds its own).
    """

    diary: DiaryData
    prepared: PreparedData
    fits: dict[str, FitResult]
    summaries: dict[str, pd.DataFrame]
    icc: pd.DataFrame | None = None
    slopes: SimpleSlopes | None = None
    lines: pd.DataFrame | None = None
    moderation_model: str | None = None
    notes: list[str] = field(default_factory=list)
    timings: StageTimes = field(default_factory=StageTimes)


def load_mapping(path: str | os.PathLike) -> ColumnMapping:
    """Read a column-mapping TOML file."""
    return ColumnMapping.from_toml(path)


def example_inputs() -> tuple[Path, ColumnMapping]:
    """Path of the bundled synthetic example and its column mapping."""
    from ambidex_bayes import datasets

    return datasets.example_path(), load_mapping(datasets.example_mapping_path())


def _moderation_fit(fits: dict[str, FitResult]) -> FitResult | None:
    """The last fit with a cross-level interaction, else the last with a slope."""
    with_interaction = [f for f in fits.values() if f.terms.interaction is not None]
    if with_interaction:
        return with_interaction[-1]
    with_slope = [f for f in fits.values() if f.terms.slope is not None]
    return with_slope[-1] if with_slope else None


def _check_job_memory(
    built: Sequence[BuiltModel],
    prepared: PreparedData,
    settings: SamplerSettings | None,
    *,
    effects_on_disk: bool = True,
    verbose: bool = False,
) -> None:
    """Refuse, before sampling, a job whose fits and checks would not fit in memory.

    The estimate (:func:`ambidex_bayes.memory.check_analysis_memory`) counts each model's
    person effects per person, the draws kept and the rows; ``AMBIDEX_SKIP_MEMORY_CHECK=1``
    skips the refusal, as for the other memory checks. ``effects_on_disk`` says whether
    saved fits read their person effects from their files (false without a fit cache:
    every fit then holds its own). With ``verbose`` the estimated peak and the memory
    available are printed first, as one line.
    """
    from ambidex_bayes.memory import check_analysis_memory

    resolved = (settings or SamplerSettings()).resolved()
    effects = [
        int(b.terms.group_intercept_sd is not None) + int(b.terms.group_slope_sd is not None)
        for b in built
    ]
    person = prepared.roles["person"]
    check_analysis_memory(
        rows=len(prepared.frame),
        persons=int(prepared.frame[person].nunique()),
        effects=effects,
        draws=int(resolved.draws),
        chains=int(resolved.chains),
        log_likelihood=STORE_LOG_LIKELIHOOD,
        effects_on_disk=effects_on_disk,
        verbose=verbose,
    )


def ladder_centrings(
    specs: Sequence[ModelSpec],
    built: Sequence[BuiltModel],
    prepared: PreparedData,
    centring: str | None,
) -> dict[str, str | None]:
    """The centring each fit of the job is asked for, by spec name.

    ``None`` leaves each spec its own centring. A model without a level-1 predictor (no
    within slope, between part or person slope: M0) is fitted as it is. Otherwise
    ``"latent"`` asks every model for latent centring and ``"auto"`` takes it where the
    observed person means are unreliable (:func:`ambidex_bayes.centring.choose_centring`).

    Parameters
    ----------
    specs : sequence of ModelSpec
    built : sequence of BuiltModel
        The models of ``specs`` (their terms say which have a level-1 predictor).
    prepared : PreparedData
    centring : {"observed", "latent", "auto"} or None

    Returns
    -------
    dict of str to str or None

    Raises
    ------
    SpecError
        An unknown centring, or ``"latent"`` for a model latent centring cannot fit.
    """
    from ambidex_bayes.centring import CENTRINGS, choose_centring
    from ambidex_bayes.errors import SpecError

    if centring is not None and centring not in CENTRINGS:
        raise SpecError(f"centring must be one of {list(CENTRINGS)}, not {centring!r}.")
    out: dict[str, str | None] = {}
    for spec, model in zip(specs, built, strict=True):
        terms = model.terms
        has_predictor = any(t is not None for t in (terms.slope, terms.between, terms.group_slope))
        if centring is None:
            out[spec.name] = None
        elif not has_predictor:
            out[spec.name] = "observed"
        else:
            out[spec.name] = choose_centring(centring, spec, prepared)
    return out


def run_analysis(
    source: str | os.PathLike | pd.DataFrame,
    mapping: ColumnMapping,
    *,
    specs: Sequence[ModelSpec] | None = None,
    settings: SamplerSettings | None = None,
    detrend: bool = False,
    standardize: bool = False,
    moderator_values: Sequence[float] | None = None,
    cache_dir: str | os.PathLike | None = None,
    progressbar: bool = True,
    verbose: bool = True,
    sheet: str | int | None = None,
    centring: str | None = None,
) -> Analysis:
    """Run the main analysis: load, validate, prepare, fit the ladder, summarise.

    Every spec is rendered and checked against the data before the first model is
    sampled, so a spec or data error surfaces in a second, not after a long fit.

    Parameters
    ----------
    source : path or DataFrame
        The diary data (CSV, Parquet, Excel, SPSS ``.sav``).
    mapping : ColumnMapping
        Which column plays which role.
    specs : sequence of ModelSpec, optional
        Models to fit; default the bundled ladder M0 -> M3 (``ambidex_bayes/models/``).
    settings : SamplerSettings, optional
    detrend, standardize : bool
        Passed to :func:`ambidex_bayes.prepare.prepare`.
    moderator_values : sequence of float, optional
        Raw moderator values for the simple slopes (default mean and ±1 SD over persons).
    cache_dir : path, optional
        Where fits are cached (see :func:`ambidex_bayes.fit.fit`).
    progressbar : bool
        Show the sampler's progress bars and a line as each stage starts.
    verbose : bool
        Print the data summary, notes and warnings, the memory the job is expected to need
        at its peak (before sampling), and (at the end of
        :func:`ambidex_bayes.report.write_report`) the time each stage took.
    sheet : str or int, optional
        Sheet of an Excel file.
    centring : {"observed", "latent", "auto"}, optional
        Person-mean centring of the level-1 predictor in every fit that has one (default:
        each spec's own: ``"auto"`` for the bundled M1-M3, ``"observed"`` for spec files
        without a ``centring`` key); see
        :func:`ladder_centrings`. A model without a level-1 predictor (M0) is fitted as it is.

    Returns
    -------
    Analysis
        With ``timings``: the wall-clock time of each stage.

    Raises
    ------
    SpecError
        ``centring="latent"`` for a model with a level-1 predictor that latent centring
        cannot fit (before any sampling).
    """
    from ambidex_bayes.model.build import build_model

    timings = StageTimes(progress=progressbar, print_table=verbose)
    with timings.stage("read and check the data"):
        diary = load_diary(source, mapping, sheet=sheet)
    with timings.stage("prepare the data (centring, person means)"):
        prepared = prepare(diary, detrend=detrend, standardize=standardize)
    specs = list(specs) if specs is not None else ladder_specs(roles=prepared.formula_fields())
    if verbose:
        print(diary.compliance)
        for line in dict.fromkeys(list(diary.notes) + list(prepared.notes)):
            print(f"note: {line}")
        for line in prepared.warnings:
            print(f"WARNING: {line}")
    with timings.stage("build every model (checks the specs before sampling)"):
        # fail fast: every spec must build on these data, and the job's results and checks
        # must fit in memory (a ResourceError saying what to do, before any sampling)
        built = [build_model(spec, prepared) for spec in specs]
        centrings = ladder_centrings(specs, built, prepared, centring)
        _check_job_memory(
            built, prepared, settings, effects_on_disk=cache_dir is not False, verbose=verbose
        )

    fits: dict[str, FitResult] = {}
    summaries: dict[str, pd.DataFrame] = {}
    for spec in specs:
        with timings.stage(f"fit {spec.name}"):
            result = fit(
                spec,
                prepared,
                settings=settings,
                cache_dir=cache_dir,
                progressbar=progressbar,
                verbose=verbose,
                log_likelihood=STORE_LOG_LIKELIHOOD,
                centring=centrings[spec.name],
            )
        fits[spec.name] = result
        # A saved fit reads its person effects from its file; the arrays it completed them
        # in stay reachable through reference cycles of its former posterior tree until
        # Python's cycle collector runs. Collect them now, so that the next fit does not
        # complete its own while they are still held.
        gc.collect()
        with timings.stage(f"posterior summary of {spec.name}"):
            summaries[spec.name] = posterior_summary(result)

    analysis = Analysis(
        diary=diary, prepared=prepared, fits=fits, summaries=summaries, timings=timings
    )
    return _complete(analysis, moderator_values)


def analysis_from_fits(
    fits: Sequence[FitResult], *, progressbar: bool = True, verbose: bool = True
) -> Analysis:
    """Rebuild an :class:`Analysis` from saved fits of one data set (for ``report``).

    Parameters
    ----------
    fits : sequence of FitResult
        Fits of one data set (equal data hashes).
    progressbar, verbose : bool
        A line as each stage starts; the table of stage times at the end of the report.
    """
    from ambidex_bayes.data import DiaryData
    from ambidex_bayes.data.compliance import compliance_summary

    if not fits:
        raise ModelError("No fits given.")
    hashes = {f.meta.get("data_hash") for f in fits}
    if len(hashes) > 1:
        raise ModelError(
            "The fits were made on different data (their data hashes differ); a report "
            "combines fits of one data set only."
        )
    prepared = fits[0].prepared
    diary = DiaryData(
        frame=prepared.frame,
        mapping=prepared.mapping,
        notes=(),
        compliance=compliance_summary(prepared.frame, prepared.mapping),
        reliability=None,
        source="saved fits",
    )
    by_name = {f.spec.name: f for f in fits}
    timings = StageTimes(progress=progressbar, print_table=verbose)
    summaries = {}
    for name, result in by_name.items():
        with timings.stage(f"posterior summary of {name}"):
            summaries[name] = posterior_summary(result)
    analysis = Analysis(
        diary=diary, prepared=prepared, fits=by_name, summaries=summaries, timings=timings
    )
    return _complete(analysis, None)


def _complete(analysis: Analysis, moderator_values: Sequence[float] | None) -> Analysis:
    """Add the ICC, simple slopes and figure data to an analysis."""
    with analysis.timings.stage("ICC, simple slopes and figure data"):
        return _add_moderation(analysis, moderator_values)


def _add_moderation(analysis: Analysis, moderator_values: Sequence[float] | None) -> Analysis:
    fits = analysis.fits
    null = [f for f in fits.values() if f.terms.slope is None and f.terms.group_slope is None]
    if null:
        try:
            analysis.icc = icc(null[0])
        except ModelError as err:
            analysis.notes.append(str(err))
    moderation = _moderation_fit(fits)
    if moderation is not None and moderation.terms.w_column is not None:
        analysis.moderation_model = moderation.spec.name
        analysis.slopes = simple_slopes(moderation, at=moderator_values)
        analysis.lines = moderation_lines(moderation)
    return analysis
