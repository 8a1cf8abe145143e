r"""Fit one model under several prior sets and put the results side by side.

:func:`compare_priors` fits a spec under each prior set and reports, per set: posterior
mean, SD and interval of every fixed effect, SD, correlation and the residual SD;
:math:`P(\gamma_{11} > 0)`; the simple slopes; prior-to-posterior contraction;
power-scaling sensitivity with a verdict per parameter; and the Savage–Dickey Bayes factor
of the cross-level interaction with its sensitivity to the prior's width (see
:mod:`ambidex_bayes.priors.sensitivity` and :mod:`ambidex_bayes.priors.bayes_factor`).

Compile once, sample many times
-------------------------------
Prior sets that use the same distribution families differ only in numbers, so with the
``pymc`` backend the model of each family structure is compiled once and re-sampled with
each set's numbers (:class:`ambidex_bayes.engine.reuse.ReusableModel`; the same seed gives
the same draws whether the model was compiled for this set or re-used from another one).
Every set's start is checked before the first draw is taken. With the ``nutpie`` and
``numpyro`` backends each set is fitted by :func:`ambidex_bayes.fit.fit` (which keeps a
compiled nutpie model of the fast path and passes new prior values through ``with_data``).

The sampled model is the one :func:`ambidex_bayes.fit.fit` would sample
(:func:`ambidex_bayes.engine.cache.sampling_model`): the Gaussian fast path (person effects
integrated out, NUTS over the hyperparameters only, person effects drawn exactly afterwards,
same seed) where ``settings.fast_path`` allows it, else the full model. With ``nutpie`` and
``numpyro`` a set's draws are therefore those of ``fit`` of ``spec.with_priors(set)`` with
the same seed. With ``pymc`` the compile-once sampler samples the same posterior but not the
same draws: it adapts a diagonal mass matrix where ``fit`` adapts a dense one on the fast
path, and programs compiled apart differ in rounding, which long runs amplify.

Every fit is an ordinary :class:`~ambidex_bayes.fit.FitResult` of ``spec.with_priors(set)``
(with a ``log_prior`` group added), saved in the fit cache under the key and file that
:func:`ambidex_bayes.fit.fit` uses for that spec
(:func:`ambidex_bayes.engine.cache.cache_entry`), so a fit saved by either route is re-used
by the other.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ambidex_bayes.diagnostics import check_convergence
from ambidex_bayes.engine.cache import cache_entry, fit_meta, sampling_model
from ambidex_bayes.engine.result import FitResult
from ambidex_bayes.engine.reuse import ReusableModel, fit_priors, model_priors, prior_structure
from ambidex_bayes.engine.sampling import check_reuse_key
from ambidex_bayes.engine.settings import SamplerSettings, require_backend
from ambidex_bayes.errors import ModelError, SpecError
from ambidex_bayes.fit import fit
from ambidex_bayes.model.build import BuiltModel, build_model, check_initial_point
from ambidex_bayes.posterior import resolve_prob
from ambidex_bayes.prepare import PreparedData
from ambidex_bayes.priors.bayes_factor import (
    BayesFactorRefused,
    bf_width_sensitivity,
    savage_dickey,
)
from ambidex_bayes.priors.sensitivity import (
    PSENSE_THRESHOLD,
    add_log_prior,
    contraction,
    power_scaling,
)
from ambidex_bayes.priors.sets import PriorSet, check_prior_keys, read_prior_set
from ambidex_bayes.results import posterior_summary, simple_slopes
from ambidex_bayes.spec import ModelSpec, PriorSpec
from ambidex_bayes.terms import ModerationTerms

#: ``ReusableModel``, ``model_priors``, ``fit_priors`` and ``prior_structure`` live in
#: :mod:`ambidex_bayes.engine.reuse` and are re-exported here.
__all__ = [
    "PriorComparison",
    "ReusableModel",
    "compare_priors",
    "model_priors",
    "fit_priors",
    "prior_structure",
]


# --- the comparison ----------------------------------------------------------------------


@dataclass
class PriorComparison:
    """One model fitted under several prior sets, side by side.

    Attributes
    ----------
    spec : ModelSpec
        The model (without the sets' priors).
    prior_sets : dict of str to PriorSet
    fits : dict of str to FitResult
        One fit per set, in the order given.
    priors : dict of str to dict
        Per set: rendered parameter -> its prior with numbers.
    summary : DataFrame
        Long table: ``prior_set`` plus the columns of
        :func:`ambidex_bayes.results.posterior_summary`.
    slopes : DataFrame
        Long table: ``prior_set`` plus the simple-slope table (population level, original
        units, moderator at -1 SD / mean / +1 SD).
    contraction, sensitivity : DataFrame
        Long tables: ``prior_set`` plus :func:`~ambidex_bayes.priors.sensitivity.contraction`
        and :func:`~ambidex_bayes.priors.sensitivity.power_scaling`.
    bayes_factors : DataFrame
        Per set: ``prior_set, parameter, prior, bf10, bf01, log10_bf10, note`` (``note``
        gives the reason where the Bayes factor is refused).
    bf_curves : dict of str to DataFrame
        Per set with a Bayes factor: BF10 against the prior's width.
    timings : DataFrame
        ``attrs`` hold ``wall_s`` (the whole call), ``fits_s`` (until every set is fitted),
        ``other_s`` (the part of ``fits_s`` outside the per-set rows: the base model, loading
        saved fits, saving new ones) and ``summaries_s`` (tables, power-scaling, Bayes
        factors). Per set, in seconds: ``build_s`` (resolve, check and build the set's model),
        ``compile_s`` (compiling and the first calls of the compiled functions; near 0
        when a compiled model was re-used), ``sample_s`` (``pm.sample``,
        including what it compiles itself on every call and its worker start-up),
        ``finish_s`` (log-likelihood, and on the fast path the exact person-effect draws),
        ``total_s``; ``reused``, ``cached`` (loaded from the fit cache).
    notes : list of str
    """

    spec: ModelSpec
    prior_sets: dict[str, PriorSet]
    fits: dict[str, FitResult]
    priors: dict[str, dict[str, PriorSpec]]
    summary: pd.DataFrame
    slopes: pd.DataFrame
    contraction: pd.DataFrame
    sensitivity: pd.DataFrame
    bayes_factors: pd.DataFrame
    bf_curves: dict[str, pd.DataFrame]
    timings: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    @property
    def terms(self) -> ModerationTerms:
        """Roles of the posterior variables (shared by every fit)."""
        return next(iter(self.fits.values())).terms

    def side_by_side(self, *, digits: int = 3) -> pd.DataFrame:
        """Wide table: one row per parameter, one ``mean [lower, upper]`` column per set."""
        table = self.summary.copy()
        table["estimate"] = [
            f"{m:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"
            for m, lo, hi in zip(table["mean"], table["ci_lower"], table["ci_upper"], strict=True)
        ]
        wide = table.pivot(index="parameter", columns="prior_set", values="estimate")
        order = list(dict.fromkeys(table["parameter"]))
        wide = wide.loc[order, list(self.fits)]
        wide.columns.name = None
        return wide.reset_index()

    def wide(self, table: str, column: str) -> pd.DataFrame:
        """One of the long tables (``"contraction"``, ``"sensitivity"``, ``"summary"``, ...)
        as parameter x prior set, showing ``column`` (e.g. ``"verdict"``)."""
        frame = getattr(self, table, None)
        if not isinstance(frame, pd.DataFrame) or "parameter" not in frame.columns:
            raise ModelError(
                f"no long table {table!r} with parameters; use summary, contraction or sensitivity."
            )
        if column not in frame.columns:
            raise ModelError(
                f"the {table} table has no column {column!r}; columns: "
                f"{', '.join(map(str, frame.columns))}."
            )
        wide = frame.pivot(index="parameter", columns="prior_set", values=column)
        order = list(dict.fromkeys(frame["parameter"]))
        wide = wide.loc[order, [s for s in self.fits if s in wide.columns]]
        wide.columns.name = None
        return wide.reset_index()

    def interaction(self) -> pd.DataFrame:
        """The cross-level interaction per set: mean, SD, interval, P(> 0), BF10."""
        name = self.terms.interaction
        if name is None:
            return pd.DataFrame(
                columns=["prior_set", "mean", "sd", "ci_lower", "ci_upper", "p_positive", "bf10"]
            )
        rows = self.summary[self.summary["parameter"] == name]
        out = rows[["prior_set", "mean", "sd", "ci_lower", "ci_upper", "p_positive"]].copy()
        bf = self.bayes_factors.set_index("prior_set")["bf10"]
        out["bf10"] = [float(bf.get(s, np.nan)) for s in out["prior_set"]]
        return out.reset_index(drop=True)


def _read_sets(
    prior_sets: Sequence[str | Path | PriorSet] | Mapping[str, str | Path | PriorSet],
) -> dict[str, PriorSet]:
    if isinstance(prior_sets, Mapping):
        items = [(str(k), read_prior_set(v)) for k, v in prior_sets.items()]
    else:
        if isinstance(prior_sets, str | Path):
            prior_sets = [prior_sets]
        items = [(s.name, s) for s in map(read_prior_set, prior_sets)]
    if not items:
        raise SpecError("compare_priors needs at least one prior set.")
    names = [n for n, _ in items]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise SpecError(
            f"the prior set name {duplicated[0]!r} is given twice; each set needs its own name."
        )
    return dict(items)


def compare_priors(
    spec: ModelSpec,
    prepared: PreparedData,
    prior_sets: Sequence[str | Path | PriorSet] | Mapping[str, str | Path | PriorSet],
    *,
    settings: SamplerSettings | None = None,
    cache_dir: str | Path | bool | None = None,
    refit: bool = False,
    reuse: bool = True,
    progressbar: bool = True,
    verbose: bool = True,
    prob: float | None = None,
    bf_widths: Sequence[float] | None = None,
    threshold: float = PSENSE_THRESHOLD,
) -> PriorComparison:
    """Fit ``spec`` under each prior set and compare the results (see the module notes).

    Parameters
    ----------
    spec : ModelSpec
        The model; each set's priors are applied on top of its own.
    prepared : PreparedData
    prior_sets : sequence or mapping
        Bundled names (``"sceptical"``), prior-set files or :class:`PriorSet` objects; a
        mapping gives them new names.
    settings : SamplerSettings, optional
        Sampler settings (same for every set).
    cache_dir : path, optional
        Folder of saved fits (default :data:`constants.CACHE_DIR`); ``False`` neither reads
        nor writes. A saved fit of the same spec, priors, data and settings is re-used.
    refit : bool
        Sample even when a saved fit matches.
    reuse : bool
        Compile once and re-use the model across sets with the same prior families
        (default). ``False`` compiles a fresh model for every set (for benchmarks).
    progressbar, verbose : bool
    prob : float, optional
        Interval width (default ``constants.CI_PROB``).
    bf_widths : sequence of float, optional
        Prior SDs at which to show the Bayes factor of the interaction.
    threshold : float
        Power-scaling sensitivity threshold for the verdicts.

    Returns
    -------
    PriorComparison

    Raises
    ------
    SpecError
        An unknown prior set, an unknown parameter in a set (with a hint), relative priors
        without declared ranges: all before any sampling.

    Examples
    --------
    M3 on the bundled example under the default priors and the sceptical set (small
    ``settings``, so the estimates are rough):

    >>> comparison = ab.compare_priors(
    ...     ab.load_spec("M3"),
    ...     data,
    ...     ["default", "sceptical"],
    ...     settings=settings,
    ...     cache_dir=cache,
    ...     progressbar=False,
    ...     verbose=False,
    ... )
    >>> list(comparison.fits)
    ['default', 'sceptical']
    >>> comparison.side_by_side().columns.tolist()
    ['parameter', 'default', 'sceptical']
    >>> sorted(set(comparison.sensitivity["prior_set"]))
    ['default', 'sceptical']
    """
    started = time.perf_counter()
    settings = (settings or SamplerSettings()).resolved()
    require_backend(settings.backend)
    sets = _read_sets(prior_sets)
    fields = prepared.formula_fields()
    base = build_model(spec, prepared, prior_data=True)

    # Validate every set against the model before anything is sampled.
    specs: dict[str, ModelSpec] = {}
    builds: dict[str, tuple[BuiltModel, float]] = {}
    for name, prior_set in sets.items():
        start = time.perf_counter()
        resolved = prior_set.resolve(prepared)
        check_prior_keys(
            resolved, base, fields, source=prior_set.source, factors=prepared.formula_columns()
        )
        specs[name] = spec.with_priors(resolved, label=name)
        built = sampling_model(specs[name], prepared, settings, prior_data=True)
        builds[name] = (built, time.perf_counter() - start)

    # Saved fits first; then compile (once per family structure) and check every set's
    # start before the first draw is taken.
    rows: dict[str, dict[str, Any]] = {}
    results: dict[str, FitResult] = {}
    samplers: dict[str, ReusableModel] = {}
    compiled: dict[tuple, ReusableModel] = {}
    priors: dict[str, dict[str, PriorSpec]] = {}
    for name, spec_i in specs.items():
        built, build_s = builds[name]
        priors[name] = model_priors(built)
        # the entry fit(spec_i) would use: a fit saved by either route is found by the other
        entry = cache_entry(spec_i, prepared, settings, cache_dir)
        rows[name] = {
            "prior_set": name,
            "build_s": build_s,
            "compile_s": 0.0,
            "sample_s": 0.0,
            "finish_s": 0.0,
            "reused": False,
            "cached": False,
            "entry": entry,
        }
        saved = entry.load(refit=refit)
        if saved is not None:
            results[name] = saved
            rows[name]["cached"] = True
            continue
        if settings.backend != "pymc":
            check_initial_point(
                built.pymc_model,
                source=sets[name].source,
                reuse_key=check_reuse_key(built, settings),
            )
            continue
        structure = (built.is_marginal, prior_structure(priors[name]))
        reusable = compiled.get(structure) if reuse else None
        if reusable is None:
            reusable = ReusableModel(built)
            rows[name]["compile_s"] = reusable.compile()
            if reuse:
                compiled[structure] = reusable
        else:
            rows[name]["reused"] = True
        reusable.set_priors(priors[name])
        start = time.perf_counter()
        reusable.check(source=sets[name].source)  # first calls finish PyTensor's compiling
        rows[name]["compile_s"] += time.perf_counter() - start
        samplers[name] = reusable

    fits: dict[str, FitResult] = {}
    timing_rows = []
    notes: list[str] = []
    for name, spec_i in specs.items():
        built, _ = builds[name]
        set_priors = priors[name]
        row = rows[name]
        entry = row.pop("entry")
        result = results.get(name)
        if result is None and settings.backend != "pymc":
            start = time.perf_counter()
            result = fit(
                spec_i,
                prepared,
                settings=settings,
                cache_dir=False,
                progressbar=progressbar,
                verbose=verbose,
                centring="observed",  # the model the other route samples
            )
            row["sample_s"] = time.perf_counter() - start
            if name == next(iter(specs)):
                notes.append(
                    f"With the {settings.backend} backend each prior set is fitted by fit(); "
                    "it re-uses a compiled nutpie model of the fast path (new prior values "
                    "through with_data), otherwise it compiles per set."
                )
        elif result is None:
            reusable = samplers[name]
            reusable.set_priors(set_priors)
            start = time.perf_counter()
            idata = reusable.sample(settings, progressbar=progressbar)
            row["sample_s"] = time.perf_counter() - start
            start = time.perf_counter()
            idata = reusable.finish(idata, settings)
            row["finish_s"] = time.perf_counter() - start
            meta = fit_meta(
                entry.key,
                settings,
                prepared,
                built,
                wall_seconds=row["sample_s"],
                prior_set=name,
                compiled_once=bool(row["reused"]),
            )
            result = FitResult.from_model(
                built,
                prepared,
                idata,
                meta=meta,
                convergence=check_convergence(idata, warn=True),
                keep_model=False,
            )
        if "log_prior" not in result.idata.children:
            result.idata = add_log_prior(result.idata, set_priors)
            if not row["cached"]:
                entry.save(result)
        if verbose:
            how = (
                "re-used a saved fit"
                if row["cached"]
                else (
                    "compiled model re-used"
                    if row["reused"]
                    else f"compiled in {row['compile_s']:.1f} s"
                )
            )
            print(
                f"prior set {name!r}: {how}; sampling {row['sample_s']:.1f} s "
                f"({spec_i.name}: {built.formula})"
            )
            if not row["cached"]:
                print(result.convergence)
        row["total_s"] = row["build_s"] + row["compile_s"] + row["sample_s"] + row["finish_s"]
        timing_rows.append(row)
        fits[name] = result

    fitted = time.perf_counter()
    comparison = _assemble(
        spec,
        sets,
        fits,
        priors,
        pd.DataFrame(timing_rows),
        notes,
        prob=prob,
        bf_widths=bf_widths,
        threshold=threshold,
    )
    per_set = float(comparison.timings["total_s"].sum())
    comparison.timings.attrs.update(
        {
            "wall_s": time.perf_counter() - started,
            "fits_s": fitted - started,
            "other_s": fitted - started - per_set,
            "summaries_s": time.perf_counter() - fitted,
        }
    )
    return comparison


def _long(frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    parts = [f.assign(prior_set=name) for name, f in frames.items() if len(f)]
    if not parts:
        return pd.DataFrame()
    table = pd.concat(parts, ignore_index=True)
    return table[["prior_set", *[c for c in table.columns if c != "prior_set"]]]


def _assemble(
    spec: ModelSpec,
    sets: dict[str, PriorSet],
    fits: dict[str, FitResult],
    priors: dict[str, dict[str, PriorSpec]],
    timings: pd.DataFrame,
    notes: list[str],
    *,
    prob: float | None,
    bf_widths: Sequence[float] | None,
    threshold: float,
) -> PriorComparison:
    summaries, slopes, contractions, sensitivities = {}, {}, {}, {}
    bf_rows, curves = [], {}
    for name, result in fits.items():
        terms = result.terms
        summary = posterior_summary(result, prob=prob)
        summaries[name] = summary
        reported = list(summary["parameter"])
        if terms.slope is not None:
            slopes[name] = simple_slopes(result, prob=prob).table
        posterior = result.idata["posterior"].to_dataset()
        contractions[name] = contraction(posterior, priors[name], names=reported)
        sensitivities[name] = power_scaling(
            result.idata,
            var_names=[p for p in reported if p in posterior.data_vars],
            threshold=threshold,
        )
        row = _bayes_factor_row(name, result, priors[name])
        bf_rows.append(row)
        if np.isfinite(row["bf10"]) and terms.interaction is not None:
            curves[name] = bf_width_sensitivity(
                posterior[terms.interaction].values,
                priors[name][terms.interaction],
                widths=bf_widths,
                name=terms.interaction,
                record=result.priors.get(terms.interaction),
            )
    summary = _long(summaries)
    summary.attrs["ci_prob"] = resolve_prob(prob)
    sensitivity = _long(sensitivities)
    sensitivity.attrs["threshold"] = threshold
    return PriorComparison(
        spec=spec,
        prior_sets=sets,
        fits=fits,
        priors=priors,
        summary=summary,
        slopes=_long(slopes),
        contraction=_long(contractions),
        sensitivity=sensitivity,
        bayes_factors=pd.DataFrame(
            bf_rows,
            columns=["prior_set", "parameter", "prior", "bf10", "bf01", "log10_bf10", "note"],
        ),
        bf_curves=curves,
        timings=timings,
        notes=notes,
    )


def _bayes_factor_row(
    name: str, result: FitResult, priors: Mapping[str, PriorSpec]
) -> dict[str, Any]:
    parameter = result.terms.interaction
    row: dict[str, Any] = {
        "prior_set": name,
        "parameter": parameter,
        "prior": "",
        "bf10": np.nan,
        "bf01": np.nan,
        "log10_bf10": np.nan,
        "note": "",
    }
    if parameter is None:
        row["note"] = "the model has no cross-level interaction"
        return row
    record = result.priors.get(parameter)
    row["prior"] = str(priors.get(parameter, record.get("prior", "") if record else ""))
    draws = result.idata["posterior"][parameter].values
    try:
        bf = savage_dickey(draws, priors.get(parameter), name=parameter, record=record)
    except BayesFactorRefused as err:
        row["note"] = f"refused: {err}"
        return row
    row.update(
        bf10=bf.bf10,
        bf01=bf.bf01,
        log10_bf10=float(np.log10(bf.bf10)) if bf.bf10 > 0 else -np.inf,
        note=bf.note,
    )
    return row
