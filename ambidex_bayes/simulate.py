r"""Simulate two-level daily-diary studies with a known truth.

The generating model is the toolkit's model family. For person :math:`j` on day :math:`i`,

.. math::

    y_{ij} = \gamma_{00} + \gamma_{01} W^c_j + \gamma_{02} \bar x^c_j
             + (\gamma_{10} + \gamma_{11} W^c_j + u_{1j})\,(x_{ij} - \bar x_j)
             + u_{0j} + e_{ij}

    (u_{0j}, u_{1j}) \sim \mathrm{MVN}\!\left(0,
        \begin{pmatrix} \tau_0^2 & \rho\tau_0\tau_1 \\ \rho\tau_0\tau_1 & \tau_1^2 \end{pmatrix}
    \right), \qquad e_{ij} \sim N(0, \sigma^2)

with the predictor split into a person's *true* mean and a daily deviation,

.. math::

    x_{ij} = \bar x_j + d_{ij}, \qquad \bar x_j \sim N(\mu_x, s_{x,b}^2), \qquad
    d_{ij} \sim N(0, s_{x,w}^2),

the moderator :math:`W_j \sim N(\mu_W, s_W^2)` drawn once per person, and the centred terms
:math:`W^c_j = W_j - \mu_W` and :math:`\bar x^c_j = \bar x_j - \mu_x` taken at the *population*
means of the design. The simple slope of :math:`y` on the within-person part of :math:`x` at
moderator value :math:`w` is :math:`\gamma_{10} + \gamma_{11}(w - \mu_W)`.

Random effects are drawn as :math:`u_{0j} = \tau_0 z_{0j}` and
:math:`u_{1j} = \tau_1(\rho z_{0j} + \sqrt{1-\rho^2}\, z_{1j})` with independent standard
normal :math:`z`, so :math:`\rho = \pm 1` (a singular covariance) is allowed.

The intercept SD is given either directly (``tau0``) or through the intercept-only intraclass
correlation :math:`\mathrm{ICC} = \tau_0^2 / (\tau_0^2 + \sigma^2)`, so that
:math:`\tau_0 = \sigma\sqrt{\mathrm{ICC}/(1-\mathrm{ICC})}`.

Bounded rating scales: with ``likert=(lo, hi)`` the observed ``y``, ``x`` and ``W`` are rounded
to the nearest integer and clipped to ``[lo, hi]`` *after* the outcome was generated from the
continuous values. The truth then describes the latent continuous model; on the rounded scale
it holds only approximately (rounding adds measurement error that attenuates the slopes a
little, and clipping bends them near the bounds). The moderator is rounded once per person, so
it stays constant within person.

The design itself, its checks and the reference design are in
:mod:`ambidex_bayes.simulation_design`; this module draws the data. An
:class:`~ambidex_bayes.simulation_design.ExtendedDesign` adds further level-1 predictors, a
factor moderator with per-level effects (treatment contrasts) and correlated person effects;
their equations and draws are in :mod:`ambidex_bayes.simulate_extensions`.

Latent centring
---------------
The person means :math:`\bar x_j` above are the predictor's *true* (latent) person means, so
the generating model is also the model of latent person-mean centring
(:mod:`ambidex_bayes.model.latent_centring`): its person means :math:`\mu_j = \bar x_j`,
their mean :math:`\mu_0 = \mu_x` and SD :math:`\tau_x = s_{x,b}`, the within-person SD
:math:`\sigma_x = s_{x,w}`, no effect of the moderator on the person means, and the between
effect :math:`\beta_B = \gamma_{02}` on the centred latent mean. The truth records these
under the latent fit's names (``{x}_pm``, ``{x}_mu_mean``, ``{x}_mu_sd``, ``{x}_within_sd``,
``{x}_mu:{w}_c``) and :attr:`SimulatedStudy.person_means` gives the true person means
(``{x}_mu``; :meth:`SimulatedStudy.all_person_means` those of every level-1 predictor),
so a latent fit can be compared with them. An
:class:`~ambidex_bayes.simulation_design.ExtendedDesign`'s further predictors are split in
the same way, each with its own true person means (correlated with ``mean_corr``), and
their parameters are recorded under their own names. Observed centring estimates the
between effect on the observed means :math:`\frac1{n_j}\sum_i x_{ij}`, which attenuates it
by their reliability :math:`\tau_x^2 / (\tau_x^2 + \sigma_x^2 / n_j)` (Lüdtke et al., 2008).

Everything random comes from one :class:`numpy.random.Generator`; the same seed gives the same
data frame, row for row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ambidex_bayes.engine.limits import check_seed
from ambidex_bayes.simulate_extensions import draw_extensions, parameter_truth
from ambidex_bayes.simulation_design import (
    DesignError,
    DiaryDistribution,
    ExtendedDesign,
    SimulationDesign,
    diary_count_probabilities,
    reference_design,
)
from ambidex_bayes.simulation_terms import FactorModerator, Level1Predictor

# The design (its fields, checks, diary-count distribution and the reference design) lives in
# :mod:`ambidex_bayes.simulation_design`; its names are re-exported here, where they have
# always been imported from.
__all__ = [
    "DesignError",
    "DiaryDistribution",
    "SimulationDesign",
    "ExtendedDesign",
    "Level1Predictor",
    "FactorModerator",
    "SimulatedStudy",
    "simulate_diary",
    "latent_truth",
    "reference_design",
    "diary_count_probabilities",
]


@dataclass(frozen=True, eq=False)
class SimulatedStudy:
    """A simulated diary study and the truth behind it.

    Attributes
    ----------
    data : pandas.DataFrame
        Long table, one row per person-day, columns ``person_col`` (ids like ``"P001"``),
        ``occasion_col`` (1, 2, ... within person), ``y_col``, ``x_col``, the further
        predictors' columns (of an :class:`ExtendedDesign`), ``w_col`` (unless None) and the
        factor's column (text levels).
    truth : dict of str to float
        ``g00, g01, g02, g10, g11, tau0, tau1, rho, sigma, icc`` of the design (``tau0`` and
        ``icc`` resolved), plus, with a numeric moderator, ``w_mean_persons`` and
        ``w_sd_persons`` (mean and SD, ddof=1, of the *observed* moderator over the sampled
        persons, one value per person) and ``simple_slope_low`` / ``simple_slope_high``:
        the true simple slopes at ``w_mean_persons -/+ w_sd_persons``. An
        :class:`ExtendedDesign` adds the true value of every model parameter under the name
        a fit gives it (``"uncertainty_cw"``, ``"uncertainty_cw:sector_B"``,
        ``"1|person_id_sigma"``, ...; :func:`~ambidex_bayes.simulate_extensions.parameter_truth`).
        Every design adds, per level-1 predictor ``x``, the parameters of latent centring
        under a latent fit's names (:func:`latent_truth`): ``{x}_pm`` (between effect on the
        centred true person mean), ``{x}_mu_mean``, ``{x}_mu_sd``, ``{x}_within_sd`` and,
        with a numeric moderator ``w``, ``{x}_mu:{w}_c`` (0: the moderator does not shift
        the person means).
    design : SimulationDesign
        The design that generated the data.
    mapping : dict
        Column roles in the form a column mapping takes: ``person``, ``occasion``,
        ``outcome``, ``level1`` (list), ``level2`` (list) and ``ranges`` (column to
        ``[low, high]``; empty without ``likert``); with a factor moderator also
        ``factors``, naming its reference level.
    effects : pandas.DataFrame
        One row per person: ``person_col``, ``n_diaries``, ``w_true`` (latent moderator),
        ``w_c`` (:math:`W_j - \\mu_W`), ``xbar_true`` (true person mean of x),
        ``xbar_c`` (:math:`\\bar x_j - \\mu_x`), ``u0`` and ``u1`` (the person effects); an
        :class:`ExtendedDesign` adds ``level`` (the person's factor level) and per further
        predictor ``x``: ``xbar_true_x``, ``xbar_c_x`` and ``u1_x``.
    """

    data: pd.DataFrame
    truth: dict[str, float]
    design: SimulationDesign
    mapping: dict[str, Any]
    effects: pd.DataFrame = field(repr=False)

    def simple_slope(self, w: float) -> float:
        r"""True population-level slope of y on within-person x at moderator value ``w``.

        :math:`\gamma_{10} + \gamma_{11}(w - \mu_W)`, with :math:`\mu_W` the design's
        ``w_mean`` (person effects at zero).
        """
        d = self.design
        return float(d.g10 + d.g11 * (w - d.w_mean))

    def person_means(self, predictor: str | None = None) -> pd.Series:
        """The true (latent) person means of a level-1 predictor, one per person.

        Parameters
        ----------
        predictor : str, optional
            The predictor's column (default the design's ``x_col``).

        Returns
        -------
        pandas.Series
            Indexed by person id (``person_col``), named ``{x}_mu`` as the person means of a
            latent fit (on the continuous scale, before any rounding to ``likert``).

        Examples
        --------
        >>> study = ab.simulate(ab.reference_design(n_persons=5), seed=1)
        >>> study.person_means().name, len(study.person_means())
        ('uncertainty_mu', 5)
        """
        d = self.design
        x = d.x_col if predictor is None else predictor
        if x not in d.predictor_names:
            raise DesignError(
                f"{x!r} is not a level-1 predictor of the design ({', '.join(d.predictor_names)})"
            )
        column = "xbar_true" if x == d.x_col else f"xbar_true_{x}"
        values = self.effects[column].to_numpy(dtype=float)
        index = pd.Index(self.effects[d.person_col].astype(str), name=d.person_col)
        return pd.Series(values, index=index, name=f"{x}_mu")

    def all_person_means(self) -> pd.DataFrame:
        """The true (latent) person means of every level-1 predictor of the design.

        Returns
        -------
        pandas.DataFrame
            One row per person (indexed by ``person_col``), one column ``{x}_mu`` per
            level-1 predictor (``x_col`` first), each as :meth:`person_means` gives it.

        Examples
        --------
        >>> design = ab.reference_design(
        ...     n_persons=5, predictors=[{"name": "workload", "x_mean": 2.0}]
        ... )
        >>> ab.simulate(design, seed=1).all_person_means().columns.tolist()
        ['uncertainty_mu', 'workload_mu']
        """
        return pd.concat([self.person_means(x) for x in self.design.predictor_names], axis=1)


def _person_ids(n: int) -> list[str]:
    width = max(3, len(str(n)))
    return [f"P{j:0{width}d}" for j in range(1, n + 1)]


def _to_scale(values: np.ndarray, likert: tuple[float, float] | None) -> np.ndarray:
    if likert is None:
        return values
    return np.clip(np.rint(values), likert[0], likert[1])


def _make_gaps(rng: np.random.Generator, n_rows: int, rate: float) -> np.ndarray:
    mask = np.zeros(n_rows, dtype=bool)
    n_missing = int(round(rate * n_rows))
    if n_missing:
        mask[rng.choice(n_rows, size=n_missing, replace=False)] = True
    return mask


def simulate_diary(design: SimulationDesign, *, seed: int | np.random.Generator) -> SimulatedStudy:
    """Simulate one diary study from ``design``.

    Parameters
    ----------
    design : SimulationDesign
        The design (validated when it was built).
    seed : int or numpy.random.Generator
        Seed of :func:`numpy.random.default_rng`, or a generator to draw from (it is
        advanced). The same integer seed always gives the same data frame.

    Returns
    -------
    SimulatedStudy
        The long data table, the truth, the design, a column mapping and the hidden person
        effects.

    Notes
    -----
    Draw order (fixed, so results are reproducible): diary counts; per person the moderator,
    the true mean of x and two standard normals for the person effects; per row the daily
    deviation of x and the residual; then the outcome gaps and the predictor gaps; then the
    further parts of an :class:`ExtendedDesign` (:mod:`ambidex_bayes.simulate_extensions`),
    so a plain design's data do not depend on them. See the module docstring for the model.

    Examples
    --------
    A study of 20 persons from the reference design, and the truth behind it:

    >>> study = ab.simulate(ab.reference_design(n_persons=20), seed=1)
    >>> study.data.columns.tolist()
    ['person_id', 'day', 'innovation', 'uncertainty', 'leader_support']
    >>> study.data["person_id"].nunique(), study.truth["g11"]
    (20, 0.25)

    Its column mapping makes it an analysis' input like any diary file:

    >>> diary = ab.load_diary(study.data, study.mapping)
    >>> diary.compliance.n_persons
    20
    """
    if not isinstance(design, SimulationDesign):
        raise DesignError(
            f"design must be a SimulationDesign, got {type(design).__name__}; "
            "build one with SimulationDesign(...) or reference_design()"
        )
    is_int_seed = isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)
    if not (is_int_seed or isinstance(seed, np.random.Generator)):
        raise DesignError(
            f"seed must be an int or a numpy.random.Generator, got {type(seed).__name__}"
        )
    if is_int_seed:  # numpy takes any whole number >= 0 (the tasks of a run use 63 bits)
        check_seed(seed, high=2**64 - 1)
    from ambidex_bayes.memory import check_simulation_memory

    check_simulation_memory(design)  # before any allocation
    rng = np.random.default_rng(seed)
    d = design
    n_p = int(d.n_persons)

    counts_pmf = diary_count_probabilities(d)
    n_diaries = rng.choice(counts_pmf.index.to_numpy(), size=n_p, p=counts_pmf.to_numpy())

    w_true = d.w_mean + d.w_sd * rng.standard_normal(n_p)
    z_mean = rng.standard_normal(n_p)
    xbar_true = d.x_mean + d.x_sd_between * z_mean
    z = rng.standard_normal((n_p, 2))
    tau0 = d.resolved_tau0

    n_rows = int(n_diaries.sum())
    person_idx = np.repeat(np.arange(n_p), n_diaries)
    day = np.concatenate([np.arange(1, k + 1) for k in n_diaries])
    dev = d.x_sd_within * rng.standard_normal(n_rows)
    resid = d.sigma * rng.standard_normal(n_rows)
    gaps_y = _make_gaps(rng, n_rows, d.missing_rate)
    gaps_x = _make_gaps(rng, n_rows, d.missing_rate_x)
    # a design's further parts draw after everything else, so a plain design's draws (and
    # data) are the same as before there were any
    ext = draw_extensions(rng, d, n_rows, z, z_mean) if isinstance(d, ExtendedDesign) else None

    if ext is not None and ext.u is not None:
        u0, u1 = ext.u[:, 0], ext.u[:, 1]
    else:
        u0 = tau0 * z[:, 0]
        u1 = d.tau1 * (d.rho * z[:, 0] + math.sqrt(max(0.0, 1.0 - d.rho**2)) * z[:, 1])

    w_c = w_true - d.w_mean
    xbar_c = xbar_true - d.x_mean
    x = xbar_true[person_idx] + dev
    slope = d.g10 + d.g11 * w_c + u1
    y = (
        d.g00
        + d.g01 * w_c[person_idx]
        + d.g02 * xbar_c[person_idx]
        + slope[person_idx] * dev
        + u0[person_idx]
        + resid
    )
    if ext is not None:
        y = y + ext.outcome_part(d, person_idx, w_c, dev)

    y_obs = _to_scale(y, d.likert)
    x_obs = _to_scale(x, d.likert)
    w_obs_person = _to_scale(w_true, d.likert)
    y_obs[gaps_y] = np.nan
    x_obs[gaps_x] = np.nan

    ids = np.asarray(_person_ids(n_p), dtype=object)
    columns = {
        d.person_col: pd.Series(ids[person_idx], dtype="str"),
        d.occasion_col: day.astype(np.int64),
        d.y_col: y_obs.astype(np.float64),
        d.x_col: x_obs.astype(np.float64),
    }
    if ext is not None:
        columns.update(ext.predictor_columns(d, person_idx))
    if d.w_col is not None:
        columns[d.w_col] = w_obs_person[person_idx].astype(np.float64)
    if ext is not None and ext.level is not None:
        assert isinstance(d, ExtendedDesign) and d.factor is not None
        levels = np.asarray(d.factor.levels, dtype=object)
        columns[d.factor.name] = pd.Series(levels[ext.level[person_idx]], dtype="str")
    data = pd.DataFrame(columns)
    effects = pd.DataFrame(
        {
            d.person_col: pd.Series(ids, dtype="str"),
            "n_diaries": n_diaries.astype(np.int64),
            "w_true": w_true,
            "w_c": w_c,
            "xbar_true": xbar_true,
            "xbar_c": xbar_c,
            "u0": u0,
            "u1": u1,
        }
    )
    if ext is not None:
        effects = pd.concat([effects, ext.effects(d)], axis=1)

    truth: dict[str, float] = {
        "g00": float(d.g00),
        "g01": float(d.g01),
        "g02": float(d.g02),
        "g10": float(d.g10),
        "g11": float(d.g11),
        "tau0": tau0,
        "tau1": float(d.tau1),
        "rho": float(d.rho),
        "sigma": float(d.sigma),
        "icc": d.resolved_icc,
    }
    if d.w_col is not None:
        w_mean_p = float(np.mean(w_obs_person))
        w_sd_p = float(np.std(w_obs_person, ddof=1)) if n_p > 1 else 0.0
        truth.update(
            {
                "w_mean_persons": w_mean_p,
                "w_sd_persons": w_sd_p,
                "simple_slope_low": float(d.g10 + d.g11 * (w_mean_p - w_sd_p - d.w_mean)),
                "simple_slope_high": float(d.g10 + d.g11 * (w_mean_p + w_sd_p - d.w_mean)),
            }
        )
    if d.extended:
        truth.update(parameter_truth(d))
    truth.update(latent_truth(d))
    return SimulatedStudy(
        data=data, truth=truth, design=d, mapping=_mapping_for(d), effects=effects
    )


def latent_truth(d: SimulationDesign) -> dict[str, float]:
    r"""The parameters of latent person-mean centring under a latent fit's names.

    Parameters
    ----------
    d : SimulationDesign

    Returns
    -------
    dict of str to float
        Per level-1 predictor ``x`` (the design's ``x_col`` and an
        :class:`ExtendedDesign`'s further predictors): ``{x}_pm`` (:math:`\gamma_{02}`, the
        between effect on the centred true person mean), ``{x}_mu_mean`` (:math:`\mu_x`),
        ``{x}_mu_sd`` (:math:`s_{x,b}`), ``{x}_within_sd`` (:math:`s_{x,w}`) and, with a
        numeric moderator ``w``, ``{x}_mu:{w}_c`` = 0 (module docstring); with an
        :class:`ExtendedDesign`'s ``mean_corr``, the correlation of each pair's true person
        means ``corr({x}_mu,{z}_mu)`` (the latent model has no such parameter: it gives
        each predictor's person means a prior of their own).
    """
    parts = [(d.x_col, d.g02, d.x_mean, d.x_sd_between, d.x_sd_within)]
    if isinstance(d, ExtendedDesign):
        parts += [(p.name, p.g02, p.x_mean, p.x_sd_between, p.x_sd_within) for p in d.predictors]
    truth: dict[str, float] = {}
    for x, g02, mean, sd_between, sd_within in parts:
        truth[f"{x}_pm"] = float(g02)
        truth[f"{x}_mu_mean"] = float(mean)
        truth[f"{x}_mu_sd"] = float(sd_between)
        truth[f"{x}_within_sd"] = float(sd_within)
        if d.w_col is not None:
            truth[f"{x}_mu:{d.w_col}_c"] = 0.0
    corr = getattr(d, "mean_corr", None)
    if corr is not None:
        names = d.predictor_names
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                truth[f"corr({names[i]}_mu,{names[j]}_mu)"] = float(corr[i][j])
    return truth


def _mapping_for(d: SimulationDesign) -> dict[str, Any]:
    level1 = list(d.predictor_names)
    level2 = [] if d.w_col is None else [d.w_col]
    ranges: dict[str, list[int]] = {}
    if d.likert is not None:
        bounds = [int(d.likert[0]), int(d.likert[1])]
        ranges = {c: list(bounds) for c in (d.y_col, *level1, *level2)}
    mapping: dict[str, Any] = {
        "person": d.person_col,
        "occasion": d.occasion_col,
        "outcome": d.y_col,
        "level1": level1,
        "level2": level2,
        "ranges": ranges,
    }
    factor = d.factor if isinstance(d, ExtendedDesign) else None
    if factor is not None:
        mapping["level2"] = [*level2, factor.name]
        mapping["factors"] = {factor.name: {"reference": factor.resolved_reference}}
    return mapping
