"""Fits and analyses made from fake draws, for tests of the report's writers.

:func:`fake_fit` wraps known draws (:func:`fake_posterior.moderation_draws`) in a real
:class:`~ambidex_bayes.fit.FitResult` with a spec, priors and metadata as a fit records
them; :func:`fake_analysis` turns fits into an :class:`~ambidex_bayes.pipeline.Analysis`
through the package's own :func:`~ambidex_bayes.pipeline.analysis_from_fits`. Nothing is
sampled.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fake_posterior import make_prepared, moderation_draws, terms_for

from ambidex_bayes.diagnostics import check_convergence
from ambidex_bayes.fit import FitResult
from ambidex_bayes.pipeline import Analysis, analysis_from_fits
from ambidex_bayes.spec import load_spec

__all__ = ["PRIORS", "VERSIONS", "SETTINGS", "fake_fit", "fake_analysis"]

#: Package versions recorded with the fake fits (deliberately not the installed ones).
VERSIONS = {
    "ambidex_bayes": "9.8.7",
    "bambi": "0.21.5",
    "pymc": "6.4.9",
    "pytensor": "3.3.9",
    "arviz": "1.3.7",
    "arviz-stats": "1.3.8",
    "nutpie": "0.16.42",
}

#: Sampler settings recorded with the fake fits.
SETTINGS = {
    "backend": "nutpie",
    "draws": 500,
    "tune": 777,
    "chains": 4,
    "seed": 4242,
    "target_accept": 0.93,
    "fast_path": True,
}

#: Priors recorded with the fake M3 fit.
PRIORS = {
    "Intercept": {"prior": "Normal(mu=3.1, sigma=2.5)", "source": "bambi default (scaled to data)"},
    "unc_cw": {"prior": "Normal(mu=0, sigma=0.75)", "source": "spec"},
    "unc_cw:sup_c": {"prior": "Normal(mu=0, sigma=0.5)", "source": "spec"},
    "sigma": {"prior": "HalfStudentT(nu=4, sigma=0.9)", "source": "bambi default (scaled to data)"},
}


def fake_fit(
    *,
    name: str = "M3",
    seed: int = 0,
    settings: Mapping[str, Any] | None = None,
    versions: Mapping[str, str] | None = None,
    priors: Mapping[str, Mapping[str, str]] | None = None,
    method: str = "fast path: person effects integrated out, drawn exactly afterwards",
    **switches: bool,
) -> FitResult:
    """A fit of spec ``name`` whose posterior holds known draws (the small fake diary)."""
    prepared = make_prepared()
    terms = terms_for(prepared, **switches)
    tree, _ = moderation_draws(seed, terms=terms)
    meta = {
        "settings": dict(SETTINGS if settings is None else settings),
        "versions": dict(VERSIONS if versions is None else versions),
        "data_hash": "0123456789abcdef",
        "wall_seconds": 12.5,
        "method": method,
        "n_rows": len(prepared.frame),
    }
    return FitResult(
        spec=load_spec(name),
        prepared=prepared,
        idata=tree,
        terms=terms,
        formula="inno ~ 1 + unc_cw + unc_pm + sup_c + unc_cw:sup_c + (unc_cw | pid)",
        priors={k: dict(v) for k, v in (PRIORS if priors is None else priors).items()},
        meta=meta,
        convergence=check_convergence(tree, warn=False),
    )


def fake_analysis(*fits: FitResult) -> Analysis:
    """An analysis of the fake fits (default: one fake M3), built as ``report`` builds it."""
    return analysis_from_fits(list(fits) or [fake_fit()], progressbar=False, verbose=False)
