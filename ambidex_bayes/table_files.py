"""Write a table for publication as CSV, LaTeX (booktabs) and Word (.docx) files.

The writers take a table's text cells (:meth:`ambidex_bayes.apa_tables.ApaTable.display`)
and lay them out in APA style: the table number and title above, horizontal rules only (top,
below the header, bottom), the note below. They compute nothing.

- :func:`latex_table`: a ``table`` environment with a ``tabular`` using the ``booktabs``
  rules (``\\usepackage{booktabs}``); every special character of LaTeX in a cell, title or
  note is escaped, and a minus sign in a number is set as a minus.
- :func:`write_docx`: a Word document with one table (python-docx).
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from ambidex_bayes.apa_tables import ApaTable

__all__ = [
    "docx_available",
    "latex_escape",
    "latex_table",
    "write_csv",
    "write_latex",
    "write_docx",
    "write_table",
]

#: LaTeX's special characters and their escaped forms (backslash first).
_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    "²": r"\textsuperscript{2}",
    "–": "--",
    "—": "---",
    "−": "-",
}
_LATEX_PATTERN = re.compile("|".join(re.escape(c) for c in _LATEX_SPECIAL))

#: A number or an interval of numbers, as the display cells print them.
_NUMERIC = re.compile(r"^\[?-?\d+(\.\d+)?(, -?\d+(\.\d+)?\])?$")

#: Unicode minus sign, used for negative numbers in Word.
MINUS = "\u2212"


def docx_available() -> bool:
    """Whether python-docx, which writes the Word files, is installed."""
    return importlib.util.find_spec("docx") is not None


def latex_escape(text: object) -> str:
    """``text`` with every special character of LaTeX escaped (``a_b & c`` -> ``a\\_b \\& c``)."""
    return _LATEX_PATTERN.sub(lambda m: _LATEX_SPECIAL[m.group(0)], str(text))


def _is_numeric(cell: str) -> bool:
    return bool(_NUMERIC.match(cell))


def _latex_cell(cell: object) -> str:
    text = str(cell)
    if _is_numeric(text):  # a minus sign, not a hyphen
        return text.replace("-", "$-$")
    return latex_escape(text)


def _alignment(cells: pd.DataFrame) -> str:
    """``r`` for a column of numbers (or intervals), ``l`` otherwise."""
    out = []
    for col in cells.columns:
        values = [str(v) for v in cells[col] if str(v) != ""]
        out.append("r" if values and all(_is_numeric(v) for v in values) else "l")
    return "".join(out)


def latex_table(table: ApaTable, *, digits: int = 2) -> str:
    """The table as LaTeX: a ``table`` float holding a booktabs ``tabular``.

    LaTeX numbers the floats itself; the label is ``tab:<stem>``.

    Parameters
    ----------
    table : ApaTable
    digits : int
        Decimals of the numbers.

    Returns
    -------
    str
        Needs ``\\usepackage{booktabs}`` in the preamble.
    """
    cells = table.display(digits)
    header = " & ".join(latex_escape(c) for c in cells.columns) + r" \\"
    body = [" & ".join(_latex_cell(v) for v in row) + r" \\" for row in cells.itertuples(False)]
    lines = [
        f"% {latex_escape(table.title)}: written by ambidex_bayes; needs \\usepackage{{booktabs}}",
        r"\begin{table}[htbp]",
        r"\centering",
        f"\\caption{{{latex_escape(table.title)}}}",
        f"\\label{{tab:{table.stem}}}",
        f"\\begin{{tabular}}{{{_alignment(cells)}}}",
        r"\toprule",
        header,
        r"\midrule",
        *body,
        r"\bottomrule",
        r"\end{tabular}",
        r"\par\smallskip",
        f"{{\\footnotesize\\textit{{Note.}} {latex_escape(table.note)}\\par}}",
        r"\end{table}",
        "",
    ]
    return "\n".join(lines)


def write_csv(table: ApaTable, path: str | os.PathLike) -> Path:
    """The table's numbers (not the display text) as CSV."""
    path = Path(path)
    table.frame.to_csv(path, index=False)
    return path


def write_latex(table: ApaTable, path: str | os.PathLike, *, digits: int = 2) -> Path:
    """:func:`latex_table` written to ``path`` (UTF-8)."""
    path = Path(path)
    path.write_text(latex_table(table, digits=digits), encoding="utf-8")
    return path


def _rule(cell: object, *sides: str) -> None:
    """A single thin horizontal rule on the given sides (``top``, ``bottom``) of a Word cell."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    properties = cell._tc.get_or_add_tcPr()
    borders = properties.find(qn("w:tcBorders"))
    if borders is None:
        borders = OxmlElement("w:tcBorders")
        properties.append(borders)
    for side in sides:
        edge = OxmlElement(f"w:{side}")
        edge.set(qn("w:val"), "single")
        edge.set(qn("w:sz"), "6")
        edge.set(qn("w:space"), "0")
        edge.set(qn("w:color"), "000000")
        borders.append(edge)


def write_docx(
    table: ApaTable, path: str | os.PathLike, *, number: int | None = None, digits: int = 2
) -> Path:
    """The table as a Word document: number and title above, rules, the note below.

    Raises
    ------
    ImportError
        python-docx is not installed (``pip install python-docx``).
    """
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    cells = table.display(digits)
    document = Document()
    label = document.add_paragraph()
    label.add_run(f"Table {number}" if number is not None else "Table").bold = True
    title = document.add_paragraph()
    title.add_run(table.title).italic = True
    grid = document.add_table(rows=len(cells) + 1, cols=len(cells.columns))
    numeric = [a == "r" for a in _alignment(cells)]
    for j, name in enumerate(cells.columns):
        cell = grid.rows[0].cells[j]
        cell.text = str(name)
        _rule(cell, "top", "bottom")
    for i, row in enumerate(cells.itertuples(False), start=1):
        for j, value in enumerate(row):
            cell = grid.rows[i].cells[j]
            text = str(value)
            cell.text = text.replace("-", MINUS) if _is_numeric(text) else text
            if numeric[j]:
                cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.RIGHT
            if i == len(cells):
                _rule(cell, "bottom")
    for row in grid.rows:
        for cell in row.cells:
            for paragraph in cell.paragraphs:
                for run in paragraph.runs:
                    run.font.size = Pt(10)
    note = document.add_paragraph()
    note.add_run("Note. ").italic = True
    note.add_run(table.note)
    path = Path(path)
    document.save(str(path))
    return path


def write_table(
    table: ApaTable, folder: str | os.PathLike, *, number: int | None = None, digits: int = 2
) -> dict[str, Path]:
    """Write ``<stem>.csv``, ``<stem>.tex`` and ``<stem>.docx`` into ``folder``.

    Returns
    -------
    dict of str to Path
        Suffix (``csv``, ``tex``, ``docx``) to the written file; ``docx`` is missing when
        python-docx is not installed (:func:`docx_available`).
    """
    folder = Path(folder)
    written = {
        "csv": write_csv(table, folder / f"{table.stem}.csv"),
        "tex": write_latex(table, folder / f"{table.stem}.tex", digits=digits),
    }
    if docx_available():
        written["docx"] = write_docx(
            table, folder / f"{table.stem}.docx", number=number, digits=digits
        )
    return written
