"""The light paths stay light: what reads a saved fit does not import PyMC, Bambi or PyTensor.

Summarising a saved fit needs the file, xarray and the diagnostics, not the model builder:
importing PyMC, Bambi and PyTensor costs about a second at every start of the command line.
Each check runs in a fresh interpreter and looks at ``sys.modules`` afterwards, so a
top-level import of a heavy package anywhere on the way (in the module itself or in one it
imports) makes it fail. No timing here: ``benchmarks/bench_overhead.py`` measures the times.

Also here, the work the commands save: the ``fit`` command writes ``--out`` as a copy of the
file the cache folder took (:meth:`FitResult.save_copy`, a hard link where possible) instead
of encoding the draws a second time; ``summary`` reads a fit without its pointwise log-likelihood, the largest group of the
file, which the table does not use, and leaves the person effects' draws in the file (read
on first use), importing neither arviz-stats and scipy.stats nor dask, sparse and numba; and
with nutpie's fast path the initial-point check evaluates the model nutpie compiles for
sampling instead of compiling one of its own.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from ambidex_bayes.errors import FitFileError

#: Packages only building or sampling a model needs.
HEAVY = ("pymc", "bambi", "pytensor")
#: Packages the ``summary`` command does without: arviz-stats and scipy.stats (its R-hat and
#: ESS come from rank_diagnostics), dask's arrays, sparse and numba (xarray imports them when
#: it decodes a file or checks an array's kind, when they are installed).
SUMMARY_FREE = ("arviz_stats", "scipy.stats", "dask.array", "sparse", "numba")


def _heavy_imports(code: str, heavy: tuple[str, ...] = HEAVY) -> list[str]:
    """The packages of ``heavy`` that running ``code`` in a fresh interpreter imports."""
    script = textwrap.dedent(code) + textwrap.dedent(
        f"""
        import json, sys
        print(json.dumps(sorted(n for n in {heavy!r} if n in sys.modules)))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "module",
    [
        "ambidex_bayes.engine.result",
        "ambidex_bayes.engine.cache",
        "ambidex_bayes.engine.sampling",
        "ambidex_bayes.fit",
        "ambidex_bayes.results.summary",
        "ambidex_bayes.cli",
    ],
)
def test_importing_does_not_import_the_model_builder(module):
    assert _heavy_imports(f"import {module}") == []


def test_building_the_command_line_parser_does_not_import_the_model_builder():
    assert _heavy_imports("from ambidex_bayes.cli import build_parser\nbuild_parser()") == []


@pytest.fixture
def saved_fit(m3_fit, tmp_path) -> Path:
    """A copy of the session's small M3 fit."""
    path = tmp_path / "m3.nc"
    path.write_bytes(Path(m3_fit.path).read_bytes())
    return path


@pytest.mark.fit
def test_loading_a_saved_fit_does_not_import_the_model_builder(saved_fit):
    code = f"""
        import ambidex_bayes as ab
        fit = ab.load_fit({str(saved_fit)!r})
        assert fit.posterior.sizes["chain"] > 0
        assert fit.convergence.n_draws > 0
    """
    assert _heavy_imports(code) == []


@pytest.mark.fit
def test_a_fit_found_in_the_cache_does_not_import_the_model_builder(m3_fit, fit_cache):
    """The same fit again is read from the cache before anything is built: the cache key
    (with the model code's version) needs neither PyMC nor Bambi."""
    code = f"""
        import ambidex_bayes as ab
        from ambidex_bayes.simulate import reference_design, simulate_diary

        design = reference_design(n_persons=60, diaries_dist="fixed", diaries_mean=5,
                                  likert=None, missing_rate=0.0, g10=0.3, g11=0.5, tau1=0.15)
        study = simulate_diary(design, seed=11)
        prepared = ab.prepare(ab.load_diary(study.data, study.mapping))
        settings = ab.SamplerSettings(backend="pymc", draws=300, tune=300, chains=2, seed=5)
        again = ab.fit(ab.load_spec("M3"), prepared, settings=settings,
                       cache_dir={str(fit_cache)!r}, progressbar=False, verbose=False,
                       centring="observed")
        assert again.meta["fit_key"] == {m3_fit.meta["fit_key"]!r}
    """
    assert _heavy_imports(code) == []


@pytest.mark.fit
def test_summary_command_does_not_import_the_model_builder(saved_fit):
    code = f"""
        from ambidex_bayes.cli import main
        assert main(["summary", {str(saved_fit)!r}]) == 0
    """
    assert _heavy_imports(code) == []


@pytest.mark.fit
def test_summary_command_imports_neither_arviz_stats_nor_dask_nor_numba(saved_fit):
    code = f"""
        import io, contextlib
        from ambidex_bayes.cli import main
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["summary", {str(saved_fit)!r}]) == 0
    """
    assert _heavy_imports(code, HEAVY + SUMMARY_FREE) == []


@pytest.mark.fit
def test_summary_command_prints_posterior_summary(saved_fit, capsys, monkeypatch):
    from ambidex_bayes.cli import main
    from ambidex_bayes.engine.result import load_fit
    from ambidex_bayes.results import summary as summary_module

    tables = []
    real = summary_module.posterior_summary

    def recording(fit, **kwargs):
        tables.append(real(fit, **kwargs))
        return tables[-1]

    monkeypatch.setattr(summary_module, "posterior_summary", recording)
    assert main(["summary", str(saved_fit)]) == 0
    printed = capsys.readouterr().out
    assert len(tables) == 1
    assert tables[0].equals(real(load_fit(saved_fit)))
    for parameter in tables[0]["parameter"]:
        assert parameter in printed
    assert "Intercept" in printed and "Convergence:" in printed


@pytest.mark.fit
def test_a_fit_loaded_without_person_effects_reads_them_only_on_use(saved_fit, tmp_path):
    from ambidex_bayes.fit import load_fit
    from ambidex_bayes.results import posterior_summary

    full = load_fit(saved_fit)
    light = load_fit(saved_fit, log_likelihood=False, person_effects=False)
    person = [full.terms.group_intercept, full.terms.group_slope]
    assert all(name in light.posterior for name in person)
    assert posterior_summary(light).equals(posterior_summary(full))
    assert light.convergence.table.equals(full.convergence.table)
    for name in person:  # read on use, the same draws
        np.testing.assert_array_equal(light.posterior[name].values, full.posterior[name].values)
    # and not read before: once the file is replaced, reading them is refused
    replaced = load_fit(saved_fit, log_likelihood=False, person_effects=False)
    other = tmp_path / "other.nc"
    other.write_bytes(saved_fit.read_bytes())
    other.replace(saved_fit)  # the same bytes, another file
    np.testing.assert_array_equal(
        replaced.posterior[full.terms.slope].values, full.posterior[full.terms.slope].values
    )
    with pytest.raises(FitFileError, match="changed or disappeared after it was loaded"):
        _ = replaced.posterior[person[0]].values


@pytest.mark.fit
def test_save_copy_writes_the_saved_file_byte_for_byte(m3_fit, tmp_path):
    from ambidex_bayes.fit import load_fit
    from ambidex_bayes.results import posterior_summary

    fit = dataclasses.replace(m3_fit)
    out = tmp_path / "out" / "m3.nc"
    assert fit.save_copy(out) == out
    assert fit.path == out and m3_fit.path != out
    assert out.read_bytes() == Path(m3_fit.path).read_bytes()
    assert posterior_summary(load_fit(out)).equals(posterior_summary(m3_fit))


def test_copy_file_links_where_it_can_and_copies_elsewhere(tmp_path, monkeypatch):
    import os

    from ambidex_bayes.store import atomic_write, copy_file

    source = atomic_write(tmp_path / "a.nc", lambda tmp: tmp.write_bytes(b"draws 1"))
    linked = copy_file(source, tmp_path / "out" / "b.nc")
    assert linked.read_bytes() == b"draws 1"
    assert os.stat(linked).st_ino == os.stat(source).st_ino  # nothing written again
    atomic_write(source, lambda tmp: tmp.write_bytes(b"draws 2"))  # how fits are replaced
    assert linked.read_bytes() == b"draws 1" and source.read_bytes() == b"draws 2"

    def no_links(*args):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", no_links)
    copied = copy_file(source, tmp_path / "c.nc")
    assert copied.read_bytes() == b"draws 2"
    assert os.stat(copied).st_ino != os.stat(source).st_ino
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no leftovers


@pytest.mark.fit
def test_save_copy_of_a_fit_without_a_file_saves_it(m3_fit, tmp_path):
    from ambidex_bayes.fit import load_fit
    from ambidex_bayes.results import posterior_summary

    fit = dataclasses.replace(m3_fit, path=None)
    out = tmp_path / "m3.nc"
    assert fit.save_copy(out) == out and fit.path == out
    assert posterior_summary(load_fit(out)).equals(posterior_summary(m3_fit))


@pytest.mark.fit
def test_a_fit_loaded_without_its_log_likelihood_summarises_the_same(saved_fit):
    from ambidex_bayes.fit import load_fit
    from ambidex_bayes.results import posterior_summary

    full = load_fit(saved_fit)
    light = load_fit(saved_fit, log_likelihood=False)
    assert "log_likelihood" in full.idata.children
    assert "log_likelihood" not in light.idata.children
    assert set(light.idata.children) == set(full.idata.children) - {"log_likelihood"}
    assert posterior_summary(light).equals(posterior_summary(full))
    assert str(light.convergence) == str(full.convergence)
    assert light.convergence.table.equals(full.convergence.table)


@pytest.mark.fit
def test_nutpie_model_serves_the_initial_point_check(small_prepared):
    import numpy as np

    from ambidex_bayes.engine import sampling
    from ambidex_bayes.engine.cache import sampling_model
    from ambidex_bayes.errors import ModelError
    from ambidex_bayes.fit import SamplerSettings
    from ambidex_bayes.model.initial_point import (
        COMPILED_CHECKS,
        _compile_check,
        check_initial_point,
    )
    from ambidex_bayes.spec import load_spec

    settings = SamplerSettings(backend="nutpie", draws=100, tune=100, chains=2, seed=3)
    settings = settings.resolved()
    built = sampling_model(load_spec("M3"), small_prepared, settings)
    key = sampling.check_reuse_key(built, settings)
    assert built.is_marginal and key is not None
    # compiled from this model here, whatever earlier tests in the process compiled
    sampling.clear_compiled_cache()
    COMPILED_CHECKS.pop(key, None)
    assert sampling.compile_with_check(built, settings)
    assert not sampling.compile_with_check(built, settings)  # registered once per structure

    model = built.pymc_model
    point = model.initial_point()
    logp, grad = COMPILED_CHECKS[key](model, point)
    own_logp, own_grad = _compile_check(model)(model, point)
    assert np.isfinite(logp) and logp == pytest.approx(float(own_logp), rel=1e-9)
    np.testing.assert_allclose(grad, np.asarray(own_grad), rtol=1e-7, atol=1e-9)
    check_initial_point(model, source="the spec", reuse_key=key)

    # the check reads the checked model's data: a non-finite value is refused as before
    data = model.data_vars[0]
    kept = data.get_value()
    data.set_value(np.full_like(kept, np.nan))
    try:
        with pytest.raises(ModelError, match="the spec: the log density is not finite"):
            check_initial_point(model, source="the spec", reuse_key=key)
    finally:
        data.set_value(kept)
