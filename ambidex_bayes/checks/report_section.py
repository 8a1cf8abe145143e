"""Report section: posterior predictive checks, model comparison and explained variance.

:func:`report_section` is one of :data:`ambidex_bayes.report.REPORT_SECTIONS`. It computes
through the library functions of :mod:`ambidex_bayes.checks`, writes PNG figures and CSV
tables, and returns Markdown lines. Its parts (the predictive checks, LOO-PIT, PSIS-LOO, R²)
are timed in the report's stage times (:func:`ambidex_bayes.stage_timing.part`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ambidex_bayes.checks import comparison, ppc, r2
from ambidex_bayes.checks import plots as check_plots
from ambidex_bayes.checks.loo_pit import loo_pit_tree, loo_pit_uniformity
from ambidex_bayes.checks.predictive import MAX_DRAWS
from ambidex_bayes.errors import AmbidexError
from ambidex_bayes.markdown import markdown_table
from ambidex_bayes.stage_timing import part

__all__ = ["report_section", "REPORT_KFOLD", "REPORT_KFOLD_FOLDS", "REPORT_MAX_REFITS"]

#: Run leave-persons-out K-fold in the report (refits every model K times: off by default).
REPORT_KFOLD: bool = False

#: Folds of the report's K-fold, when it is switched on.
REPORT_KFOLD_FOLDS: int = 10

#: Exact refits the report may make for rows whose Pareto k stays high (0: none).
REPORT_MAX_REFITS: int = 0

#: Persons shown in the grouped predictive check.
REPORT_PERSONS: int = 6

#: Numbers (replicated data sets x rows) the report's predictive checks hold at most: up to
#: 50,000 rows every check uses ``MAX_DRAWS`` data sets, beyond that fewer (250 for 200,000
#: rows), so that their memory does not grow with the rows.
REPORT_PPC_NUMBERS: int = 50_000_000

#: Fewest replicated data sets of the report's predictive checks.
REPORT_MIN_PPC_DRAWS: int = 100


def _ppc_max_draws(fit: Any) -> int:
    """Replicated data sets of the report's predictive checks of ``fit`` (at most
    ``MAX_DRAWS``, and at most :data:`REPORT_PPC_NUMBERS` numbers in all)."""
    rows = max(len(fit.prepared.frame), 1)
    return max(REPORT_MIN_PPC_DRAWS, min(MAX_DRAWS, REPORT_PPC_NUMBERS // rows))


def _save(fig: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def _table(frame: pd.DataFrame, digits: int = 3) -> str:
    return markdown_table(frame, digits=digits)


def _checked_fit(analysis: Any) -> Any:
    fits = analysis.fits
    if analysis.moderation_model and analysis.moderation_model in fits:
        return fits[analysis.moderation_model]
    return list(fits.values())[-1]


def _ppc_lines(fit: Any, figures: Path, tables: Path) -> list[str]:
    name = fit.spec.name
    draws = ppc.posterior_predictive(fit, max_draws=_ppc_max_draws(fit))
    checks = ppc.statistic_checks(draws)
    tail = checks.table.attrs["tail"]
    checks.table.to_csv(tables / "ppc_statistics.csv", index=False)
    md = [
        f"### Posterior predictive checks ({name})",
        "",
        f"{draws.n_draws} data sets were replicated from the posterior of {name} (person "
        "effects as estimated, new residuals) and compared with the observed outcome on its "
        "original scale. A posterior predictive p-value near 0 or 1 means the model rarely "
        f"produces data like these in that respect (flagged below {tail:g} or above "
        f"{1 - tail:g}). These p-values are conservative: no flag is weak evidence of fit, a "
        "flag is a strong signal.",
        "",
    ]
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4), layout="constrained")
    overlay = ppc.density_overlay(draws)
    check_plots.plot_ppc_density(overlay, ax=ax)
    _save(fig, figures / "ppc_density.png")
    shown_sets = overlay["posterior_predictive"].sizes["draw"]
    md += [
        f"The density of the observed outcome (black) over the densities of {shown_sets} "
        "of the replicated data sets (blue):",
        "",
        "![posterior predictive density](figures/ppc_density.png)",
        "",
    ]
    shown = checks.table.drop(columns=["description"])
    md += [_table(shown), ""]
    _save(check_plots.plot_ppc_statistics(checks), figures / "ppc_statistics.png")
    md += ["![test statistics](figures/ppc_statistics.png)", ""]
    flagged = checks.table.loc[checks.table["flagged"], "statistic"].tolist()
    md += [
        (
            "Flagged: " + ", ".join(flagged) + ". The model does not reproduce these features "
            "of the data: extreme smallest or largest values point to heavier tails than the "
            "model's, floor or ceiling shares to a bounded scale, the SD of the persons' own "
            "SDs to within-person spread that differs between persons (e.g. a missing random "
            "slope)."
        )
        if flagged
        else "No whole-data statistic is flagged.",
        "",
    ]
    outside = ppc.range_check(draws)
    if len(outside):
        lo, hi = outside.attrs["range"]
        outside.to_csv(tables / "ppc_outside_range.csv", index=False)
        share = float(outside.loc[outside["where"] == "outside", "mean"].iloc[0])
        md += [
            f"The outcome's scale runs from {lo:g} to {hi:g}. On average {share:.1%} of the "
            "replicated values fall outside it -- the price of a continuous model for a "
            "bounded rating; a large share means the floor and ceiling shares above deserve "
            "attention.",
            "",
            _table(outside),
            "",
        ]
    persons = ppc.person_checks(draws)
    persons.to_csv(tables / "ppc_persons.csv", index=False)
    summary = ppc.flagged_persons(persons)
    summary.to_csv(tables / "ppc_persons_flagged.csv", index=False)
    md += [
        "Per person (each person's own mean, SD, smallest and largest value checked against "
        "their replicated diaries): the number of persons flagged, against the share "
        "expected by chance.",
        "",
        _table(summary),
        "",
    ]
    worst = (
        persons.dropna(subset=["p_value"])
        .assign(extremity=lambda t: np.minimum(t["p_value"], 1 - t["p_value"]))
        .sort_values("extremity")["person"]
        .drop_duplicates()
        .head(REPORT_PERSONS)
        .tolist()
    )
    if worst:
        fig, ax = plt.subplots(figsize=(8, 3.5), layout="constrained")
        check_plots.plot_person_intervals(ppc.person_intervals(draws, worst), ax=ax)
        _save(fig, figures / "ppc_persons.png")
        md += [
            f"The {len(worst)} persons with the most extreme per-person p-values, their "
            "diaries (red: outside the interval) and predictive intervals:",
            "",
            "![grouped check](figures/ppc_persons.png)",
            "",
        ]
    with part("LOO-PIT"):
        tree = loo_pit_tree(fit, draws)
        uniformity = loo_pit_uniformity(tree)
    fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
    check_plots.plot_loo_pit(tree, prob=uniformity.prob, ax=ax)
    _save(fig, figures / "loo_pit.png")
    md += [
        "LOO-PIT calibration: for each diary, the probability under the model (fitted "
        "without that diary, by PSIS-LOO) of a value at or below the observed one. A "
        "calibrated model gives uniform values. The figure shows the empirical CDF of these "
        "values minus the uniform CDF, with the p-value of a test of uniformity (pot_c: each "
        "sorted value against its distribution under uniformity, combined by a Cauchy "
        "combination test, valid for the dependent LOO-PIT values). "
        + (
            f"p = {uniformity.p_value:.2f}, not below {uniformity.alpha:.2g}: no sign of "
            "miscalibration."
            if uniformity.calibrated
            else f"p = {uniformity.p_value:.2g}, below {uniformity.alpha:.2g}: the predictive "
            f"distributions are miscalibrated; the {uniformity.n_marked} marked diaries "
            "contribute most to the departure. A curve below zero in the lower half and "
            "above it in the upper half means values bunched near 0.5 (predictions too "
            "wide), the reverse values piled up at 0 and 1 (too narrow); a curve above zero "
            "throughout means observed values mostly below the predictions, below zero "
            "throughout mostly above them."
        ),
        "",
        "![LOO-PIT](figures/loo_pit.png)",
        "",
    ]
    return md


def _comparison_lines(analysis: Any, figures: Path, tables: Path) -> list[str]:
    import matplotlib.pyplot as plt

    fits = analysis.fits
    md = [
        "### Model comparison",
        "",
        "PSIS-LOO estimates how well each model predicts *another day of a person it "
        "already knows* (expected log predictive density, ELPD; higher is better). A "
        "Pareto k above the threshold marks a diary whose omission moves the posterior too "
        "much for plain importance sampling -- common when each person's effects rest on a "
        "few diaries. For those diaries the importance weights are recomputed with the "
        "person's effects integrated out analytically (Gaussian models; no refit), which "
        "targets the same quantity with a far more stable estimator"
        + (
            f"; up to {REPORT_MAX_REFITS} remaining diaries are computed exactly by refitting."
            if REPORT_MAX_REFITS
            else "; diaries still above the threshold are counted in the table (exact "
            "refits are switched off in the report: use `ambidex-bayes compare`)."
        ),
        "",
    ]
    loo = {name: comparison.psis_loo(f, max_refits=REPORT_MAX_REFITS) for name, f in fits.items()}
    table = comparison.loo_table(loo)
    table.to_csv(tables / "loo.csv", index=False)
    md += [_table(table), ""]
    notes = [n for r in loo.values() for n in r.notes]
    md += [f"- {n}" for n in notes] + [""]
    last = list(loo.values())[-1]
    fig, ax = plt.subplots(figsize=(7, 3), layout="constrained")
    check_plots.plot_pareto_k(last, ax=ax)
    _save(fig, figures / "pareto_k.png")
    md += ["![Pareto k](figures/pareto_k.png)", ""]
    loo, md_rows = _same_rows(loo)
    md += md_rows
    if len(loo) >= 2:
        compared = comparison.compare_models(loo)
        compared.to_csv(tables / "loo_compare.csv", index=False)
        md += [
            "ELPD differences to the best model with their standard errors, and stacking "
            "weights (the combination of the models' predictive distributions that predicts "
            "best):",
            "",
            _table(compared),
            "",
        ]
        _save(check_plots.plot_comparison(compared).figure, figures / "loo_compare.png")
        md += ["![comparison](figures/loo_compare.png)", ""]
    md += [
        "Leave-persons-out cross-validation asks a different question: how well a model "
        "predicts *a new person*, all of whose diaries are held out and whose effects are "
        "drawn new from the population distribution. A random slope mostly helps predict "
        "known persons; a moderator that explains slope differences also helps with new ones.",
        "",
    ]
    if REPORT_KFOLD and len(fits) >= 2:
        kfold = {
            name: comparison.kfold_by_person(f, k=REPORT_KFOLD_FOLDS) for name, f in fits.items()
        }
        compared = comparison.compare_models(kfold)
        compared.to_csv(tables / "kfold_compare.csv", index=False)
        md += [_table(compared), ""]
    else:
        md += [
            "It refits every model once per fold, so it is off in the report; run "
            "`ambidex-bayes compare FITS --kfold 10 --jobs 2`, or set "
            "`ambidex_bayes.checks.report_section.REPORT_KFOLD = True`.",
            "",
        ]
    return md


def _same_rows(loo: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The LOO results scored on the same rows as the last model's, and a note on the others.

    A latent-centred fit also models the days whose predictor is missing (imputed), which an
    observed-centred fit (e.g. M0) leaves out; PSIS-LOO compares models of the same rows only.
    """
    if not loo:
        return loo, []
    rows = {name: int(r.pareto_k_before.size) for name, r in loo.items()}
    last = rows[list(loo)[-1]]
    kept = {name: r for name, r in loo.items() if rows[name] == last}
    left = [f"{name} ({rows[name]} diaries)" for name in loo if rows[name] != last]
    if not left:
        return kept, []
    return kept, [
        f"Compared below: the models scored on the same {last} diaries ({', '.join(kept)}); "
        f"left out of the comparison: {', '.join(left)}. Latent-centred fits also model the "
        "days whose predictor is missing (imputed), which observed-centred fits leave out.",
        "",
    ]


def _r2_lines(analysis: Any, fit: Any, figures: Path, tables: Path) -> list[str]:
    import matplotlib.pyplot as plt

    fits = analysis.fits
    table = r2.r2_table(fits)
    table.to_csv(tables / "r2.csv", index=False)
    md = [
        "### Explained variance",
        "",
        "Bayesian R² (Gelman et al. 2019), per posterior draw: the variance of the model's "
        "predicted means over the variance of the means plus the residual variance. "
        "*Marginal*: fixed effects only, the person effects count as unexplained. "
        "*Conditional*: fixed effects and the persons' own intercepts and slopes. With a "
        "random slope, the person-effect variance depends on the level-1 predictor's "
        "values, so the marginal R² holds for the observed spread of daily deviations.",
        "",
        _table(table.drop(columns=["sd"])),
        "",
    ]
    decomposition = r2.variance_decomposition(fit)
    decomposition.to_csv(tables / "variance_decomposition.csv", index=False)
    between = decomposition.set_index("component").loc["between"]
    md += [
        f"Variance decomposition of {fit.spec.name} (original units): the model puts "
        f"{between['share_mean']:.0%} of the outcome's variance between persons "
        f"({between['share_lower']:.0%} to {between['share_upper']:.0%}) -- fixed "
        "between-person effects plus person intercepts -- and the rest within persons.",
        "",
        _table(decomposition),
        "",
    ]
    fig, ax = plt.subplots(figsize=(7, 2.2), layout="constrained")
    check_plots.plot_variance_decomposition(decomposition, ax=ax)
    _save(fig, figures / "variance_decomposition.png")
    md += ["![variance decomposition](figures/variance_decomposition.png)", ""]
    pair = r2.slope_models(fits)
    if pair is not None:
        share = r2.slope_variance_explained(fits[pair[0]], fits[pair[1]])
        share.to_csv(tables / "slope_variance_explained.csv", index=False)
        row = share.iloc[0]
        md += [
            f"The moderator explains {row['ratio_of_means']:.0%} of the variance of the "
            f"person slopes (1 - tau1²({pair[1]}) / tau1²({pair[0]}), from the posterior "
            f"means; over paired draws {row['median']:.0%}, interval {row['ci_lower']:.0%} to "
            f"{row['ci_upper']:.0%}). With few diaries per person tau1 is weakly identified, "
            "so this share is uncertain.",
            "",
            _table(share),
            "",
        ]
    return md


def report_section(analysis: Any, figures_dir: Path, tables_dir: Path) -> list[str]:
    """Markdown lines of the checks section; figures and tables are written alongside.

    Parameters
    ----------
    analysis : Analysis
        From :func:`ambidex_bayes.pipeline.run_analysis` (or ``analysis_from_fits``).
    figures_dir, tables_dir : Path
        Folders for PNG figures and CSV tables (figures are linked as ``figures/<name>``).
    """
    figures, tables = Path(figures_dir), Path(tables_dir)
    if not analysis.fits:
        return ["## Model checks and comparison", "", "No fits to check.", ""]
    fit = _checked_fit(analysis)
    md = ["## Model checks and comparison", ""]
    for name, lines in (
        ("posterior predictive checks and LOO-PIT", lambda: _ppc_lines(fit, figures, tables)),
        ("PSIS-LOO and model comparison", lambda: _comparison_lines(analysis, figures, tables)),
        ("explained variance (R²)", lambda: _r2_lines(analysis, fit, figures, tables)),
    ):
        try:
            with part(name):  # timed as a part of the report's stage
                md += lines()
        except AmbidexError as err:
            md += [f"**Not computed:** {err}", ""]
    return md
