r"""Score multi-item scales and report their reliability within and between persons.

A scale score is the mean of its items after reverse-keying. In a diary study an item's
variance has a within-person part (day-to-day) and a between-person part, and a scale can be
reliable at one level and not at the other, so reliability is reported at both levels.

Formulas
--------
Reverse-keying an item with response range :math:`[lo, hi]`: :math:`x' = lo + hi - x`.

Score of row :math:`i`: the mean of its non-missing (keyed) items; missing when more than
half of the :math:`k` items are missing.

Reliability uses the rows with all :math:`k` items present. With :math:`\bar x_{j,m}` the
mean of item :math:`m` over person :math:`j`'s rows,

* within persons: the person-mean-centred items :math:`x_{ij,m} - \bar x_{j,m}`;
* between persons: the person means :math:`\bar x_{j,m}` (one row per person).

On either set, with :math:`s^2_m` the variance of item :math:`m` and :math:`s^2_T` the
variance of the item sum (pooled within-person variances for the within level; the common
divisor cancels), Cronbach's alpha is

.. math:: \alpha = \frac{k}{k-1}\Big(1 - \frac{\sum_m s^2_m}{s^2_T}\Big),

and McDonald's omega, from a one-factor model :math:`\Sigma = \lambda\lambda' + \Psi` fitted by
iterated principal-axis factoring of the correlation matrix (loadings and uniquenesses then
put back on the items' own scale), is

.. math:: \omega = \frac{(\sum_m \lambda_m)^2}{(\sum_m \lambda_m)^2 + \sum_m \psi_m}.

Both are computed on the items centred and divided by one common factor (their largest
absolute value), which leaves alpha and omega unchanged but keeps squares and products of very
large or very small numbers from overflowing or underflowing.

Alpha needs :math:`k \ge 2` and omega :math:`k \ge 3` (a one-factor model of two items is
not identified); otherwise, or when a level has no variance (e.g. a scale measured once per
person has no within-person variance), the value is NaN. Between-person values computed on
observed person means mix in within-person noise when persons have few diaries.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ambidex_bayes.data.mapping import ScaleSpec, did_you_mean
from ambidex_bayes.data.validate import (
    MAX_ABS_VALUE,
    describe_bad_values,
    format_rows,
    person_id_strings,
    row_numbers,
    string_columns,
    to_float,
    too_large,
)
from ambidex_bayes.errors import SpecError, ValidationError

__all__ = ["score_scales", "cronbach_alpha", "omega_one_factor", "RELIABILITY_COLUMNS"]

#: Columns of the reliability table returned by :func:`score_scales`.
RELIABILITY_COLUMNS = (
    "scale",
    "n_items",
    "n_rows",
    "n_persons",
    "alpha_within",
    "alpha_between",
    "omega_within",
    "omega_between",
)

_PAF_ITER = 1000
_PAF_TOL = 1e-10


def _rescaled(x: np.ndarray) -> np.ndarray | None:
    """Items centred and divided by their largest absolute deviation; None if all constant."""
    centred = x - x.mean(axis=0)
    top = float(np.max(np.abs(centred))) if centred.size else 0.0
    if not (np.isfinite(top) and top > 0):
        return None
    return centred / top


def cronbach_alpha(items: np.ndarray) -> float:
    r"""Cronbach's alpha of an ``(n, k)`` array: :math:`\frac{k}{k-1}(1 - \sum s^2_m / s^2_T)`.

    NaN when ``k < 2``, ``n < 2`` or the sum has no variance.
    """
    x = np.asarray(items, dtype=float)
    n, k = x.shape
    if k < 2 or n < 2:
        return float("nan")
    x = _rescaled(x)
    if x is None:
        return float("nan")
    cov = np.cov(x, rowvar=False, ddof=1)
    total = float(cov.sum())
    if not total > 0:
        return float("nan")
    return k / (k - 1) * (1.0 - float(np.trace(cov)) / total)


def omega_one_factor(items: np.ndarray) -> float:
    r"""McDonald's omega of an ``(n, k)`` array from a one-factor model.

    The factor is fitted by iterated principal-axis factoring of the correlation matrix,
    starting from squared multiple correlations; communalities are kept in [0, 1]. Loadings
    :math:`\lambda_m` and uniquenesses :math:`\psi_m` are rescaled by the items' standard
    deviations, then :math:`\omega = (\sum\lambda)^2 / ((\sum\lambda)^2 + \sum\psi)`.
    NaN when ``k < 3``, ``n < 3`` or an item has no variance.
    """
    x = np.asarray(items, dtype=float)
    n, k = x.shape
    if k < 3 or n < 3:
        return float("nan")
    x = _rescaled(x)
    if x is None:
        return float("nan")
    cov = np.cov(x, rowvar=False, ddof=1)
    sd = np.sqrt(np.diag(cov))
    if not (sd > 0).all():
        return float("nan")
    # Divide in two steps: the product of two tiny SDs could underflow to 0.
    corr = cov / sd[:, None] / sd[None, :]
    # Starting communalities: squared multiple correlations, 1 - 1 / diag(R^-1); for a proper
    # correlation matrix diag(R^-1) >= 1. A (nearly) singular R falls back to max |r|.
    try:
        smc_diag = np.diag(np.linalg.inv(corr))
    except np.linalg.LinAlgError:
        smc_diag = np.zeros(k)
    if np.all(np.isfinite(smc_diag)) and np.all(smc_diag >= 1.0):
        h2 = 1.0 - 1.0 / smc_diag
    else:
        h2 = np.max(np.abs(corr - np.eye(k)), axis=0)
    h2 = np.clip(h2, 0.0, 1.0)
    loadings = np.sqrt(h2)
    for _ in range(_PAF_ITER):
        reduced = corr.copy()
        np.fill_diagonal(reduced, h2)
        try:
            vals, vecs = np.linalg.eigh(reduced)
        except np.linalg.LinAlgError:
            return float("nan")
        loadings = vecs[:, -1] * np.sqrt(max(vals[-1], 0.0))
        new = np.clip(loadings**2, 0.0, 1.0)
        done = np.max(np.abs(new - h2)) < _PAF_TOL
        h2 = new
        if done:
            break
    if loadings.sum() < 0:
        loadings = -loadings
    lam = loadings * sd
    psi = (1.0 - h2) * sd**2
    common = float(lam.sum()) ** 2
    return common / (common + float(psi.sum()))


def _empty_table() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="float64") for c in RELIABILITY_COLUMNS}).astype(
        {"scale": "str", "n_items": "int64", "n_rows": "int64", "n_persons": "int64"}
    )


def score_scales(
    df: pd.DataFrame,
    scales: Mapping[str, ScaleSpec],
    *,
    person: str,
    source: str = "data",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Add one score column per scale and compute the scales' reliability.

    Parameters
    ----------
    df
        The data (not modified).
    scales
        Scale name -> :class:`~ambidex_bayes.data.mapping.ScaleSpec`. The score column gets
        the scale name.
    person
        Person id column (for within/between reliability).
    source
        Name used in messages.

    Returns
    -------
    (scored, reliability)
        ``scored``: a copy of ``df`` with the score columns added (mean of the keyed items;
        NaN when more than half of the items are missing). ``reliability``: one row per scale
        with columns ``scale, n_items, n_rows, n_persons, alpha_within, alpha_between,
        omega_within, omega_between`` (see the module docstring for the formulas; ``n_rows``
        and ``n_persons`` count the rows with every item present and their persons).

    Raises
    ------
    SpecError
        A scale has reverse-keyed items but no response range.
    ValidationError
        Missing item or person columns, a scale name that is already a column, items that
        hold text, infinite or too large item values (see
        :data:`~ambidex_bayes.data.validate.MAX_ABS_VALUE`), or item values outside the
        scale's range.
    DataError
        Two columns of ``df`` have the same name.
    """
    df = string_columns(df, source)
    if not scales:
        return df.copy(), _empty_table()
    no_range = [name for name, s in scales.items() if s.reverse and s.range is None]
    if no_range:
        raise SpecError(
            f"scale(s) {', '.join(map(repr, no_range))} have reverse-keyed items but no range; "
            "add range = [lowest, highest] (the items' response range, e.g. [1, 5]) so that an "
            "item can be reversed as lowest + highest - value"
        )

    problems: list[str] = []
    columns = [str(c) for c in df.columns]
    rows = pd.Series(row_numbers(df), index=df.index)
    if person not in df.columns:
        problems.append(
            f"the person id column {person!r} is not in the data{did_you_mean(person, columns)}; "
            "it is needed to score scales within and between persons."
        )
    items: dict[str, pd.Series] = {}
    for name, spec in scales.items():
        if name in df.columns:
            problems.append(
                f"scale {name!r}: the data already have a column {name!r}; the score would "
                "replace it. Rename the scale (or the column)."
            )
        for item in spec.items:
            if item not in df.columns:
                problems.append(
                    f"scale {name!r}: item column {item!r} is not in the data"
                    f"{did_you_mean(item, columns)}; fix the item name in the mapping."
                )
                continue
            if item in items:
                continue
            nums, bad = to_float(df[item])
            if bad.any():
                problems.append(
                    f"scale {name!r}: item {item!r} must be numeric but holds "
                    f"{describe_bad_values(df[item], bad, rows)}; replace these with numbers or "
                    "leave the cells empty."
                )
                continue
            big = too_large(nums)
            if big.any():
                problems.append(
                    f"scale {name!r}: item {item!r} holds infinite or too large values (beyond "
                    f"+-{MAX_ABS_VALUE:g}): {describe_bad_values(df[item], big, rows)}; correct "
                    "them or leave the cells empty."
                )
                continue
            items[item] = nums
        if spec.range is not None:
            lo, hi = spec.range
            for item in spec.items:
                if item not in items:
                    continue
                out = (items[item] < lo) | (items[item] > hi)
                if out.any():
                    problems.append(
                        f"scale {name!r}: item {item!r} has values outside the scale's range "
                        f"[{lo:g}, {hi:g}] on {format_rows(rows[out])}; correct the values or "
                        "the range."
                    )
    if problems:
        raise ValidationError(f"{source}: cannot score the scales:", problems)

    ids = person_id_strings(df[person])
    out = df.copy()
    table = []
    for name, spec in scales.items():
        keyed = pd.DataFrame({item: items[item] for item in spec.items})
        if spec.range is not None:
            lo, hi = spec.range
            for item in spec.reverse:
                keyed[item] = lo + hi - keyed[item]
        k = len(spec.items)
        too_few = keyed.isna().sum(axis=1) > k / 2
        out[name] = keyed.mean(axis=1, skipna=True).where(~too_few).astype("float64")
        table.append({"scale": name, **_reliability(keyed, ids)})
    return out, pd.DataFrame(table, columns=list(RELIABILITY_COLUMNS))


def _reliability(keyed: pd.DataFrame, ids: pd.Series) -> dict[str, float | int]:
    """Alpha and omega within and between persons on the complete rows."""
    complete = keyed.notna().all(axis=1) & ids.notna()
    x = keyed[complete]
    g = ids[complete]
    means = x.groupby(g, sort=False).transform("mean")
    within = (x - means).to_numpy()
    between = x.groupby(g, sort=False).mean().to_numpy()
    return {
        "n_items": keyed.shape[1],
        "n_rows": int(complete.sum()),
        "n_persons": int(g.nunique()),
        "alpha_within": cronbach_alpha(within),
        "alpha_between": cronbach_alpha(between),
        "omega_within": omega_one_factor(within),
        "omega_between": omega_one_factor(between),
    }
