"""A small pytest plugin: print how many hypothesis cases the property tests ran.

The property tests attach their count to their report (``user_properties``, key
``hypothesis_cases``; see ``conftest.py``). pytest-xdist sends reports from its workers to the
main process, where this plugin adds them up and ends the terminal summary with one line per
test and the total, ``hypothesis cases run: N``.

``conftest.py`` here registers the plugin when pytest collects this folder. A run of the
whole suite with pytest-xdist collects only in its workers, so the main process loads the
plugin only if the top-level ``tests/conftest.py`` names it:
``pytest_plugins = ["property.hypothesis_count"]``.
"""

from __future__ import annotations

import pytest

#: The key of the count in a report's ``user_properties``.
KEY = "hypothesis_cases"

_counts: dict[str, int] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "teardown":
        return
    for key, value in report.user_properties:
        if key == KEY:
            _counts[report.nodeid] = int(value)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ARG001
    if not _counts:
        return
    terminalreporter.section("hypothesis")
    for nodeid, n in sorted(_counts.items()):
        terminalreporter.write_line(f"{n:6d}  {nodeid}")
    terminalreporter.write_line(f"hypothesis cases run: {sum(_counts.values())}")
