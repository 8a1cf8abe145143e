"""A spec's formula on the prepared data: rendered, checked, and split into its parts.

The spec's formula template is filled in with the prepared data's column names
(:func:`render_formula`) and checked by :func:`ambidex_bayes.formula_guard.check_formula`
before Bambi sees it: every name must be a column and every call an allowed
transformation; nothing of the formula is evaluated here. :func:`split_formula` and
:func:`group_expressions` take the checked formula apart into its fixed part and its
person-effect terms, named as Bambi names them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ambidex_bayes.formula_guard import (
    FormulaParts,
    check_formula,
    split_top_level,
    unquote_name,
)

if TYPE_CHECKING:
    from ambidex_bayes.prepared_data import PreparedData
    from ambidex_bayes.spec import ModelSpec

__all__ = ["render_formula", "check_saved_formulas", "split_formula", "group_expressions"]


def render_formula(spec: ModelSpec, prepared: PreparedData) -> FormulaParts:
    """The spec's formula with the prepared data's column names, checked before any use.

    Every name must be a column of the prepared data and every call an allowed
    transformation (:func:`ambidex_bayes.formula_guard.check_formula`); nothing of the
    formula is evaluated here.

    Raises
    ------
    SpecError
        A role the data lack, a column name that cannot be written in a formula, a name
        that is not a column, or a call that is not allowed.
    """
    fields = prepared.formula_fields()
    controls = tuple(
        prepared.roles.get(f"c{k}", c) for k, c in enumerate(prepared.mapping.controls)
    )
    formula = spec.render(fields, controls=controls, factors=prepared.formula_columns())
    return check_formula(formula, source=spec.source, columns=prepared.frame.columns)


def check_saved_formulas(spec: ModelSpec, prepared: PreparedData, formula: str) -> None:
    """Check the formulas of a saved fit before a model is rebuilt from it.

    Both the formula the rebuilt model would use (the spec's template filled in with the
    saved roles) and the formula recorded in the file must name only columns of the saved
    prepared data and call only allowed transformations.

    Raises
    ------
    SpecError
        Either formula fails :func:`ambidex_bayes.formula_guard.check_formula`.
    """
    render_formula(spec, prepared)
    check_formula(formula, source="the recorded formula", columns=prepared.frame.columns)


def split_formula(formula: str) -> tuple[str, list[tuple[str, str]]]:
    """Split a formula into its fixed part and its person-effect terms.

    ``"y ~ 1 + x + (x | p)"`` gives ``("y ~ 1 + x", [("x", "p")])``; column names in
    backticks stay quoted in the fixed part and the expression, the factor is unquoted
    (``"(1 | `person id`)"`` gives ``("1", "person id")``). The formula is checked first
    (:func:`ambidex_bayes.formula_guard.check_formula`).
    """
    parts = check_formula(formula)
    return parts.fixed, list(parts.groups)


def group_expressions(expr: str) -> list[str]:
    """Terms of a person-effect expression, intercept first, as Bambi names them.

    ``"x"`` and ``"1 + x"`` give ``["1", "x"]`` (the intercept is implied, as in lme4 and
    Bambi); ``"0 + x"`` gives ``["x"]``; ``"1"`` gives ``["1"]``. Quoted column names are
    returned without their backticks (```leader-support``` gives ``leader-support``).
    """
    parts = [part.strip() for part in split_top_level(expr, "+") if part.strip()]
    no_intercept = any(part in {"0", "-1"} for part in parts)
    terms = [unquote_name(part) for part in parts if part not in {"0", "1", "-1"}]
    return (["1"] if not no_intercept else []) + terms
