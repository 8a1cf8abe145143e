"""Real :class:`~ambidex_bayes.fit.FitResult` objects made of known draws (no sampling).

:func:`pair_result` is the two-predictor, two-moderator fake fit of :mod:`fake_pairs`
(three person effects, six persons, 22 rows) with the spec, priors and records of
:func:`report_fakes.fake_fit`; :func:`with_sample_stats` adds the sampler statistics every
fit file holds, so that a saved fake fit loads again.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from fake_pairs import pair_fit
from report_fakes import fake_fit

from ambidex_bayes.fit import FitResult

__all__ = ["pair_result", "with_sample_stats", "person_effect_names"]


def pair_result() -> FitResult:
    """The fake pair fit as a FitResult."""
    draws, _ = pair_fit()
    base = fake_fit()
    return FitResult(
        spec=base.spec,
        prepared=draws.prepared,
        idata=draws.idata,
        terms=draws.terms,
        formula=base.formula,
        priors=base.priors,
        meta=base.meta,
        convergence=base.convergence,
    )


def with_sample_stats(result: FitResult) -> FitResult:
    """``result`` with a ``sample_stats`` group (no divergences)."""
    sizes = result.posterior.sizes
    stats = xr.Dataset(
        {"diverging": (("chain", "draw"), np.zeros((sizes["chain"], sizes["draw"]), bool))},
        coords={"chain": result.posterior["chain"].values, "draw": result.posterior["draw"].values},
    )
    result.idata["sample_stats"] = xr.DataTree(stats)
    return result


def person_effect_names(result: FitResult) -> list[str]:
    """The posterior variables over the persons (the person effects)."""
    return [str(n) for n, v in result.posterior.data_vars.items() if v.ndim == 3]
