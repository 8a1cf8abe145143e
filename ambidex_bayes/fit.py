"""Fit a spec to prepared data: build, check, sample, diagnose, save.

:func:`fit` is the one entry point. It validates everything that can be validated before
sampling (spec roles and columns, priors, constant or collinear predictors, a finite
log-density gradient at the initial point), samples with the chosen backend, computes the
pointwise log-likelihood (for LOO), runs the convergence diagnostics and reports them in
plain words (a fit that fails them is sampled once more with smaller steps and longer
tuning, announced, see :mod:`ambidex_bayes.rescue`), and saves the fit to one file.
Re-running with the same spec, data, sampler settings and seed re-uses the saved fit
instead of sampling again. The default backend is nutpie when it is installed
(:func:`default_backend`).
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import xarray as xr

from ambidex_bayes import constants
from ambidex_bayes.diagnostics import (
    ConvergenceReport,
    ConvergenceWarning,
    check_convergence,
    nonfinite_draws,
)
from ambidex_bayes.engine.limits import BACKENDS
from ambidex_bayes.engine.sampling import check_reuse_key, sample_full, sample_marginal
from ambidex_bayes.engine.settings import SamplerSettings, default_backend, require_backend
from ambidex_bayes.errors import FitFileError, ModelError, SpecError
from ambidex_bayes.model import build as model_build
from ambidex_bayes.model.build import (
    BuiltModel,
    FastPathUnavailable,
    build_model,
    check_initial_point,
    check_saved_formulas,
)
from ambidex_bayes.model.prior_scale import check_prior_scales
from ambidex_bayes.rescue import (
    rescue_announcement,
    rescue_settings,
    rescue_verdict,
    worth_rescuing,
)
from ambidex_bayes.spec import ModelSpec
from ambidex_bayes.store import (
    data_hash,
    dataset_to_frame,
    frame_to_dataset,
    load_datatree,
    package_versions,
    save_datatree,
)
from ambidex_bayes.terms import ModerationTerms

__all__ = ["FitResult", "SamplerSettings", "fit", "load_fit", "BACKENDS", "default_backend"]

#: Packages whose versions are part of a fit's cache key.
_KEY_PACKAGES = ("ambidex_bayes", "bambi", "pymc", "pytensor", "nutpie", "numpyro", "jax")


@dataclass
class FitResult:
    """A fitted model: spec, prepared data, the models and the posterior.

    Attributes
    ----------
    spec : ModelSpec
    prepared : PreparedData
    idata : xarray.DataTree
        Groups ``posterior``, ``sample_stats``, ``observed_data``, ``log_likelihood``.
    terms : ModerationTerms
        Which posterior variable plays which role.
    formula : str
        The formula with the data's column names.
    priors : dict
        Every prior used, with its source (spec, Bambi's data-scaled default, ...).
    meta : dict
        Sampler settings, seed, package versions, data hash, timings.
    convergence : ConvergenceReport
    path : Path or None
        Where the fit is saved.
    """

    spec: ModelSpec
    prepared: Any
    idata: xr.DataTree
    terms: ModerationTerms
    formula: str
    priors: dict[str, dict[str, Any]]
    meta: dict[str, Any]
    convergence: ConvergenceReport
    path: Path | None = None
    _built: BuiltModel | None = field(default=None, repr=False)

    @property
    def built(self) -> BuiltModel:
        """The Bambi and PyMC models (rebuilt on demand after loading; no sampling)."""
        if self._built is None:
            self._built = build_model(self.spec, self.prepared)
        return self._built

    @property
    def bambi_model(self) -> Any:
        """Bambi's model of the formula, for ``predict`` and ``bambi.interpret``."""
        return self.built.bambi_model

    @property
    def posterior(self) -> xr.Dataset:
        """The posterior group as a Dataset."""
        return self.idata["posterior"].to_dataset()

    def prior_table(self):
        """Every prior actually used (as brms' ``prior_summary``)."""
        from ambidex_bayes.model.build import prior_table

        return prior_table(self.priors)

    def save(self, path: str | Path) -> Path:
        """Save to one NetCDF file, atomically."""
        tree = self.idata.copy()
        tree["prepared_data"] = xr.DataTree(
            frame_to_dataset(self.prepared.frame.reset_index(drop=True), "__prepared_row__")
        )
        tree["person_means"] = xr.DataTree(
            frame_to_dataset(self.prepared.person_means, "__person__")
        )
        prepared_meta = self.prepared.to_dict()
        prepared_meta.pop("person_means", None)
        attrs = {
            "spec": self.spec.to_dict(),
            "spec_source": self.spec.source,
            "formula": self.formula,
            "priors": self.priors,
            "terms": self.terms.to_dict(),
            "meta": self.meta,
            "prepared": prepared_meta,
            "convergence": self.convergence.to_dict(),
        }
        self.path = save_datatree(tree, path, attrs)
        return self.path

    @classmethod
    def load(cls, path: str | Path) -> FitResult:
        """Load a fit saved by :meth:`save`; corrupt or foreign files raise FitFileError."""
        from ambidex_bayes.fit_file import check_fit_records
        from ambidex_bayes.prepare import PreparedData

        tree, attrs = load_datatree(path)
        check_fit_records(path, tree)
        frame = dataset_to_frame(tree["prepared_data"].to_dataset(), "__prepared_row__")
        frame.index = range(len(frame))
        person_means = dataset_to_frame(tree["person_means"].to_dataset(), "__person__")
        prepared_meta = dict(attrs["prepared"])
        prepared_meta["person_means"] = {
            "index": [str(i) for i in person_means.index],
            "columns": {str(c): person_means[c].tolist() for c in person_means.columns},
        }
        prepared = PreparedData.from_dict(prepared_meta, frame=frame)
        idata = tree.copy()
        for group in ("prepared_data", "person_means"):
            del idata[group]
        try:  # the stored formulas are code for formulae: check them before any use
            spec = ModelSpec.from_dict(attrs["spec"], source=attrs.get("spec_source", "<spec>"))
            check_saved_formulas(spec, prepared, attrs.get("formula", ""))
        except SpecError as err:
            raise FitFileError(
                f"{path}: the fit file is refused, its model formula is not safe to use: {err} "
                "Fit the model again from its spec file and data."
            ) from None
        convergence = check_convergence(idata, warn=False)
        return cls(
            spec=spec,
            prepared=prepared,
            idata=idata,
            terms=ModerationTerms.from_dict(attrs["terms"]),
            formula=attrs.get("formula", ""),
            priors=attrs.get("priors", {}),
            meta=attrs["meta"],
            convergence=convergence,
            path=Path(path),
        )


def load_fit(path: str | Path) -> FitResult:
    """Load a saved fit (see :meth:`FitResult.load`)."""
    return FitResult.load(path)


def refuse_nonfinite_draws(idata: xr.DataTree, spec: ModelSpec) -> None:
    """Raise a ModelError when a sampled parameter has NaN or infinite draws."""
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


def fit_key(spec: ModelSpec, prepared: Any, settings: SamplerSettings) -> str:
    """Hash of everything that determines a fit's draws."""
    payload = {
        "spec": spec.fingerprint(),
        "data": data_hash(prepared.frame),
        "prepared": json.dumps(prepared.to_dict(), sort_keys=True, default=str),
        "settings": settings.to_dict(),
        # draws depend on the model's and the sampler's code too: new code samples afresh
        "model_code": model_build.MODEL_CODE_VERSION,
        "versions": {k: v for k, v in package_versions().items() if k in _KEY_PACKAGES},
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _check_posterior_memory(
    built: BuiltModel, prepared: Any, settings: SamplerSettings, *, log_likelihood: bool
) -> None:
    """Refuse, before sampling, a fit whose posterior clearly exceeds the memory."""
    from ambidex_bayes.memory import check_fit_memory
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


def fit(
    spec: ModelSpec,
    prepared: Any,
    *,
    settings: SamplerSettings | None = None,
    cache_dir: str | Path | None = None,
    refit: bool = False,
    progressbar: bool = True,
    verbose: bool = True,
    log_likelihood: bool = True,
    rescue: bool = True,
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
        sample anyway. ``cache_dir=False`` neither reads nor writes.
    progressbar : bool
        Show the sampler's progress bar.
    verbose : bool
        Print the convergence report in plain words.
    log_likelihood : bool
        Store the pointwise log-likelihood (needed for LOO; large for big data).
    rescue : bool
        When the fit fails its convergence checks, sample once more with a higher target
        acceptance and longer tuning (:func:`ambidex_bayes.rescue.rescue_settings`),
        announced before it starts (printed and as a ``ConvergenceWarning``) and followed by
        a verdict; ``meta["rescue"]`` records it. The second fit's draws are kept, whether
        or not it passes (its problems are reported as usual). Fits of fewer than
        ``constants.RESCUE_MIN_DRAWS`` draws in all get no second try.

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
    """
    settings = (settings or SamplerSettings()).resolved()
    require_backend(settings.backend)
    key = fit_key(spec, prepared, settings)
    if not rescue and worth_rescuing(settings):  # a failing fit would keep other draws
        key = hashlib.sha256(f"{key}:no-rescue".encode()).hexdigest()
    path = None
    if cache_dir is not False:
        folder = Path(cache_dir if cache_dir is not None else constants.CACHE_DIR)
        safe_name = "".join(c if c.isalnum() or c in "-_" else "_" for c in spec.name)
        path = folder / f"{safe_name}-{key[:16]}.nc"
        if path.exists() and not refit:
            try:
                result = FitResult.load(path)
            except FitFileError as err:
                warnings.warn(f"{err} Sampling again.", UserWarning, stacklevel=2)
            else:
                if result.meta.get("fit_key") == key:
                    if verbose:
                        print(f"{spec.name}: re-using the saved fit {path}")
                        print(result.convergence)
                    return result

    check_prior_scales(spec, prepared)
    built = None
    if settings.fast_path:
        try:
            built = build_model(spec, prepared, marginal=True, prior_data=True)
        except FastPathUnavailable as err:
            if verbose:
                print(f"{spec.name}: full NUTS ({err})")
    if built is None:
        built = build_model(spec, prepared)
    _check_posterior_memory(built, prepared, settings, log_likelihood=log_likelihood)
    check_initial_point(
        built.pymc_model, source=spec.source, reuse_key=check_reuse_key(built, settings)
    )
    sample = sample_marginal if built.is_marginal else sample_full
    start = time.perf_counter()
    idata = sample(built, settings, progressbar=progressbar, log_likelihood=log_likelihood)
    refuse_nonfinite_draws(idata, spec)
    rescue = rescue and worth_rescuing(settings)
    convergence = check_convergence(idata, warn=not rescue)
    rescued = None
    if rescue and not convergence.ok:
        second = rescue_settings(settings)
        announcement = rescue_announcement(spec.name, convergence, settings, second)
        if verbose:
            print(announcement)
        warnings.warn(announcement, ConvergenceWarning, stacklevel=2)
        first_problems = list(convergence.problems)
        idata = sample(built, second, progressbar=progressbar, log_likelihood=log_likelihood)
        refuse_nonfinite_draws(idata, spec)
        convergence = check_convergence(idata, warn=True)
        if verbose:
            print(rescue_verdict(spec.name, convergence))
        rescued = {
            "first_problems": first_problems,
            "settings": second.to_dict(),
            "passed": convergence.ok,
        }
    wall = time.perf_counter() - start
    meta = {
        "fit_key": key,
        "settings": settings.to_dict(),
        "versions": package_versions(),
        "data_hash": data_hash(prepared.frame),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "wall_seconds": round(wall, 3),
        "method": (
            "fast path: person effects integrated out, drawn exactly afterwards"
            if built.is_marginal
            else "full NUTS over all parameters"
        ),
        "n_rows": int(len(prepared.frame)),
    }
    if rescued is not None:
        meta["rescue"] = rescued
    result = FitResult(
        spec=spec,
        prepared=prepared,
        idata=idata,
        terms=built.terms,
        formula=built.formula,
        priors=built.priors,
        meta=meta,
        convergence=convergence,
        _built=built,
    )
    if verbose:
        print(f"{spec.name}: {built.formula}  ({wall:.1f} s)")
        print(convergence)
    if path is not None:  # a fit the cache cannot take is kept in memory, with a warning
        from ambidex_bayes.output_paths import save_fit_or_warn

        save_fit_or_warn(result, path, where="the cache folder")
    return result
