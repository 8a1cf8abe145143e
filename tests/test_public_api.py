"""The front door: ``import ambidex_bayes as ab`` and its ``__all__`` keep their promises.

Every public name resolves, is documented and listed by ``dir(ab)``; an unknown name fails
with a hint; the import itself stays light (the command line starts on it); and the verbs a
notebook types carry numpy-style Parameters, Returns and Examples sections (their examples
run in ``tests/test_doctests.py``).
"""

from __future__ import annotations

import importlib
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

import ambidex_bayes as ab

#: The verbs of a notebook, in the order of an analysis.
VERBS = (
    "load_diary",
    "prepare",
    "load_spec",
    "fit",
    "load_fit",
    "summary",
    "simple_slopes",
    "moderation_curve",
    "johnson_neyman",
    "person_slopes",
    "ppc",
    "loo",
    "compare",
    "r2",
    "compare_priors",
    "power",
    "sbc",
    "simulate",
    "report",
    "multiverse",
)

#: Sections every verb's docstring has (numpy style: the name, then a line of dashes).
SECTIONS = ("Parameters", "Returns", "Examples")

#: Verbs whose docstrings still lack one of SECTIONS. Each one is reported by
#: ``test_pending_verb_still_lacks_a_section`` and must leave this set as soon as its
#: docstring is complete (that test then fails); a verb not listed here must be complete.
PENDING_DOCSTRINGS: frozenset[str] = frozenset()

#: Heavy packages ``import ambidex_bayes`` must not load.
HEAVY = ("pymc", "bambi", "pytensor", "arviz", "nutpie", "jax")

PUBLIC = [name for name in ab.__all__ if name != "__version__"]

ROOT = Path(__file__).resolve().parent.parent


def missing_sections(obj: object) -> list[str]:
    """The SECTIONS that ``obj``'s docstring lacks."""
    doc = inspect.getdoc(obj) or ""
    return [s for s in SECTIONS if not re.search(rf"^{s}\n-{{{len(s)}}}$", doc, re.M)]


def test_all_has_no_duplicates_and_every_verb():
    assert len(ab.__all__) == len(set(ab.__all__))
    assert set(VERBS) <= set(ab.__all__), sorted(set(VERBS) - set(ab.__all__))
    assert PENDING_DOCSTRINGS <= set(VERBS), sorted(PENDING_DOCSTRINGS - set(VERBS))


@pytest.mark.parametrize("name", PUBLIC)
def test_public_name_resolves_and_is_documented(name):
    obj = getattr(ab, name)
    assert obj is not None
    doc = inspect.getdoc(obj) or ""
    assert doc.strip(), f"ab.{name} has no docstring"
    # a dataclass without a docstring gets its signature as one
    assert not doc.startswith(f"{getattr(obj, '__name__', name)}("), f"ab.{name}: {doc[:60]}"


def test_dir_lists_every_public_name_and_the_faces():
    listed = dir(ab)
    assert set(ab.__all__) <= set(listed)
    for face in ("checks", "data", "datasets", "design", "moderation", "priors", "results"):
        assert face in listed
        assert inspect.ismodule(getattr(ab, face))


def test_verbs_are_the_functions_they_name():
    assert ab.summary is importlib.import_module("ambidex_bayes.results").posterior_summary
    assert ab.simple_slopes is importlib.import_module("ambidex_bayes.moderation").simple_slopes
    assert ab.power is importlib.import_module("ambidex_bayes.design").run_power
    assert ab.simulate is importlib.import_module("ambidex_bayes.simulate").simulate_diary
    for name in ("fit", "prepare", "simulate", "report"):
        assert inspect.isfunction(getattr(ab, name)), name


def test_an_unknown_name_is_a_clear_attribute_error():
    with pytest.raises(AttributeError, match=r"has no attribute 'simple_slope'") as info:
        _ = ab.simple_slope
    assert "Did you mean 'simple_slopes'" in str(info.value)
    assert "ambidex_bayes.__all__" in str(info.value)
    assert not hasattr(ab, "no_such_verb")


def _run(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_import_stays_light():
    code = (
        "import sys, ambidex_bayes\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
        "print(len(ambidex_bayes.__all__) > 50, ambidex_bayes.__version__ != '')"
    )
    assert _run(code).splitlines() == ["[]", "True True"]


def test_importing_a_module_of_a_verbs_name_keeps_the_verb():
    # ambidex_bayes.fit, .prepare, .simulate and .report are modules too; importing them
    # (directly, or through another name) must not replace the verbs
    code = (
        "import importlib, inspect\n"
        "import ambidex_bayes as ab\n"
        "settings = ab.SamplerSettings\n"  # imports the module ambidex_bayes.fit
        "for name in ('fit', 'prepare', 'simulate', 'report'):\n"
        "    module = importlib.import_module('ambidex_bayes.' + name)\n"
        "    assert inspect.ismodule(module), name\n"
        "    assert inspect.isfunction(getattr(ab, name)), name\n"
        "print(ab.fit.__module__, ab.report.__module__)"
    )
    assert _run(code) == "ambidex_bayes.fit ambidex_bayes.workflow"


@pytest.mark.parametrize("name", sorted(set(VERBS) - PENDING_DOCSTRINGS))
def test_verb_docstring_has_parameters_returns_and_examples(name):
    assert missing_sections(getattr(ab, name)) == [], f"ab.{name}"


@pytest.mark.parametrize("name", sorted(PENDING_DOCSTRINGS))
def test_pending_verb_still_lacks_a_section(name):
    """Reports each verb whose docstring is not complete yet; fails once it is complete."""
    missing = missing_sections(getattr(ab, name))
    assert missing, f"ab.{name} is complete now: take it out of PENDING_DOCSTRINGS"
    print(f"ab.{name}: docstring lacks {', '.join(missing)}")


def _layout_rows() -> list[str]:
    """The package paths of the README's layout table, one per row."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `(ambidex_bayes/[^`]*)`", section, re.M)


def test_readme_layout_has_one_row_per_package_and_top_level_module():
    package = ROOT / "ambidex_bayes"
    expected = {
        f"ambidex_bayes/{path.name}/"
        for path in package.iterdir()
        if path.is_dir() and not path.name.startswith((".", "__"))
    } | {f"ambidex_bayes/{path.name}" for path in package.glob("*.py")}
    rows = _layout_rows()
    assert len(rows) == len(set(rows)), "a path has two rows"
    missing = sorted(expected - set(rows))
    assert not missing, f"add a row to the README's layout table for: {', '.join(missing)}"
    stale = sorted(set(rows) - expected)
    assert not stale, f"the README's layout table names paths that do not exist: {stale}"


def test_readme_python_uses_only_the_front_door():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, "the README shows no Python"
    for block in blocks:
        imports = re.findall(r"^\s*(?:from|import) ambidex_bayes\b.*$", block, re.M)
        assert imports == ["import ambidex_bayes as ab"], imports
