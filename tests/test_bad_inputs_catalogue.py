"""The security and data-safety catalogue in docs/bad_inputs.md names real tests."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "bad_inputs.md"
HEADING = "## Files, formulas, outputs and runs: security and data safety"


def _catalogue_rows() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    assert HEADING in text, f"docs/bad_inputs.md lost its section {HEADING!r}"
    section = text.split(HEADING, 1)[1]
    return [line for line in section.splitlines() if line.startswith("| ") and "`test_" in line]


def _defined_tests() -> set[str]:
    names: set[str] = set()
    for path in ROOT.glob("tests/**/test_*.py"):
        names |= set(re.findall(r"^def (test_\w+)", path.read_text(encoding="utf-8"), re.M))
    return names


def test_every_catalogued_case_names_tests_that_exist():
    rows = _catalogue_rows()
    assert len(rows) >= 50
    defined = _defined_tests()
    for row in rows:
        test_column = row.rstrip(" |").rsplit(" | ", 1)[1]
        named = re.findall(r"`(test_\w+)`", test_column)
        assert named, f"row names no test: {row}"
        missing = [name for name in named if name not in defined]
        assert not missing, f"docs/bad_inputs.md names tests that do not exist: {missing}"
