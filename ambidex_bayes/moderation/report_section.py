"""The moderation analysis of one fit, assembled and presented: tables, figures, Markdown.

:func:`moderation_results` runs every compute function of :mod:`ambidex_bayes.moderation`
on one fit (curve, Johnson–Neyman regions, simple slopes and their difference, person
slopes, within and between effects, on the original and the standardised scale);
:func:`write_moderation_files` saves its tables as CSV and its figures as PNG;
:func:`report_section` does both for the report of an analysis and returns its Markdown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import pandas as pd

from ambidex_bayes import constants
from ambidex_bayes.markdown import markdown_table
from ambidex_bayes.moderation.contextual import WithinBetween, within_between
from ambidex_bayes.moderation.curve import (
    STANDARDISED_CONVENTION,
    ModerationCurve,
    moderation_curve,
    standardise_simple_slopes,
)
from ambidex_bayes.moderation.johnson_neyman import (
    DEFAULT_LEVEL,
    JohnsonNeyman,
    johnson_neyman,
)
from ambidex_bayes.moderation.person_slopes import PersonSlopes, person_slopes
from ambidex_bayes.moderation.slopes import SimpleSlopes, simple_slopes, slope_differences
from ambidex_bayes.posterior import Fitted, fitted_parts

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "AnalysisOfFits",
    "ModerationResults",
    "moderation_results",
    "write_moderation_files",
    "report_section",
]

#: Markdown heading of the section.
SECTION_TITLE = "Moderation in depth"


class AnalysisOfFits(Protocol):
    """What :func:`report_section` reads of an analysis (:class:`ambidex_bayes.pipeline.Analysis`
    is one): its fits by model name, the name of the moderation model, its simple slopes."""

    @property
    def fits(self) -> Mapping[str, Fitted]:
        """The fits, by model name."""
        ...

    @property
    def moderation_model(self) -> str | None:
        """Name of the model with the cross-level interaction, if one was fitted."""
        ...

    @property
    def slopes(self) -> SimpleSlopes | None:
        """The analysis's simple slopes of that model."""
        ...


@dataclass(frozen=True)
class ModerationResults:
    """Every result of the moderation analysis of one fit.

    Attributes
    ----------
    model : str
        Name of the model the results come from.
    curve, curve_standardised : ModerationCurve
        The population slope along the moderator, original and standardised units.
    johnson_neyman : JohnsonNeyman
        Regions where the slope is credibly non-zero, and the boundary's posterior.
    slopes, slopes_standardised : SimpleSlopes
        Simple slopes at the chosen moderator values.
    differences : pandas.DataFrame
        Highest minus lowest simple slope, one row per scale.
    persons, persons_standardised : PersonSlopes or None
        Each person's slope (None without person-specific slopes).
    effects : pandas.DataFrame or None
        Within, between and contextual effects on both scales (None without person means).
    within_between : WithinBetween or None
        The original-scale effects with their description and warnings.
    notes : tuple of str
        Parts that could not be computed, and why.
    """

    model: str
    curve: ModerationCurve
    curve_standardised: ModerationCurve
    johnson_neyman: JohnsonNeyman
    slopes: SimpleSlopes
    slopes_standardised: SimpleSlopes
    differences: pd.DataFrame
    persons: PersonSlopes | None = None
    persons_standardised: PersonSlopes | None = None
    effects: pd.DataFrame | None = None
    within_between: WithinBetween | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables by file stem, both scales stacked (column ``scale``)."""
        out = {
            "moderation_curve": pd.concat(
                [self.curve.table, self.curve_standardised.table], ignore_index=True
            ),
            "johnson_neyman_regions": self.johnson_neyman.regions,
            "johnson_neyman_boundary": self.johnson_neyman.boundary,
            "simple_slopes_both_scales": pd.concat(
                [self.slopes.table, self.slopes_standardised.table], ignore_index=True
            ),
            "slope_differences": self.differences,
        }
        if self.persons is not None and self.persons_standardised is not None:
            out["person_slopes"] = pd.concat(
                [self.persons.table, self.persons_standardised.table], ignore_index=True
            )
            out["person_slope_shares"] = self.persons.shares
        if self.effects is not None:
            out["within_between"] = self.effects
        return out


def moderation_results(
    fit: Fitted,
    *,
    model: str = "",
    at: Sequence[float] | None = None,
    percentiles: Sequence[float] | None = None,
    prob: float | None = None,
    level: float = DEFAULT_LEVEL,
    n_points: int = 101,
) -> ModerationResults:
    """Run the whole moderation analysis on one fit.

    Parameters
    ----------
    fit : Fitted
        The fit (:class:`~ambidex_bayes.fit.FitResult`, or
        :class:`~ambidex_bayes.posterior.PosteriorDraws`): posterior, terms and the
        data the model was fitted on.
        Needs a within-person slope, a moderator and the cross-level interaction.
    model : str
        Name of the model, for headings.
    at, percentiles : sequence of float, optional
        Moderator values for the simple slopes (raw values, or percentiles over persons);
        default mean and ±1 SD over persons.
    prob : float, optional
        Width of the credible intervals; default ``constants.CI_PROB`` at call time.
    level : float
        Level of P(slope > 0) for the probability region.
    n_points : int
        Grid size of the curve and of the region search.

    Returns
    -------
    ModerationResults
    """
    _, terms, _ = fitted_parts(fit, "moderation_results")
    curve = moderation_curve(fit, n_points=n_points, prob=prob)
    curve_std = moderation_curve(fit, n_points=n_points, prob=prob, scale="standardised")
    jn = johnson_neyman(fit, prob=prob, level=level, n_points=max(n_points, 201))
    slopes = simple_slopes(fit, at=at, percentiles=percentiles, prob=prob)
    slopes_std = standardise_simple_slopes(fit, slopes)
    differences = pd.concat(
        [slope_differences(slopes), slope_differences(slopes_std)], ignore_index=True
    )
    notes: list[str] = []
    persons = persons_std = None
    if terms.group_slope is not None:
        persons = person_slopes(fit, prob=prob)
        persons_std = person_slopes(fit, prob=prob, scale="standardised")
    else:
        notes.append("The model has no person-specific slopes, so there are no person slopes.")
    effects = wb = None
    if terms.between is not None:
        wb = within_between(fit, prob=prob)
        wb_std = within_between(fit, prob=prob, scale="standardised")
        effects = pd.concat([wb.table, wb_std.table], ignore_index=True)
    else:
        notes.append(
            "The model has no person-mean term, so within- and between-person effects are "
            "not separated."
        )
    return ModerationResults(
        model=model,
        curve=curve,
        curve_standardised=curve_std,
        johnson_neyman=jn,
        slopes=slopes,
        slopes_standardised=slopes_std,
        differences=differences,
        persons=persons,
        persons_standardised=persons_std,
        effects=effects,
        within_between=wb,
        notes=tuple(notes),
    )


def write_moderation_files(
    results: ModerationResults,
    figures_dir: Path,
    tables_dir: Path,
    *,
    inputs: Sequence[str | Path] = (),
) -> dict[str, Path]:
    """Save the tables (CSV) and figures (PNG) of a moderation analysis.

    Each file is written atomically; other files in the folders are left alone, and none of
    ``inputs`` (the command's input files) is ever replaced (see
    :class:`ambidex_bayes.output_paths.OutputFolder`).

    Figures: ``moderation_curve.png`` (curve with the Johnson–Neyman region shaded),
    ``boundary_posterior.png`` and, with person slopes, ``person_slopes.png``.

    Returns
    -------
    dict of str to Path
        File stem to the written file.
    """
    import matplotlib.pyplot as plt

    from ambidex_bayes.moderation.plots import (
        plot_boundary_posterior,
        plot_moderation_curve,
        plot_person_slopes,
    )
    from ambidex_bayes.output_paths import OutputFolder

    figures = OutputFolder(figures_dir, inputs=inputs, what="figure folder")
    tables = OutputFolder(tables_dir, inputs=inputs, what="table folder")
    written: dict[str, Path] = {}
    for stem, table in results.tables().items():
        written[stem] = tables.table(f"{stem}.csv", table)

    def save(fig: Figure, stem: str) -> None:
        written[f"figure:{stem}"] = figures.figure(f"{stem}.png", fig)

    fig, ax = plt.subplots(figsize=(7.0, 4.5), layout="constrained")
    plot_moderation_curve(results.curve, johnson_neyman=results.johnson_neyman, ax=ax)
    save(fig, "moderation_curve")
    fig, ax = plt.subplots(figsize=(6.0, 3.5), layout="constrained")
    plot_boundary_posterior(results.johnson_neyman, ax=ax)
    save(fig, "boundary_posterior")
    if results.persons is not None:
        fig, ax = plt.subplots(figsize=(7.0, 4.5), layout="constrained")
        plot_person_slopes(results.persons, curve=results.curve, ax=ax)
        save(fig, "person_slopes")
    return written


def _shown(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    return frame[[c for c in columns if c in frame.columns]]


def _shares_for_reading(shares: pd.DataFrame) -> pd.DataFrame:
    """The person shares as percentages, the interval as text (empty where there is none)."""
    prob = shares.attrs.get("ci_prob", constants.CI_PROB)
    intervals = [
        f"{lo:.0%} to {hi:.0%}" if pd.notna(lo) and pd.notna(hi) else ""
        for lo, hi in zip(shares["ci_lower"], shares["ci_upper"], strict=True)
    ]
    return pd.DataFrame(
        {
            "persons": shares["quantity"],
            "share": [f"{v:.0%}" for v in shares["value"]],
            f"{prob:.0%} interval": intervals,
            "of": shares["n_persons"].astype(int).astype(str),
        }
    )


def report_section(analysis: AnalysisOfFits, figures_dir: Path, tables_dir: Path) -> list[str]:
    """The report's "Moderation in depth" section for an analysis.

    Uses the analysis's moderation model (``analysis.moderation_model``) and the moderator
    values of its simple slopes, writes the files of :func:`write_moderation_files` and
    returns Markdown lines (figures linked as ``figures/<name>.png``).

    Parameters
    ----------
    analysis : AnalysisOfFits
        Output of :func:`ambidex_bayes.pipeline.run_analysis` (an ``Analysis``).
    figures_dir, tables_dir : Path
        The report's figure and table folders.

    Returns
    -------
    list of str
        Markdown lines.
    """
    lines = [f"## {SECTION_TITLE}", ""]
    name = getattr(analysis, "moderation_model", None)
    fit = analysis.fits.get(name) if name is not None else None
    if fit is None or fit.terms.interaction is None or fit.terms.w_column is None:
        return lines + [
            "No model with a cross-level interaction was fitted, so the slope's course along "
            "the moderator, its Johnson–Neyman region and the person slopes are not shown.",
        ]
    at = None  # the moderator values of the analysis's simple slopes, when given raw
    if analysis.slopes is not None:
        table = analysis.slopes.table
        if table["moderator_label"].astype(str).str.startswith("at ").all():
            at = table["moderator"].to_list()
    results = moderation_results(fit, model=name, at=at)
    written = write_moderation_files(results, figures_dir, tables_dir)
    prob = int(round(constants.CI_PROB * 100))
    jn = results.johnson_neyman

    lines += [f"From model {name}. {results.curve.description}", ""]
    lines += ["![moderation curve](figures/moderation_curve.png)", ""]
    lines += ["### Johnson–Neyman region", "", jn.description, ""]
    if len(jn.regions):
        lines += [markdown_table(jn.regions.drop(columns=["share_of_range"])), ""]
    lines += [
        "Posterior of the moderator value where the population slope is zero:",
        "",
        markdown_table(jn.boundary),
        "",
        "![boundary posterior](figures/boundary_posterior.png)",
        "",
    ]
    lines += [
        "### Simple slopes on both scales and their difference",
        "",
        f"Standardised: {STANDARDISED_CONVENTION}.",
        "",
        markdown_table(
            _shown(
                pd.concat([results.slopes.table, results.slopes_standardised.table]),
                (
                    "moderator_label",
                    "moderator",
                    "median",
                    "ci_lower",
                    "ci_upper",
                    "p_positive",
                    "scale",
                ),
            )
        ),
        "",
        markdown_table(
            _shown(
                results.differences,
                (
                    "contrast",
                    "moderator_difference",
                    "median",
                    "ci_lower",
                    "ci_upper",
                    "p_positive",
                    "scale",
                ),
            )
        ),
        "",
    ]
    if results.persons is not None:
        lines += [
            "### Person slopes",
            "",
            results.persons.description,
            "",
            "![person slopes](figures/person_slopes.png)",
            "",
            markdown_table(_shares_for_reading(results.persons.shares)),
            "",
        ]
    if results.effects is not None and results.within_between is not None:
        lines += [
            "### Within and between persons",
            "",
            results.within_between.description,
            "",
            markdown_table(
                _shown(
                    results.effects,
                    ("effect", "median", "ci_lower", "ci_upper", "p_positive", "scale"),
                )
            ),
            "",
        ]
        lines += [f"- **Warning:** {w}" for w in results.within_between.warnings]
        if results.within_between.warnings:
            lines.append("")
    lines += [f"- {note}" for note in results.notes]
    tables = ", ".join(f"`tables/{p.name}`" for k, p in written.items() if ":" not in k)
    lines.append(f"Tables ({prob}% intervals): {tables}.")
    return lines
