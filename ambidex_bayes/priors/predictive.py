r"""Prior predictive checks: what data and which slopes does a prior set expect?

Before any fit, draw parameters from the priors and outcomes from the model
(``pm.sample_prior_predictive`` on ``build_model(spec.with_priors(set), prepared)``), put
the outcomes back on the original scale (undoing centring and standardisation), and
compare them with the outcome's declared response range. A prior set under which most
predicted outcomes fall outside, say, 1-5 expects impossible data; the check says so in
words (:class:`ImplausiblePriorWarning`, and in :attr:`PriorPredictive.warnings`).

The implied simple slopes :math:`\gamma_{10} + \gamma_{11} w` at the moderator's mean and
:math:`\pm 1` SD (over persons) are computed from the prior draws exactly as
:func:`ambidex_bayes.results.simple_slopes` computes them from posterior draws, in original
units: they show which slopes the prior considers plausible before seeing the data.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from ambidex_bayes import constants
from ambidex_bayes.engine.limits import check_seed
from ambidex_bayes.errors import SpecError
from ambidex_bayes.model.build import build_model
from ambidex_bayes.moderation.slopes import SimpleSlopes, simple_slopes
from ambidex_bayes.posterior import PosteriorDraws
from ambidex_bayes.priors.sets import PriorSet, declared_range, read_prior_set
from ambidex_bayes.spec import ModelSpec, PriorSpec

if TYPE_CHECKING:
    from ambidex_bayes.prepared_data import PreparedData

__all__ = [
    "ImplausiblePriorWarning",
    "PriorPredictive",
    "prior_predictive_check",
    "prior_predictive_table",
    "IMPLAUSIBLE_SHARE",
]

#: Share of prior predictive outcomes outside the declared range above which a prior set is
#: said to imply mostly impossible data.
IMPLAUSIBLE_SHARE: float = 0.5


class ImplausiblePriorWarning(UserWarning):
    """A prior set implies mostly impossible data (outcomes outside the declared range)."""


@dataclass
class PriorPredictive:
    """Outcome and slope draws implied by one prior set, before seeing the data.

    Attributes
    ----------
    prior_set : str
    idata : xarray.DataTree
        Groups ``prior`` (parameters; internal ``_`` variables dropped) and
        ``prior_predictive`` (the outcome on the model's scale).
    outcome : xarray.DataArray
        Predicted outcomes on the original scale, dims ``(chain, draw, __obs__)``.
    observed : numpy.ndarray
        The observed outcome on the original scale.
    outcome_name : str
        The raw outcome column.
    scale_range : tuple of float or None
        The outcome's declared range (None when the mapping declares none).
    share_outside : float
        Share of all predicted outcomes outside ``scale_range`` (NaN without a range).
    share_outside_by_draw : xarray.DataArray
        The same share per prior draw, dims ``(chain, draw)``.
    table : pandas.DataFrame
        One row: ``prior_set, share_outside, share_below, share_above,
        share_draws_mostly_outside, q05, median, q95`` (quantiles of the predicted outcome).
    slopes : SimpleSlopes or None
        Implied simple slopes (None for a model without a within-person slope).
    warnings : list of str
        The warnings given, in words.
    notes : list of str
    """

    prior_set: str
    idata: xr.DataTree
    outcome: xr.DataArray
    observed: np.ndarray
    outcome_name: str
    scale_range: tuple[float, float] | None
    share_outside: float
    share_outside_by_draw: xr.DataArray
    table: pd.DataFrame
    slopes: SimpleSlopes | None
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _resolve(
    priors: str | Path | PriorSet | Mapping[str, PriorSpec] | None,
    prepared: PreparedData,
    label: str | None,
) -> tuple[dict[str, PriorSpec], str]:
    if priors is None:
        return {}, label or "spec"
    if isinstance(priors, Mapping):
        return dict(priors), label or "custom"
    prior_set = read_prior_set(priors)
    return prior_set.resolve(prepared), label or prior_set.name


def prior_predictive_check(
    spec: ModelSpec,
    prepared: PreparedData,
    priors: str | Path | PriorSet | Mapping[str, PriorSpec] | None = None,
    *,
    draws: int = 500,
    seed: int | None = None,
    threshold: float = IMPLAUSIBLE_SHARE,
    label: str | None = None,
    warn: bool = True,
) -> PriorPredictive:
    r"""Draw outcomes and simple slopes from the priors of ``spec`` under a prior set.

    Parameters
    ----------
    spec : ModelSpec
    prepared : PreparedData
    priors : prior set name, file, PriorSet or mapping of PriorSpec, optional
        Applied on top of the spec's own priors (``None``: the spec's priors as they are).
    draws : int
        Prior draws.
    seed : int, optional
        Defaults to ``constants.SEED``.
    threshold : float
        Share of predictions outside the declared range above which the prior set is said
        to imply mostly impossible data.
    label : str, optional
        Name of the prior set in tables (default: the set's name).
    warn : bool
        Emit :class:`ImplausiblePriorWarning` when the share exceeds ``threshold``.

    Returns
    -------
    PriorPredictive
        With :math:`\text{share} = \frac{1}{SN}\sum_{s,i} [\tilde y_i^{(s)} \notin
        [\text{lo}, \text{hi}]]` over :math:`S` draws and :math:`N` rows, on the original
        scale.
    """
    if draws < 1:
        raise SpecError(f"draws must be a positive number of prior draws, got {draws}.")
    if seed is not None:
        seed = check_seed(seed)
    resolved, name = _resolve(priors, prepared, label)
    built = build_model(spec.with_priors(resolved, label=name), prepared)
    with built.pymc_model:
        idata = pm.sample_prior_predictive(
            draws=draws, random_seed=constants.SEED if seed is None else seed
        )
    prior = idata["prior"].to_dataset()
    prior = prior.drop_vars([v for v in prior.data_vars if str(v).startswith("_")])
    used = {d for v in prior.data_vars.values() for d in v.dims}
    prior = prior.drop_dims([d for d in prior.dims if d not in used])
    idata["prior"] = xr.DataTree(prior)

    y_column = built.terms.y_column
    transform = prepared.transforms.get(y_column)
    outcome_name = transform.source if transform is not None else y_column
    predicted = idata["prior_predictive"][built.response]
    outcome = prepared.to_original(y_column, predicted) if transform is not None else predicted
    observed = np.asarray(prepared.frame[outcome_name], dtype=float)
    notes: list[str] = []
    if getattr(prepared, "detrend", False):
        notes.append(
            "The outcome was detrended; predictions are compared with the declared range "
            "without adding the removed trend back."
        )
    try:
        scale_range: tuple[float, float] | None = declared_range(prepared, y_column)
    except SpecError:
        scale_range = None
        notes.append(
            f"The column mapping declares no range for {outcome_name!r}, so the share of "
            "impossible predictions is not computed; declare it under [ranges]."
        )
    values = np.asarray(outcome.values, dtype=float)
    sample_dims = ("chain", "draw")
    if scale_range is not None:
        lo, hi = scale_range
        below, above = values < lo, values > hi
        outside = below | above
        share = float(outside.mean())
        by_draw = xr.DataArray(
            outside.reshape(*outside.shape[:2], -1).mean(axis=-1),
            dims=sample_dims,
            coords={d: outcome.coords[d] for d in sample_dims},
        )
        share_below, share_above = float(below.mean()), float(above.mean())
        mostly = float((by_draw > 0.5).mean())
    else:
        share = share_below = share_above = mostly = float("nan")
        by_draw = xr.full_like(outcome.isel({outcome.dims[-1]: 0}), np.nan, dtype=float)
    q05, median, q95 = np.quantile(values, [0.05, 0.5, 0.95])
    table = pd.DataFrame(
        [
            {
                "prior_set": name,
                "share_outside": share,
                "share_below": share_below,
                "share_above": share_above,
                "share_draws_mostly_outside": mostly,
                "q05": float(q05),
                "median": float(median),
                "q95": float(q95),
            }
        ]
    )
    messages: list[str] = []
    if scale_range is not None and share > threshold:
        message = (
            f"prior set {name!r}: {share:.0%} of the prior predictive outcomes fall outside "
            f"the declared range [{scale_range[0]:g}, {scale_range[1]:g}] of "
            f"{outcome_name!r} ({share_below:.0%} below, {share_above:.0%} above): these priors "
            "imply mostly impossible data. Narrow them, e.g. give the SDs and the residual SD "
            "on the outcome's scale (the bundled prior set 'weakly_informative')."
        )
        messages.append(message)
        if warn:
            warnings.warn(message, ImplausiblePriorWarning, stacklevel=2)
    slopes = None
    if built.terms.slope is not None:
        draws = PosteriorDraws(
            idata=xr.DataTree.from_dict({"posterior": prior}), terms=built.terms, prepared=prepared
        )
        slopes = simple_slopes(draws)
    return PriorPredictive(
        prior_set=name,
        idata=idata,
        outcome=outcome,
        observed=observed,
        outcome_name=outcome_name,
        scale_range=scale_range,
        share_outside=share,
        share_outside_by_draw=by_draw,
        table=table,
        slopes=slopes,
        warnings=messages,
        notes=notes,
    )


def prior_predictive_table(checks: Sequence[PriorPredictive]) -> pd.DataFrame:
    """One row per prior set: shares outside the range and quantiles of the predictions,
    plus the implied simple slopes' medians and intervals (width ``constants.CI_PROB``) at
    each moderator value."""
    rows = []
    for check in checks:
        row = check.table.iloc[0].to_dict()
        if check.slopes is not None:
            for r in check.slopes.table.itertuples(index=False):
                row[f"slope {r.moderator_label}"] = (
                    f"{r.median:.2f} [{r.ci_lower:.2f}, {r.ci_upper:.2f}]"
                )
        rows.append(row)
    return pd.DataFrame(rows)
