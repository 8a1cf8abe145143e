r"""Posterior predictive checks: replicated data, test statistics and their p-values.

Replicated outcomes are drawn directly from the saved posterior, so the checks work on a
fresh fit and on a fit loaded from its file alike. Per posterior draw :math:`s` and row
:math:`i` (person :math:`j`),

.. math::

    \mu^{(s)}_i = x_i'\beta^{(s)} + z_i'u^{(s)}_j, \qquad
    y^{\mathrm{rep}(s)}_i = \mu^{(s)}_i + \sigma^{(s)}\varepsilon^{(s)}_i,

with :math:`\varepsilon \sim N(0, 1)` for the Gaussian family and
:math:`\varepsilon \sim t_{\nu^{(s)}}` for the Student-t family. The linear predictor
:math:`\mu` comes from Bambi's ``Model.predict(kind="response_params")`` on the posterior
(person effects included, or left out for the marginal predictor), the noise from a seeded
:class:`numpy.random.Generator`. Everything is returned on the outcome's *original* scale:
when the outcome was standardised, :math:`\mu \mapsto \mu s_y + c_y` and
:math:`\sigma \mapsto \sigma s_y` with the prepared data's centre and scale.

Test statistics and posterior predictive p-values
-------------------------------------------------
For a statistic :math:`T` the posterior predictive p-value (Gelman, Meng & Stern 1996) is

.. math::

    p = \Pr\{T(y^{\mathrm{rep}}) > T(y)\} + \tfrac12 \Pr\{T(y^{\mathrm{rep}}) = T(y)\},

estimated over the draws (the mid-p form, so that a statistic that is tied in every draw,
such as a share of zero, gets 0.5 rather than 1). A value near 0 or 1 means the model
rarely produces data like the observed data in this respect; a check is *flagged* when
:math:`p < t` or :math:`p > 1 - t` with :data:`P_VALUE_TAIL` :math:`= t`. Posterior
predictive p-values are conservative (they concentrate near 0.5 for statistics the model
fits directly, such as the mean), so a flag is a strong signal and no flag is weak
evidence of fit.

The statistics (:data:`STATISTICS`), for :math:`J` persons with :math:`n_j` rows and person
means :math:`\bar y_j`:

- ``mean`` and ``sd`` (``ddof=1``) over all rows;
- ``within_sd``: the pooled within-person SD
  :math:`\sqrt{\sum_{ij}(y_{ij}-\bar y_j)^2/(N-J)}`;
- ``sd_person_means``: the SD (``ddof=1``) of the :math:`J` person means;
- ``sd_person_sds``: the SD over persons (with :math:`n_j \ge 2`) of the persons' own SDs --
  whether within-person spread differs between persons as much as the model implies (a
  missing random slope or heteroscedastic residuals show here);
- ``min`` and ``max``;
- ``share_floor`` and ``share_ceiling``: the share of rows at or below the scale's lowest
  value and at or above its highest (only when the mapping declares the outcome's range).
  For continuous predictions "at or below the floor" is the predicted mass the scale would
  record as its lowest answer.

Per person, ``mean``, ``sd``, ``min`` and ``max`` (and the floor and ceiling shares when a
range is declared) are checked the same way; :func:`flagged_persons` counts the persons
flagged per statistic against the share :math:`2t` one would expect by chance.

LOO-PIT
-------
The leave-one-out probability integral transform
:math:`\mathrm{PIT}_i = \Pr(y^{\mathrm{rep}}_i \le y_i \mid y_{-i})` is computed with
PSIS-LOO weights (``arviz_stats.loo_pit``); for a calibrated model the values are uniform.
:func:`loo_pit_calibration` compares their empirical CDF with simultaneous bands for uniform
values (``arviz_stats`` ECDF bands). PIT is unchanged by the standardisation (a monotone
map), so the log-likelihood of the model scale serves for the original scale.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ambidex_bayes import constants
from ambidex_bayes.engine.limits import check_seed
from ambidex_bayes.errors import AmbidexError, ModelError
from ambidex_bayes.posterior import (
    SAMPLE_DIMS,
    get_scalar,
    posterior_dataset,
    resolve_prob,
)

__all__ = [
    "PredictiveDraws",
    "StatisticChecks",
    "P_VALUE_TAIL",
    "MAX_DRAWS",
    "STATISTICS",
    "PERSON_STATISTICS",
    "posterior_predictive",
    "linear_predictor",
    "outcome_transform",
    "ppc_p_value",
    "statistic_checks",
    "person_checks",
    "flagged_persons",
    "range_check",
    "density_overlay",
    "person_intervals",
    "loo_pit_values",
    "loo_pit_calibration",
]

#: Two-sided tail of a flagged posterior predictive p-value: flagged when p < t or p > 1 - t.
P_VALUE_TAIL: float = 0.025

#: Most posterior draws used for replicated data (evenly thinned within each chain).
MAX_DRAWS: int = 1000

#: Rows at or within this distance of a scale bound count as "at the bound".
_BOUND_TOL: float = 1e-9


@dataclass(frozen=True)
class _Groups:
    """Rows sorted by person, for vectorised per-person reductions with ``reduceat``."""

    order: np.ndarray
    starts: np.ndarray
    counts: np.ndarray
    labels: np.ndarray

    @classmethod
    def from_ids(cls, persons: np.ndarray) -> _Groups:
        persons = np.asarray(persons).astype(str)
        labels, codes = np.unique(persons, return_inverse=True)
        order = np.argsort(codes, kind="stable")
        counts = np.bincount(codes, minlength=len(labels))
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        return cls(order=order, starts=starts, counts=counts, labels=labels)

    def sums(self, y: np.ndarray) -> np.ndarray:
        return np.add.reduceat(y[..., self.order], self.starts, axis=-1)

    def means(self, y: np.ndarray) -> np.ndarray:
        return self.sums(y) / self.counts

    def sds(self, y: np.ndarray) -> np.ndarray:
        """SD (ddof=1) per person; NaN for persons with one row."""
        means = self.means(y)
        dev2 = self.sums(y**2) - self.counts * means**2
        with np.errstate(invalid="ignore", divide="ignore"):
            var = np.where(self.counts > 1, dev2 / (self.counts - 1), np.nan)
        return np.sqrt(np.clip(var, 0.0, None))

    def mins(self, y: np.ndarray) -> np.ndarray:
        return np.minimum.reduceat(y[..., self.order], self.starts, axis=-1)

    def maxs(self, y: np.ndarray) -> np.ndarray:
        return np.maximum.reduceat(y[..., self.order], self.starts, axis=-1)


@dataclass(frozen=True, eq=False)
class PredictiveDraws:
    """Replicated outcomes and what is needed to check them, on the original outcome scale.

    Attributes
    ----------
    y_rep : xarray.DataArray
        Replicated outcomes, dims ``(chain, draw, __obs__)``.
    mu : xarray.DataArray
        The conditional mean (linear predictor with person effects), same dims.
    y_obs : numpy.ndarray
        The observed outcome per row.
    persons : numpy.ndarray
        Person id (str) per row.
    outcome : str
        Name of the outcome (as in the data).
    scale_range : tuple of float or None
        The outcome's declared range ``(lowest, highest)``, if any.
    family : str
        ``"gaussian"`` or ``"t"``.
    model : str
        Name of the fitted spec.
    draw_step : int
        Thinning step applied within each chain (1: every draw).
    seed : int
        Seed of the noise.
    """

    y_rep: xr.DataArray
    mu: xr.DataArray
    y_obs: np.ndarray
    persons: np.ndarray
    outcome: str
    scale_range: tuple[float, float] | None
    family: str
    model: str
    draw_step: int
    seed: int

    @property
    def n_draws(self) -> int:
        """Number of replicated data sets."""
        return int(self.y_rep.sizes["chain"] * self.y_rep.sizes["draw"])

    def flat(self) -> np.ndarray:
        """Replicated outcomes as an array ``(draws, rows)``."""
        return np.asarray(self.y_rep.transpose(*SAMPLE_DIMS, "__obs__").values).reshape(
            self.n_draws, -1
        )


@dataclass(frozen=True, eq=False)
class StatisticChecks:
    """Test statistics of observed and replicated data.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per statistic: ``statistic, description, observed, rep_mean, rep_lower,
        rep_upper, p_value, flagged``.
    replicated : pandas.DataFrame
        One column per statistic, one row per replicated data set.
    """

    table: pd.DataFrame
    replicated: pd.DataFrame


# --------------------------------------------------------------------------- statistics
StatFn = Callable[[np.ndarray, _Groups], np.ndarray]


def _pooled_within_sd(y: np.ndarray, g: _Groups) -> np.ndarray:
    means = g.means(y)
    ss = g.sums(y**2) - g.counts * means**2
    dof = g.counts.sum() - len(g.counts)
    if dof <= 0:
        return np.full(y.shape[:-1], np.nan)
    return np.sqrt(np.clip(ss.sum(axis=-1) / dof, 0.0, None))


def _sd_person_means(y: np.ndarray, g: _Groups) -> np.ndarray:
    if len(g.counts) < 2:
        return np.full(y.shape[:-1], np.nan)
    return np.std(g.means(y), axis=-1, ddof=1)


def _sd_person_sds(y: np.ndarray, g: _Groups) -> np.ndarray:
    sds = g.sds(y)[..., g.counts > 1]
    if sds.shape[-1] < 2:
        return np.full(y.shape[:-1], np.nan)
    return np.std(sds, axis=-1, ddof=1)


#: Whole-data statistics: name -> (description, function of (draws x rows, groups)).
STATISTICS: dict[str, tuple[str, StatFn]] = {
    "mean": ("mean over all rows", lambda y, g: np.mean(y, axis=-1)),
    "sd": ("SD over all rows", lambda y, g: np.std(y, axis=-1, ddof=1)),
    "within_sd": ("pooled within-person SD", _pooled_within_sd),
    "sd_person_means": ("SD of the person means", _sd_person_means),
    "sd_person_sds": ("SD over persons of the persons' own SDs", _sd_person_sds),
    "min": ("smallest value", lambda y, g: np.min(y, axis=-1)),
    "max": ("largest value", lambda y, g: np.max(y, axis=-1)),
}

#: Per-person statistics: name -> (description, function giving draws x persons).
PERSON_STATISTICS: dict[str, tuple[str, StatFn]] = {
    "mean": ("person's mean", lambda y, g: g.means(y)),
    "sd": ("person's SD", lambda y, g: g.sds(y)),
    "min": ("person's smallest value", lambda y, g: g.mins(y)),
    "max": ("person's largest value", lambda y, g: g.maxs(y)),
}


def _bound_statistics(lo: float, hi: float, *, per_person: bool) -> dict[str, tuple[str, StatFn]]:
    def at_floor(y: np.ndarray, g: _Groups) -> np.ndarray:
        hit = (y <= lo + _BOUND_TOL).astype(float)
        return g.means(hit) if per_person else hit.mean(axis=-1)

    def at_ceiling(y: np.ndarray, g: _Groups) -> np.ndarray:
        hit = (y >= hi - _BOUND_TOL).astype(float)
        return g.means(hit) if per_person else hit.mean(axis=-1)

    return {
        "share_floor": (f"share at or below the scale's lowest value {lo:g}", at_floor),
        "share_ceiling": (f"share at or above the scale's highest value {hi:g}", at_ceiling),
    }


def ppc_p_value(replicated: np.ndarray, observed: np.ndarray | float) -> np.ndarray:
    r"""Posterior predictive p-value :math:`\Pr(T^{rep} > T) + \frac12\Pr(T^{rep} = T)`.

    Parameters
    ----------
    replicated : array, shape ``(draws, ...)``
        The statistic of each replicated data set (NaN draws are ignored).
    observed : float or array of shape ``(...)``
        The statistic of the observed data.

    Returns
    -------
    numpy.ndarray
        p-value per trailing element (NaN where the observed statistic or every replicated
        one is NaN).
    """
    rep = np.asarray(replicated, dtype=float)
    obs = np.asarray(observed, dtype=float)
    valid = np.isfinite(rep)
    n = valid.sum(axis=0)
    with np.errstate(invalid="ignore"):
        greater = np.where(valid, rep > obs, False).sum(axis=0)
        equal = np.where(valid, rep == obs, False).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = (greater + 0.5 * equal) / n
    return np.where(np.isfinite(obs) & (n > 0), p, np.nan)


def _flag(p: np.ndarray, tail: float) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    return np.isfinite(p) & ((p < tail) | (p > 1.0 - tail))


def _resolve_tail(tail: float | None) -> float:
    value = P_VALUE_TAIL if tail is None else tail
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 0.5:
        raise AmbidexError(f"tail must be a number in (0, 0.5), e.g. 0.025; got {value!r}.")
    return float(value)


# ------------------------------------------------------------------ predictive draws
def outcome_transform(fit: Any) -> tuple[float, float]:
    """Centre and scale that map the modelled outcome column back to its original units.

    Returns ``(centre, scale)`` with original = modelled * scale + centre; ``(0, 1)`` when the
    outcome was not transformed.
    """
    column = fit.terms.y_column
    transform = fit.prepared.transforms.get(column) if column else None
    if transform is None:
        return 0.0, 1.0
    return float(transform.centre), float(transform.scale)


def _draw_step(posterior: xr.Dataset, max_draws: int | None) -> int:
    limit = MAX_DRAWS if max_draws is None else int(max_draws)
    if limit < 1:
        raise AmbidexError(f"max_draws must be at least 1, got {max_draws!r}.")
    total = posterior.sizes["chain"] * posterior.sizes["draw"]
    return max(1, int(np.ceil(total / limit)))


def linear_predictor(
    fit: Any,
    *,
    group_specific: bool = True,
    data: pd.DataFrame | None = None,
    posterior: xr.Dataset | None = None,
) -> xr.DataArray:
    r"""The linear predictor :math:`\mu` per draw and row, on the *modelled* outcome scale.

    Computed by Bambi's ``Model.predict(kind="response_params")`` on the fit's posterior,
    which holds every parameter under Bambi's names.

    Parameters
    ----------
    fit : FitResult
    group_specific : bool
        Include the person effects (conditional predictor) or not (marginal, fixed part only).
    data : DataFrame, optional
        Rows to predict (prepared columns); default the fitted rows.
    posterior : Dataset, optional
        Draws to use (e.g. thinned); default the fit's whole posterior.

    Returns
    -------
    xarray.DataArray
        Dims ``(chain, draw, __obs__)``.
    """
    post = posterior if posterior is not None else posterior_dataset(fit.idata)
    keep = [v for v in post.data_vars if "__obs__" not in post[v].dims]
    tree = xr.DataTree.from_dict({"posterior": post[keep]})
    kwargs: dict[str, Any] = {
        "kind": "response_params",
        "inplace": False,
        "include_group_specific": group_specific,
    }
    if data is not None:
        kwargs["data"] = data
    try:
        predicted = fit.bambi_model.predict(tree, **kwargs)
    except (KeyError, ValueError) as err:
        raise ModelError(
            f"{fit.spec.name}: Bambi could not compute the linear predictor from the saved "
            f"posterior ({err}). Refit the model with this version of ambidex_bayes."
        ) from None
    mu = predicted["posterior"]["mu"]
    return mu.transpose(*SAMPLE_DIMS, "__obs__")


def posterior_predictive(
    fit: Any,
    *,
    seed: int | None = None,
    max_draws: int | None = None,
) -> PredictiveDraws:
    """Draw replicated outcomes for the fitted rows, on the original outcome scale.

    Parameters
    ----------
    fit : FitResult
        A fresh or loaded fit (Gaussian or Student-t family).
    seed : int, optional
        Seed of the noise (default ``constants.SEED``).
    max_draws : int, optional
        Use at most this many posterior draws, evenly thinned within each chain (default
        :data:`MAX_DRAWS`).

    Returns
    -------
    PredictiveDraws
    """
    seed = constants.SEED if seed is None else check_seed(seed)
    post_all = posterior_dataset(fit.idata)
    step = _draw_step(post_all, max_draws)
    post = post_all.isel(draw=slice(None, None, step))
    mu = linear_predictor(fit, group_specific=True, posterior=post)
    sigma = get_scalar(post, fit.terms.sigma, "residual SD")
    rng = np.random.default_rng(seed)
    shape = mu.shape
    family = fit.spec.family
    if family == "gaussian":
        noise = rng.standard_normal(shape)
    elif family == "t":
        nu = get_scalar(post, "nu", "degrees of freedom of the Student-t family").values
        noise = rng.standard_t(np.broadcast_to(nu[..., None], shape))
    else:
        raise ModelError(
            f"{fit.spec.name}: posterior predictive draws for family {family!r} "
            "are not implemented (gaussian and t are)."
        )
    centre, scale = outcome_transform(fit)
    mu_orig = mu * scale + centre
    y_rep = mu_orig + (sigma.values[..., None] * scale) * noise
    y_rep = y_rep.rename("y_rep")
    frame = fit.prepared.frame
    y_col = fit.terms.y_column
    if y_col not in frame.columns:
        raise ModelError(f"{fit.spec.name}: the prepared data have no outcome column {y_col!r}.")
    y_obs = frame[y_col].to_numpy(dtype=float) * scale + centre
    if y_obs.shape[0] != shape[-1]:
        raise ModelError(
            f"{fit.spec.name}: the prepared data have {y_obs.shape[0]} rows but the model "
            f"predicts {shape[-1]}; the fit and its data do not belong together."
        )
    mapping = fit.prepared.mapping
    declared = dict(mapping.ranges).get(mapping.outcome)
    return PredictiveDraws(
        y_rep=y_rep,
        mu=mu_orig.rename("mu"),
        y_obs=y_obs,
        persons=frame[mapping.person].astype(str).to_numpy(),
        outcome=mapping.outcome,
        scale_range=None if declared is None else (float(declared[0]), float(declared[1])),
        family=family,
        model=fit.spec.name,
        draw_step=step,
        seed=seed,
    )


# ------------------------------------------------------------------ checks
def _describe(rep: np.ndarray, prob: float) -> tuple[float, float, float]:
    rep = rep[np.isfinite(rep)]
    if rep.size == 0:
        return np.nan, np.nan, np.nan
    lo, hi = np.quantile(rep, [(1 - prob) / 2, (1 + prob) / 2])
    return float(rep.mean()), float(lo), float(hi)


def statistic_checks(
    draws: PredictiveDraws,
    *,
    statistics: Sequence[str] | None = None,
    prob: float | None = None,
    tail: float | None = None,
) -> StatisticChecks:
    """Whole-data test statistics with posterior predictive p-values.

    Parameters
    ----------
    draws : PredictiveDraws
    statistics : sequence of str, optional
        Names from :data:`STATISTICS` (plus ``share_floor``/``share_ceiling`` when the
        outcome's range is declared); default all that apply.
    prob : float, optional
        Width of the interval of the replicated statistic (default ``constants.CI_PROB``).
    tail : float, optional
        Flag p-values below ``tail`` or above ``1 - tail`` (default :data:`P_VALUE_TAIL`).

    Returns
    -------
    StatisticChecks
    """
    prob = resolve_prob(prob)
    tail = _resolve_tail(tail)
    available = dict(STATISTICS)
    if draws.scale_range is not None:
        available.update(_bound_statistics(*draws.scale_range, per_person=False))
    names = list(available) if statistics is None else list(statistics)
    unknown = [n for n in names if n not in available]
    if unknown:
        extra = "" if draws.scale_range else " (floor/ceiling shares need a declared range)"
        raise AmbidexError(
            f"unknown statistic(s) {unknown}; choose from {', '.join(available)}{extra}."
        )
    groups = _Groups.from_ids(draws.persons)
    y_rep = draws.flat()
    rows, replicated = [], {}
    for name in names:
        description, fn = available[name]
        observed = float(fn(draws.y_obs[None, :], groups)[0])
        rep = np.asarray(fn(y_rep, groups), dtype=float)
        replicated[name] = rep
        p = float(ppc_p_value(rep, observed))
        mean, lo, hi = _describe(rep, prob)
        rows.append(
            {
                "statistic": name,
                "description": description,
                "observed": observed,
                "rep_mean": mean,
                "rep_lower": lo,
                "rep_upper": hi,
                "p_value": p,
                "flagged": bool(_flag(p, tail)),
            }
        )
    table = pd.DataFrame(rows)
    table.attrs.update(ci_prob=prob, tail=tail, model=draws.model, n_draws=draws.n_draws)
    return StatisticChecks(table=table, replicated=pd.DataFrame(replicated))


def person_checks(
    draws: PredictiveDraws,
    *,
    statistics: Sequence[str] | None = None,
    tail: float | None = None,
) -> pd.DataFrame:
    """Per-person test statistics with posterior predictive p-values.

    Returns
    -------
    pandas.DataFrame
        One row per person and statistic: ``person, n_rows, statistic, observed, rep_mean,
        p_value, flagged``. A person's SD needs two rows (NaN otherwise, never flagged).
    """
    tail = _resolve_tail(tail)
    available = dict(PERSON_STATISTICS)
    if draws.scale_range is not None:
        available.update(_bound_statistics(*draws.scale_range, per_person=True))
    names = list(available) if statistics is None else list(statistics)
    unknown = [n for n in names if n not in available]
    if unknown:
        raise AmbidexError(
            f"unknown per-person statistic(s) {unknown}; choose from {', '.join(available)}."
        )
    groups = _Groups.from_ids(draws.persons)
    y_rep = draws.flat()
    frames = []
    for name in names:
        _, fn = available[name]
        observed = fn(draws.y_obs[None, :], groups)[0]
        rep = np.asarray(fn(y_rep, groups), dtype=float)
        p = ppc_p_value(rep, observed)
        finite = np.isfinite(rep)
        count = finite.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            rep_mean = np.where(count > 0, np.where(finite, rep, 0.0).sum(axis=0) / count, np.nan)
        frames.append(
            pd.DataFrame(
                {
                    "person": groups.labels,
                    "n_rows": groups.counts,
                    "statistic": name,
                    "observed": observed,
                    "rep_mean": rep_mean,
                    "p_value": p,
                    "flagged": _flag(p, tail),
                }
            )
        )
    table = pd.concat(frames, ignore_index=True)
    table.attrs.update(tail=tail, model=draws.model)
    return table


def flagged_persons(person_table: pd.DataFrame) -> pd.DataFrame:
    """How many persons each per-person statistic flags, against the share expected by chance.

    Parameters
    ----------
    person_table : DataFrame
        From :func:`person_checks`.

    Returns
    -------
    pandas.DataFrame
        ``statistic, n_persons, n_flagged, share_flagged, expected_share`` where
        ``n_persons`` counts persons with a defined p-value and ``expected_share`` is
        ``2 * tail`` (an upper bound: predictive p-values are conservative).
    """
    needed = {"statistic", "p_value", "flagged"}
    if not isinstance(person_table, pd.DataFrame) or not needed <= set(person_table.columns):
        raise AmbidexError("flagged_persons() needs the table returned by person_checks().")
    tail = float(person_table.attrs.get("tail", P_VALUE_TAIL))
    rows = []
    for name, part in person_table.groupby("statistic", sort=False):
        defined = part["p_value"].notna()
        n = int(defined.sum())
        k = int(part.loc[defined, "flagged"].sum())
        rows.append(
            {
                "statistic": name,
                "n_persons": n,
                "n_flagged": k,
                "share_flagged": k / n if n else np.nan,
                "expected_share": 2 * tail,
            }
        )
    return pd.DataFrame(rows)


def range_check(draws: PredictiveDraws, *, prob: float | None = None) -> pd.DataFrame:
    """Share of predictions outside the outcome's declared range (bounded rating scales).

    Returns
    -------
    pandas.DataFrame
        Rows ``below``, ``above``, ``outside``: the share of replicated values below the
        lowest, above the highest, and outside the range, per replicated data set summarised
        by ``mean, ci_lower, ci_upper``; plus ``observed`` (0 for valid data). Empty when no
        range is declared for the outcome.
    """
    prob = resolve_prob(prob)
    columns = ["where", "observed", "mean", "ci_lower", "ci_upper"]
    if draws.scale_range is None:
        return pd.DataFrame(columns=columns)
    lo, hi = draws.scale_range
    y_rep = draws.flat()
    shares = {
        "below": (y_rep < lo).mean(axis=1),
        "above": (y_rep > hi).mean(axis=1),
    }
    shares["outside"] = shares["below"] + shares["above"]
    obs = {
        "below": float(np.mean(draws.y_obs < lo)),
        "above": float(np.mean(draws.y_obs > hi)),
    }
    obs["outside"] = obs["below"] + obs["above"]
    rows = []
    for key, values in shares.items():
        mean, low, high = _describe(values, prob)
        rows.append(
            {"where": key, "observed": obs[key], "mean": mean, "ci_lower": low, "ci_upper": high}
        )
    table = pd.DataFrame(rows, columns=columns)
    table.attrs.update(range=(lo, hi), ci_prob=prob, model=draws.model)
    return table


def density_overlay(
    draws: PredictiveDraws,
    *,
    n_replicates: int = 50,
    grid_size: int = 200,
    seed: int | None = None,
) -> pd.DataFrame:
    """Kernel density estimates of the observed outcome and of some replicated data sets.

    Returns
    -------
    pandas.DataFrame
        ``kind`` (``"observed"`` or ``"replicated"``), ``replicate`` (-1 for observed),
        ``x``, ``density``; one row per grid point. ``attrs["range"]`` holds the declared
        range, if any.
    """
    from scipy.stats import gaussian_kde

    if n_replicates < 1 or grid_size < 10:
        raise AmbidexError("density_overlay needs n_replicates >= 1 and grid_size >= 10.")
    rng = np.random.default_rng(constants.SEED if seed is None else seed)
    y_rep = draws.flat()
    pick = rng.choice(y_rep.shape[0], size=min(n_replicates, y_rep.shape[0]), replace=False)
    obs = draws.y_obs
    lo = float(min(np.min(obs), np.quantile(y_rep[pick], 0.001)))
    hi = float(max(np.max(obs), np.quantile(y_rep[pick], 0.999)))
    grid = np.linspace(lo, hi, grid_size)
    frames = []

    def kde(values: np.ndarray) -> np.ndarray:
        if np.ptp(values) == 0:
            return np.zeros_like(grid)
        return gaussian_kde(values)(grid)

    frames.append(
        pd.DataFrame({"kind": "observed", "replicate": -1, "x": grid, "density": kde(obs)})
    )
    for k in pick:
        frames.append(
            pd.DataFrame(
                {"kind": "replicated", "replicate": int(k), "x": grid, "density": kde(y_rep[k])}
            )
        )
    out = pd.concat(frames, ignore_index=True)
    out.attrs.update(range=draws.scale_range, outcome=draws.outcome, model=draws.model)
    return out


def person_intervals(
    draws: PredictiveDraws,
    persons: Sequence[str],
    *,
    prob: float | None = None,
) -> pd.DataFrame:
    """Observed values and predictive intervals of chosen persons' rows (grouped check).

    Returns
    -------
    pandas.DataFrame
        ``person, row, position, observed, rep_mean, rep_lower, rep_upper, outside``; one row
        per diary of the chosen persons, ``position`` counting the person's diaries from 0.
    """
    prob = resolve_prob(prob)
    wanted = [str(p) for p in persons]
    known = set(draws.persons)
    absent = [p for p in wanted if p not in known]
    if absent:
        raise AmbidexError(
            f"person(s) {absent} are not in the fitted data; persons look like "
            f"{', '.join(sorted(known)[:5])} ..."
        )
    y_rep = draws.flat()
    rows = []
    for person in wanted:
        idx = np.flatnonzero(draws.persons == person)
        lo, hi = np.quantile(y_rep[:, idx], [(1 - prob) / 2, (1 + prob) / 2], axis=0)
        for pos, (i, a, b) in enumerate(zip(idx, lo, hi, strict=True)):
            obs = float(draws.y_obs[i])
            rows.append(
                {
                    "person": person,
                    "row": int(i),
                    "position": pos,
                    "observed": obs,
                    "rep_mean": float(y_rep[:, i].mean()),
                    "rep_lower": float(a),
                    "rep_upper": float(b),
                    "outside": bool(obs < a or obs > b),
                }
            )
    table = pd.DataFrame(rows)
    table.attrs.update(ci_prob=prob, model=draws.model, outcome=draws.outcome)
    return table


# ------------------------------------------------------------------ LOO-PIT
def loo_pit_values(fit: Any, draws: PredictiveDraws) -> np.ndarray:
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
