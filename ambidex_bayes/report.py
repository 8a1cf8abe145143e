"""Write the report folder of an analysis: Markdown, HTML, figures, tables and methods.

The folder holds ``report.md`` (figures as PNG files in ``figures/``, tables as CSV in
``tables/``), ``report.html`` (the same content as one self-contained page: figures
embedded, a table of contents, the diagnostics folded away; :mod:`ambidex_bayes.report_html`),
``methods.txt`` (the methods paragraph, :mod:`ambidex_bayes.methods_text`) and the tables for
publication as CSV, LaTeX and Word files (:mod:`ambidex_bayes.apa_tables`,
:mod:`ambidex_bayes.table_files`). Each stage of the writing is timed in the analysis's
:class:`~ambidex_bayes.stage_timing.StageTimes`, each report section broken down into its
parts (timed by the sections with :func:`ambidex_bayes.stage_timing.part`); the report shows
the stage times and :func:`write_report` prints them at the end.

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
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import matplotlib
import pandas as pd

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ambidex_bayes import constants  # noqa: E402
from ambidex_bayes.apa_tables import ApaTable, apa_tables  # noqa: E402
from ambidex_bayes.centring_record import LATENT_BELOW, centring_line  # noqa: E402
from ambidex_bayes.checks.report_section import (  # noqa: E402
    report_section as checks_report_section,
)
from ambidex_bayes.errors import OutputError  # noqa: E402
from ambidex_bayes.markdown import markdown_table  # noqa: E402
from ambidex_bayes.methods_text import methods_paragraph  # noqa: E402
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
from ambidex_bayes.prepared_data import PreparedData  # noqa: E402
from ambidex_bayes.report_html import markdown_to_html  # noqa: E402
from ambidex_bayes.results import (  # noqa: E402
    plot_fixed_effects,
    plot_moderation_lines,
    plot_simple_slopes,
)
from ambidex_bayes.stage_timing import StageTimes, format_seconds  # noqa: E402
from ambidex_bayes.table_files import docx_available, write_table  # noqa: E402

__all__ = ["write_report", "markdown_table", "REPORT_SECTIONS"]

#: Further report sections. Each function takes ``(analysis, figures_dir, tables_dir)``,
#: computes through library functions, writes its figures and CSV tables there and returns
#: Markdown lines (figure paths relative to the report: ``figures/<name>.png``). Sections
#: appear in this order after the moderation.
REPORT_SECTIONS: tuple[Callable[[Analysis, Path, Path], Iterable[str]], ...] = (
    moderation_report_section,
    checks_report_section,
)

#: The stage name of each report section in the stage timings.
_SECTION_STAGES: dict[Callable[[Analysis, Path, Path], Iterable[str]], str] = {
    moderation_report_section: "moderation in depth (curve, Johnson–Neyman, person slopes)",
    checks_report_section: "model checks (PPC, LOO, R²)",
}

#: Title of a report without one.
DEFAULT_TITLE = "Daily-diary multilevel analysis"

#: The methods paragraph as plain text, next to report.md.
METHODS_FILE = "methods.txt"

#: Heading of the section with the tables for publication.
PUBLICATION_TITLE = "Tables for publication"

#: Sections (heading starts) the HTML page folds away: the diagnostics.
FOLDED_SECTIONS = ("Posterior predictive checks", "Stage timings")

#: Columns of a model's posterior summary shown in the report.
_SUMMARY_SHOWN = (
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

#: The kinds of table file, as the report names them.
_FILE_KINDS = {"csv": "CSV", "tex": "LaTeX", "docx": "Word"}


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
    """Write ``report.md`` and ``report.html`` with figures, tables and ``methods.txt``.

    Figures go to ``figures/*.png``; tables to ``tables/*.csv``, the tables for publication
    also as ``tables/apa_*.tex`` and ``tables/apa_*.docx``. Each stage is timed in
    ``analysis.timings`` (a line as it starts unless the analysis was run with
    ``progressbar=False``); the table of stage times is printed at the end unless it was run
    with ``verbose=False``.

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
    timings = getattr(analysis, "timings", None)
    if isinstance(timings, StageTimes) and timings.print_table and timings.records:
        print(f"\nTime per stage:\n{timings.text()}")
    return out / "report.md"


def _write(analysis: Analysis, folder: Path, *, title: str | None) -> None:
    """Write every file of the report into ``folder``, timing each stage."""
    timings = _timings(analysis)
    figures = folder / "figures"
    tables = folder / "tables"
    figures.mkdir()
    tables.mkdir()
    title = title or DEFAULT_TITLE
    with timings.stage("report: data and the moderation figures"):
        opening = _data_lines(analysis, tables) + _moderation_lines(analysis, figures, tables)
    sections: list[str] = []
    for section in REPORT_SECTIONS:
        with timings.stage(f"report: {_section_stage(section)}"):
            sections += list(section(analysis, figures, tables)) + [""]
    with timings.stage("report: the model ladder (summaries, priors, figures)"):
        ladder = _icc_lines(analysis, tables) + _ladder_lines(analysis, figures, tables)
    with timings.stage("report: tables for publication (CSV, LaTeX, Word) and methods"):
        # PSIS-LOO and R² were computed by the checks section, which wrote them as tables
        loo, r2 = _read_table(tables / "loo.csv"), _read_table(tables / "r2.csv")
        methods = methods_paragraph(analysis, loo=loo)
        (folder / METHODS_FILE).write_text(methods + "\n", encoding="utf-8")
        publication = _publication_lines(apa_tables(analysis, loo=loo, r2=r2), tables)
    md = [f"# {title}", "", _intro(analysis), ""]
    md += [
        "## Methods",
        "",
        methods,
        "",
        f"The same paragraph as plain text: `{METHODS_FILE}`.",
        "",
    ]
    md += opening + sections + ladder + publication + _timing_lines(analysis, timings)
    text = "\n".join(md)
    (folder / "report.md").write_text(text, encoding="utf-8")
    with timings.stage("report: the HTML page"):
        page = markdown_to_html(text, base=folder, title=title, folded=FOLDED_SECTIONS)
        (folder / "report.html").write_text(page, encoding="utf-8")


def _timings(analysis: Analysis) -> StageTimes:
    """The analysis's stage record (a new, silent one for an analysis without it)."""
    timings = getattr(analysis, "timings", None)
    if isinstance(timings, StageTimes):
        return timings
    return StageTimes(progress=False, print_table=False)


def _section_stage(section: Callable[[Analysis, Path, Path], Iterable[str]]) -> str:
    return _SECTION_STAGES.get(section, getattr(section, "__module__", "a report section"))


def _read_table(path: Path) -> pd.DataFrame | None:
    return pd.read_csv(path) if path.is_file() else None


def _intro(analysis: Analysis) -> str:
    prepared = analysis.prepared
    mapping = prepared.mapping
    prob = int(round(constants.CI_PROB * 100))
    plural = "s" if len(mapping.level1) > 1 else ""
    return (
        f"Outcome **{mapping.outcome}**, level-1 predictor{plural} "
        f"**{', '.join(mapping.level1)}** (centred within person), "
        f"{_moderator_words(prepared)}, persons identified by **{mapping.person}**. "
        f"Intervals are {prob}% equal-tailed credible intervals."
    )


def _moderator_words(prepared: PreparedData) -> str:
    """How the level-2 moderators entered the models, for the report's first line."""
    level2 = prepared.mapping.level2
    if not level2:
        return "no level-2 moderator"
    words = []
    for column in level2:
        coding = prepared.factor_codings.get(column)
        if coding is None:
            words.append(f"**{column}** (centred at the mean over persons)")
        elif coding.reference is not None:
            words.append(f"**{column}** (a factor, reference level {coding.reference!r})")
        else:
            words.append(f"**{column}** (a factor, sum-coded)")
    plural = "s" if len(level2) > 1 else ""
    return f"level-2 moderator{plural} " + ", ".join(words)


def _data_lines(analysis: Analysis, tables: Path) -> list[str]:
    md = ["## Data", ""]
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
        md += ["**Warnings:**", ""] + [f"- {w}" for w in analysis.prepared.warnings]
        md += [f"- {line}" for line in _latent_remedy_lines(analysis)] + [""]
    return md


def _latent_remedy_lines(analysis: Analysis) -> list[str]:
    """Which fits below already answer the data's reliability warning: those that used
    latent person-mean centring (none when the person means are reliable enough)."""
    reliability = analysis.prepared.person_mean_reliability.values()
    latent = [name for name, f in analysis.fits.items() if f.meta.get("centring") == "latent"]
    if not latent or not any(lam < LATENT_BELOW for lam in reliability):
        return []
    names = latent[0] if len(latent) == 1 else f"{', '.join(latent[:-1])} and {latent[-1]}"
    verb = "uses" if len(latent) == 1 else "use"
    return [
        f"{names} below {verb} latent person-mean centring, so the bias from unreliable "
        "observed person means described above does not apply to "
        f"{'it' if len(latent) == 1 else 'them'} (see each model's centring line)."
    ]


def _moderation_lines(analysis: Analysis, figures: Path, tables: Path) -> list[str]:
    if analysis.slopes is None or analysis.lines is None:
        return []
    mapping = analysis.prepared.mapping
    md = [f"## The moderation ({analysis.moderation_model})", ""]
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
    return md


def _icc_lines(analysis: Analysis, tables: Path) -> list[str]:
    if analysis.icc is None:
        return []
    analysis.icc.to_csv(tables / "icc.csv", index=False)
    return ["## Intraclass correlation (null model)", "", markdown_table(analysis.icc), ""]


def _ladder_lines(analysis: Analysis, figures: Path, tables: Path) -> list[str]:
    md = ["## The model ladder", ""]
    for name, result in analysis.fits.items():
        summary = analysis.summaries[name]
        summary.to_csv(tables / f"summary_{name}.csv", index=False)
        # a formula with quoted column names holds backticks: a double-backtick code span
        formula = f"`` {result.formula} ``" if "`" in result.formula else f"`{result.formula}`"
        md += [f"### {name}: {result.spec.title}", "", f"Formula: {formula}", ""]
        md += [centring_line(result.meta), ""]
        shown = [c for c in _SUMMARY_SHOWN if c in summary]
        md += [markdown_table(summary[shown]), ""]
        conv = result.convergence
        checks = [f"- {line}" for line in str(conv).splitlines()]
        if conv.ok:  # a problem stays in view; a clean report is folded away
            md += ["<details><summary>Convergence: all checks passed</summary>", ""]
            md += checks + ["", "</details>", ""]
        else:
            md += ["Convergence: **problems found**", ""] + checks + [""]
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
    return md


def _publication_lines(tables: Mapping[str, ApaTable], folder: Path) -> list[str]:
    """Write the tables for publication and return their section."""
    md = [
        f"## {PUBLICATION_TITLE}",
        "",
        "APA-style tables of the models above, each as CSV (the numbers), LaTeX (a booktabs "
        "table: `\\usepackage{booktabs}`) and Word files in `tables/`.",
        "",
    ]
    if not docx_available():
        md += [
            "The Word (.docx) files were not written because python-docx is not installed: "
            "`pip install python-docx` (or `pip install ambidex_bayes`, which requires it), "
            "then write the report again.",
            "",
        ]
    for number, table in enumerate(tables.values(), start=1):
        written = write_table(table, folder, number=number)
        links = ", ".join(
            f"[{_FILE_KINDS[kind]}](tables/{path.name})" for kind, path in written.items()
        )
        md += [
            f"### Table {number}. {table.title}",
            "",
            _text_table(table.display()),
            "",
            f"*Note.* {table.note}",
            "",
            f"Files: {links}.",
            "",
        ]
    return md


def _text_table(cells: pd.DataFrame) -> str:
    """A table of text cells as a GitHub Markdown table, each cell exactly as given."""
    from tabulate import tabulate

    def escape(value: object) -> str:
        return str(value).replace("|", "\\|")

    return tabulate(
        cells.map(escape),
        headers=[escape(c) for c in cells.columns],
        tablefmt="github",
        showindex=False,
        disable_numparse=True,
    )


def _timing_lines(analysis: Analysis, timings: StageTimes) -> list[str]:
    md = [
        "## Stage timings",
        "",
        "Wall-clock time of each stage of this run (the HTML page, written after this "
        "table, is not included). The parts of a stage, marked ·, follow it; their time is "
        "part of the stage's:",
        "",
        markdown_table(timings.readable()),
        "",
    ]
    sampled = [
        f"{name} {format_seconds(float(f.meta['wall_seconds']))}"
        for name, f in analysis.fits.items()
        if isinstance(f.meta.get("wall_seconds"), int | float)
    ]
    if sampled:
        md += [
            "Sampling time recorded with each fit (a fit re-used from the cache was sampled "
            "earlier; its stage above only read it): " + ", ".join(sampled) + ".",
            "",
        ]
    return md
