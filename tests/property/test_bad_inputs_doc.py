"""docs/bad_inputs.md records what every catalogued bad input gets; keep that record true."""

from __future__ import annotations

from pathlib import Path

import pytest
from bad_inputs import ENTRIES, render_row

DOC = Path(__file__).resolve().parents[2] / "docs" / "bad_inputs.md"


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.what[:40])
def test_the_documented_outcome_is_what_the_input_gets(entry):
    row = render_row(entry)
    assert row in DOC.read_text(encoding="utf-8"), (
        f"docs/bad_inputs.md does not say {row!r}; regenerate the table with "
        "`.venv/bin/python tests/property/bad_inputs.py`"
    )
