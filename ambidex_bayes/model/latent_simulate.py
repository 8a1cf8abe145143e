r"""Diary panels with true person means of the daily predictor (for latent centring checks).

For person :math:`j` with :math:`n_j` diaries (drawn uniformly from ``diaries``),

.. math::

    w_j \sim N(0, 1), \quad \mu_j \sim N(\mu_0, \tau_x^2), \quad
    x_{ij} = \mu_j + e^x_{ij}, \quad e^x_{ij} \sim N(0, \sigma_x^2),

    y_{ij} = \beta_0 + \beta_1 (x_{ij} - \mu_j) + \beta_B (\mu_j - \mu_0) + \beta_W w_j
        + \beta_{1W} (x_{ij} - \mu_j) w_j + u_{0j} + u_{1j} (x_{ij} - \mu_j) + e_{ij}.

The reliability of the observed person mean of :math:`n` diaries is
:math:`\lambda = \tau_x^2 / (\tau_x^2 + \sigma_x^2 / n)`.

:func:`draw_latent_data` draws the predictor and the outcome of the latent-centred model
(:mod:`ambidex_bayes.model.latent_centring`) given values of all its parameters, person
means and person effects included, on the rows and persons of a :class:`LatentData` (for
simulation-based calibration: parameters from the model's prior, data from the model). Study
designs with true person means are simulated by :func:`ambidex_bayes.simulate.simulate_diary`,
whose truth names the latent model's parameters.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from ambidex_bayes.model.latent_data import LatentData
from ambidex_bayes.model.latent_ladder import LatentStructure, ladder_structure

__all__ = ["LatentTruth", "simulate_latent_panel", "observed_reliability", "draw_latent_data"]


@dataclass(frozen=True)
class LatentTruth:
    """True values of a simulated panel (names as in the posterior of a latent fit)."""

    intercept: float = 0.0
    within: float = 0.1
    between: float = 0.6
    moderator: float = 0.2
    interaction: float = 0.1
    sd_intercept: float = 0.4
    sd_slope: float = 0.15
    corr: float = 0.0
    sigma: float = 0.5
    mu_mean: float = 3.0
    mu_sd: float = 0.5
    within_sd: float = 1.0

    def to_dict(self) -> dict[str, float]:
        """The values by field name."""
        return asdict(self)


def observed_reliability(truth: LatentTruth, diaries: float) -> float:
    r""":math:`\lambda = \tau_x^2 / (\tau_x^2 + \sigma_x^2 / n)` for ``diaries`` = n."""
    tx2 = truth.mu_sd**2
    return tx2 / (tx2 + truth.within_sd**2 / diaries)


def simulate_latent_panel(
    n_persons: int,
    diaries: tuple[int, int],
    truth: LatentTruth | None = None,
    *,
    seed: int = 0,
    missing_x: float = 0.0,
    missing_y: float = 0.0,
) -> pd.DataFrame:
    """A simulated panel with columns ``person``, ``day``, ``x``, ``y``, ``w``.

    Parameters
    ----------
    n_persons : int
    diaries : (int, int)
        Smallest and largest number of diaries per person.
    truth : LatentTruth, optional
    seed : int
    missing_x, missing_y : float
        Share of daily x (of y) set missing at random.

    Returns
    -------
    DataFrame
    """
    t = truth or LatentTruth()
    rng = np.random.default_rng(seed)
    n = rng.integers(diaries[0], diaries[1] + 1, size=n_persons)
    person = np.repeat(np.arange(n_persons), n)
    w = rng.standard_normal(n_persons)
    mu = t.mu_mean + t.mu_sd * rng.standard_normal(n_persons)
    cov = np.array(
        [
            [t.sd_intercept**2, t.corr * t.sd_intercept * t.sd_slope],
            [t.corr * t.sd_intercept * t.sd_slope, t.sd_slope**2],
        ]
    )
    u = rng.multivariate_normal(np.zeros(2), cov, size=n_persons)
    c = t.within_sd * rng.standard_normal(len(person))
    slope = t.within + t.interaction * w + u[:, 1]
    y = (
        (t.intercept + t.between * (mu - t.mu_mean) + t.moderator * w + u[:, 0])[person]
        + slope[person] * c
        + t.sigma * rng.standard_normal(len(person))
    )
    x = mu[person] + c
    if missing_x:
        x[rng.random(len(x)) < missing_x] = np.nan
    if missing_y:
        y[rng.random(len(y)) < missing_y] = np.nan
    day = np.concatenate([np.arange(k) for k in n])
    return pd.DataFrame(
        {"person": [f"p{j}" for j in person], "day": day, "x": x, "y": y, "w": w[person]}
    )


def draw_latent_data(
    data: LatentData,
    level: str,
    values: Mapping[str, np.ndarray | float],
    rng: np.random.Generator,
    structure: LatentStructure | None = None,
) -> LatentData:
    r"""Draw every daily predictor and outcome of ``data`` from the latent model of ``level``.

    With one predictor and :math:`c_{ij} = x_{ij} - \mu_j`,

    .. math::

        x_{ij} = \mu_j + \sigma_x \varepsilon^x_{ij}, \qquad
        y_{ij} = \beta_0 + \beta_B(\mu_j - \mu_0) + \beta_W w_j
            + (\beta_1 + \beta_{1W} w_j + u_{1j}) c_{ij} + u_{0j} + \sigma \varepsilon_{ij}

    with independent standard normal :math:`\varepsilon` (:math:`\beta_W`, :math:`\beta_{1W}`
    and :math:`u_{1j}` where the model has them). With several predictors :math:`p` (each
    with its own person means :math:`\mu_{pj}`, mean :math:`\mu_{p0}` and within SD
    :math:`\sigma_{p}`) every one is drawn so, and the outcome sums their parts:

    .. math::

        y_{ij} = \beta_0 + \sum_p \beta_{Bp}(\mu_{pj} - \mu_{p0}) + \beta_W w_j
            + \sum_p (\beta_{1p} + \beta_{1Wp} w_j) c_{pij} + u_{0j} + u_{1j} c_{sij}
            + \sigma \varepsilon_{ij},

    the terms as ``structure`` has them (:math:`s` the predictor with person slopes). Every
    row gets new predictors, drawn before the outcome (predictor by predictor: its outcome
    rows, then its rows without an outcome); where ``data`` has a missing predictor the
    drawn value generates the outcome and is then set missing again (the fit imputes it),
    so the pattern of missing values stays that of ``data``.

    Parameters
    ----------
    data : LatentData
        The rows, persons and centred moderator (kept); its ``y``, ``x``, ``x_only``,
        ``others`` and ``others_only`` are replaced.
    level : {"M1", "M2", "M3"}
    values : mapping
        A value of every parameter under its posterior name (:class:`LatentNames`):
        ``Intercept``, ``1|person`` (J), ``sigma``, per predictor ``{x}_cw``, ``{x}_pm``,
        ``{x}_mu`` (J person means), ``{x}_mu_mean`` and ``{x}_within_sd``, and with the
        model's terms ``{w}``, ``{x}_cw:{w}`` and ``{x}_cw|person`` (J).
    rng : numpy.random.Generator
    structure : LatentStructure, optional
        The terms of each predictor (default the ladder's ``level`` for ``data``'s
        predictors, :func:`~ambidex_bayes.model.latent_ladder.ladder_structure`).

    Returns
    -------
    LatentData
        ``data`` with the drawn outcome and predictors (NaN where ``data``'s were).
    """
    nm = data.names
    structure = structure or ladder_structure(level, data.n_predictors)
    slope = structure.slope

    def scalar(name: str) -> float:
        return float(np.asarray(values[name], dtype=float).reshape(-1)[0])

    def person(name: str) -> np.ndarray:
        return np.asarray(values[name], dtype=float).reshape(data.n_persons)

    a = np.full(data.n_persons, scalar("Intercept"))
    xs, x_onlys = [], []
    row_terms = np.zeros(len(data.person))
    for p in range(data.n_predictors):
        view = data.predictor(p) if data.n_predictors > 1 else data
        vn = view.names
        mu, sd_x = person(vn.mu), scalar(vn.within_sd)
        x = mu[data.person] + sd_x * rng.standard_normal(len(data.person))
        x_only = mu[data.x_only_person] + sd_x * rng.standard_normal(len(data.x_only_person))
        if structure.between[p]:
            a = a + scalar(vn.between) * (mu - scalar(vn.mu_mean))
        b = np.full(data.n_persons, scalar(vn.within) if structure.within[p] else 0.0)
        if data.w is not None and structure.interaction[p] and vn.interaction is not None:
            b = b + scalar(vn.interaction) * data.w
        if slope == p:
            b = b + person(vn.slope_effect)
        c = x - mu[data.person]
        row_terms = row_terms + b[data.person] * c
        xs.append(x)
        x_onlys.append(x_only)
    a = a + person(nm.intercept_effect)
    if data.w is not None and nm.w is not None:
        a = a + scalar(nm.w) * data.w
    y = a[data.person] + row_terms + scalar("sigma") * rng.standard_normal(len(data.person))
    if data.n_predictors == 1:
        return dataclasses.replace(
            data, y=y, x=np.where(data.missing, np.nan, xs[0]), x_only=x_onlys[0]
        )
    drawn = np.column_stack(xs)
    drawn_only = np.column_stack(x_onlys)
    gone = np.isnan(data.xs)
    gone_only = np.isnan(np.column_stack([data.x_only, data.others_only]))
    drawn[gone] = np.nan
    drawn_only[gone_only] = np.nan
    return dataclasses.replace(
        data,
        y=y,
        x=drawn[:, 0],
        x_only=drawn_only[:, 0],
        others=drawn[:, 1:],
        others_only=drawn_only[:, 1:],
    )
