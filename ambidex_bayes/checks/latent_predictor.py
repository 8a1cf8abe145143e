r"""The linear predictor of a latent-centred fit, from the draws of the latent person means.

A latent-centred fit (:mod:`ambidex_bayes.model.latent_centring`) has no fixed design: its
within and between parts are functions of the latent person means :math:`\mu_j`, which are
parameters. For posterior draw :math:`s` and row :math:`i` of person :math:`j = j[i]`,

.. math::

    c^{(s)}_i = x^{(s)}_i - \mu^{(s)}_j, \qquad
    x^{(s)}_i = \begin{cases} x_i & \text{observed} \\
        \tilde x^{(s)}_i & \text{imputed (the draw of } \texttt{\{x\}\_imputed)} \end{cases}

    \eta^{(s)}_i = \beta^{(s)}_0 + \beta^{(s)}_B (\mu^{(s)}_j - \mu^{(s)}_0)
        + \beta^{(s)}_W w_j + (\beta^{(s)}_1 + \beta^{(s)}_{1W} w_j) c^{(s)}_i
        + k_i^\top\gamma^{(s)} + u^{(s)}_{0j} + u^{(s)}_{1j} c^{(s)}_i,

with :math:`\beta_0` ``Intercept``, :math:`\beta_1` ``{x}_cw``, :math:`\beta_B` ``{x}_pm``,
:math:`\beta_W` the moderator's effect, :math:`\beta_{1W}` ``{x}_cw:{w}``, :math:`\mu_0`
``{x}_mu_mean``, :math:`k_i` the row's controls (when the spec includes them) with fixed
effects :math:`\gamma` named by their columns, and :math:`u_{0j}, u_{1j}` the person effects ``1|person`` and
``{x}_cw|person`` (terms the model lacks are 0; without ``group_specific`` the person
effects are left out, the marginal predictor). :math:`w_j` is the centred moderator of
the prepared rows. With several level-1 predictors each has its own within part
:math:`c_{pi} = x_{pi} - \mu_{pj}`, between part and effects (named as the predictor's),
and the person slope multiplies the within part of the predictor that has it.

The values are computed over blocks of draws, as
:func:`~ambidex_bayes.checks.indexed_predictor.predictor_chunks` does for observed fits (which
hands latent designs to :func:`latent_chunks`):
per block, a few arrays (draws in the block) :math:`\times` rows, with each row's person
mean and person effects taken by the row's person index from the (draws :math:`\times`
persons) draws; no rows :math:`\times` persons array is ever formed, so memory grows
linearly with the rows.

:func:`latent_design` gathers the rows (the fitted rows, or new rows of known persons with
an observed predictor); :func:`latent_chunks` computes :math:`\eta`;
:func:`latent_within_draws` gives :math:`c` itself (the person slopes' predictor, which the
integrated log-likelihood needs) and :func:`latent_within_moments` its per-draw mean and mean
square over the rows (the person-slope variance of R²).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ambidex_bayes.errors import ModelError

if TYPE_CHECKING:
    import xarray as xr

    from ambidex_bayes.fit import FitResult
    from ambidex_bayes.model.latent_data import LatentNames

__all__ = [
    "CHUNK_NUMBERS",
    "LatentDesign",
    "is_latent",
    "latent_names",
    "latent_design",
    "latent_chunks",
    "latent_within_draws",
    "latent_within_moments",
    "latent_person_parameters",
]


#: Numbers (8 bytes each) that the arrays of one block of draws x rows may hold in all.
CHUNK_NUMBERS: int = 16_000_000


def is_latent(fit: FitResult) -> bool:
    """Whether ``fit`` was fitted with latent person-mean centring (``meta["centring"]``)."""
    return (getattr(fit, "meta", None) or {}).get("centring") == "latent"


def latent_person_parameters(fit: FitResult) -> frozenset[str]:
    """Posterior variables over the person dimension that are not person effects: the
    latent person means of a latent-centred fit, of every level-1 predictor it models (none
    for an observed fit)."""
    if not is_latent(fit):
        return frozenset()
    names = latent_names(fit)
    return frozenset(names.of(x).mu for x in names.predictors)


def latent_names(fit: FitResult) -> LatentNames:
    """The posterior names of a latent-centred fit's roles (from its prepared data)."""
    from ambidex_bayes.model.latent_data import LatentNames
    from ambidex_bayes.model.latent_ladder import latent_controls

    prepared = fit.prepared
    mapping = prepared.mapping
    # the predictors a fit modelled (fits of one predictor record none)
    recorded = ((getattr(fit, "meta", None) or {}).get("latent_names") or {}).get("predictors")
    predictors = tuple(recorded) if recorded else (mapping.level1[0],)
    return LatentNames(
        x=predictors[0],
        others=predictors[1:],
        y=prepared.roles["y"],
        person=mapping.person,
        w=prepared.roles.get("w"),
        # specs without the field (stand-ins of a spec) include no controls
        controls=latent_controls(fit.spec, prepared)
        if getattr(fit.spec, "include_controls", False)
        else (),
    )


@dataclass(frozen=True)
class LatentDesign:
    """What the linear predictor of a latent-centred fit needs, per row (none of it rows x
    persons).

    Attributes
    ----------
    names : LatentNames
        Posterior names of the roles.
    x : numpy.ndarray
        The raw daily predictors per row, shape (rows, P) in the order of
        ``names.predictors`` (NaN where imputed).
    imputed : numpy.ndarray of int
        Per row and predictor, the position of its value in ``{x}_imputed`` (-1 where
        observed), shape (rows, P).
    codes : numpy.ndarray of int
        Per row, the position of its person in the posterior's person dimension.
    w : numpy.ndarray or None
        The centred moderator per row.
    fixed : tuple of str
        The fixed effects in the posterior among ``Intercept``, ``{x}_cw``, ``{x}_pm``,
        ``{w}``, ``{x}_cw:{w}`` and the controls.
    persons : tuple of str
        The person effects used (empty for the marginal predictor).
    controls : numpy.ndarray or None
        The controls per row, shape (rows, K) in the order of ``names.controls``; None
        without controls.
    slope : int
        The predictor (position in ``names.predictors``) whose within part the person
        slopes multiply.
    at_mean : numpy.ndarray of bool or None
        Per row and predictor, shape (rows, P): True where the value is missing and the
        within part is taken as 0 (the predictor at the person mean); None for none.
    """

    names: LatentNames
    x: np.ndarray
    imputed: np.ndarray
    codes: np.ndarray
    w: np.ndarray | None
    fixed: tuple[str, ...]
    persons: tuple[str, ...]
    controls: np.ndarray | None = None
    slope: int = 0
    at_mean: np.ndarray | None = None

    @property
    def n_rows(self) -> int:
        """Rows of the design."""
        return int(self.x.shape[0])

    def take(self, rows: slice | np.ndarray) -> LatentDesign:
        """The design of some of its rows (a slice or positions), in that order."""
        return LatentDesign(
            names=self.names,
            x=self.x[rows],
            imputed=self.imputed[rows],
            codes=self.codes[rows],
            w=None if self.w is None else self.w[rows],
            fixed=self.fixed,
            persons=self.persons,
            controls=None if self.controls is None else self.controls[rows],
            slope=self.slope,
            at_mean=None if self.at_mean is None else self.at_mean[rows],
        )


def _person_codes(
    posterior: xr.Dataset, names: LatentNames, persons: pd.Series, model: str
) -> np.ndarray:
    dim = names.person_dim
    if dim not in posterior.coords and dim not in posterior.dims:
        raise ModelError(
            f"{model}: the posterior has no person dimension {dim!r}; it is not a "
            "latent-centred fit of this version of ambidex_bayes."
        )
    labels = pd.Index(np.asarray(posterior[dim].values).astype(str))
    codes = labels.get_indexer(persons.astype(str).to_numpy())
    if np.any(codes < 0):
        unknown = pd.unique(persons.astype(str).to_numpy()[codes < 0])
        shown = ", ".join(str(u) for u in unknown[:5])
        raise ModelError(
            f"{model}: {len(unknown)} person(s) of the rows ({shown}) have no latent person "
            "mean in the posterior; a latent-centred fit predicts known persons only."
        )
    return codes


def _imputed_positions(fit: FitResult, names: LatentNames, frame: pd.DataFrame) -> np.ndarray:
    """Per row of the fitted frame and predictor, the position of its imputed value (-1
    where observed), shape (rows, P).

    The imputed values are ordered as :func:`~ambidex_bayes.model.latent_data.latent_data`
    orders them (each predictor's ``imputed_source_rows``), which the fit used.
    """
    from ambidex_bayes.model.latent_data import latent_data

    P = len(names.predictors)
    positions = np.full((len(frame), P), -1)
    if not frame[list(names.predictors)].isna().any().any():
        return positions
    data = latent_data(
        frame,
        y=names.y,
        x=names.x,
        person=names.person,
        w=names.w,
        controls=names.controls,
        others=names.others,
    )
    for p in range(P):
        rows = data.predictor(p).imputed_source_rows
        positions[rows, p] = np.arange(len(rows))
    return positions


def latent_design(
    fit: FitResult,
    posterior: xr.Dataset,
    *,
    group_specific: bool = True,
    data: pd.DataFrame | None = None,
    at_person_mean: bool = False,
) -> LatentDesign:
    """The rows of a latent-centred fit's linear predictor: the fitted rows or ``data``.

    Parameters
    ----------
    fit : FitResult
        A latent-centred fit (``meta["centring"] == "latent"``).
    posterior : Dataset
        The draws (for the persons' order and the terms present).
    group_specific : bool
        Include the person effects (conditional predictor) or not (marginal).
    data : DataFrame, optional
        Rows with the prepared columns (raw predictor, moderator, controls, person); default the
        fitted rows. Their persons must be known to the fit and their predictor observed
        (unless ``at_person_mean``).
    at_person_mean : bool
        Rows of ``data`` may lack a level-1 predictor: its within part is then 0, the row's
        value at the person mean (:attr:`LatentDesign.at_mean`; the mean of the predictor
        given the person mean, which a left-out row's score integrates around, see
        :func:`~ambidex_bayes.checks.latent_log_likelihood.latent_left_out_log_density`).

    Returns
    -------
    LatentDesign

    Raises
    ------
    ModelError
        A fitted row without an outcome, new rows with a missing predictor or an unknown
        person, or a missing column.
    """
    names = latent_names(fit)
    model = fit.spec.name
    fitted = data is None
    rows = (fit.prepared.frame if fitted else data).reset_index(drop=True)
    needed = [
        c for c in (*names.predictors, names.person, names.w, *names.controls) if c is not None
    ]
    lacking = [c for c in needed if c not in rows.columns]
    if lacking:
        raise ModelError(f"{model}: the rows lack the column(s) {lacking} of the latent model.")
    if fitted:
        if names.y in rows.columns and rows[names.y].isna().any():
            raise ModelError(
                f"{model}: {int(rows[names.y].isna().sum())} fitted row(s) have no outcome; "
                "the checks of a latent-centred fit need the rows with an outcome."
            )
        imputed = _imputed_positions(fit, names, rows)
    else:
        for column in names.predictors:
            if rows[column].isna().any() and not at_person_mean:
                raise ModelError(
                    f"{model}: {int(rows[column].isna().sum())} new row(s) have no value of "
                    f"{column!r}; a latent-centred fit imputes only the fitted rows."
                )
        imputed = np.full((len(rows), len(names.predictors)), -1)
    x = rows[list(names.predictors)].to_numpy(dtype=float, copy=True)
    at_mean = np.isnan(x) if not fitted and at_person_mean and np.isnan(x).any() else None
    if fitted and np.any(np.isnan(x) & (imputed < 0)):
        raise ModelError(
            f"{model}: some fitted rows have no value of {list(names.predictors)} and none "
            "was imputed; the fit and its data do not belong together."
        )
    each = [names.of(column) for column in names.predictors]
    candidates = [
        "Intercept",
        *(n for vn in each for n in (vn.within, vn.between)),
        names.w,
        *(vn.interaction for vn in each),
        *names.controls,
    ]
    fixed = tuple(c for c in candidates if c is not None and c in posterior.data_vars)
    slope = next((p for p, vn in enumerate(each) if vn.slope_effect in posterior.data_vars), 0)
    persons: tuple[str, ...] = ()
    if group_specific:
        persons = tuple(
            n
            for n in (names.intercept_effect, each[slope].slope_effect)
            if n in posterior.data_vars
        )
    return LatentDesign(
        names=names,
        x=x,
        imputed=imputed,
        codes=_person_codes(posterior, names, rows[names.person], model),
        w=None if names.w is None else rows[names.w].to_numpy(dtype=float, copy=True),
        fixed=fixed,
        persons=persons,
        controls=_controls(rows, names, model),
        slope=slope,
        at_mean=at_mean,
    )


def _controls(rows: pd.DataFrame, names: LatentNames, model: str) -> np.ndarray | None:
    """The controls of ``rows`` as (rows, K), or None without controls."""
    if not names.controls:
        return None
    values = rows[list(names.controls)].to_numpy(dtype=float, copy=True)
    if np.isnan(values).any():
        raise ModelError(
            f"{model}: some rows have no value of a control ({list(names.controls)}); the "
            "latent linear predictor needs every control."
        )
    return values


def _draws(posterior: xr.Dataset, name: str, model: str) -> np.ndarray:
    """A variable's draws as ``(chain * draw, ...)`` (chains one after another)."""
    if name not in posterior.data_vars:
        raise ModelError(
            f"{model}: the posterior has no variable {name!r}, which the latent linear "
            "predictor needs; refit the model with this version of ambidex_bayes."
        )
    values = np.asarray(posterior[name].transpose("chain", "draw", ...).values, dtype=float)
    return values.reshape(values.shape[0] * values.shape[1], *values.shape[2:])


def _within_parts(
    design: LatentDesign, posterior: xr.Dataset, model: str, p: int
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Of predictor ``p``: draws of the person means (S, J), of the imputed values (S, k)
    or None, and the rows whose value is imputed."""
    names = design.names.of(design.names.predictors[p])
    mu = _draws(posterior, names.mu, model)
    where = np.flatnonzero(design.imputed[:, p] >= 0)
    x_imp = _draws(posterior, names.imputed, model) if where.size else None
    return mu, x_imp, where


def _within(
    design: LatentDesign,
    mu_rows: np.ndarray,
    x_imp: np.ndarray | None,
    where: np.ndarray,
    block: slice,
    p: int = 0,
) -> np.ndarray:
    """:math:`c = x_p - \\mu_{p,j[i]}` for the draws of ``block``, shape (draws, rows)."""
    c = np.subtract(design.x[:, p], mu_rows)  # NaN where imputed, filled next
    if x_imp is not None:
        c[:, where] = x_imp[block][:, design.imputed[where, p]] - mu_rows[:, where]
    if design.at_mean is not None:
        c[:, design.at_mean[:, p]] = 0.0
    return c


def latent_chunks(
    design: LatentDesign,
    posterior: xr.Dataset,
    *,
    name: str = "the model",
    numbers: int | None = None,
) -> Iterator[tuple[slice, np.ndarray]]:
    r"""The latent linear predictor :math:`\eta` over blocks of draws: ``(draws, block)``.

    Draws are flattened chain after chain; each block is an array ``(draws in the block,
    rows)``, the module docstring's :math:`\eta`; the arrays of a block hold at most
    ``numbers`` numbers in all (default :data:`CHUNK_NUMBERS`; at least one draw). Each
    block is a new array.

    Parameters
    ----------
    design : LatentDesign
    posterior : Dataset
        Draws of the fixed effects, person means (and imputed x) and person effects.
    name : str
        Named in error messages (the model).
    numbers : int, optional
        Size of a block, in numbers.
    """
    nm = design.names
    n_draws = posterior.sizes["chain"] * posterior.sizes["draw"]
    beta = {v: _draws(posterior, v, name) for v in design.fixed}
    each = [nm.of(column) for column in nm.predictors]
    parts = [_within_parts(design, posterior, name, p) for p in range(len(each))]
    mu0 = [_draws(posterior, vn.mu_mean, name) if vn.between in beta else None for vn in each]
    effects = {v: _draws(posterior, v, name) for v in design.persons}
    slope_effect = each[design.slope].slope_effect
    present = [c for c in nm.controls if c in beta]
    gamma = np.stack([beta[c] for c in present], axis=1) if present else None
    if len(present) < len(nm.controls):
        raise ModelError(
            f"{name}: the posterior lacks the control(s) "
            f"{sorted(set(nm.controls) - set(present))} of the latent model."
        )
    zero = np.zeros(n_draws)
    n = design.n_rows
    # up to about eight arrays of the block's size (with temporaries) are alive at a time
    step = max(1, int(numbers or CHUNK_NUMBERS) // max(8 * n, 1))
    for start in range(0, n_draws, step):
        block = slice(start, min(start + step, n_draws))
        eta = np.zeros((block.stop - block.start, n))
        for p, vn in enumerate(each):
            mu, x_imp, where = parts[p]
            mu_rows = mu[block][:, design.codes]
            c = _within(design, mu_rows, x_imp, where, block, p)
            slope = beta.get(vn.within, zero)[block][:, None]
            if vn.interaction in beta and design.w is not None:
                slope = slope + beta[vn.interaction][block][:, None] * design.w
            if p == design.slope and slope_effect in effects:
                slope = slope + effects[slope_effect][block][:, design.codes]
            eta += slope * c
            if mu0[p] is not None:
                eta += beta[vn.between][block][:, None] * (mu_rows - mu0[p][block][:, None])
        eta += beta.get("Intercept", zero)[block][:, None]
        if nm.w in beta and design.w is not None:
            eta += beta[nm.w][block][:, None] * design.w
        if nm.intercept_effect in effects:
            eta += effects[nm.intercept_effect][block][:, design.codes]
        if gamma is not None and design.controls is not None:
            eta += gamma[block] @ design.controls.T
        yield block, eta


def latent_within_moments(
    design: LatentDesign, posterior: xr.Dataset, *, name: str = "the model"
) -> tuple[np.ndarray, np.ndarray]:
    r"""Per draw, the mean over rows of the within part :math:`c` (of the predictor with
    person slopes) and of :math:`c^2`.

    :math:`\bar c^{(s)} = \frac1n\sum_i c^{(s)}_i` and
    :math:`\overline{c^2}^{(s)} = \frac1n\sum_i (c^{(s)}_i)^2` (module docstring), over
    blocks of draws.

    Returns
    -------
    mean, mean_square : numpy.ndarray
        Shape ``(chain * draw,)`` each.
    """
    n_draws = posterior.sizes["chain"] * posterior.sizes["draw"]
    p = design.slope
    mu, x_imp, where = _within_parts(design, posterior, name, p)
    mean, square = np.empty(n_draws), np.empty(n_draws)
    step = max(1, CHUNK_NUMBERS // max(4 * design.n_rows, 1))
    for start in range(0, n_draws, step):
        block = slice(start, min(start + step, n_draws))
        c = _within(design, mu[block][:, design.codes], x_imp, where, block, p)
        mean[block] = c.mean(axis=1)
        square[block] = np.mean(c * c, axis=1)
    return mean, square


def latent_within_draws(
    design: LatentDesign, posterior: xr.Dataset, *, name: str = "the model"
) -> np.ndarray:
    r"""The within part :math:`c^{(s)}_i = x^{(s)}_i - \mu^{(s)}_{j[i]}` (of the predictor
    with person slopes) of every draw and row, shape ``(chain * draw, rows)`` (for a few rows at a time: it is draws x rows)."""
    p = design.slope
    mu, x_imp, where = _within_parts(design, posterior, name, p)
    every = slice(0, mu.shape[0])
    return _within(design, mu[:, design.codes], x_imp, where, every, p)
