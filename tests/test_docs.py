"""The documentation site builds without a single warning (``make docs``: Sphinx with
``-W --keep-going``), and its key pages are there: the home page, the model's maths, the
API reference of every public module and the notebook pages.

The notebooks are not executed here (``-D nb_execution_mode=off``): tests/test_notebooks.py
runs them.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

for _package in ("sphinx", "myst_nb", "furo", "jupytext"):
    pytest.importorskip(_package, reason=f"{_package} is not installed (the 'docs' extra)")


def _build(tmp_path: Path) -> Path:
    """Build a copy of docs/ (the module pages are written into the source folder, so a
    copy keeps parallel builds apart) and return the HTML folder."""
    source = tmp_path / "docs"
    # the notebooks link is followed: the copy holds the notebooks themselves
    shutil.copytree(DOCS, source, ignore=shutil.ignore_patterns("_build", "generated"))
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q"]
    command += ["-D", "nb_execution_mode=off", "-d", str(tmp_path / "doctrees")]
    command += [str(source), str(tmp_path / "html")]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    problems = [line for line in run.stderr.splitlines() if "WARNING" in line or "ERROR" in line]
    assert run.returncode == 0, "the docs build failed or warned:\n" + "\n".join(
        problems or run.stderr.splitlines()[-40:]
    )
    return tmp_path / "html"


def _text(path: Path) -> str:
    assert path.is_file(), f"{path.name} was not built"
    return path.read_text(encoding="utf-8")


def _anchors(site: Path) -> set[str]:
    pages = (site / "api" / "generated").glob("*.html")
    return {m for page in pages for m in re.findall(r'id="(ambidex_bayes[\w.]*)"', _text(page))}


def _check_home_page(site: Path) -> None:
    home = _text(site / "index.html")
    for page in ("model.html", "notebooks.html", "api/index.html"):
        assert f'href="{page}' in home, page


def _check_model_page(site: Path) -> None:
    model = _text(site / "model.html")
    # MathJax renders the $$ ... $$ blocks in the browser: they reach the page as math
    assert len(re.findall(r'class="math[ "]', model)) >= 15
    assert "mathjax" in model.lower()
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


def _check_api_reference(site: Path) -> None:
    anchors = _anchors(site)
    for name in ("fit", "simple_slopes", "johnson_neyman", "prepare", "load_diary"):
        assert any(a.rsplit(".", 1)[-1] == name for a in anchors), name
    # the front door lists its verbs, linked to the entries that document them
    front = _text(site / "api" / "generated" / "ambidex_bayes.html")
    for name in ("fit", "simple_slopes"):
        targets = re.findall(rf'href="[\w.]*\.html#(ambidex_bayes[\w.]*\.{name})"', front)
        assert targets and set(targets) <= anchors, name
    # every public module of a package has its page, found at build time
    for package in ("ambidex_bayes.moderation", "ambidex_bayes.checks", "ambidex_bayes.engine"):
        found = pkgutil.iter_modules(importlib.import_module(package).__path__)
        names = [package] + [f"{package}.{m.name}" for m in found if not m.name.startswith("_")]
        for name in names:
            page = _text(site / "api" / "generated" / f"{name}.html")
            assert f'id="module-{name}"' in page, name


def _check_notebook_pages(site: Path) -> None:
    notebooks = sorted((ROOT / "notebooks").glob("*.py"))
    assert notebooks
    for notebook in notebooks:
        # the notebook's code cells reach its page
        assert "cell_input" in _text(site / "notebooks" / f"{notebook.stem}.html"), notebook


def test_docs_build_without_warnings_and_hold_the_key_pages(tmp_path: Path):
    # one build for all checks: under pytest-xdist, separate tests would build it per worker
    site = _build(tmp_path)
    _check_home_page(site)
    _check_model_page(site)
    _check_api_reference(site)
    _check_notebook_pages(site)
