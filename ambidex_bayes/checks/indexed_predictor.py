r"""The linear predictor of a fit from its fixed design and per-person index vectors.

For posterior draw :math:`s` and row :math:`i` of person :math:`j[i]`,

.. math::

    \mu^{(s)}_i = x_i'\beta^{(s)} + \sum_k z_{ik}\, u^{(s)}_{k,j[i]},

with :math:`x_i` the row of the fixed design (rows :math:`\times` p, the formula's fixed part
evaluated as Bambi evaluates it) and, per person-effect term :math:`k` (``1|person``,
``x|person``), its predictor column :math:`z_{\cdot k}` (ones for the intercept) and the
person's deviation indexed by the row's person code. The dense rows :math:`\times`
persons design of the person effects that Bambi's ``Model.predict`` builds is never formed:
memory grows linearly with the rows, and the draws are computed in chunks so that the
temporaries stay at :data:`CHUNK_NUMBERS` numbers whatever the number of draws.

:func:`predictor_design` gathers the design of the fitted rows or of new rows (new rows of
known persons, or -- without person effects -- of anyone); :func:`linear_predictor_draws`
computes :math:`\mu` for every draw of a posterior. A latent-centred fit has no fixed design
(its within and between parts move with each draw of the latent person means): its design
and blocks come from :mod:`ambidex_bayes.checks.latent_predictor`, through the same two
functions.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ambidex_bayes.checks.latent_predictor import (
    LatentDesign,
    is_latent,
    latent_chunks,
    latent_design,
)
from ambidex_bayes.errors import ModelError
from ambidex_bayes.formula_guard import check_formula

if TYPE_CHECKING:
    import xarray as xr

    from ambidex_bayes.fit import FitResult

__all__ = [
    "CHUNK_NUMBERS",
    "PersonTerm",
    "PredictorDesign",
    "fixed_design",
    "person_terms",
    "predictor_design",
    "predictor_chunks",
    "linear_predictor_draws",
]

#: Numbers (8 bytes each) a chunk of draws x rows may hold while the predictor is computed.
CHUNK_NUMBERS: int = 4_000_000

#: Elementwise functions a formula may call that formulae does not define itself (as Bambi).
_NAMESPACE = {
    "log": np.log,
    "log2": np.log2,
    "log10": np.log10,
    "exp": np.exp,
    "exp2": np.exp2,
    "abs": np.abs,
}

#: Suffix of the posterior dimension that lists a grouping factor's persons (Bambi's naming).
_FACTOR_DIM = "__factor_dim"


@dataclass(frozen=True)
class PersonTerm:
    """One person-effect term of the linear predictor, by index vector.

    Attributes
    ----------
    name : str
        The posterior variable of the deviations (e.g. ``"1|person"``).
    codes : numpy.ndarray
        Per row, the position of the row's person in the variable's person dimension.
    predictor : numpy.ndarray
        Per row, the value the deviation multiplies (ones for an intercept).
    """

    name: str
    codes: np.ndarray
    predictor: np.ndarray


@dataclass(frozen=True)
class PredictorDesign:
    """What the linear predictor of some rows needs, none of it rows x persons.

    Attributes
    ----------
    X : numpy.ndarray
        Fixed design, rows x p.
    fixed_names : tuple of str
        The posterior variable of each column of ``X``.
    persons : tuple of PersonTerm
        The person-effect terms (empty for the marginal, fixed-part predictor).
    """

    X: np.ndarray
    fixed_names: tuple[str, ...]
    persons: tuple[PersonTerm, ...]

    @property
    def n_rows(self) -> int:
        """Rows of the design."""
        return int(self.X.shape[0])

    def take(self, rows: slice | np.ndarray) -> PredictorDesign:
        """The design of some of its rows (a slice or positions), in that order."""
        return PredictorDesign(
            X=self.X[rows],
            fixed_names=self.fixed_names,
            persons=tuple(
                PersonTerm(name=t.name, codes=t.codes[rows], predictor=t.predictor[rows])
                for t in self.persons
            ),
        )


def _model_rows(data: pd.DataFrame, names: frozenset[str]) -> pd.DataFrame:
    used = [c for c in data.columns if c in names]
    return data[used].reset_index(drop=True)


def fixed_design(fit: FitResult, data: pd.DataFrame | None = None) -> tuple[np.ndarray, list[str]]:
    """The fixed design of the fitted rows, or of ``data`` evaluated as the fitted rows were.

    The formula's fixed part is evaluated by formulae on the fitted rows, as Bambi evaluates
    it (same columns, names and order); new rows are evaluated with the fitted rows'
    state (``evaluate_new_data``), as Bambi's ``predict(data=...)`` does.

    Parameters
    ----------
    fit : FitResult
    data : DataFrame, optional
        Rows with the prepared columns; default the fitted rows.

    Returns
    -------
    X : numpy.ndarray
        Rows x p.
    names : list of str
        Names of the columns (the fixed effects' posterior variables).

    Raises
    ------
    ModelError
        A latent-centred fit (its design is not the prepared columns; see
        :func:`predictor_design`).
    """
    import formulae

    if is_latent(fit):
        # its design uses the latent person means of each draw, not the prepared columns
        raise ModelError(
            f"{fit.spec.name} was fitted with latent centring: predictive checks, "
            "log-likelihoods (LOO) and R² take its linear predictor from the draws of the "
            "latent person means (predictor_design and ambidex_bayes.checks.latent_predictor), "
            "not from a fixed design of the prepared columns."
        )
    parts = check_formula(fit.formula, source=f"{fit.spec.name}'s formula")
    fitted = _model_rows(fit.prepared.frame, parts.names)
    design = formulae.design_matrices(
        parts.fixed, fitted, na_action="drop", extra_namespace=dict(_NAMESPACE)
    )
    common = design.common
    if common is None:
        n = len(fitted) if data is None else len(data)
        return np.zeros((n, 0)), []
    if data is None:
        X = np.asarray(common.design_matrix, dtype=float)
        expected = len(fitted)
    else:
        X = np.asarray(common.evaluate_new_data(data.reset_index(drop=True)).design_matrix)
        X = X.astype(float, copy=False)
        expected = len(data)
    if X.shape[0] != expected:
        raise ModelError(
            f"{fit.spec.name}: the fixed design has {X.shape[0]} rows for {expected} rows of "
            "data (missing values in a predictor?); the rows and the fit do not belong together."
        )
    return X, list(common.slices)


def person_terms(fit: FitResult, posterior: xr.Dataset, data: pd.DataFrame) -> list[PersonTerm]:
    """The person-effect terms of the posterior, with the rows' person codes and predictors.

    Every posterior variable with a ``<factor>__factor_dim`` dimension is a term named
    ``<expression>|<factor>``: ``1`` (intercept) or a column of ``data``.

    Raises
    ------
    ModelError
        A row's person has no effects in the posterior (a new person), or a term's column
        or factor is missing from ``data``.
    """
    out = []
    for var in posterior.data_vars:
        dims = [str(d) for d in posterior[var].dims if str(d).endswith(_FACTOR_DIM)]
        if not dims:
            continue
        name = str(var)
        expr, _, factor = name.rpartition("|")
        if not expr or dims[0] != factor + _FACTOR_DIM:
            raise ModelError(
                f"{fit.spec.name}: the person effects {name!r} are not named "
                "'<term>|<factor>' over the factor's dimension; refit the model with this "
                "version of ambidex_bayes."
            )
        for column in (factor, expr):
            if column != "1" and column not in data.columns:
                raise ModelError(
                    f"{fit.spec.name}: the rows lack the column {column!r} of the person "
                    f"effects {name!r}."
                )
        labels = pd.Index(np.asarray(posterior[dims[0]].values).astype(str))
        codes = labels.get_indexer(data[factor].astype(str).to_numpy())
        if np.any(codes < 0):
            unknown = pd.unique(data[factor].astype(str).to_numpy()[codes < 0])
            shown = ", ".join(str(u) for u in unknown[:5])
            raise ModelError(
                f"{fit.spec.name}: {len(unknown)} person(s) of the rows ({shown}) have no "
                f"effects in the posterior; predict them without person effects."
            )
        predictor = (
            np.ones(len(data)) if expr == "1" else data[expr].to_numpy(dtype=float, copy=True)
        )
        out.append(PersonTerm(name=name, codes=codes, predictor=predictor))
    return out


def predictor_design(
    fit: FitResult,
    posterior: xr.Dataset,
    *,
    group_specific: bool = True,
    data: pd.DataFrame | None = None,
) -> PredictorDesign | LatentDesign:
    """The design of the linear predictor of the fitted rows or of ``data``.

    A latent-centred fit gets a :class:`~ambidex_bayes.checks.latent_predictor.LatentDesign`
    (its within and between parts come from each draw of the latent person means), which
    :func:`predictor_chunks` and :func:`linear_predictor_draws` take as they take a
    :class:`PredictorDesign`.

    Parameters
    ----------
    fit : FitResult
    posterior : Dataset
        The draws (for the persons' order in the person dimension).
    group_specific : bool
        Include the person effects (conditional predictor) or not (marginal).
    data : DataFrame, optional
        Rows with the prepared columns; default the fitted rows.
    """
    if is_latent(fit):
        return latent_design(fit, posterior, group_specific=group_specific, data=data)
    X, names = fixed_design(fit, data)
    rows = fit.prepared.frame.reset_index(drop=True) if data is None else data
    persons = person_terms(fit, posterior, rows.reset_index(drop=True)) if group_specific else []
    return PredictorDesign(X=X, fixed_names=tuple(names), persons=tuple(persons))


def _flat_draws(posterior: xr.Dataset, name: str, fit_name: str) -> np.ndarray:
    if name not in posterior.data_vars:
        raise ModelError(
            f"{fit_name}: the posterior has no variable {name!r}, which the linear predictor "
            "needs; refit the model with this version of ambidex_bayes."
        )
    values = posterior[name].transpose("chain", "draw", ...).values
    return np.asarray(values, dtype=float).reshape(values.shape[0] * values.shape[1], -1)


def predictor_chunks(
    design: PredictorDesign | LatentDesign,
    posterior: xr.Dataset,
    *,
    name: str = "the model",
    numbers: int | None = None,
) -> Iterator[tuple[slice, np.ndarray]]:
    r"""The linear predictor over blocks of draws: ``(draws, block)`` pairs.

    Draws are flattened chain after chain (as ``posterior.stack(sample=("chain",
    "draw"))``); each block is an array ``(draws in the block, rows)`` of
    :math:`X\beta + \sum_k z_k \odot u_k[\mathrm{code}_k]` holding at most ``numbers``
    numbers (default :data:`CHUNK_NUMBERS`; at least one draw). The block is overwritten
    by the next one: copy what is kept. A latent design's blocks come from
    :func:`~ambidex_bayes.checks.latent_predictor.latent_chunks`.

    Parameters
    ----------
    design : PredictorDesign or LatentDesign
    posterior : Dataset
        Draws of the fixed effects and person effects (dims ``chain, draw, ...``).
    name : str
        Named in error messages (the model).
    numbers : int, optional
        Size of a block, in numbers.
    """
    if isinstance(design, LatentDesign):
        yield from latent_chunks(design, posterior, name=name, numbers=numbers)
        return
    n_draws = posterior.sizes["chain"] * posterior.sizes["draw"]
    beta = (
        np.concatenate([_flat_draws(posterior, v, name) for v in design.fixed_names], axis=1)
        if design.fixed_names
        else np.zeros((n_draws, 0))
    )
    effects = [_flat_draws(posterior, t.name, name) for t in design.persons]
    n = design.n_rows
    step = max(1, int(numbers or CHUNK_NUMBERS) // max(n, 1))
    XT = np.ascontiguousarray(design.X.T)
    buffer = np.empty((min(step, n_draws), n))
    for start in range(0, n_draws, step):
        block = slice(start, min(start + step, n_draws))
        mu = buffer[: block.stop - block.start]
        np.matmul(beta[block], XT, out=mu)
        for term, u in zip(design.persons, effects, strict=True):
            mu += u[block][:, term.codes] * term.predictor
        yield block, mu


def linear_predictor_draws(
    design: PredictorDesign | LatentDesign, posterior: xr.Dataset, *, name: str = "the model"
) -> np.ndarray:
    r"""The linear predictor per draw and row, shape ``(chain, draw, rows)``.

    :math:`\mu = X\beta + \sum_k z_k \odot u_k[\mathrm{code}_k]`, computed over blocks of
    draws (:func:`predictor_chunks`) into one output array.

    Parameters
    ----------
    design : PredictorDesign or LatentDesign
    posterior : Dataset
        Draws of the fixed effects and person effects (dims ``chain, draw, ...``).
    name : str
        Named in error messages (the model).
    """
    n_chain, n_draw = posterior.sizes["chain"], posterior.sizes["draw"]
    out = np.empty((n_chain * n_draw, design.n_rows))
    for block, mu in predictor_chunks(design, posterior, name=name):
        out[block] = mu
    return out.reshape(n_chain, n_draw, design.n_rows)
