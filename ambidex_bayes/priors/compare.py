r"""Fit one model under several prior sets and put the results side by side.

:func:`compare_priors` fits a spec under each prior set and reports, per set: posterior
mean, SD and interval of every fixed effect, SD, correlation and the residual SD;
:math:`P(\gamma_{11} > 0)`; the simple slopes; prior-to-posterior contraction;
power-scaling sensitivity with a verdict per parameter; and the Savage–Dickey Bayes factor
of the cross-level interaction with its sensitivity to the prior's width (see
:mod:`ambidex_bayes.priors.sensitivity` and :mod:`ambidex_bayes.priors.bayes_factor`).

Compile once, sample many times
-------------------------------
Prior sets that use the same distribution families differ only in numbers. The model is
therefore built once with every prior parameter in a ``pm.Data`` variable
(``build_model(..., prior_data=True)``), its log density and gradient are compiled once
(:class:`ReusableModel`), and each set only sets those values before sampling. The
sampler's start is PyMC's default ``jitter+adapt_diag`` done with the compiled function:
each chain starts at the model's initial point plus a uniform jitter in [-1, 1] on the
unconstrained scale (redrawn until the log density is finite), and the diagonal mass-matrix
adaptation starts from the mean of those points; seeds are derived from the sampler seed as
``pm.sample`` derives them. The pointwise log-likelihood function of the full model (for
power-scaling and LOO) is compiled once too. The same seed therefore gives the same draws
whether the model was compiled for this prior set or re-used from another one. Sets with
other families get their own compiled model. With the ``nutpie`` and ``numpyro`` backends
each set is fitted by :func:`ambidex_bayes.fit.fit` (which keeps a compiled nutpie model of
the fast path and passes new prior values through ``with_data``).

The sampled model is the one :func:`ambidex_bayes.fit.fit` would sample: the Gaussian fast
path (person effects integrated out, NUTS over the hyperparameters only, person effects drawn
exactly afterwards, same seed) where ``settings.fast_path`` allows it, else the full model.

Every fit is an ordinary :class:`~ambidex_bayes.fit.FitResult` of ``spec.with_priors(set)``
(with a ``log_prior`` group added), saved in the fit cache under the same key
:func:`ambidex_bayes.fit.fit` would use.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from ambidex_bayes import constants
from ambidex_bayes.diagnostics import check_convergence
from ambidex_bayes.engine.sampling import check_reuse_key
from ambidex_bayes.errors import FitFileError, ModelError, SpecError
from ambidex_bayes.fit import (
    FitResult,
    SamplerSettings,
    fit,
    fit_key,
    require_backend,
)
from ambidex_bayes.model.build import (
    PRIOR_DATA_PREFIX,
    BuiltModel,
    FastPathUnavailable,
    build_model,
    check_initial_point,
)
from ambidex_bayes.model.prior_scale import check_prior_scales
from ambidex_bayes.output_paths import save_fit_or_warn
from ambidex_bayes.posterior import resolve_prob
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
from ambidex_bayes.store import data_hash, package_versions

__all__ = [
    "PriorComparison",
    "ReusableModel",
    "compare_priors",
    "model_priors",
    "fit_priors",
    "prior_structure",
]


# --- priors with numbers -----------------------------------------------------------------


def model_priors(built: BuiltModel) -> dict[str, PriorSpec]:
    """Every prior of a model built with ``prior_data=True``, with its numbers.

    Returns
    -------
    dict of str to PriorSpec
        Rendered parameter name (``"Intercept"``, ``"1|person_sigma"``, ``"corr(person)"``,
        ``"sigma"``, ...) -> its distribution and the current values of its ``pm.Data``
        parameters (Bambi's data-scaled numbers where the spec gives none).
    """
    params: dict[str, dict[str, float]] = {}
    for var in built.pymc_model.data_vars:
        name = str(var.name)
        if not name.startswith(PRIOR_DATA_PREFIX):
            continue
        parameter, _, param = name[len(PRIOR_DATA_PREFIX) :].rpartition("].")
        params.setdefault(parameter, {})[param] = float(np.asarray(var.get_value()))
    if not params:
        raise ModelError(
            "model_priors() needs a model built with build_model(..., prior_data=True)."
        )
    out = {}
    for name, info in built.priors.items():
        if name in params:
            out[name] = PriorSpec(dist=str(info["prior"]).split("(", 1)[0], params=params[name])
    return out


def fit_priors(result: FitResult) -> dict[str, PriorSpec]:
    """The priors of a fit with their numbers (rebuilds its model; no sampling)."""
    return model_priors(build_model(result.spec, result.prepared, prior_data=True))


def prior_structure(priors: Mapping[str, PriorSpec]) -> tuple[tuple[str, str], ...]:
    """The distribution family of each parameter: what a compiled model depends on."""
    return tuple(sorted((name, prior.dist) for name, prior in priors.items()))


# --- one compiled model, many prior sets -------------------------------------------------


class ReusableModel:
    """A PyMC model whose prior parameters are data, compiled once, sampled per prior set.

    Parameters
    ----------
    built : BuiltModel
        From ``build_model(spec, prepared, prior_data=True)``.

    Attributes
    ----------
    compile_seconds : float
        Time spent compiling (log density and gradient, initial-point and
        log-likelihood functions); 0 until :meth:`compile` runs.
    """

    def __init__(self, built: BuiltModel) -> None:
        self.built = built
        self.model = built.pymc_model
        self.marginal = built.is_marginal
        self.structure = (self.marginal, prior_structure(model_priors(built)))
        self.compile_seconds = 0.0
        self._logp_dlogp: Any = None

    def set_priors(self, priors: Mapping[str, PriorSpec]) -> None:
        """Set every prior parameter to the numbers of ``priors`` (same families)."""
        if prior_structure(priors) != self.structure[1]:
            raise ModelError(
                "these priors use other distribution families than the compiled model; "
                "build a ReusableModel for them."
            )
        for name, prior in priors.items():
            for param, value in prior.params.items():
                self.model.set_data(f"{PRIOR_DATA_PREFIX}{name}].{param}", float(value))

    def compile(self) -> float:
        """Compile the functions sampling needs (once); returns the seconds it took."""
        if self._logp_dlogp is not None:
            return 0.0
        from pymc.initial_point import make_initial_point_fns_per_chain
        from pymc.model.transform.conditioning import remove_value_transforms

        start = time.perf_counter()
        model = self.model
        self._logp_dlogp = model.logp_dlogp_function(ravel_inputs=True)
        self._logp_dlogp.trust_input = True
        self._initial_point = make_initial_point_fns_per_chain(
            model=model, overrides=None, jitter_rvs=set(model.free_RVs), chains=1
        )[0]
        outs = []
        for rv, value in zip(model.free_RVs, model.value_vars, strict=True):
            transform = model.rvs_to_transforms[rv]
            outs.append(value if transform is None else transform.backward(value, *rv.owner.inputs))
        self._to_constrained = model.compile_fn(outs, inputs=model.value_vars, point_fn=False)
        if self.marginal:  # the person effects and log-likelihood are computed afterwards
            self.compile_seconds = time.perf_counter() - start
            return self.compile_seconds
        umodel = remove_value_transforms(model)
        self._loglik_vars = [rv.name for rv in umodel.observed_RVs]
        self._free_names = [rv.name for rv in model.free_RVs]
        self._coords_dims = (umodel.coords, umodel.named_vars_to_dims)
        self._loglik = umodel.compile_fn(
            inputs=umodel.value_vars,
            outs=umodel.logp(vars=umodel.observed_RVs, sum=False),
            on_unused_input="ignore",
        )
        self._umodel = umodel
        self.compile_seconds = time.perf_counter() - start
        return self.compile_seconds

    def _logp(self, point: Mapping[str, np.ndarray]) -> float:
        from pymc.blocking import DictToArrayBijection

        q, _ = DictToArrayBijection.map(dict(point))
        return float(self._logp_dlogp([q], extra_vars={})[0])

    def _start(self, seed: int, chains: int) -> tuple[list[dict], list[int]]:
        from pymc.util import get_random_generator

        names = [v.name for v in self.model.value_vars]
        seeds = [int(rng.integers(2**30)) for rng in get_random_generator(seed).spawn(chains)]
        points = []
        for chain_seed in seeds:
            rng = np.random.default_rng(chain_seed)
            current = chain_seed
            for _ in range(11):
                point = self._initial_point(current)
                if np.isfinite(self._logp({k: point[k] for k in names})):
                    break
                current = int(rng.integers(2**30, dtype=np.int64))
            else:
                raise ModelError(
                    "no start with a finite log density was found in 11 jittered tries; "
                    "check the priors (their supports and widths) and the data."
                )
            points.append({k: point[k] for k in names})
        return points, seeds

    def check(self, *, source: str = "model") -> None:
        """Refuse to sample when the log density or its gradient is not finite at a start.

        The same structural check as :func:`ambidex_bayes.model.build.check_initial_point`,
        with the compiled function (no new compilation per prior set).
        """
        from pymc.blocking import DictToArrayBijection

        self.compile()
        try:
            points, _ = self._start(0, 1)
        except ModelError as err:
            raise ModelError(f"{source}: {err}") from None
        q, _ = DictToArrayBijection.map(points[0])
        grad = np.asarray(self._logp_dlogp([q], extra_vars={})[1])
        if not np.all(np.isfinite(grad)):
            raise ModelError(
                f"{source}: the gradient of the log density is not finite at the start point. "
                "Check for priors with zero width or extreme values."
            )

    def sample(self, settings: SamplerSettings, *, progressbar: bool = False) -> xr.DataTree:
        """Sample with the current prior values (PyMC NUTS; see the module notes)."""
        from pymc.blocking import DictToArrayBijection
        from pymc.step_methods.hmc import quadpotential

        settings = settings.resolved()
        self.compile()
        points, seeds = self._start(settings.seed, settings.chains)
        arrays = [DictToArrayBijection.map(p).data for p in points]
        mean = np.mean(arrays, axis=0)
        potential = quadpotential.QuadPotentialDiagAdapt(
            len(mean), mean, np.ones_like(mean), 10, rng=seeds[0]
        )
        step = pm.NUTS(
            potential=potential,
            model=self.model,
            rng=seeds[0],
            initial_point=points[0],
            logp_dlogp_func=self._logp_dlogp,
            target_accept=settings.target_accept,
        )
        names = [v.name for v in self.model.value_vars]
        initvals = []
        for point in points:
            values = self._to_constrained(*[point[n] for n in names])
            initvals.append({rv.name: v for rv, v in zip(self.model.free_RVs, values, strict=True)})
        return pm.sample(
            draws=settings.draws,
            tune=settings.tune,
            chains=settings.chains,
            cores=min(settings.chains, os.cpu_count() or 1),
            random_seed=settings.seed,
            step=step,
            initvals=initvals,
            model=self.model,
            nuts_sampler="pymc",
            progressbar=progressbar,
            compute_convergence_checks=False,
        )

    def finish(self, idata: xr.DataTree, settings: SamplerSettings) -> xr.DataTree:
        """Complete the draws as :func:`ambidex_bayes.fit.fit` does.

        Full model: add the pointwise log-likelihood and drop the internal variables. Fast
        path: draw the person effects exactly and compute the log-likelihood per draw, with
        the same seed as ``fit`` (``ambidex_bayes.engine.sampling.sample_marginal``).
        """
        if self.marginal:
            idata = _complete_marginal(idata, self.built, settings.resolved())
        else:
            idata = _finish_idata(idata, self.log_likelihood(idata))
        if "constant_data" in idata.children:
            del idata["constant_data"]
        return idata

    def log_likelihood(self, idata: xr.DataTree) -> xr.Dataset:
        """Pointwise log-likelihood of every draw of the full model (needs the full posterior,
        ``_``-variables too)."""
        from pymc.backends.arviz import apply_function_over_dataset

        if self.marginal:
            raise ModelError("the fast-path model's log-likelihood comes with finish().")
        self.compile()
        posterior = idata["posterior"].to_dataset()[self._free_names]
        coords, dims = self._coords_dims
        coords = {k: np.array(v) if isinstance(v, tuple) else v for k, v in coords.items()}
        dims = {k: list(v) for k, v in dims.items()}
        return apply_function_over_dataset(
            self._loglik,
            posterior,
            output_var_names=self._loglik_vars,
            sample_dims=("chain", "draw"),
            dims=dims,
            coords=coords,
            progressbar=False,
        )


def _finish_idata(idata: xr.DataTree, loglik: xr.Dataset) -> xr.DataTree:
    """Add the log-likelihood and drop internal variables (as ``fit`` does)."""
    idata["log_likelihood"] = xr.DataTree(loglik)
    from ambidex_bayes.engine.sampling import without_internal

    idata["posterior"] = xr.DataTree(without_internal(idata["posterior"].to_dataset()))
    return idata


def _complete_marginal(
    idata: xr.DataTree, built: BuiltModel, settings: SamplerSettings
) -> xr.DataTree:
    """Person effects and log-likelihood of fast-path draws, exactly as ``fit`` completes
    them (its sampling step is replaced here by the compiled-once one)."""
    from ambidex_bayes.engine.sampling import complete_marginal

    return complete_marginal(idata, built, settings, log_likelihood=True)


def _build(spec: ModelSpec, prepared: Any, settings: SamplerSettings) -> BuiltModel:
    """The model ``fit`` would sample (fast path where it can), with prior data."""
    if settings.fast_path:
        try:
            return build_model(spec, prepared, prior_data=True, marginal=True)
        except FastPathUnavailable:
            pass
    return build_model(spec, prepared, prior_data=True)


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
    def terms(self):
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


def _cache_path(folder: Path, spec: ModelSpec, key: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in spec.name)
    return folder / f"{safe}-{key[:16]}.nc"


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
    prepared: Any,
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
        check_prior_keys(resolved, base, fields, source=prior_set.source)
        specs[name] = spec.with_priors(resolved, label=name)
        check_prior_scales(specs[name], prepared)
        built = _build(specs[name], prepared, settings)
        builds[name] = (built, time.perf_counter() - start)

    folder = None
    if cache_dir is not False:
        folder = Path(cache_dir if cache_dir not in (None, True) else constants.CACHE_DIR)

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
        key = fit_key(spec_i, prepared, settings)
        path = _cache_path(folder, spec_i, key) if folder is not None else None
        rows[name] = {
            "prior_set": name,
            "build_s": build_s,
            "compile_s": 0.0,
            "sample_s": 0.0,
            "finish_s": 0.0,
            "reused": False,
            "cached": False,
            "key": key,
            "path": path,
        }
        if path is not None and path.exists() and not refit:
            try:
                loaded = FitResult.load(path)
            except FitFileError as err:
                warnings.warn(f"{err} Sampling again.", UserWarning, stacklevel=2)
            else:
                if loaded.meta.get("fit_key") == key:
                    results[name] = loaded
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
        key, path = row.pop("key"), row.pop("path")
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
            result = FitResult(
                spec=spec_i,
                prepared=prepared,
                idata=idata,
                terms=built.terms,
                formula=built.formula,
                priors=built.priors,
                meta={
                    "fit_key": key,
                    "settings": settings.to_dict(),
                    "versions": package_versions(),
                    "data_hash": data_hash(prepared.frame),
                    "created": datetime.now(UTC).isoformat(timespec="seconds"),
                    "wall_seconds": round(row["sample_s"], 3),
                    "method": (
                        "fast path: person effects integrated out, drawn exactly afterwards"
                        if built.is_marginal
                        else "full NUTS over all parameters"
                    ),
                    "n_rows": int(len(prepared.frame)),
                    "prior_set": name,
                    "compiled_once": bool(row["reused"]),
                },
                convergence=check_convergence(idata, warn=True),
            )
        if "log_prior" not in result.idata.children:
            result.idata = add_log_prior(result.idata, set_priors)
            if path is not None and not row["cached"]:
                save_fit_or_warn(result, path, where="the cache folder")
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
        summary = posterior_summary(result.idata, terms, prob=prob)
        summaries[name] = summary
        reported = list(summary["parameter"])
        if terms.slope is not None:
            slopes[name] = simple_slopes(result.idata, terms, result.prepared, prob=prob).table
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
