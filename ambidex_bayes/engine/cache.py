"""The fit cache and a fit's record: one routine for every route that samples.

:func:`ambidex_bayes.fit.fit` and :func:`ambidex_bayes.priors.compare_priors` (and, through
``fit``, power and SBC runs) share these steps, so that a fit saved by one route is found by
the other:

- :func:`fit_key`: the hash of everything that determines a fit's draws (spec, prepared data,
  sampler settings, model code, package versions); :func:`cache_entry` turns it into the
  file of a cache folder, whose :meth:`CacheEntry.load` re-uses a saved fit only when its
  recorded key matches (a damaged file is reported and sampled again) and whose
  :meth:`CacheEntry.save` keeps a new one (a fit the folder cannot take stays in memory);
  a fit saved in or loaded from the cache holds the draws of its person effects in its file,
  read on use (:meth:`~ambidex_bayes.engine.result.FitResult.hold_person_effects_on_disk`),
  so that a job of several large fits does not hold them all in memory at once;
- :func:`sampling_model`: the model that is sampled, the Gaussian fast path where it applies
  (person effects integrated out, see :mod:`ambidex_bayes.model.marginal`), else full NUTS;
- :func:`fit_meta`: the record kept with every fit (method, sampler settings and seed,
  package versions, data hash, time, size).

The model-building modules (PyMC, Bambi) are imported by the functions that need them, so
that finding and loading a saved fit stays light.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ambidex_bayes import constants
from ambidex_bayes.engine.rescue import rescue_policy, worth_rescuing
from ambidex_bayes.engine.result import FitResult
from ambidex_bayes.engine.settings import SamplerSettings
from ambidex_bayes.errors import FitFileError
from ambidex_bayes.model.code_version import MODEL_CODE_VERSION
from ambidex_bayes.output_paths import save_fit_or_warn
from ambidex_bayes.prepare import PreparedData
from ambidex_bayes.spec import ModelSpec
from ambidex_bayes.store import data_hash, package_versions

if TYPE_CHECKING:
    from ambidex_bayes.model.build import BuiltModel

__all__ = [
    "CacheEntry",
    "cache_entry",
    "cache_folder",
    "cache_path",
    "fit_key",
    "fit_meta",
    "fit_method",
    "sampling_model",
]

#: Packages whose versions are part of a fit's cache key.
KEY_PACKAGES = ("ambidex_bayes", "bambi", "pymc", "pytensor", "nutpie", "numpyro", "jax")

#: ``meta["method"]`` of a fit, by whether the fast path was sampled.
METHODS = {
    True: "fast path: person effects integrated out, drawn exactly afterwards",
    False: "full NUTS over all parameters",
}


def fit_key(
    spec: ModelSpec, prepared: PreparedData, settings: SamplerSettings, *, rescue: bool = True
) -> str:
    """Hash of everything that determines a fit's draws.

    Parameters
    ----------
    spec : ModelSpec
    prepared : PreparedData
    settings : SamplerSettings
        Resolved settings (``cores`` is not part of the key: it does not change the draws).
    rescue : bool
        Whether a fit that fails its convergence checks is sampled once more (see
        :mod:`ambidex_bayes.engine.rescue`). Without that second try a failing fit keeps other
        draws, so its key differs, but only for settings that would get a second try; with
        it, the second try's policy (``constants.RESCUE_*``) is part of the key, so that a
        failing fit saved under another policy is not re-used.

    Returns
    -------
    str
        SHA-256 hex digest.
    """
    payload = {
        "spec": spec.fingerprint(),
        "data": data_hash(prepared.frame),
        "prepared": json.dumps(prepared.to_dict(), sort_keys=True, default=str),
        "settings": settings.to_dict(),
        # draws depend on the model's and the sampler's code too: new code samples afresh
        "model_code": MODEL_CODE_VERSION,
        "versions": {k: v for k, v in package_versions().items() if k in KEY_PACKAGES},
    }
    if rescue and worth_rescuing(settings):
        payload["rescue"] = rescue_policy()
    key = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    if not rescue and worth_rescuing(settings):
        key = hashlib.sha256(f"{key}:no-rescue".encode()).hexdigest()
    return key


def cache_folder(cache_dir: str | Path | bool | None) -> Path | None:
    """The folder of saved fits: ``None`` or ``True`` give :data:`constants.CACHE_DIR`
    (read at call time), ``False`` gives None (neither read nor write)."""
    if cache_dir is False:
        return None
    if cache_dir is None or cache_dir is True:
        return Path(constants.CACHE_DIR)
    return Path(cache_dir)


def cache_path(folder: Path, spec: ModelSpec, key: str) -> Path:
    """The file of a fit in ``folder``: the spec's name (safe characters only) and the key."""
    safe_name = "".join(c if c.isalnum() or c in "-_" else "_" for c in spec.name)
    return folder / f"{safe_name}-{key[:16]}.nc"


@dataclass(frozen=True)
class CacheEntry:
    """Where a fit of given inputs is saved, and under which key.

    Attributes
    ----------
    key : str
        :func:`fit_key` of the inputs; recorded as ``meta["fit_key"]``.
    path : Path or None
        The file in the cache folder; None when the cache is switched off.
    """

    key: str
    path: Path | None

    def load(self, *, refit: bool = False) -> FitResult | None:
        """The saved fit of these inputs, or None (no file, ``refit``, another key).

        A file that cannot be read as a fit is reported with a warning and ignored: the
        caller samples again and overwrites it. The draws of the person effects stay in the
        file, read on use.
        """
        if self.path is None or refit or not self.path.exists():
            return None
        try:
            result = FitResult.load(self.path, person_effects=False)
        except FitFileError as err:
            warnings.warn(f"{err} Sampling again.", UserWarning, stacklevel=3)
            return None
        return result if result.meta.get("fit_key") == self.key else None

    def save(self, result: FitResult) -> Path | None:
        """Save ``result`` here, after which it reads its person effects' draws from the
        file (:meth:`FitResult.hold_person_effects_on_disk`); a fit the folder cannot take
        is kept in memory as it is, with a warning (see
        :func:`ambidex_bayes.output_paths.save_fit_or_warn`)."""
        if self.path is None:
            return None
        saved = save_fit_or_warn(result, self.path, where="the cache folder")
        if saved is not None:
            result.hold_person_effects_on_disk()
        return saved


def cache_entry(
    spec: ModelSpec,
    prepared: PreparedData,
    settings: SamplerSettings,
    cache_dir: str | Path | bool | None,
    *,
    rescue: bool = True,
) -> CacheEntry:
    """The cache entry of a fit of ``spec`` to ``prepared`` with ``settings``.

    Parameters
    ----------
    spec : ModelSpec
    prepared : PreparedData
    settings : SamplerSettings
        Resolved settings.
    cache_dir : path, bool or None
        See :func:`cache_folder`.
    rescue : bool
        See :func:`fit_key`.
    """
    key = fit_key(spec, prepared, settings, rescue=rescue)
    folder = cache_folder(cache_dir)
    return CacheEntry(key=key, path=None if folder is None else cache_path(folder, spec, key))


def sampling_model(
    spec: ModelSpec,
    prepared: PreparedData,
    settings: SamplerSettings,
    *,
    prior_data: bool = False,
    verbose: bool = False,
) -> BuiltModel:
    """The model a fit samples: the fast path where ``settings.fast_path`` allows it.

    The priors' scales are checked first (:func:`check_prior_scales`). The fast-path model
    holds its prior parameters as data (nutpie re-uses its compiled model for new prior
    values, see :mod:`ambidex_bayes.engine.sampling`). A model the fast path cannot take
    (:class:`FastPathUnavailable`: another family, several grouping factors, ...) is built
    for full NUTS instead.

    Parameters
    ----------
    spec : ModelSpec
    prepared : PreparedData
    settings : SamplerSettings
    prior_data : bool
        Hold the prior parameters as data in the full model too (needed to change the
        prior values of a compiled model, see :mod:`ambidex_bayes.engine.reuse`).
    verbose : bool
        Say why a model falls back to full NUTS.

    Returns
    -------
    BuiltModel
    """
    from ambidex_bayes.model.build import FastPathUnavailable, build_model
    from ambidex_bayes.model.prior_scale import check_prior_scales

    check_prior_scales(spec, prepared)
    if settings.fast_path:
        try:
            return build_model(spec, prepared, marginal=True, prior_data=True)
        except FastPathUnavailable as err:
            if verbose:
                print(f"{spec.name}: full NUTS ({err})")
    return build_model(spec, prepared, prior_data=prior_data)


def fit_method(built: BuiltModel) -> str:
    """How ``built`` is sampled, in words (``meta["method"]``)."""
    return METHODS[built.is_marginal]


def fit_meta(
    key: str,
    settings: SamplerSettings,
    prepared: PreparedData,
    built: BuiltModel,
    *,
    wall_seconds: float,
    **extra: Any,
) -> dict[str, Any]:
    """The record saved with a fit.

    Parameters
    ----------
    key : str
        The fit's :func:`fit_key`.
    settings : SamplerSettings
        The resolved settings asked for (a second try's settings go in ``extra``).
    prepared : PreparedData
    built : BuiltModel
        The sampled model.
    wall_seconds : float
        Sampling time.
    **extra
        Further entries (``rescue``, ``prior_set``, ...), added last.

    Returns
    -------
    dict
        ``fit_key, settings, versions, data_hash, created, wall_seconds, method, n_rows,
        person_mean_reliability`` and ``extra``. ``person_mean_reliability`` is the
        reliability of the observed person means of the level-1 predictor when the model
        has its between-person effect (None otherwise or when unknown; not part of the
        fit's key): :func:`ambidex_bayes.centring_record.centring_line` states it.
    """
    level1 = prepared.mapping.level1
    reliability = (
        prepared.person_mean_reliability.get(level1[0])
        if level1 and built.terms.between is not None
        else None
    )
    return {
        "fit_key": key,
        "settings": settings.to_dict(),
        "versions": package_versions(),
        "data_hash": data_hash(prepared.frame),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "wall_seconds": round(wall_seconds, 3),
        "method": fit_method(built),
        "n_rows": int(len(prepared.frame)),
        "person_mean_reliability": (
            float(reliability) if reliability is not None and math.isfinite(reliability) else None
        ),
        **extra,
    }
