"""A run's model with every level-1 predictor of its simulated design.

The ladder's specs (M1-M3) use the first level-1 predictor only (``{x_within}``,
``{x_between}``). A simulated design with further predictors
(:class:`~ambidex_bayes.simulation_design.ExtendedDesign`) then generates outcomes the
model leaves partly unexplained. :func:`spec_with_every_predictor` adds the within and
between parts of every further predictor :math:`k` (``{x<k>_within} + {x<k>_between}``)
to a spec's fixed effects, as the power analysis and the SBC do with ``every_predictor``;
each then has a within slope and a between effect of its own (with latent centring, latent
person means of its own), while the person slopes and the cross-level interaction stay the
first predictor's.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from ambidex_bayes.formula_guard import is_group_term, split_top_level

if TYPE_CHECKING:
    from ambidex_bayes.spec import ModelSpec

__all__ = ["further_terms", "spec_with_every_predictor"]


def further_terms(n_predictors: int) -> list[str]:
    """The within and between terms of the further predictors ``1`` to ``n_predictors - 1``."""
    return [t for k in range(1, n_predictors) for t in (f"{{x{k}_within}}", f"{{x{k}_between}}")]


def spec_with_every_predictor(spec: ModelSpec, n_predictors: int) -> ModelSpec:
    """``spec`` with the within and between parts of every further level-1 predictor.

    Parameters
    ----------
    spec : ModelSpec
        A model whose formula uses the first predictor (or any).
    n_predictors : int
        The number of level-1 predictors of the data (the design's ``predictor_names``).

    Returns
    -------
    ModelSpec
        The same spec (name, family, priors) whose formula gains the terms of
        :func:`further_terms` that it lacks, before its person-effect terms; the between
        parts are optional roles, as the first predictor's are.
    """
    lhs, rhs = split_top_level(spec.formula, "~")
    terms = [t.strip() for t in split_top_level(rhs, "+")]
    new = [t for t in further_terms(n_predictors) if t not in terms]
    if not new:
        return spec
    at = next((i for i, t in enumerate(terms) if is_group_term(t)), len(terms))
    formula = f"{lhs.strip()} ~ " + " + ".join([*terms[:at], *new, *terms[at:]])
    optional = [f"x{k}_between" for k in range(1, n_predictors)]
    return dataclasses.replace(
        spec,
        formula=formula,
        optional_roles=tuple(dict.fromkeys([*spec.optional_roles, *optional])),
    )
