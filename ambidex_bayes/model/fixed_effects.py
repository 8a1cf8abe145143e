"""The fixed (common) effects of a model: their design from Bambi, checked, and their priors.

Bambi builds the fixed part of the formula (design matrix and data-scaled default priors);
:func:`fixed_design` takes its design and refuses constant, categorical or collinear
predictors before any sampling, and :func:`add_fixed_effects` adds one random variable per
column with its prior (the spec's, or Bambi's default) and returns the linear predictor
:math:`X\\beta`.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytensor.tensor as pt

from ambidex_bayes.errors import ModelError
from ambidex_bayes.model.prior_choice import (
    BAMBI_DEFAULT,
    PriorChoices,
    bambi_prior_spec,
    prior_variable,
)

if TYPE_CHECKING:
    from bambi.model_components import DistributionalComponent

__all__ = ["check_constant_predictors", "fixed_design", "add_fixed_effects"]


def check_constant_predictors(
    data: pd.DataFrame, grouping: Collection[str], outcome: str, source: str
) -> None:
    """Refuse a predictor column that is constant in the rows the model uses.

    Parameters
    ----------
    data : DataFrame
        The columns the model uses.
    grouping : collection of str
        Grouping factors (not predictors).
    outcome : str
        The outcome column (not a predictor).
    source : str
        Named in the error message (the spec file).
    """
    for column in data.columns:
        if column in grouping or column == outcome:
            continue
        values = pd.to_numeric(data[column], errors="coerce")
        if values.notna().any() and values.nunique() <= 1:
            raise ModelError(
                f"{source}: the predictor {column!r} is constant in the data used by the "
                "model; its effect cannot be estimated. Remove it from the formula or check "
                "the data (a moderator must vary between persons)."
            )


def fixed_design(
    component: DistributionalComponent, n_rows: int, source: str
) -> tuple[np.ndarray, list[str]]:
    """The fixed-effect design ``X`` (rows x terms) of Bambi's model and its term names.

    Raises
    ------
    ModelError
        A categorical term, or constant or collinear columns.
    """
    design = component.design
    X = (
        np.asarray(design.common.design_matrix, dtype=float)
        if design.common
        else np.zeros((n_rows, 0))
    )
    fixed_names = list(design.common.slices) if design.common else []
    for name in fixed_names:
        if design.common.slices[name].stop - design.common.slices[name].start != 1:
            raise ModelError(
                f"{source}: the term {name!r} is categorical; code it as numeric (0/1) "
                "columns in the data for now."
            )
    _check_design(X, fixed_names, source)
    return X, fixed_names


def _check_design(X: np.ndarray, names: list[str], source: str) -> None:
    """Constant or collinear fixed-effect columns make the model unidentified: refuse early."""
    for k, name in enumerate(names):
        if name == "Intercept":
            continue
        if np.nanstd(X[:, k]) == 0:
            raise ModelError(
                f"{source}: the predictor {name!r} is constant in the data used by the model; "
                "its effect cannot be estimated. Remove it from the formula or check the data."
            )
    rank = np.linalg.matrix_rank(X)
    if rank < X.shape[1]:
        raise ModelError(
            f"{source}: the fixed-effect predictors {', '.join(names)} are perfectly collinear "
            f"(rank {rank} of {X.shape[1]}). This happens e.g. when the moderator does not vary "
            "between persons or a predictor is the sum of others; remove one of them."
        )


def add_fixed_effects(
    component: DistributionalComponent,
    X: np.ndarray,
    fixed_names: list[str],
    choices: PriorChoices,
    *,
    n_rows: int,
    prior_data: bool,
) -> tuple[list[pt.TensorVariable], pt.TensorVariable]:
    """One random variable per fixed effect (inside a model context), and :math:`X\\beta`.

    ``n_rows`` is the number of rows the model uses; ``prior_data`` holds the priors'
    parameters in ``pm.Data`` variables.

    Returns
    -------
    beta : list of tensor
        The fixed effects, in the columns' order of ``X``.
    mu : tensor
        The linear predictor of the fixed part (zeros without fixed effects).
    """
    beta = []
    for name in fixed_names:
        term = component.intercept_term if name == "Intercept" else component.common_terms[name]
        rv = prior_variable(
            name,
            choices.resolve(name, bambi_prior_spec(term.prior), BAMBI_DEFAULT),
            prior_data=prior_data,
        )
        beta.append(rv)
    mu = pt.dot(X, pt.stack(beta)) if beta else pt.zeros(n_rows)
    return beta, mu
