"""The Examples of the public docstrings run, and show what they claim.

Every name in ``ambidex_bayes.__all__`` and the modules in :data:`MODULES` are searched for
docstring examples; each docstring is one test, run with :mod:`doctest` against shared
names, so an example reads as a notebook cell would:

- ``ab``: ``import ambidex_bayes as ab``;
- ``tmp``: a fresh temporary folder (a :class:`pathlib.Path`) for files an example writes;
- ``diary`` and ``data``: the bundled example, loaded and prepared;
- ``settings``, ``cache`` and ``m3``: small sampler settings, the fit cache of this test
  session and the model M3 fitted to ``data`` with them (once per session; the examples
  that use these, or that sample, are marked ``fit``).
"""

from __future__ import annotations

import doctest
import importlib
import re
import warnings
from pathlib import Path

import pytest

import ambidex_bayes as ab

#: Modules whose own docstrings hold examples.
MODULES = ("ambidex_bayes", "ambidex_bayes.data", "ambidex_bayes.datasets")

#: Options of every example: ``...`` matches anything, runs of white space are equal.
OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE

#: Names (or calls) in an example's source that mean it fits a model.
_FITTING = re.compile(r"\bm3\b|\bcache\b|ab\.(fit|power|sbc|report|compare_priors|run_analysis)\(")


def _docstring_tests() -> list[doctest.DocTest]:
    finder = doctest.DocTestFinder(recurse=False)
    found: dict[int, doctest.DocTest] = {}
    targets = [(f"ab.{name}", getattr(ab, name)) for name in ab.__all__ if name != "__version__"]
    targets += [(name, importlib.import_module(name)) for name in MODULES]
    for label, obj in targets:
        for test in finder.find(obj, name=label, globs={}):
            if test.examples:
                found.setdefault(id(obj), test)  # one object exported under two names: once
    return sorted(found.values(), key=lambda t: t.name)


def _source(test: doctest.DocTest) -> str:
    return "".join(example.source for example in test.examples)


def _params() -> list:
    return [
        pytest.param(
            test,
            id=test.name,
            marks=[pytest.mark.fit] if _FITTING.search(_source(test)) else [],
        )
        for test in _docstring_tests()
    ]


@pytest.fixture(scope="session")
def example_data():
    """The bundled example: loaded (``diary``) and prepared (``data``)."""
    diary = ab.load_diary(ab.example_path(), ab.example_mapping_path())
    return {"diary": diary, "data": ab.prepare(diary)}


@pytest.fixture(scope="session")
def example_fit(example_data, fit_cache):
    """M3 on the example: pymc, fast path, 2 chains x 200 draws."""
    from ambidex_bayes.diagnostics import ConvergenceWarning

    settings = ab.SamplerSettings(backend="pymc", draws=200, tune=200, chains=2, seed=5)
    with warnings.catch_warnings():
        # 400 draws are too few for the R-hat and ESS limits, as expected: the examples show
        # what the functions return, not a publishable posterior
        warnings.simplefilter("ignore", ConvergenceWarning)
        m3 = ab.fit(
            ab.load_spec("M3"),
            example_data["data"],
            settings=settings,
            cache_dir=fit_cache,
            progressbar=False,
            verbose=False,
        )
    return {"settings": settings, "cache": fit_cache, "m3": m3}


def test_the_examples_are_found():
    names = {test.name for test in _docstring_tests()}
    assert {"ambidex_bayes", "ab.load_diary", "ab.simulate", "ab.report"} <= names, names


@pytest.mark.parametrize("test", _params())
def test_docstring_examples_run(test: doctest.DocTest, request, tmp_path: Path):
    names = {"ab": ab, "tmp": tmp_path}
    source = _source(test)
    if re.search(r"\b(diary|data)\b", source):
        names.update(request.getfixturevalue("example_data"))
    if _FITTING.search(source):
        names.update(request.getfixturevalue("example_fit"))
    test.globs = names
    runner = doctest.DocTestRunner(optionflags=OPTIONS)
    report: list[str] = []
    with warnings.catch_warnings():
        if _FITTING.search(source):
            # the examples fit with the small ``settings`` (2 x 200 draws), too few for the
            # R-hat and ESS limits and for a precise posterior density at zero (Bayes
            # factors), as expected: they show what a function returns
            from ambidex_bayes.diagnostics import ConvergenceWarning
            from ambidex_bayes.priors.bayes_factor import BayesFactorWarning

            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", BayesFactorWarning)
        result = runner.run(test, out=report.append)
    assert result.attempted == len(test.examples)
    assert result.failed == 0, "".join(report)
