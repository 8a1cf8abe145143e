"""The Gaussian fast path of a built model: when it serves, its design and its likelihood.

With ``build_model(..., marginal=True)`` the person effects are integrated out analytically
(:mod:`ambidex_bayes.model.marginal`): the model holds only the fixed effects, the
person-effect SDs (and correlation) and the residual SD, and the data enter through
per-person sufficient statistics held in ``pm.Data`` variables, so new data of the same
shape need no rebuild. :func:`fast_path_reason` says why a model cannot take this path,
:func:`marginal_design` gathers the design it needs and :func:`add_marginal_likelihood`
adds the integrated likelihood to the model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from ambidex_bayes.errors import ModelError
from ambidex_bayes.model.marginal import MarginalDesign, marginal_loglik, person_statistics

if TYPE_CHECKING:
    from ambidex_bayes.model.person_effects import PersonEffects, PersonEffectTerm
    from ambidex_bayes.spec import ModelSpec

__all__ = [
    "FastPathUnavailable",
    "fast_path_reason",
    "marginal_design",
    "add_marginal_likelihood",
]


class FastPathUnavailable(ModelError):
    """The Gaussian fast path cannot serve this model (full NUTS is used instead)."""


def fast_path_reason(spec: ModelSpec, n_factors: int) -> str | None:
    """Why the Gaussian fast path cannot serve a model (None when it can)."""
    if spec.family != "gaussian":
        return f"the {spec.family!r} family has no closed-form marginal likelihood"
    if n_factors != 1:
        return f"it needs person effects on exactly one grouping factor (the model has {n_factors})"
    return None


def marginal_design(
    X: np.ndarray,
    y: np.ndarray,
    fixed_names: list[str],
    factor: str,
    names: list[str],
    term: PersonEffectTerm,
    effects: PersonEffects,
    response: str,
) -> MarginalDesign:
    """The fast path's design, data, names and per-person sufficient statistics.

    Parameters
    ----------
    X : ndarray (n, p)
        Fixed-effect design.
    y : ndarray (n,)
    fixed_names : list of str
        Fixed-effect names, in the columns' order of ``X``.
    factor : str
        The grouping factor.
    names : list of str
        Its person-effect terms, intercept first.
    term : PersonEffectTerm
        Any of them (for the persons' ids, in the order of the person dimension).
    effects : PersonEffects
        The factor's person index and predictor columns.
    response : str
        Name of the observed variable.
    """
    Z = np.column_stack(effects.predictors)
    return MarginalDesign(
        X=X,
        Z=Z,
        y=y,
        person=effects.person,
        levels=[str(v) for v in term.groups],
        fixed_names=list(fixed_names),
        group_names=list(names),
        factor=factor,
        response=response,
        stats=person_statistics(X, Z, y, effects.person, len(term.groups)),
    )


def add_marginal_likelihood(
    design: MarginalDesign,
    beta: list[pt.TensorVariable],
    chol: pt.TensorVariable,
    sigma: pt.TensorVariable,
) -> None:
    """Add the likelihood with the person effects integrated out (inside a model context).

    The sufficient statistics become ``pm.Data`` variables (``_ss_ZtZ``, ...) and the log
    likelihood a ``pm.Potential`` named ``_marginal_loglik``.

    Parameters
    ----------
    design : MarginalDesign
    beta : list of tensor
        The fixed effects, in the columns' order of ``design.X``.
    chol : tensor
        Cholesky factor of the person effects' covariance.
    sigma : tensor
        The residual SD.
    """
    ss = {k: pm.Data(k, v) for k, v in design.stats.as_data().items()}
    pm.Potential(
        "_marginal_loglik",
        marginal_loglik(
            pt.stack(beta),
            chol,
            sigma,
            ss["_ss_ZtZ"],
            ss["_ss_ZtX"],
            ss["_ss_Zty"],
            ss["_ss_XtX"],
            ss["_ss_Xty"],
            ss["_ss_yty"],
            ss["_ss_n"],
            q=len(design.group_names),
        ),
    )
