"""Sphinx configuration of the ambidex_bayes documentation (``make docs``).

The site has three parts: the model's maths (``model.md``), the executed notebooks
(``notebooks/``, a link to the repository's jupytext notebooks, read and run by myst-nb) and
the API reference, generated from the docstrings by autodoc (``api/``, its module pages
written at build time by ``_ext/api_pages.py``). Every warning
is an error (``make docs`` runs ``sphinx-build -W --keep-going``).

Notebook execution
------------------
The notebooks are executed at build time and their outputs cached by jupyter-cache, so a
later build re-executes only a notebook whose code changed. They run with the sampler
settings of ``AMBIDEX_FAST`` (``make docs`` sets ``AMBIDEX_FAST=1`` unless
``DOCS_FAST=0``); each mode has its own cache. Fits and simulation results go to an
``.ambidex_cache`` folder under the build folder, never into the repository.
``-D nb_execution_mode=off`` builds the pages without executing them (``tests/test_docs.py``
does that; the notebooks are executed by ``tests/test_notebooks.py``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(DOCS / "_ext"))

import ambidex_bayes  # noqa: E402

project = "ambidex_bayes"
author = "ambidex_bayes contributors"
copyright = "ambidex_bayes contributors"  # noqa: A001
release = ambidex_bayes.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "myst_nb",
    "api_pages",
]

# conf.py sits in the source folder; the repository's notebooks are the only .py pages
exclude_patterns = ["_build", "_ext", "conf.py", "**/.ipynb_checkpoints", "**/__pycache__"]

html_theme = "furo"
html_title = f"ambidex_bayes {release}"

# --- API reference: one page per module, written by _ext/api_pages.py into api/generated/
# (not committed); autosummary only draws the summary tables
autosummary_generate = False
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True

# --- numpy-style docstrings
napoleon_google_docstring = False
napoleon_numpy_docstring = True
# "Attributes" as a field list: the class's own member entries do not describe them twice
napoleon_use_ivar = True

# --- MyST (Markdown pages and notebooks)
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "substitution"]
myst_heading_anchors = 3

# --- notebooks: jupytext percent files, executed once per mode and cached
nb_custom_formats = {".py": ["jupytext.reads", {"fmt": "py:percent"}]}
FAST = os.environ.get("AMBIDEX_FAST") == "1"
_mode = "fast" if FAST else "full"
nb_execution_mode = "cache"
nb_execution_cache_path = str(DOCS / "_build" / f".jupyter_cache_{_mode}")
nb_execution_in_temp = True
nb_execution_timeout = 3600
nb_execution_raise_on_error = True
nb_merge_streams = True
# fits and simulation folders of the executed notebooks stay under the build folder; the
# kernel inherits this process's environment
os.environ.setdefault("AMBIDEX_CACHE_DIR", str(DOCS / "_build" / f".ambidex_cache_{_mode}"))
# the kernel's inline backend draws the figures into the pages
os.environ.pop("MPLBACKEND", None)

myst_substitutions = {
    "notebook_mode": (
        "with `AMBIDEX_FAST=1`: very few draws and tiny simulation grids, so the numbers "
        "and figures show what each step produces, not settled estimates"
        if FAST
        else "with the notebooks' full sampler settings"
    ),
}
