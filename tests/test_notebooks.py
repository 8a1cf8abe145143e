"""Every notebook in notebooks/ is executed (jupytext text files, tiny draws) and draws its
figures; each reaches the package only through ``import ambidex_bayes as ab``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.py"))

#: appended to each notebook: what the kernel itself saw, not the test process
_KERNEL_FAST = "import os\nprint('AMBIDEX_FAST=' + os.environ.get('AMBIDEX_FAST', ''))"


def test_the_notebooks_are_found():
    assert len(NOTEBOOKS) >= 5, NOTEBOOKS


#: An import of the package other than its front door.
_DEEP_IMPORT = re.compile(r"^\s*(from ambidex_bayes\b|import ambidex_bayes\.)", re.M)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_uses_only_the_front_door(path: Path):
    source = path.read_text(encoding="utf-8")
    assert "\nimport ambidex_bayes as ab\n" in source
    assert not _DEEP_IMPORT.findall(source), f"{path.name} imports past ambidex_bayes as ab"


def _outputs(cell) -> list:
    return list(cell.get("outputs", [])) if cell.cell_type == "code" else []


@pytest.mark.fit
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_fast_and_draws_its_figures(path: Path, tmp_path: Path, monkeypatch):
    jupytext = pytest.importorskip("jupytext")
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    monkeypatch.setenv("AMBIDEX_FAST", "1")
    monkeypatch.setenv("AMBIDEX_CACHE_DIR", str(tmp_path / "fits"))
    # the kernel's own inline backend: figures become image outputs, as a reader sees them
    monkeypatch.delenv("MPLBACKEND", raising=False)
    notebook = jupytext.read(path)
    notebook.cells.append(nbformat.v4.new_code_cell(_KERNEL_FAST))
    client = nbclient.NotebookClient(
        notebook,
        timeout=900,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    # raises CellExecutionError on the first cell that fails
    client.execute()
    outputs = [out for cell in notebook.cells for out in _outputs(cell)]
    assert not [out for out in outputs if out.get("output_type") == "error"]
    # the kernel ran with the reduced sampler settings
    printed = "".join(out.get("text", "") for out in _outputs(notebook.cells[-1]))
    assert printed.strip() == "AMBIDEX_FAST=1"
    # each notebook draws figures (plt.subplots, plot_* or display(fig)); they reach the output
    source = path.read_text()
    drawn = source.count("plot_") + source.count("plt.subplots")
    assert drawn > 0, f"{path.name} draws no figure"
    images = [out for out in outputs if "image/png" in out.get("data", {})]
    assert images, f"{path.name}: no figure reached the notebook's output"
