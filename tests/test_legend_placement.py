"""Every legend names its placement.

matplotlib warns "Creating legend with loc='best' can be slow with large amounts of data"
when it searched longer than a second for the best place of a legend whose placement was not
given. Whether it warns depends on the machine's load, so a report could print it (and a
test fail on it) at random. A named placement, ``loc="best"`` included, never warns.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "ambidex_bayes"


def _legend_calls_without_loc(root: Path = ROOT) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "legend"
                and not any(k.arg == "loc" for k in node.keywords)
                and not node.args  # legend(handles, labels, loc) given positionally
            ):
                found.append(f"{path.relative_to(root.parent)}:{node.lineno}")
    return found


def test_every_legend_names_its_placement():
    assert _legend_calls_without_loc() == []


def test_the_check_finds_an_unnamed_placement(tmp_path):
    package = tmp_path / "package"
    package.mkdir()
    (package / "figure.py").write_text(
        "ax.legend()\nax.legend(loc='best')\nax.legend(handles, labels)\n", encoding="utf-8"
    )
    assert _legend_calls_without_loc(package) == ["package/figure.py:1"]
