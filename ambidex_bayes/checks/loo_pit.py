r"""LOO-PIT: calibration of a fit's leave-one-out predictive distributions.

The leave-one-out probability integral transform
:math:`\mathrm{PIT}_i = \Pr(y^{\mathrm{rep}}_i \le y_i \mid y_{-i})` is computed with
PSIS-LOO weights (``arviz_stats.loo_pit``; :func:`loo_pit_values`); for a calibrated model
the values are uniform. :func:`loo_pit_calibration` compares their empirical CDF with
simultaneous bands for uniform values (``arviz_stats`` ECDF bands). PIT is unchanged by the
standardisation (a monotone map), so the log-likelihood of the model scale serves for the
original scale.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr

from ambidex_bayes import constants
from ambidex_bayes.checks.predictive import PredictiveDraws
from ambidex_bayes.errors import AmbidexError, ModelError
from ambidex_bayes.posterior import SAMPLE_DIMS, posterior_dataset, resolve_prob

if TYPE_CHECKING:
    from ambidex_bayes.fit import FitResult

__all__ = ["loo_pit_values", "loo_pit_calibration"]


def loo_pit_values(fit: FitResult, draws: PredictiveDraws) -> np.ndarray:
    r"""LOO-PIT value :math:`\Pr(y^{rep}_i \le y_i \mid y_{-i})` per row, PSIS-weighted.

    Parameters
    ----------
    fit : FitResult
        The fit the draws come from (for its pointwise log-likelihood).
    draws : PredictiveDraws
        From :func:`posterior_predictive` on the same fit.
    """
    import arviz_stats as azs

    if "log_likelihood" not in fit.idata.children:
        raise ModelError(
            f"{fit.spec.name}: the fit has no log_likelihood group, which LOO-PIT needs; "
            "refit it with ambidex_bayes.fit.fit."
        )
    loglik = fit.idata["log_likelihood"].to_dataset()
    name = next(iter(loglik.data_vars))
    ll = loglik[name].isel(draw=slice(None, None, draws.draw_step))
    ll = ll.transpose(*SAMPLE_DIMS, "__obs__")
    if ll.shape != draws.y_rep.shape:
        raise ModelError(
            f"{fit.spec.name}: the log-likelihood has shape {ll.shape} but the replicated "
            f"data {draws.y_rep.shape}; pass draws made from this fit."
        )
    obs_coord = {"__obs__": ll["__obs__"].values}
    post = posterior_dataset(fit.idata).isel(draw=slice(None, None, draws.draw_step))
    scalars = [v for v in post.data_vars if set(post[v].dims) == set(SAMPLE_DIMS)]
    tree = xr.DataTree.from_dict(
        {
            "posterior": post[scalars],
            "posterior_predictive": xr.Dataset(
                {name: (ll.dims, draws.y_rep.values)}, coords={**ll.coords}
            ),
            "observed_data": xr.Dataset({name: ("__obs__", draws.y_obs)}, coords=obs_coord),
            "log_likelihood": xr.Dataset({name: ll}),
        }
    )
    pit = azs.loo_pit(tree, var_names=[name])
    return np.asarray(pit[name].values, dtype=float)


def loo_pit_calibration(
    pit: np.ndarray,
    *,
    prob: float | None = None,
    n_simulations: int = 1000,
    seed: int | None = None,
) -> pd.DataFrame:
    """Empirical CDF of LOO-PIT values with simultaneous bands for uniform values.

    Returns
    -------
    pandas.DataFrame
        ``u, ecdf, lower, upper, difference`` (``ecdf - u``) on the evaluation grid;
        ``attrs["share_outside"]`` is the share of grid points where the ECDF leaves the band
        (0 for a calibrated model, up to chance) and ``attrs["ci_prob"]`` the band's level.
    """
    from arviz_stats.ecdf_utils import ecdf_pit

    prob = resolve_prob(prob)
    values = np.asarray(pit, dtype=float)
    values = values[np.isfinite(values)]
    if values.size < 2:
        raise AmbidexError("LOO-PIT calibration needs at least two finite PIT values.")
    rng = np.random.default_rng(constants.SEED if seed is None else seed)
    u, ecdf, lower, upper = ecdf_pit(values, prob, n_simulations, rng=rng)
    table = pd.DataFrame(
        {"u": u, "ecdf": ecdf, "lower": lower, "upper": upper, "difference": ecdf - u}
    )
    outside = (ecdf < lower - 1e-12) | (ecdf > upper + 1e-12)
    table.attrs.update(share_outside=float(outside.mean()), ci_prob=prob, n=int(values.size))
    return table
