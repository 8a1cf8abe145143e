"""The documentation site builds without a single warning (``make docs``: Sphinx with
``-W --keep-going``), and its key pages are there: the home page, the model's maths, the
API reference of every public module and the notebook pages.

The notebooks are not executed here (``-D nb_execution_mode=off``): tests/test_notebooks.py
runs them.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

for _package in ("sphinx", "myst_nb", "furo", "jupytext"):
    pytest.importorskip(_package, reason=f"{_package} is not installed (the 'docs' extra)")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("docs")
    command = [
        sys.executable,
        "-m",
        "sphinx",
        "-b",
        "html",
        "-W",
        "--keep-going",
        "-q",
        "-D",
        "nb_execution_mode=off",
        "-d",
        str(out / "doctrees"),
        str(DOCS),
        str(out / "html"),
    ]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, f"the docs build failed or warned:\n{run.stderr[-6000:]}"
    return out / "html"


def _text(path: Path) -> str:
    assert path.is_file(), f"{path.name} was not built"
    return path.read_text(encoding="utf-8")


def _anchors(site: Path) -> set[str]:
    pages = (site / "api" / "generated").glob("*.html")
    return {m for page in pages for m in re.findall(r'id="(ambidex_bayes[\w.]*)"', _text(page))}


def test_home_page_links_the_parts(site: Path):
    home = _text(site / "index.html")
    for page in ("model.html", "notebooks.html", "api/index.html"):
        assert f'href="{page}' in home, page


def test_model_page_holds_the_maths(site: Path):
    model = _text(site / "model.html")
    # MathJax renders the $$ ... $$ blocks in the browser: they reach the page as math
    assert len(re.findall(r'class="math[ "]', model)) >= 15
    for heading in (
        "centring",
        "model ladder",
        "correlated person effects",
        "fast path",
        "simple slope",
        "johnson",
    ):
        assert re.search(rf"<h2>[^<]*{heading}", model, flags=re.IGNORECASE), heading
    for formula in (r"\gamma_{11}", r"\mathrm{LKJ}(\eta)", r"P_j^{-1} w_j", r"W^{*(s)}"):
        assert formula in model, formula
    assert "mathjax" in model.lower()


def test_api_reference_documents_the_named_functions(site: Path):
    anchors = _anchors(site)
    for name in ("fit", "simple_slopes", "johnson_neyman", "prepare", "load_diary"):
        assert any(a.rsplit(".", 1)[-1] == name for a in anchors), name
    # the front door lists its verbs, linked to the entries that document them
    front = _text(site / "api" / "generated" / "ambidex_bayes.html")
    for name in ("fit", "simple_slopes"):
        link = rf'href="[\w.]*\.html#(ambidex_bayes[\w.]*\.{name})"'
        targets = re.findall(link, front)
        assert targets and set(targets) <= anchors, name


@pytest.mark.parametrize(
    "package", ["ambidex_bayes.moderation", "ambidex_bayes.checks", "ambidex_bayes.engine"]
)
def test_every_public_module_of_a_package_has_a_page(site: Path, package: str):
    module = importlib.import_module(package)
    names = [package]
    names += [
        info.name
        for info in pkgutil.iter_modules(module.__path__, prefix=f"{package}.")
        if not info.name.rsplit(".", 1)[-1].startswith("_")
    ]
    for name in names:
        page = _text(site / "api" / "generated" / f"{name}.html")
        assert f'id="module-{name}"' in page, name


def test_every_notebook_has_a_page(site: Path):
    notebooks = sorted((ROOT / "notebooks").glob("*.py"))
    assert notebooks
    for notebook in notebooks:
        page = _text(site / "notebooks" / f"{notebook.stem}.html")
        # the notebook's code cells reach the page
        assert "cell_input" in page, notebook.name
