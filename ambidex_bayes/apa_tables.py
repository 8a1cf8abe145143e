"""Tables for a journal (APA style): fixed effects, variance components and model fit.

Each builder reads results the analysis already holds (the posterior summaries, the ICC of
the null model, and the PSIS-LOO and R² tables of the report's checks) and returns an
:class:`ApaTable`: the numbers as a DataFrame (for CSV) and a display version as text (for
LaTeX, Word, HTML and Markdown; :mod:`ambidex_bayes.table_files` writes the files). Nothing
is computed from draws here: every number is copied from the summary it comes from.

Conventions: the estimate is the posterior mean, the posterior SD its uncertainty, the
interval the equal-tailed credible interval of the summaries (``constants.CI_PROB``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from ambidex_bayes import constants

if TYPE_CHECKING:
    from ambidex_bayes.pipeline import Analysis

__all__ = [
    "ApaTable",
    "apa_tables",
    "fixed_effects_table",
    "variance_components_table",
    "model_fit_table",
    "format_number",
]

#: Columns of the fixed-effects and variance-components tables.
ESTIMATE_COLUMNS = (
    "model",
    "term",
    "parameter",
    "estimate",
    "posterior_sd",
    "ci_lower",
    "ci_upper",
)


def format_number(value: float, digits: int = 2) -> str:
    """A number as a journal prints it: fixed decimals, an empty cell for a missing value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{float(value):.{digits}f}"


def _interval(lower: float, upper: float, digits: int) -> str:
    if any(v is None or math.isnan(float(v)) for v in (lower, upper)):
        return ""
    return f"[{format_number(lower, digits)}, {format_number(upper, digits)}]"


def _percent(prob: float) -> str:
    return f"{prob * 100:g}%"


@dataclass(frozen=True)
class ApaTable:
    """One table for publication.

    Attributes
    ----------
    stem : str
        File name without suffix (``apa_fixed_effects``).
    title : str
        The table's title.
    frame : pandas.DataFrame
        The numbers (written as CSV).
    note : str
        The table note (what the columns mean).
    ci_prob : float
        Width of the credible intervals.
    """

    stem: str
    title: str
    frame: pd.DataFrame
    note: str
    ci_prob: float

    def display(self, digits: int = 2) -> pd.DataFrame:
        """The table as text cells with the column headers a journal prints.

        A model's name is shown on its first row only; numbers have ``digits`` decimals and
        each credible interval is one cell ``[lower, upper]``.
        """
        frame = self.frame
        ci = f"{_percent(self.ci_prob)} CrI"
        if self.stem == FIT_STEM:
            return _display_fit(frame, ci, digits)
        out = pd.DataFrame(
            {
                "Model": _first_only(frame["model"]),
                "Term": frame["term"],
                "Parameter": frame["parameter"],
                "Estimate": [format_number(v, digits) for v in frame["estimate"]],
                "Posterior SD": [format_number(v, digits) for v in frame["posterior_sd"]],
                ci: [
                    _interval(lo, hi, digits)
                    for lo, hi in zip(frame["ci_lower"], frame["ci_upper"], strict=True)
                ],
            }
        )
        return out.astype(object)


def _first_only(models: pd.Series) -> list[str]:
    shown, last = [], None
    for name in models:
        shown.append("" if name == last else str(name))
        last = name
    return shown


def _display_fit(frame: pd.DataFrame, ci: str, digits: int) -> pd.DataFrame:
    out = pd.DataFrame(
        {
            "Model": frame["model"].astype(str),
            "Diaries": [str(int(v)) for v in frame["observations"]],
            "Persons": [str(int(v)) for v in frame["persons"]],
            "ELPD-LOO": [format_number(v, 1) for v in frame["elpd_loo"]],
            "SE": [format_number(v, 1) for v in frame["elpd_loo_se"]],
            "p_loo": [format_number(v, 1) for v in frame["p_loo"]],
            "R² marginal": [format_number(v, digits) for v in frame["r2_marginal"]],
            f"R² marginal {ci}": [
                _interval(lo, hi, digits)
                for lo, hi in zip(
                    frame["r2_marginal_lower"], frame["r2_marginal_upper"], strict=True
                )
            ],
            "R² conditional": [format_number(v, digits) for v in frame["r2_conditional"]],
            f"R² conditional {ci}": [
                _interval(lo, hi, digits)
                for lo, hi in zip(
                    frame["r2_conditional_lower"], frame["r2_conditional_upper"], strict=True
                )
            ],
        }
    )
    return out.astype(object)


#: File stems of the three tables.
FIXED_STEM = "apa_fixed_effects"
VARIANCE_STEM = "apa_variance_components"
FIT_STEM = "apa_model_fit"

#: How the terms of a model are named in the tables, by role in the posterior summary.
_TERM_NAMES = {
    "intercept": "Intercept",
    "within-person slope": "Within-person slope",
    "moderator effect on the intercept": "Moderator (on the intercept)",
    "cross-level interaction": "Cross-level interaction",
    "other fixed effect": "Other fixed effect",
    "SD of person intercepts": "SD of person intercepts",
    "SD of person slopes": "SD of person slopes",
    "correlation of person intercepts and slopes": "Correlation of intercepts and slopes",
    "residual SD": "Residual SD",
}


def _term(role: str) -> str:
    if role.startswith("between-person effect"):
        return "Between-person effect (person mean)"
    return _TERM_NAMES.get(role, role[:1].upper() + role[1:])


def _variance_names(analysis: Analysis, model: str) -> set[str]:
    terms = analysis.fits[model].terms
    names = (terms.group_intercept_sd, terms.group_slope_sd, terms.correlation, terms.sigma)
    return {n for n in names if n is not None}


def _estimate_rows(analysis: Analysis, *, variance: bool) -> pd.DataFrame:
    rows = []
    for model, summary in analysis.summaries.items():
        names = _variance_names(analysis, model) if model in analysis.fits else set()
        for _, row in summary.iterrows():
            if (row["parameter"] in names) != variance:
                continue
            rows.append(
                {
                    "model": model,
                    "term": _term(str(row["role"])),
                    "parameter": str(row["parameter"]),
                    "estimate": float(row["mean"]),
                    "posterior_sd": float(row["sd"]),
                    "ci_lower": float(row["ci_lower"]),
                    "ci_upper": float(row["ci_upper"]),
                }
            )
    return pd.DataFrame(rows, columns=list(ESTIMATE_COLUMNS))


def _ci_prob(analysis: Analysis) -> float:
    for summary in analysis.summaries.values():
        if "ci_prob" in summary.attrs:
            return float(summary.attrs["ci_prob"])
    return constants.CI_PROB


def fixed_effects_table(analysis: Analysis) -> ApaTable:
    """The fixed effects of every model: estimate, posterior SD and credible interval.

    Parameters
    ----------
    analysis : Analysis
        Its ``summaries`` (:func:`ambidex_bayes.results.posterior_summary` per model).

    Returns
    -------
    ApaTable
        Columns ``model, term, parameter, estimate, posterior_sd, ci_lower, ci_upper``;
        the estimate is the posterior mean.
    """
    prob = _ci_prob(analysis)
    return ApaTable(
        stem=FIXED_STEM,
        title="Fixed effects",
        frame=_estimate_rows(analysis, variance=False),
        note=(
            "Estimate: posterior mean; posterior SD: the posterior standard deviation; "
            f"CrI: {_percent(prob)} equal-tailed credible interval. Values on the scale the "
            "models were fitted on (the level-1 predictor centred within person, person "
            "means and the moderator centred at the mean over persons)."
        ),
        ci_prob=prob,
    )


def variance_components_table(analysis: Analysis) -> ApaTable:
    """Person-effect SDs, their correlation, the residual SD and the ICC of the null model.

    Parameters
    ----------
    analysis : Analysis
        Its ``summaries`` and ``icc`` (one row: ``mean, sd, ci_lower, ci_upper``).

    Returns
    -------
    ApaTable
        Columns as :func:`fixed_effects_table`; the ICC is a row of the null model.
    """
    prob = _ci_prob(analysis)
    frame = _estimate_rows(analysis, variance=True)
    icc = analysis.icc
    if icc is not None and len(icc):
        null = _null_model(analysis)
        row = icc.iloc[0]
        extra = pd.DataFrame(
            [
                {
                    "model": null,
                    "term": "ICC",
                    "parameter": "icc",
                    "estimate": float(row["mean"]),
                    "posterior_sd": float(row["sd"]),
                    "ci_lower": float(row["ci_lower"]),
                    "ci_upper": float(row["ci_upper"]),
                }
            ]
        )
        # the ICC goes right after the null model's own rows
        mask = (frame["model"] == null).to_numpy()
        at = int(mask.nonzero()[0].max()) + 1 if mask.any() else len(frame)
        frame = pd.concat([frame.iloc[:at], extra, frame.iloc[at:]], ignore_index=True)
    return ApaTable(
        stem=VARIANCE_STEM,
        title="Variance components",
        frame=frame,
        note=(
            "SDs of the person-specific intercepts and slopes, their correlation, and the "
            "residual (within-person) SD; ICC: intraclass correlation of the outcome from the "
            "null model, tau0² / (tau0² + sigma²). Estimate: posterior mean; "
            f"CrI: {_percent(prob)} equal-tailed credible interval."
        ),
        ci_prob=prob,
    )


def _null_model(analysis: Analysis) -> str:
    for name, fit in analysis.fits.items():
        if fit.terms.slope is None and fit.terms.group_slope is None:
            return name
    return next(iter(analysis.summaries), "")


#: Columns of :func:`model_fit_table`.
FIT_COLUMNS = (
    "model",
    "observations",
    "persons",
    "elpd_loo",
    "elpd_loo_se",
    "p_loo",
    "r2_marginal",
    "r2_marginal_lower",
    "r2_marginal_upper",
    "r2_conditional",
    "r2_conditional_lower",
    "r2_conditional_upper",
)


def model_fit_table(
    analysis: Analysis,
    *,
    loo: pd.DataFrame | None = None,
    r2: pd.DataFrame | None = None,
) -> ApaTable:
    """ELPD-LOO with its SE and the Bayesian R² of every model.

    Parameters
    ----------
    analysis : Analysis
        The fits (their data give the numbers of diaries and persons).
    loo : pandas.DataFrame, optional
        :func:`ambidex_bayes.checks.comparison.loo_table`: ``model, elpd_loo, se, p_loo``.
    r2 : pandas.DataFrame, optional
        :func:`ambidex_bayes.checks.r2.r2_table`: ``model, r2, mean, ci_lower, ci_upper``
        (rows ``marginal`` and ``conditional`` per model).

    Returns
    -------
    ApaTable
        One row per model, columns :data:`FIT_COLUMNS`; a value that was not computed is
        NaN (an empty cell).
    """
    loo_by_model = loo.set_index("model") if loo is not None and len(loo) else None
    rows = []
    for name, fit in analysis.fits.items():
        frame = fit.prepared.frame
        person = fit.prepared.mapping.person
        row: dict[str, object] = {
            "model": name,
            "observations": len(frame),
            "persons": int(frame[person].nunique()) if person in frame else math.nan,
        }
        has_loo = loo_by_model is not None and name in loo_by_model.index
        row["elpd_loo"] = float(loo_by_model.loc[name, "elpd_loo"]) if has_loo else math.nan
        row["elpd_loo_se"] = float(loo_by_model.loc[name, "se"]) if has_loo else math.nan
        row["p_loo"] = float(loo_by_model.loc[name, "p_loo"]) if has_loo else math.nan
        for kind in ("marginal", "conditional"):
            match = r2[(r2["model"] == name) & (r2["r2"] == kind)] if r2 is not None else None
            found = match is not None and len(match) > 0
            row[f"r2_{kind}"] = float(match["mean"].iloc[0]) if found else math.nan
            row[f"r2_{kind}_lower"] = float(match["ci_lower"].iloc[0]) if found else math.nan
            row[f"r2_{kind}_upper"] = float(match["ci_upper"].iloc[0]) if found else math.nan
        rows.append(row)
    prob = _ci_prob(analysis)
    if r2 is not None and "ci_prob" in r2.attrs:
        prob = float(r2.attrs["ci_prob"])
    return ApaTable(
        stem=FIT_STEM,
        title="Model fit",
        frame=pd.DataFrame(rows, columns=list(FIT_COLUMNS)),
        note=(
            "ELPD-LOO: expected log predictive density of a new diary of a known person "
            "(PSIS-LOO; higher is better), with its standard error; p_loo: effective number "
            "of parameters. R²: Bayesian R² (posterior mean), marginal (fixed effects only) "
            "and conditional (with the person effects), with "
            f"{_percent(prob)} credible intervals. Empty cells were not computed."
        ),
        ci_prob=prob,
    )


def apa_tables(
    analysis: Analysis,
    *,
    loo: pd.DataFrame | None = None,
    r2: pd.DataFrame | None = None,
) -> Mapping[str, ApaTable]:
    """The three tables of an analysis, by file stem (fixed effects, variance, fit)."""
    tables = (
        fixed_effects_table(analysis),
        variance_components_table(analysis),
        model_fit_table(analysis, loo=loo, r2=r2),
    )
    return {t.stem: t for t in tables}
