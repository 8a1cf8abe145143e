r"""Test statistics of observed and replicated data, and their posterior predictive p-values.

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
range is declared) are checked the same way (:data:`PERSON_STATISTICS`,
:func:`person_checks`); :func:`flagged_persons` counts the persons flagged per statistic
against the share :math:`2t` one would expect by chance.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ambidex_bayes.checks.person_groups import PersonGroups
from ambidex_bayes.checks.predictive import PredictiveDraws
from ambidex_bayes.errors import AmbidexError
from ambidex_bayes.posterior import resolve_prob

__all__ = [
    "StatisticChecks",
    "P_VALUE_TAIL",
    "STATISTICS",
    "PERSON_STATISTICS",
    "ppc_p_value",
    "statistic_checks",
    "person_checks",
    "flagged_persons",
    "statistic_draws",
    "BLOCK_NUMBERS",
]

#: Two-sided tail of a flagged posterior predictive p-value: flagged when p < t or p > 1 - t.
P_VALUE_TAIL: float = 0.025

#: Rows at or within this distance of a scale bound count as "at the bound".
_BOUND_TOL: float = 1e-9


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
#: A statistic: values of shape ``(..., rows)`` and the person groups give ``(...)`` (whole
#: data) or ``(..., persons)`` (per person).
StatFn = Callable[[np.ndarray, PersonGroups], np.ndarray]

#: Numbers of one block of replicated data sets a statistic works on at a time (the
#: statistics copy and square their input, so a block's temporaries stay this size).
BLOCK_NUMBERS: int = 4_000_000


def statistic_draws(fn: StatFn, y_rep: np.ndarray, groups: PersonGroups) -> np.ndarray:
    """``fn`` of every replicated data set (row of ``y_rep``), a block of data sets at a time.

    Every statistic treats each data set on its own, so the blocks give what one call on the
    whole array would, with temporaries of at most :data:`BLOCK_NUMBERS` numbers.
    """
    n_sets, n_rows = y_rep.shape
    step = max(1, BLOCK_NUMBERS // max(n_rows, 1))
    if step >= n_sets:
        return np.asarray(fn(y_rep, groups), dtype=float)
    parts = [
        np.asarray(fn(y_rep[start : start + step], groups), dtype=float)
        for start in range(0, n_sets, step)
    ]
    return np.concatenate(parts, axis=0)


def _pooled_within_sd(y: np.ndarray, g: PersonGroups) -> np.ndarray:
    means = g.means(y)
    ss = g.sums(y**2) - g.counts * means**2
    dof = g.counts.sum() - len(g.counts)
    if dof <= 0:
        return np.full(y.shape[:-1], np.nan)
    return np.sqrt(np.clip(ss.sum(axis=-1) / dof, 0.0, None))


def _sd_person_means(y: np.ndarray, g: PersonGroups) -> np.ndarray:
    if len(g.counts) < 2:
        return np.full(y.shape[:-1], np.nan)
    return np.std(g.means(y), axis=-1, ddof=1)


def _sd_person_sds(y: np.ndarray, g: PersonGroups) -> np.ndarray:
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
    def at_floor(y: np.ndarray, g: PersonGroups) -> np.ndarray:
        hit = (y <= lo + _BOUND_TOL).astype(float)
        return g.means(hit) if per_person else hit.mean(axis=-1)

    def at_ceiling(y: np.ndarray, g: PersonGroups) -> np.ndarray:
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


def _is_flagged(p: np.ndarray, tail: float) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    return np.isfinite(p) & ((p < tail) | (p > 1.0 - tail))


def _resolve_tail(tail: float | None) -> float:
    value = P_VALUE_TAIL if tail is None else tail
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 0.5:
        raise AmbidexError(f"tail must be a number in (0, 0.5), e.g. 0.025; got {value!r}.")
    return float(value)


def mean_and_interval(rep: np.ndarray, prob: float) -> tuple[float, float, float]:
    """Mean and central ``prob`` interval ``(mean, lower, upper)`` of the finite values
    (NaN for none)."""
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
    groups = PersonGroups.from_ids(draws.persons)
    y_rep = draws.flat()
    rows, replicated = [], {}
    for name in names:
        description, fn = available[name]
        observed = float(fn(draws.y_obs[None, :], groups)[0])
        rep = statistic_draws(fn, y_rep, groups)
        replicated[name] = rep
        p = float(ppc_p_value(rep, observed))
        mean, lo, hi = mean_and_interval(rep, prob)
        rows.append(
            {
                "statistic": name,
                "description": description,
                "observed": observed,
                "rep_mean": mean,
                "rep_lower": lo,
                "rep_upper": hi,
                "p_value": p,
                "flagged": bool(_is_flagged(p, tail)),
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
    groups = PersonGroups.from_ids(draws.persons)
    y_rep = draws.flat()
    frames = []
    for name in names:
        _, fn = available[name]
        observed = fn(draws.y_obs[None, :], groups)[0]
        rep = statistic_draws(fn, y_rep, groups)
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
                    "flagged": _is_flagged(p, tail),
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
