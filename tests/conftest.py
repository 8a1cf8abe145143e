"""Shared fixtures: small simulated studies and a few small, seeded real fits.

Real fits are expensive (compilation plus sampling), so each is made once per test session
and shared; unit tests of summaries and plots use fake posteriors instead.
"""

from __future__ import annotations

import os
import tempfile
import warnings

import matplotlib
import pytest

matplotlib.use("Agg")

os.environ.setdefault("AMBIDEX_FAST", "1")
# compiled JAX programs and nutpie callbacks go to folders of this test run, not the
# user's caches
for _variable, _name in [
    ("AMBIDEX_JAX_CACHE_DIR", "jax-cache"),
    ("AMBIDEX_NUMBA_CACHE_DIR", "nutpie-cache"),
]:
    os.environ.setdefault(
        _variable, os.path.join(tempfile.gettempdir(), f"ambidex-test-{_name}-{os.getpid()}")
    )

# prints "hypothesis cases run: N" at the end of the run, also under pytest-xdist
pytest_plugins = ["property.hypothesis_count"]


@pytest.fixture(scope="session")
def small_study():
    """60 persons x 5 diaries, continuous scales, a clear cross-level interaction."""
    from ambidex_bayes.simulate import reference_design, simulate_diary

    design = reference_design(
        n_persons=60,
        diaries_dist="fixed",
        diaries_mean=5,
        likert=None,
        missing_rate=0.0,
        g10=0.3,
        g11=0.5,
        tau1=0.15,
    )
    return simulate_diary(design, seed=11)


@pytest.fixture(scope="session")
def small_prepared(small_study):
    from ambidex_bayes.data import ColumnMapping, load_diary
    from ambidex_bayes.prepare import prepare

    mapping = ColumnMapping.from_dict(small_study.mapping)
    return prepare(load_diary(small_study.data, mapping))


@pytest.fixture(scope="session")
def fit_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("fits")


@pytest.fixture(scope="session")
def small_settings():
    from ambidex_bayes.fit import SamplerSettings

    return SamplerSettings(backend="pymc", draws=300, tune=300, chains=2, seed=5)


@pytest.fixture(scope="session")
def m3_fit(small_prepared, small_settings, fit_cache):
    """M3 on the small study with observed centring: 2 chains x 300 draws.

    The study's observed person means have reliability 0.49, so the bundled M3's own
    centring (``"auto"``) would take latent centring; the tests using this fit check the
    observed model's summaries and plumbing, so it asks for observed centring.
    """
    from ambidex_bayes.diagnostics import ConvergenceWarning
    from ambidex_bayes.fit import fit
    from ambidex_bayes.spec import load_spec

    with warnings.catch_warnings():
        # 600 draws are too few for the R-hat and ESS limits, and that is expected here: the
        # tests using this fit check summaries and plumbing (test_strict judges its diagnostics)
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fit(
            load_spec("M3"),
            small_prepared,
            settings=small_settings,
            cache_dir=fit_cache,
            progressbar=False,
            verbose=False,
            centring="observed",
        )
