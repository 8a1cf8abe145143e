"""Sampler settings and cache folder of the refits that model checks make.

PSIS-LOO's exact refits (:mod:`ambidex_bayes.checks.loo`) and the fold fits of
leave-persons-out cross-validation (:mod:`ambidex_bayes.checks.kfold`) refit a model on part
of its data. They sample as the original fit did, unless the caller overrides single
settings (:func:`merged_settings`).
"""

from __future__ import annotations

import dataclasses
from os import PathLike
from typing import TYPE_CHECKING, Literal

from ambidex_bayes.engine.settings import SamplerSettings

if TYPE_CHECKING:
    from ambidex_bayes.fit import FitResult

__all__ = ["CacheDir", "merged_settings"]

#: Where refits are cached, as :func:`ambidex_bayes.fit.fit` takes it: a folder, ``None``
#: for the default folder, ``False`` for no cache.
type CacheDir = str | PathLike[str] | Literal[False] | None


def merged_settings(fit: FitResult, settings: SamplerSettings | None = None) -> SamplerSettings:
    """Sampler settings for refits of ``fit``: the fit's own, with the fields set in
    ``settings`` (those not ``None``) replacing them.

    Parameters
    ----------
    fit : FitResult
        Its ``meta["settings"]`` are the settings it was sampled with.
    settings : SamplerSettings, optional
        Overrides; fields left ``None`` keep the fit's own.

    Returns
    -------
    SamplerSettings
        Resolved (every field set).
    """
    own = dict(fit.meta.get("settings", {}))
    known = {f.name for f in dataclasses.fields(SamplerSettings)}
    base = SamplerSettings(**{k: v for k, v in own.items() if k in known})
    if settings is None:
        return base.resolved()
    changes = {k: v for k, v in settings.to_dict().items() if v is not None}
    return dataclasses.replace(base, **changes).resolved()
