r"""Reliability of observed person means (Lüdtke et al., 2008).

With few diaries per person the observed person mean is a noisy measure of the person's true
mean. From a one-way ANOVA of :math:`x` by person (:math:`J` persons, :math:`N` rows,
:math:`n_j` rows per person),

.. math::

    MS_B = \frac{\sum_j n_j(\bar x_j - \bar x)^2}{J-1},\quad
    MS_W = \frac{\sum_{ij}(x_{ij} - \bar x_j)^2}{N-J},\quad
    n_0 = \frac{N - \sum_j n_j^2/N}{J-1},

:math:`\hat\tau^2 = \max(0, (MS_B - MS_W)/n_0)`, :math:`\hat\sigma^2 = MS_W`,
:math:`ICC(1) = \hat\tau^2/(\hat\tau^2 + \hat\sigma^2)` and the reliability of the observed
person means is :math:`\lambda = \hat\tau^2 / (\hat\tau^2 + \hat\sigma^2/\bar n)` with
:math:`\bar n = N/J`. Below ``constants.PERSON_MEAN_RELIABILITY_MIN`` a warning is given
(:func:`reliability_message`): the coefficient of ``{x}_pm`` is then roughly
:math:`\lambda\beta_B + (1-\lambda)\beta_W`, pulled toward the within-person effect, so the
between-person and contextual effects are biased.
"""

from __future__ import annotations

import math

import pandas as pd

from ambidex_bayes import constants

__all__ = ["person_mean_reliability", "reliability_message"]


def person_mean_reliability(values: pd.Series, persons: pd.Series) -> dict[str, float]:
    """ICC(1) and the reliability of observed person means from a one-way ANOVA.

    Parameters
    ----------
    values
        The variable, one value per row (no missing values).
    persons
        Person id per row.

    Returns
    -------
    dict
        ``icc``, ``reliability`` (:math:`\\lambda`), ``tau2``, ``sigma2``, ``n_bar``; NaN
        where they cannot be estimated (fewer than two persons, or no person with two rows).
    """
    v = pd.Series(values, dtype="float64").reset_index(drop=True)
    g = pd.Series(persons).reset_index(drop=True)
    # The ratios are scale-free: compute on values divided by their largest magnitude so that
    # squares of very large or very small values neither overflow nor underflow.
    top = float(v.abs().max()) if len(v) else 0.0
    if not (math.isfinite(top) and top > 0):
        top = 1.0
    v = v / top
    n_total = len(v)
    counts = v.groupby(g, sort=False).size()
    n_groups = len(counts)
    nan = float("nan")
    out = {"icc": nan, "reliability": nan, "tau2": nan, "sigma2": nan, "n_bar": nan}
    if n_groups < 2 or n_total <= n_groups:
        return out
    means = v.groupby(g, sort=False).transform("mean")
    grand = float(v.mean())
    ms_between = float(((means - grand) ** 2).sum()) / (n_groups - 1)
    ms_within = float(((v - means) ** 2).sum()) / (n_total - n_groups)
    n0 = (n_total - float((counts**2).sum()) / n_total) / (n_groups - 1)
    tau2 = max(0.0, (ms_between - ms_within) / n0)
    n_bar = n_total / n_groups
    out.update(tau2=tau2 * top * top, sigma2=ms_within * top * top, n_bar=n_bar)
    if tau2 + ms_within > 0:
        out["icc"] = tau2 / (tau2 + ms_within)
        out["reliability"] = tau2 / (tau2 + ms_within / n_bar)
    return out


def reliability_message(x: str, rel: dict[str, float]) -> tuple[str, str | None]:
    """A note on the reliability of x's person means, and a warning when it is low."""
    lam = rel["reliability"]
    if math.isnan(lam):
        note = (
            f"The reliability of the person means of {x!r} could not be estimated (it needs at "
            "least two persons and some person with more than one diary)."
        )
        return note, None
    note = (
        f"Reliability of the observed person means of {x!r}: lambda = {lam:.2f} "
        f"(ICC(1) = {rel['icc']:.2f}, {rel['n_bar']:.1f} diaries per person on average)."
    )
    threshold = constants.PERSON_MEAN_RELIABILITY_MIN
    if lam >= threshold:
        return note, None
    return note, (
        f"The observed person means of {x!r} are unreliable (lambda = {lam:.2f} < {threshold:.2f}; "
        f"ICC(1) = {rel['icc']:.2f} with {rel['n_bar']:.1f} diaries per person on average). "
        f"The between-person effect of {x!r} and the contextual effect are biased (the "
        "between-person slope is pulled toward the within-person slope) and their uncertainty "
        "is understated when they are estimated from the observed person means. The "
        "within-person effect and the cross-level interaction are not affected. Fitting with latent "
        "person-mean centring, which models each person's true mean, removes the bias: the "
        "bundled M1-M3 use it by themselves below this reliability (their centring is "
        '"auto"); for other specs, fit with `--centring latent` or `--centring auto` (or '
        'centring="latent" in ab.fit or the spec file), or collect more diaries per person.'
    )
