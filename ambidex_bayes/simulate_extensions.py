r"""The draws and the truth of a design's further parts: more level-1 predictors, a factor
moderator, correlated person effects and correlated person means
(:class:`~ambidex_bayes.simulation_design.ExtendedDesign`).

With further predictors :math:`k = 1..K` and a factor whose level of person :math:`j` is
:math:`L_j`, the outcome of :mod:`ambidex_bayes.simulate` gains

.. math::

    a_{L_j} + b^{(0)}_{L_j}\,d_{ij} + \sum_{k=1}^{K} \left[\gamma^{(k)}_{02} \bar x^{(k)c}_j
    + (\gamma^{(k)}_{10} + \gamma^{(k)}_{11} W^c_j + b^{(k)}_{L_j} + u^{(k)}_{1j})\,
    d^{(k)}_{ij}\right]

with :math:`x^{(k)}_{ij} = \bar x^{(k)}_j + d^{(k)}_{ij}`, :math:`\bar x^{(k)}_j \sim
N(\mu_k, s_{k,b}^2)`, :math:`d^{(k)}_{ij} \sim N(0, s_{k,w}^2)`, and the treatment contrasts
:math:`a_L, b^{(k)}_L` (0 at the reference level). With a correlation matrix :math:`R` of the
person effects, :math:`u_j = \operatorname{diag}(\tau)\, C z_j` with :math:`C C^\top = R`
(Cholesky; for a singular :math:`R` the symmetric square root) and the same standard normal
:math:`z_j` whose first two entries the plain design uses. With a correlation matrix
:math:`R_\mu` of the true person means (``mean_corr``), the further predictors' means are
:math:`\bar x^{(k)}_j = \mu_k + s_{k,b} (C_\mu \zeta_j)_k` with :math:`C_\mu C_\mu^\top =
R_\mu` and :math:`\zeta_j` the plain design's standard normal of :math:`\bar x_j` followed by
one standard normal per further predictor; the Cholesky factor's first row is
:math:`(1, 0, \dots)`, so :math:`\bar x_j` itself is the plain design's.

Draw order after the plain design's draws: the persons' levels (:func:`~ambidex_bayes.
simulation_terms.allocate_levels`), each further predictor's true person means (one standard
normal per person and further predictor), one standard
normal per person and further predictor, each further predictor's daily deviations, then each
further predictor's gaps (``missing_rate_x``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ambidex_bayes.factor_coding import factor_coding
from ambidex_bayes.simulation_terms import allocate_levels

if TYPE_CHECKING:
    from ambidex_bayes.simulation_design import ExtendedDesign, SimulationDesign

__all__ = ["Extensions", "draw_extensions", "parameter_truth", "person_effect_scales"]


@dataclass(frozen=True, eq=False)
class Extensions:
    """The draws of a design's further parts.

    Attributes
    ----------
    level : numpy.ndarray or None
        Level index of each person (None without a factor).
    xbar : numpy.ndarray
        True person means of the further predictors, persons x predictors.
    dev : numpy.ndarray
        Their daily deviations, rows x predictors.
    gaps : numpy.ndarray
        Their missing cells, rows x predictors.
    u : numpy.ndarray or None
        All person effects (intercept, slope of ``x_col``, further slopes), persons x
        effects; None when ``person_corr`` is None and there are no further predictors
        (the plain draws are used).
    u_more : numpy.ndarray
        The further predictors' person slopes, persons x predictors.
    """

    level: np.ndarray | None
    xbar: np.ndarray
    dev: np.ndarray
    gaps: np.ndarray
    u: np.ndarray | None
    u_more: np.ndarray

    def outcome_part(
        self,
        d: ExtendedDesign,
        person_idx: np.ndarray,
        w_c: np.ndarray,
        dev0: np.ndarray,
    ) -> np.ndarray:
        """What the further parts add to each row's outcome (see the module docstring)."""
        part = np.zeros(person_idx.size)
        level = None if self.level is None else self.level[person_idx]
        if d.factor is not None and level is not None:
            part += d.factor.intercept_effects()[level]
            part += d.factor.slope_effects(d.x_col)[level] * dev0
        for k, p in enumerate(d.predictors):
            slope = p.g10 + p.g11 * w_c + self.u_more[:, k]
            row_slope = slope[person_idx]
            if d.factor is not None and level is not None:
                row_slope = row_slope + d.factor.slope_effects(p.name)[level]
            xbar_c = self.xbar[:, k] - p.x_mean
            part += p.g02 * xbar_c[person_idx] + row_slope * self.dev[:, k]
        return part

    def predictor_columns(self, d: ExtendedDesign, person_idx: np.ndarray) -> dict[str, np.ndarray]:
        """The further predictors' observed columns (on the rating scale, with gaps)."""
        columns = {}
        for k, p in enumerate(d.predictors):
            x = self.xbar[person_idx, k] + self.dev[:, k]
            if d.likert is not None:  # as the plain design's predictor
                x = np.clip(np.rint(x), d.likert[0], d.likert[1])
            x[self.gaps[:, k]] = np.nan
            columns[p.name] = x.astype(np.float64)
        return columns

    def effects(self, d: ExtendedDesign) -> pd.DataFrame:
        """One row per person: ``level`` (with a factor) and, per further predictor ``x``,
        ``xbar_true_x``, ``xbar_c_x`` and ``u1_x``."""
        out: dict[str, object] = {}
        if d.factor is not None and self.level is not None:
            out["level"] = pd.Series(np.asarray(d.factor.levels, dtype=object)[self.level])
        for k, p in enumerate(d.predictors):
            out[f"xbar_true_{p.name}"] = self.xbar[:, k]
            out[f"xbar_c_{p.name}"] = self.xbar[:, k] - p.x_mean
            out[f"u1_{p.name}"] = self.u_more[:, k]
        n = self.xbar.shape[0]
        return pd.DataFrame(out, index=pd.RangeIndex(n))


def person_effect_scales(d: SimulationDesign) -> np.ndarray:
    """SDs of the person effects: intercept, slope of ``x_col``, further slopes."""
    more = [p.tau1 for p in getattr(d, "predictors", ())]
    return np.array([d.resolved_tau0, d.tau1, *more], dtype=float)


def _root(corr: np.ndarray) -> np.ndarray:
    """A matrix :math:`C` with :math:`C C^\\top = R` (Cholesky, else symmetric square root)."""
    try:
        return np.linalg.cholesky(corr)
    except np.linalg.LinAlgError:  # singular (e.g. a correlation of +-1)
        values, vectors = np.linalg.eigh(corr)
        return vectors * np.sqrt(np.clip(values, 0.0, None))


def draw_extensions(
    rng: np.random.Generator,
    d: ExtendedDesign,
    n_rows: int,
    z: np.ndarray,
    z_mean: np.ndarray | None = None,
) -> Extensions:
    """Draw the further parts of ``d`` (in the module docstring's order).

    Parameters
    ----------
    rng : numpy.random.Generator
        The study's generator, after the plain design's draws.
    d : ExtendedDesign
        The design.
    n_rows : int
        Rows of the study.
    z : numpy.ndarray
        The plain design's standard normals of the person effects, persons x 2.
    z_mean : numpy.ndarray, optional
        The plain design's standard normals of the true person means of ``x_col`` (one per
        person); needed with ``mean_corr``.

    Returns
    -------
    Extensions
    """
    n_p = z.shape[0]
    n_more = len(d.predictors)
    level = allocate_levels(rng, n_p, d.factor.resolved_shares) if d.factor is not None else None
    xbar = _person_means(rng, d, n_p, z_mean)
    z_more = rng.standard_normal((n_p, n_more))
    dev = np.empty((n_rows, n_more))
    for k, p in enumerate(d.predictors):
        dev[:, k] = p.x_sd_within * rng.standard_normal(n_rows)
    gaps = np.zeros((n_rows, n_more), dtype=bool)
    for k in range(n_more):
        n_missing = int(round(d.missing_rate_x * n_rows))
        if n_missing:
            gaps[rng.choice(n_rows, size=n_missing, replace=False), k] = True

    u = None
    if d.person_corr is not None:
        z_all = np.column_stack([z, z_more])
        u = (z_all @ _root(np.array(d.person_corr, dtype=float)).T) * person_effect_scales(d)
        u_more = u[:, 2:]
    else:
        u_more = z_more * np.array([p.tau1 for p in d.predictors], dtype=float)
    return Extensions(level=level, xbar=xbar, dev=dev, gaps=gaps, u=u, u_more=u_more)


def _person_means(
    rng: np.random.Generator, d: ExtendedDesign, n_p: int, z_mean: np.ndarray | None
) -> np.ndarray:
    """The further predictors' true person means, persons x predictors (module docstring)."""
    xbar = np.empty((n_p, len(d.predictors)))
    for k in range(len(d.predictors)):
        xbar[:, k] = rng.standard_normal(n_p)
    if d.mean_corr is not None:
        if z_mean is None:
            raise ValueError("correlated person means need the standard normals of x_col's")
        root = np.linalg.cholesky(np.array(d.mean_corr, dtype=float))  # positive definite
        xbar = (np.column_stack([z_mean, xbar]) @ root.T)[:, 1:]
    for k, p in enumerate(d.predictors):
        xbar[:, k] = p.x_mean + p.x_sd_between * xbar[:, k]
    return xbar


def parameter_truth(d: ExtendedDesign) -> dict[str, float]:
    """The true value of every parameter of the full model, by the name a fit gives it.

    Names are those of the toolkit's fits on the prepared simulated data (observed
    centring, the mapping's factor coding): ``Intercept``; per predictor ``x``:
    ``x_cw`` (within slope), ``x_pm`` (between effect), ``x_cw:w_c`` (interaction with the
    numeric moderator ``w``) and ``x_cw|person_sigma`` (person-slope SD, when above 0);
    ``w_c``; per non-reference level ``L`` of the factor ``f`` its contrast column ``f_L``
    (intercept contrast) and ``x_cw:f_L`` (slope contrast); ``1|person_sigma``, the
    correlations ``corr(a|person,b|person)`` of effects with SDs above 0, and ``sigma``.

    The intercept and the within slopes are those at the reference level of the factor and
    at the *population* means of the numeric moderator and of the predictors' person means
    (the fit centres at the sample's means, which shifts its intercept and, through the
    interaction, its within slopes a little).
    """
    person = d.person_col
    slopes = [(d.x_col, d.g10, d.g02, d.g11, d.tau1)]
    slopes += [(p.name, p.g10, p.g02, p.g11, p.tau1) for p in d.predictors]
    truth: dict[str, float] = {"Intercept": float(d.g00)}
    for x, g10, g02, _, _ in slopes:
        truth[f"{x}_cw"] = float(g10)
        truth[f"{x}_pm"] = float(g02)
    if d.w_col is not None:
        truth[f"{d.w_col}_c"] = float(d.g01)
        for x, _, _, g11, _ in slopes:
            truth[f"{x}_cw:{d.w_col}_c"] = float(g11)
    if d.factor is not None:
        f = d.factor
        coding = factor_coding(f.name, f.levels, reference=f.resolved_reference)
        for level, column in zip(coding.coded_levels, coding.columns, strict=True):
            truth[column] = float(f.intercept.get(level, 0.0))
            for x, *_ in slopes:
                truth[f"{x}_cw:{column}"] = float(f.slopes.get(x, {}).get(level, 0.0))
    effects = [("1", d.resolved_tau0)] + [(f"{x}_cw", tau) for x, *_, tau in slopes]
    for name, tau in effects:
        if name == "1" or tau > 0:
            truth[f"{name}|{person}_sigma"] = float(tau)
    corr = (
        np.array(d.person_corr, dtype=float)
        if d.person_corr is not None
        else _default_corr(d.rho, len(effects))
    )
    for i in range(len(effects)):
        for j in range(i + 1, len(effects)):
            if effects[i][1] > 0 and effects[j][1] > 0:
                a, b = f"{effects[i][0]}|{person}", f"{effects[j][0]}|{person}"
                truth[f"corr({a},{b})"] = float(corr[i, j])
    truth["sigma"] = float(d.sigma)
    return truth


def _default_corr(rho: float, size: int) -> np.ndarray:
    corr = np.eye(size)
    corr[0, 1] = corr[1, 0] = rho
    return corr
