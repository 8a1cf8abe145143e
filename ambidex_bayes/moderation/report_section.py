"""The moderation analysis of one fit, assembled and presented: tables, figures, Markdown.

:func:`moderation_results` runs every compute function of :mod:`ambidex_bayes.moderation`
on one fit (curve, Johnson–Neyman regions, simple slopes and their difference, person
slopes, within and between effects, on the original and the standardised scale) for one
(level-1 predictor, moderator) pair, by default the first of each; with a factor moderator,
the slopes at each level and their contrasts take the place of the curve and the
Johnson–Neyman regions. :func:`write_moderation_files` saves its tables as CSV and its
figures as PNG; :func:`report_section` does both for every pair of the analysis's moderation
model that has a cross-level interaction, and returns the Markdown. Their steps (curve and
region, simple slopes, person slopes, within and between effects, files) are timed as parts
of the report's stage (:func:`ambidex_bayes.stage_timing.part`; with several pairs, under
each pair's name).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import pandas as pd

from ambidex_bayes import constants
from ambidex_bayes.markdown import markdown_table
from ambidex_bayes.model.moderation_roles import moderation_pairs
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
from ambidex_bayes.moderation.pair import pair_parts
from ambidex_bayes.moderation.person_slopes import PersonSlopes, person_slopes
from ambidex_bayes.moderation.slopes import SimpleSlopes, simple_slopes, slope_differences
from ambidex_bayes.posterior import Fitted
from ambidex_bayes.stage_timing import part

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "AnalysisOfFits",
    "ModerationResults",
    "moderation_results",
    "write_moderation_files",
    "report_section",
    "focus_pair",
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
    curve, curve_standardised : ModerationCurve or None
        The population slope along the moderator, original and standardised units (None
        for a factor moderator).
    johnson_neyman : JohnsonNeyman or None
        Regions where the slope is credibly non-zero, and the boundary's posterior (None
        for a factor moderator).
    slopes, slopes_standardised : SimpleSlopes
        Simple slopes at the chosen moderator values, or at each level of a factor.
    differences : pandas.DataFrame
        Highest minus lowest simple slope, one row per scale; every pair of levels for a
        factor moderator.
    persons, persons_standardised : PersonSlopes or None
        Each person's slope (None without person-specific slopes).
    effects : pandas.DataFrame or None
        Within, between and contextual effects on both scales (None without person means).
    within_between : WithinBetween or None
        The original-scale effects with their description and warnings.
    notes : tuple of str
        Parts that could not be computed, and why.
    pair : (str, str) or None
        The level-1 predictor and the moderator, by source column.
    """

    model: str
    curve: ModerationCurve | None
    curve_standardised: ModerationCurve | None
    johnson_neyman: JohnsonNeyman | None
    slopes: SimpleSlopes
    slopes_standardised: SimpleSlopes
    differences: pd.DataFrame
    persons: PersonSlopes | None = None
    persons_standardised: PersonSlopes | None = None
    effects: pd.DataFrame | None = None
    within_between: WithinBetween | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    pair: tuple[str, str] | None = None

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables by file stem, both scales stacked (column ``scale``)."""
        out: dict[str, pd.DataFrame] = {}
        if self.curve is not None and self.curve_standardised is not None:
            out["moderation_curve"] = pd.concat(
                [self.curve.table, self.curve_standardised.table], ignore_index=True
            )
        if self.johnson_neyman is not None:
            out["johnson_neyman_regions"] = self.johnson_neyman.regions
            out["johnson_neyman_boundary"] = self.johnson_neyman.boundary
        out["simple_slopes_both_scales"] = pd.concat(
            [self.slopes.table, self.slopes_standardised.table], ignore_index=True
        )
        out["slope_differences"] = self.differences
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
    focal: str | None = None,
    moderator: str | None = None,
) -> ModerationResults:
    """Run the whole moderation analysis on one fit, for one predictor and moderator.

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
    focal : str, optional
        The level-1 predictor, by column name (e.g. ``"uncertainty"``); default the first.
    moderator : str, optional
        The moderator, by column name (e.g. ``"leader_support"``); default the first. A
        factor moderator gives the slopes at each level and their contrasts instead of the
        curve and the Johnson–Neyman regions (``at`` and ``percentiles`` do not apply).

    Returns
    -------
    ModerationResults
    """
    _, terms, _ = pair_parts(fit, "moderation_results", focal, moderator)
    pair = {"focal": focal, "moderator": moderator}
    curve = curve_std = jn = None
    if not terms.factor_moderator:
        with part("curve and Johnson–Neyman region"):
            curve = moderation_curve(fit, n_points=n_points, prob=prob, **pair)
            curve_std = moderation_curve(
                fit, n_points=n_points, prob=prob, scale="standardised", **pair
            )
            jn = johnson_neyman(fit, prob=prob, level=level, n_points=max(n_points, 201), **pair)
    with part("simple slopes"):
        slopes = simple_slopes(fit, at=at, percentiles=percentiles, prob=prob, **pair)
        slopes_std = standardise_simple_slopes(fit, slopes)
        differences = pd.concat(
            [slope_differences(slopes), slope_differences(slopes_std)], ignore_index=True
        )
    notes: list[str] = []
    persons = persons_std = None
    if terms.group_slope is not None:
        with part("person slopes"):
            persons = person_slopes(fit, prob=prob, **pair)
            persons_std = person_slopes(fit, prob=prob, scale="standardised", **pair)
    else:
        notes.append("The model has no person-specific slopes, so there are no person slopes.")
    effects = wb = None
    if terms.between is not None:
        with part("within- and between-person effects"):
            wb = within_between(fit, prob=prob, **pair)
            wb_std = within_between(fit, prob=prob, scale="standardised", **pair)
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
        pair=(
            str(slopes.table.attrs.get("x_name")),
            str(slopes.table.attrs.get("moderator_name")),
        ),
    )


def write_moderation_files(
    results: ModerationResults,
    figures_dir: Path,
    tables_dir: Path,
    *,
    inputs: Sequence[str | Path] = (),
    suffix: str = "",
) -> dict[str, Path]:
    """Save the tables (CSV) and figures (PNG) of a moderation analysis.

    Each file is written atomically; other files in the folders are left alone, and none of
    ``inputs`` (the command's input files) is ever replaced (see
    :class:`ambidex_bayes.output_paths.OutputFolder`).

    Figures: ``moderation_curve.png`` (curve with the Johnson–Neyman region shaded),
    ``boundary_posterior.png`` and, with person slopes, ``person_slopes.png`` (for a numeric
    moderator; a factor moderator's results are tables).

    Parameters
    ----------
    results : ModerationResults
        The analysis to save.
    figures_dir, tables_dir : Path
        The folders.
    inputs : sequence of str or Path
        The command's input files, never replaced.
    suffix : str
        Added to every file stem (e.g. ``"_stress_x_climate"`` for a further pair).

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
        written[stem] = tables.table(f"{stem}{suffix}.csv", table)

    def save(fig: Figure, stem: str) -> None:
        written[f"figure:{stem}"] = figures.figure(f"{stem}{suffix}.png", fig)

    if results.curve is None or results.johnson_neyman is None:  # a factor moderator
        if results.persons is not None:
            fig, ax = plt.subplots(figsize=(7.0, 4.5), layout="constrained")
            plot_person_slopes(results.persons, ax=ax)
            save(fig, "person_slopes")
        return written
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


def _file_suffix(pair: tuple[str, str]) -> str:
    """``"_x_by_w"`` from the pair's column names, letters, digits and ``_`` only."""
    text = f"_{pair[0]}_by_{pair[1]}"
    return "".join(c if c.isascii() and (c.isalnum() or c == "_") else "_" for c in text)


def _pairs_in_order(fit: Fitted, slopes: SimpleSlopes | None) -> list[tuple[str, str]]:
    """The fit's pairs with an interaction; the pair of the analysis's slopes first."""
    pairs = moderation_pairs(fit)
    if slopes is not None:
        chosen = (slopes.table.attrs.get("x_name"), slopes.table.attrs.get("moderator_name"))
        if chosen in pairs:
            pairs.remove(chosen)  # type: ignore[arg-type]
            pairs.insert(0, chosen)  # type: ignore[arg-type]
    return pairs


def _numeric_lines(results: ModerationResults, name: str, suffix: str) -> list[str]:
    """The curve, the Johnson–Neyman region and the simple slopes of a numeric moderator."""
    assert results.curve is not None and results.johnson_neyman is not None
    jn = results.johnson_neyman
    lines = [f"From model {name}. {results.curve.description}", ""]
    lines += [f"![moderation curve](figures/moderation_curve{suffix}.png)", ""]
    lines += ["### Johnson–Neyman region", "", jn.description, ""]
    if len(jn.regions):
        lines += [markdown_table(jn.regions.drop(columns=["share_of_range"])), ""]
    lines += [
        "Posterior of the moderator value where the population slope is zero:",
        "",
        markdown_table(jn.boundary),
        "",
        f"![boundary posterior](figures/boundary_posterior{suffix}.png)",
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
    return lines


def _factor_lines(results: ModerationResults, name: str) -> list[str]:
    """The slopes at each level of a factor moderator and their contrasts."""
    moderator = results.slopes.table.attrs.get("moderator_name")
    both = pd.concat([results.slopes.table, results.slopes_standardised.table])
    return [
        f"From model {name}. {results.slopes.description}",
        "",
        f"### Slopes at each level of {moderator} and their contrasts",
        "",
        "The moderator is a factor, so there is no course of the slope along it and no "
        "Johnson–Neyman region: the slope is given at each level, with the differences "
        f"between levels. Standardised: {STANDARDISED_CONVENTION}.",
        "",
        markdown_table(
            _shown(
                both.rename(columns={"moderator_label": "level"}),
                ("level", "mean", "sd", "ci_lower", "ci_upper", "p_direction", "scale"),
            )
        ),
        "",
        markdown_table(
            _shown(
                results.differences,
                ("contrast", "mean", "sd", "ci_lower", "ci_upper", "p_direction", "scale"),
            )
        ),
        "",
    ]


def _pair_lines(
    results: ModerationResults, name: str, written: Mapping[str, Path], suffix: str
) -> list[str]:
    """The Markdown of one pair's moderation analysis (after its heading)."""
    if results.curve is not None:
        lines = _numeric_lines(results, name, suffix)
    else:
        lines = _factor_lines(results, name)
    if results.persons is not None:
        lines += ["### Person slopes", "", results.persons.description, ""]
        if "figure:person_slopes" in written:
            lines += [f"![person slopes](figures/person_slopes{suffix}.png)", ""]
        lines += [markdown_table(_shares_for_reading(results.persons.shares)), ""]
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
    prob = int(round(constants.CI_PROB * 100))
    tables = ", ".join(f"`tables/{p.name}`" for k, p in written.items() if ":" not in k)
    lines.append(f"Tables ({prob}% intervals): {tables}.")
    return lines


def report_section(analysis: AnalysisOfFits, figures_dir: Path, tables_dir: Path) -> list[str]:
    """The report's "Moderation in depth" section for an analysis.

    Covers every (level-1 predictor, moderator) pair of the analysis's moderation model
    (``analysis.moderation_model``) with a cross-level interaction: for a numeric moderator
    the curve, the Johnson–Neyman region and the simple slopes; for a factor the slopes at
    each level and their contrasts; then the person slopes and the within/between effects.
    The pair of the analysis's simple slopes comes first and keeps their raw moderator
    values; a model with one such pair gives one section, further pairs one section each
    (headed by the pair, files named with it). Writes the files of
    :func:`write_moderation_files` and returns Markdown lines (figures linked as
    ``figures/<name>.png``).

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
    name = getattr(analysis, "moderation_model", None)
    fit = analysis.fits.get(name) if name is not None else None
    pairs = _pairs_in_order(fit, analysis.slopes) if fit is not None else []
    if fit is None or name is None or not pairs:
        return [
            f"## {SECTION_TITLE}",
            "",
            "No model with a cross-level interaction was fitted, so the slope's course along "
            "the moderator, its Johnson–Neyman region and the person slopes are not shown.",
        ]
    lines: list[str] = []
    for i, (focal, moderator) in enumerate(pairs):
        # several pairs: each is a part of the report's stage, its steps parts of it
        with part(f"{focal} × {moderator}") if len(pairs) > 1 else nullcontext():
            folders = (figures_dir, tables_dir)
            pair = (focal, moderator)
            lines += _pair_section(analysis, fit, name, i, pair, len(pairs), folders)
        if i < len(pairs) - 1:
            lines.append("")
    return lines


def _pair_section(
    analysis: AnalysisOfFits,
    fit: Fitted,
    name: str,
    i: int,
    pair: tuple[str, str],
    n_pairs: int,
    folders: tuple[Path, Path],
) -> list[str]:
    """The section of the ``i``-th pair: its results, files and Markdown lines."""
    focal, moderator = pair
    at = None  # the moderator values of the analysis's simple slopes, when given raw
    if i == 0 and analysis.slopes is not None:
        table = analysis.slopes.table
        if table["moderator_label"].astype(str).str.startswith("at ").all():
            at = table["moderator"].to_list()
    results = moderation_results(fit, model=name, at=at, focal=focal, moderator=moderator)
    suffix = "" if i == 0 else _file_suffix(pair)
    with part("figures and tables"):
        written = write_moderation_files(results, *folders, suffix=suffix)
    title = SECTION_TITLE if n_pairs == 1 else f"{SECTION_TITLE}: {focal} × {moderator}"
    return [f"## {title}", "", *_pair_lines(results, name, written, suffix)]


def focus_pair[FocusedAnalysis: AnalysisOfFits](
    analysis: FocusedAnalysis,
    *,
    focal: str | None = None,
    moderator: str | None = None,
    at: Sequence[float] | None = None,
) -> FocusedAnalysis:
    """The analysis with its simple slopes and moderation lines for a chosen pair.

    The report's moderation opening shows the analysis's simple slopes and lines, and its
    "Moderation in depth" section starts with their pair; by default they belong to the
    first level-1 predictor and the first moderator.

    Parameters
    ----------
    analysis : Analysis
        Output of :func:`ambidex_bayes.pipeline.run_analysis` or
        :func:`~ambidex_bayes.pipeline.analysis_from_fits` (a dataclass with ``fits``,
        ``moderation_model``, ``slopes`` and ``lines``).
    focal, moderator : str, optional
        The level-1 predictor and the moderator, by column name; default the first of each.
    at : sequence of float, optional
        Raw moderator values of the simple slopes (numeric moderator only).

    Returns
    -------
    Analysis
        A copy with ``slopes`` and ``lines`` of the chosen pair.

    Raises
    ------
    ModelError
        If the analysis has no model with a within-person slope and a moderator.
    """
    import dataclasses

    from ambidex_bayes.errors import ModelError
    from ambidex_bayes.moderation.lines import moderation_lines

    name = analysis.moderation_model
    fit = analysis.fits.get(name) if name is not None else None
    if fit is None:
        raise ModelError(
            "No model with a within-person slope and a moderator was fitted, so there is no "
            "pair to choose with focal/moderator."
        )
    slopes = simple_slopes(fit, at=at, focal=focal, moderator=moderator)
    lines = moderation_lines(fit, focal=focal, moderator=moderator)
    return dataclasses.replace(analysis, slopes=slopes, lines=lines)  # type: ignore[type-var]
