"""The report as one self-contained HTML page, rendered from the report's Markdown.

:func:`markdown_to_html` renders the subset of Markdown the report writes (headings,
paragraphs, bullet lists, GitHub tables, figures on a line of their own, ``**bold**``,
``*emphasis*``, code spans, links, and ``<details>``/``<summary>`` lines) into one HTML file:

- figures are embedded as base64 PNG data URIs, the style sheet is inline, and nothing is
  fetched from elsewhere (no scripts, fonts or style sheets from a network);
- a table of contents with anchors to every section (``##``) and subsection (``###``) comes
  after the title and the opening paragraph;
- sections whose heading starts with one of ``folded`` (the diagnostics) are folded away in
  ``<details>`` elements, as are the Markdown's own ``<details>`` blocks.

The page shows the same content as ``report.md``; nothing is computed here.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["markdown_to_html", "slug"]

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_IMAGE = re.compile(r"^!\[([^\]]*)\]\(([^)\s]+)\)\s*$")
_TABLE_SEPARATOR = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_NUM = r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?"
#: A number, a percentage or an interval ``[a, b]`` of numbers: a right-aligned cell.
_NUMBER = re.compile(rf"^({_NUM}%?|nan|inf|-inf|\[{_NUM}, {_NUM}\])$")
_CODE = re.compile(r"``\s?(.+?)\s?``|`([^`]+)`")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_EMPHASIS = re.compile(r"(?<![*\w])\*(?![\s*])(.+?)(?<![\s*])\*(?![*\w])")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
#: Raw HTML lines the report writes, passed through as they are.
_RAW = re.compile(r"^\s*(<details>|<details><summary>.*</summary>|</details>)\s*$")

_STYLE = """
body { font-family: "Liberation Serif", Georgia, "Times New Roman", serif; color: #1a1a1a;
  background: #fff; margin: 0; line-height: 1.5; }
main { max-width: 62rem; margin: 0 auto; padding: 1.5rem 2rem 4rem; }
h1, h2, h3, h4, summary { font-family: "Liberation Sans", Arial, Helvetica, sans-serif; }
h1 { font-size: 1.8rem; border-bottom: 2px solid #333; padding-bottom: .3rem; }
h2 { font-size: 1.4rem; margin-top: 2.2rem; border-bottom: 1px solid #bbb; }
h3 { font-size: 1.15rem; margin-top: 1.6rem; }
summary h2, summary h3, summary h4 { display: inline; border: 0; margin: 0; }
nav#toc { background: #f4f4f4; border: 1px solid #ddd; padding: .6rem 1.2rem; }
nav#toc h2 { margin-top: .3rem; border: 0; font-size: 1.1rem; }
nav#toc ol { margin: .2rem 0; padding-left: 1.4rem; }
table { border-collapse: collapse; margin: .8rem 0; font-size: .85rem;
  font-variant-numeric: tabular-nums; }
thead th { border-top: 2px solid #333; border-bottom: 1px solid #333; }
tbody tr:last-child td { border-bottom: 2px solid #333; }
th, td { padding: .15rem .6rem; vertical-align: top; }
td.r, th.r { text-align: right; } td.c, th.c { text-align: center; }
.scroll { overflow-x: auto; }
img { max-width: 100%; height: auto; display: block; margin: .8rem 0; }
details { border-left: 3px solid #ccc; padding-left: .8rem; margin: .8rem 0; }
summary { cursor: pointer; font-weight: 600; }
code { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: .85em;
  background: #f2f2f2; padding: 0 .2rem; }
.missing { color: #a00; }
@media print { details { border: 0; } nav#toc { display: none; } }
"""


def slug(text: str) -> str:
    """An anchor name for a heading: lower case, words joined by hyphens."""
    text = re.sub(r"<[^>]+>", "", text)
    words = re.findall(r"[^\W_]+", text.lower())
    return "-".join(words) or "section"


@dataclass
class _Anchors:
    used: set[str] = field(default_factory=set)

    def new(self, text: str) -> str:
        base = slug(text)
        name, k = base, 2
        while name in self.used:
            name, k = f"{base}-{k}", k + 1
        self.used.add(name)
        return name


def _inline(text: str) -> str:
    """Inline Markdown (code, bold, emphasis, links, escaped pipes) to HTML."""
    spans: list[str] = []

    def keep(match: re.Match[str]) -> str:
        spans.append(f"<code>{html.escape(match.group(1) or match.group(2))}</code>")
        return f"\x00{len(spans) - 1}\x00"

    text = _CODE.sub(keep, text)
    text = html.escape(text.replace("\\|", "|"), quote=False)
    text = _BOLD.sub(r"<strong>\1</strong>", text)
    text = _EMPHASIS.sub(r"<em>\1</em>", text)
    text = _LINK.sub(
        lambda m: f'<a href="{html.escape(m.group(2), quote=True)}">{m.group(1)}</a>', text
    )
    return re.sub("\x00(\\d+)\x00", lambda m: spans[int(m.group(1))], text)


def _cells(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    return [c.strip() for c in _CELL_SPLIT.split(line)]


def _table(lines: list[str]) -> str:
    header, separator, rows = _cells(lines[0]), _cells(lines[1]), [_cells(x) for x in lines[2:]]
    align = []
    for j, s in enumerate(separator):
        right, left = s.endswith(":"), s.startswith(":")
        numbers = [r[j] for r in rows if j < len(r) and r[j]]
        numeric = bool(numbers) and all(_NUMBER.match(v) for v in numbers)
        # a column of numbers is right-aligned, as the Markdown pads it
        align.append("r" if (right and not left) or (numeric and not left) else "")
        if right and left:
            align[-1] = "c"

    def cls(j: int) -> str:
        return f' class="{align[j]}"' if j < len(align) and align[j] else ""

    head = "".join(f"<th{cls(j)}>{_inline(c)}</th>" for j, c in enumerate(header))
    body = "\n".join(
        "<tr>" + "".join(f"<td{cls(j)}>{_inline(c)}</td>" for j, c in enumerate(row)) + "</tr>"
        for row in rows
    )
    return (
        f'<div class="scroll"><table>\n<thead><tr>{head}</tr></thead>\n'
        f"<tbody>\n{body}\n</tbody></table></div>"
    )


def _image(alt: str, src: str, base: Path) -> str:
    path = base / src
    if not path.is_file() or path.suffix.lower() != ".png":
        return f'<p class="missing">Figure not found: {html.escape(src)}</p>'
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt, quote=True)}">'


def _starts_block(line: str, following: str) -> bool:
    return bool(
        _HEADING.match(line)
        or _RAW.match(line)
        or _IMAGE.match(line)
        or line.startswith("- ")
        or (line.startswith("|") and _TABLE_SEPARATOR.match(following))
    )


@dataclass
class _Heading:
    level: int
    text: str
    anchor: str


def markdown_to_html(
    markdown: str,
    *,
    base: str | Path,
    title: str,
    folded: Sequence[str] = (),
) -> str:
    """Render the report's Markdown as one self-contained HTML page.

    Parameters
    ----------
    markdown : str
        The text of ``report.md``.
    base : path
        The report folder: figure paths in the Markdown are relative to it.
    title : str
        The page title (``<title>``).
    folded : sequence of str
        Headings (their start) whose sections are folded away in ``<details>``.

    Returns
    -------
    str
        The HTML page.
    """
    base = Path(base)
    lines = markdown.splitlines()
    anchors = _Anchors()
    out: list[str] = []
    headings: list[_Heading] = []
    open_folds: list[int] = []  # heading levels of the open folded sections
    toc_at: int | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if not line.strip():
            i += 1
            continue
        heading = _HEADING.match(line)
        if heading:
            level, text = len(heading.group(1)), heading.group(2)
            while open_folds and open_folds[-1] >= level:
                open_folds.pop()
                out.append("</details>")
            if level == 2 and toc_at is None:
                toc_at = len(out)
            anchor = anchors.new(text)
            headings.append(_Heading(level, text, anchor))
            tag = f'<h{level} id="{anchor}">{_inline(text)}</h{level}>'
            if level > 1 and any(text.startswith(f) for f in folded):
                out.append(f'<details class="fold"><summary>{tag}</summary>')
                open_folds.append(level)
            else:
                out.append(tag)
            i += 1
        elif _RAW.match(line):
            raw = line.strip()
            summary = re.match(r"<details><summary>(.*)</summary>", raw)
            out.append(
                f"<details><summary>{_inline(summary.group(1))}</summary>" if summary else raw
            )
            i += 1
        elif line.startswith("|") and _TABLE_SEPARATOR.match(following):
            block = [line, following]
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                block.append(lines[i])
                i += 1
            out.append(_table(block))
        elif _IMAGE.match(line):
            image = _IMAGE.match(line)
            out.append(_image(image.group(1), image.group(2), base))
            i += 1
        elif line.startswith("- "):
            items = []
            while i < len(lines) and lines[i].startswith("- "):
                items.append(f"<li>{_inline(lines[i][2:])}</li>")
                i += 1
            out.append("<ul>\n" + "\n".join(items) + "\n</ul>")
        else:
            block = [line]
            i += 1
            while i < len(lines) and lines[i].strip():
                nxt = lines[i + 1] if i + 1 < len(lines) else ""
                if _starts_block(lines[i], nxt):
                    break
                block.append(lines[i])
                i += 1
            out.append(f"<p>{_inline(' '.join(s.strip() for s in block))}</p>")
    out += ["</details>"] * len(open_folds)
    toc = _toc(headings)
    if toc:
        out.insert(toc_at if toc_at is not None else len(out), toc)
    body = "\n".join(out)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def _toc(headings: list[_Heading]) -> str:
    """A nested list of links to the sections (level 2) and their subsections (level 3)."""
    entries = [h for h in headings if h.level in (2, 3)]
    if not entries:
        return ""
    parts = ['<nav id="toc">', "<h2>Contents</h2>", "<ol>"]
    in_sub = False
    first = True
    for h in entries:
        link = f'<a href="#{h.anchor}">{_inline(h.text)}</a>'
        if h.level == 2:
            if in_sub:
                parts.append("</ol>")
                in_sub = False
            if not first:
                parts.append("</li>")
            parts.append(f"<li>{link}")
        else:
            if first:
                parts.append("<li>")
            if not in_sub:
                parts.append("<ol>")
                in_sub = True
            parts.append(f"<li>{link}</li>")
        first = False
    if in_sub:
        parts.append("</ol>")
    parts += ["</li>", "</ol>", "</nav>"]
    return "\n".join(parts)
