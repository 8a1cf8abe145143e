"""Write the report folder of an analysis: Markdown, PNG figures, CSV tables.

The folder is assembled in a temporary sibling folder and swapped into place only when
complete, so an interrupted run leaves the previous report intact. Because the folder is
replaced as a whole, only a new path, an empty folder or a report folder written earlier
(it holds the marker file ``.ambidex-report`` and nothing else but a report's files) is
accepted; see :func:`ambidex_bayes.output_paths.check_report_folder`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ambidex_bayes import constants  # noqa: E402
from ambidex_bayes.checks.report_section import (  # noqa: E402
    report_section as checks_report_section,
)
from ambidex_bayes.errors import OutputError  # noqa: E402
from ambidex_bayes.markdown import markdown_table  # noqa: E402
from ambidex_bayes.moderation.report_section import (  # noqa: E402
    report_section as moderation_report_section,
)
from ambidex_bayes.output_paths import (  # noqa: E402
    REPORT_MARKER,
    check_report_folder,
    new_folder_beside,
    replace_folder,
)
from ambidex_bayes.pipeline import Analysis  # noqa: E402
from ambidex_bayes.results import (  # noqa: E402
    plot_fixed_effects,
    plot_moderation_lines,
    plot_simple_slopes,
)

__all__ = ["write_report", "markdown_table", "REPORT_SECTIONS"]

#: Further report sections. Each function takes ``(analysis, figures_dir, tables_dir)``,
#: computes through library functions, writes its figures and CSV tables there and returns
#: Markdown lines (figure paths relative to the report: ``figures/<name>.png``). Sections
#: appear in this order after the moderation.
REPORT_SECTIONS: tuple[Callable[[Analysis, Path, Path], Iterable[str]], ...] = (
    moderation_report_section,
    checks_report_section,
)


def _save_figure(fig: plt.Figure, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(
    analysis: Analysis,
    out_dir: str | os.PathLike,
    *,
    title: str | None = None,
    inputs: Iterable[str | os.PathLike | None] = (),
) -> Path:
    """Write ``report.md`` with figures (``figures/*.png``) and tables (``tables/*.csv``).

    The report folder is replaced as a whole. It must be a new path, an empty folder, or a
    report folder written earlier by this function; a symbolic link, the current folder, a
    folder holding an input (``inputs`` and the analysis' saved fits) or any other non-empty
    folder is refused before anything is written.

    Parameters
    ----------
    analysis : Analysis
    out_dir : path
        The report folder.
    title : str, optional
    inputs : iterable of path
        Files and folders the report folder must not hold (data, mapping, fit cache).

    Returns
    -------
    Path
        The report file.

    Raises
    ------
    OutputError
        The folder may not be replaced, or cannot be written.
    """
    fits = getattr(analysis, "fits", {}) or {}
    protected = [*inputs, *(getattr(f, "path", None) for f in fits.values())]
    out = check_report_folder(out_dir, inputs=protected)
    tmp = new_folder_beside(out)
    try:
        try:
            _write(analysis, tmp, title=title)
            (tmp / REPORT_MARKER).write_text(
                "This folder is a report written by ambidex-bayes; writing a report to it "
                "replaces it as a whole.\n",
                encoding="utf-8",
            )
        except OSError as err:
            raise OutputError(
                f"{out}: the report could not be written ({err.strerror or err}). Name a folder "
                "you can write to, with enough free space."
            ) from None
        replace_folder(tmp, out, inputs=protected)
    finally:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(tmp)
    return out / "report.md"


def _write(analysis: Analysis, folder: Path, *, title: str | None) -> None:
    figures = folder / "figures"
    tables = folder / "tables"
    figures.mkdir()
    tables.mkdir()
    mapping = analysis.prepared.mapping
    prob = int(round(constants.CI_PROB * 100))
    md: list[str] = [f"# {title or 'Daily-diary multilevel analysis'}", ""]
    md += [
        f"Outcome **{mapping.outcome}**, level-1 predictor **{', '.join(mapping.level1)}** "
        f"(centred within person), level-2 moderator **{', '.join(mapping.level2) or 'none'}** "
        f"(centred at the mean over persons), persons identified by **{mapping.person}**. "
        f"Intervals are {prob}% equal-tailed credible intervals.",
        "",
        "## Data",
        "",
    ]
    compliance = analysis.diary.compliance.to_frame()
    compliance.to_csv(tables / "compliance.csv", index=False)
    md += [markdown_table(compliance), ""]
    if analysis.diary.reliability is not None and len(analysis.diary.reliability):
        analysis.diary.reliability.to_csv(tables / "reliability.csv", index=False)
        md += [
            "Scale reliabilities (within and between persons):",
            "",
            markdown_table(analysis.diary.reliability),
            "",
        ]
    notes = list(dict.fromkeys(list(analysis.diary.notes) + list(analysis.prepared.notes)))
    if notes:
        md += ["Notes:", ""] + [f"- {n}" for n in notes] + [""]
    if analysis.prepared.warnings:
        md += ["**Warnings:**", ""] + [f"- {w}" for w in analysis.prepared.warnings] + [""]

    if analysis.slopes is not None and analysis.lines is not None:
        md += [f"## The moderation ({analysis.moderation_model})", ""]
        fig, ax = plt.subplots(figsize=(6.5, 4.5))
        plot_moderation_lines(
            analysis.lines,
            ax=ax,
            x_label=mapping.level1[0],
            y_label=mapping.outcome,
            title=f"Predicted {mapping.outcome} by {mapping.level1[0]} at low and high {mapping.level2[0]}",
        )
        _save_figure(fig, figures / "moderation.png")
        analysis.lines.to_csv(tables / "moderation_lines.csv", index=False)
        md += ["![moderation](figures/moderation.png)", ""]
        md += [analysis.slopes.description, ""]
        slopes = analysis.slopes.table
        slopes.to_csv(tables / "simple_slopes.csv", index=False)
        md += [
            markdown_table(slopes.drop(columns=[c for c in ("which", "scale") if c in slopes])),
            "",
        ]
        fig, ax = plt.subplots(figsize=(6, 3.5))
        plot_simple_slopes(analysis.slopes, ax=ax)
        _save_figure(fig, figures / "simple_slopes.png")
        md += ["![simple slopes](figures/simple_slopes.png)", ""]

    for section in REPORT_SECTIONS:
        md += list(section(analysis, figures, tables)) + [""]

    if analysis.icc is not None:
        analysis.icc.to_csv(tables / "icc.csv", index=False)
        md += ["## Intraclass correlation (null model)", "", markdown_table(analysis.icc), ""]

    md += ["## The model ladder", ""]
    for name, result in analysis.fits.items():
        summary = analysis.summaries[name]
        summary.to_csv(tables / f"summary_{name}.csv", index=False)
        # a formula with quoted column names holds backticks: a double-backtick code span
        formula = f"`` {result.formula} ``" if "`" in result.formula else f"`{result.formula}`"
        md += [f"### {name}: {result.spec.title}", "", f"Formula: {formula}", ""]
        shown = [
            c
            for c in (
                "parameter",
                "role",
                "mean",
                "sd",
                "ci_lower",
                "ci_upper",
                "p_positive",
                "rhat",
                "ess_bulk",
            )
            if c in summary
        ]
        md += [markdown_table(summary[shown]), ""]
        conv = result.convergence
        md += ["Convergence: " + ("all checks passed." if conv.ok else "**problems found**"), ""]
        md += [f"- {line}" for line in str(conv).splitlines()] + [""]
        priors = result.prior_table()
        priors.to_csv(tables / f"priors_{name}.csv", index=False)
        md += [
            "<details><summary>Priors used</summary>",
            "",
            markdown_table(priors),
            "",
            "</details>",
            "",
        ]
        fig, ax = plt.subplots(figsize=(6, 0.5 + 0.4 * len(summary)))
        plot_fixed_effects(summary, ax=ax)
        _save_figure(fig, figures / f"effects_{name}.png")
        md += [f"![effects {name}](figures/effects_{name}.png)", ""]
        settings = result.meta.get("settings", {})
        md += [
            f"Sampled with {settings.get('backend')} ({settings.get('chains')} chains x "
            f"{settings.get('draws')} draws after {settings.get('tune')} tuning steps, seed "
            f"{settings.get('seed')}); data hash `{str(result.meta.get('data_hash'))[:12]}`.",
            "",
        ]
    (folder / "report.md").write_text("\n".join(md), encoding="utf-8")
