"""Count the generated cases of the property tests and print the count in the summary.

Each property test counts the examples it runs in ``hypothesis_support.CASES``; an autouse
fixture attaches the count to the test's report, and the plugin ``hypothesis_count`` prints
one line per test and the total as ``hypothesis cases run: N`` at the end of the run.
"""

from __future__ import annotations

import hypothesis_count
import pytest
from hypothesis_support import CASES


def pytest_configure(config: pytest.Config) -> None:
    names = {getattr(p, "__name__", "") for p in config.pluginmanager.get_plugins()}
    if not any(n.rpartition(".")[2] == "hypothesis_count" for n in names):
        config.pluginmanager.register(hypothesis_count, "ambidex-hypothesis-count")


@pytest.fixture(autouse=True)
def _record_case_count(request: pytest.FixtureRequest):
    name = request.function.__name__
    before = CASES.get(name, 0)
    yield
    if hasattr(request.function, "hypothesis"):  # a @given test
        request.node.user_properties.append((hypothesis_count.KEY, CASES.get(name, 0) - before))
