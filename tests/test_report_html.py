"""report.html: one self-contained page with the content of report.md.

A report of a fit of known fake draws is written once (without the sections that refit or
replicate data: those are tested with their modules); the page must load nothing from
elsewhere, embed every figure, link a table of contents to anchors that exist, put the
methods paragraph near the top and fold the diagnostics away.
"""

from __future__ import annotations

import base64
import importlib
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from report_fakes import fake_analysis

from ambidex_bayes.report_html import markdown_to_html, slug


class _Page(HTMLParser):
    """The ids, links, images, headings and <details> of a page, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.links: list[str] = []
        self.images: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if attributes.get("id"):
            self.ids.append(attributes["id"])
        if tag == "a":
            self.links.append(attributes.get("href") or "")
        if tag == "img":
            self.images.append(attributes.get("src") or "")


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


@pytest.fixture(scope="module")
def report_folder(tmp_path_factory) -> Path:
    report = importlib.import_module("ambidex_bayes.report")
    out = tmp_path_factory.mktemp("html") / "report"
    saved = report.REPORT_SECTIONS
    report.REPORT_SECTIONS = ()
    try:
        report.write_report(fake_analysis(), out)
    finally:
        report.REPORT_SECTIONS = saved
    return out


def test_the_page_and_the_methods_file_are_next_to_the_markdown(report_folder):
    assert (report_folder / "report.md").is_file()
    assert (report_folder / "report.html").is_file()
    methods = (report_folder / "methods.txt").read_text().strip()
    assert methods.startswith("The analyses were run in Python")
    assert methods in (report_folder / "report.md").read_text()


def test_the_page_is_self_contained(report_folder):
    html = (report_folder / "report.html").read_text()
    assert not re.search(r"https?://", html), "the page names a web address"
    assert "<script" not in html and "<link" not in html and "@import" not in html
    page = _parse(html)
    markdown = (report_folder / "report.md").read_text()
    figures = re.findall(r"^!\[[^\]]*\]\((figures/[^)]+)\)$", markdown, flags=re.M)
    assert len(figures) >= 3
    assert len(page.images) == len(figures)
    for src, figure in zip(page.images, figures, strict=True):
        assert src.startswith("data:image/png;base64,")
        data = base64.b64decode(src.split(",", 1)[1])
        assert data == (report_folder / figure).read_bytes()


def test_the_table_of_contents_links_to_anchors_that_exist(report_folder):
    html = (report_folder / "report.html").read_text()
    page = _parse(html)
    toc = html.split('<nav id="toc">', 1)[1].split("</nav>", 1)[0]
    targets = re.findall(r'href="#([^"]+)"', toc)
    assert len(targets) >= 6
    assert set(targets) <= set(page.ids)
    assert len(page.ids) == len(set(page.ids)), "an anchor is used twice"
    markdown = (report_folder / "report.md").read_text()
    sections = re.findall(r"^## (.+)$", markdown, flags=re.M)
    assert [t for t in targets if t in {slug(s) for s in sections}] == [slug(s) for s in sections]
    for name in ("methods", "data", "the-model-ladder", "tables-for-publication"):
        assert name in targets


def test_methods_come_first_and_the_diagnostics_are_folded(report_folder):
    html = (report_folder / "report.html").read_text()
    body = html.split('<nav id="toc">', 1)[1].split("</nav>", 1)[1]
    first_section = re.search(r'<h2 id="([^"]+)"', body).group(1)
    assert first_section == "methods"
    assert re.search(r'<details class="fold"><summary><h2 id="stage-timings">', html)
    assert "<details><summary>Convergence: all checks passed</summary>" in html
    assert "<details><summary>Priors used</summary>" in html
    assert html.count("<details") == html.count("</details>")


def test_the_tables_for_publication_are_html_tables_with_their_files(report_folder):
    html = (report_folder / "report.html").read_text()
    section = html.split('id="tables-for-publication"', 1)[1].split("<h2 ", 1)[0]
    assert section.count("<table>") == 3
    assert re.search(r"<th[^>]*>95% CrI</th>", section)
    assert "unc_cw:sup_c" in section
    for stem in ("apa_fixed_effects", "apa_variance_components", "apa_model_fit"):
        for suffix in (".csv", ".tex", ".docx"):
            assert (report_folder / "tables" / f"{stem}{suffix}").is_file()
        assert f'href="tables/{stem}.tex"' in section


def test_a_report_folder_with_the_new_files_is_replaced_again(report_folder, tmp_path):
    import shutil

    from ambidex_bayes.errors import AmbidexError
    from ambidex_bayes.output_paths import check_report_folder

    copy = Path(shutil.copytree(report_folder, tmp_path / "report"))
    assert check_report_folder(copy) == copy.resolve()
    (copy / "tables" / "my_notes.txt").write_text("mine")
    with pytest.raises(AmbidexError, match="my_notes.txt"):
        check_report_folder(copy)


def test_inline_markdown_and_escaping(tmp_path):
    markdown = "\n".join(
        [
            "# Title",
            "",
            "A *word*, a **strong** one, `code_x < 1` and [a file](tables/x.csv); 1 < 2 & 3.",
            "",
            "## Section",
            "",
            "| name   |   value |",
            "|--------|---------|",
            "| a\\|b  |   1.500 |",
            "",
            "- an item with `a|b`",
            "",
            "![missing](figures/none.png)",
        ]
    )
    html = markdown_to_html(markdown, base=tmp_path, title="T <1>")
    assert "<title>T &lt;1&gt;</title>" in html
    assert "<em>word</em>" in html and "<strong>strong</strong>" in html
    assert "<code>code_x &lt; 1</code>" in html
    assert '<a href="tables/x.csv">a file</a>' in html
    assert "1 &lt; 2 &amp; 3." in html
    assert "<td>a|b</td>" in html and '<td class="r">1.500</td>' in html
    assert "<li>an item with <code>a|b</code></li>" in html
    assert "Figure not found: figures/none.png" in html
    assert '<a href="#section">Section</a>' in html and '<h2 id="section">' in html


def test_a_folded_section_ends_at_the_next_heading_of_its_level(tmp_path):
    markdown = "# T\n\n## A\n\n### Diagnostics\n\ntext\n\n### B\n\nmore\n\n## C\n"
    html = markdown_to_html(markdown, base=tmp_path, title="T", folded=("Diagnostics",))
    folded = html.split('<details class="fold">', 1)[1].split("</details>", 1)[0]
    assert "text" in folded and "more" not in folded
    assert '<h3 id="b">' in html.split("</details>", 1)[1]
