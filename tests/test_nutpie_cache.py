"""nutpie callbacks kept on disk: same values as nutpie's own, loaded by a new process."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from ambidex_bayes.model import build_model
from ambidex_bayes.spec import load_spec

pytestmark = pytest.mark.fit
nutpie = pytest.importorskip("nutpie")

_DOUBLE_P = ctypes.POINTER(ctypes.c_double)


def _logp_and_grad(compiled, x: np.ndarray) -> tuple[int, float, np.ndarray]:
    """Call a compiled model's C log-density callback the way nutpie's sampler does."""
    x = np.ascontiguousarray(x, dtype=float)
    grad = np.empty_like(x)
    logp = np.empty(1)
    code = compiled.compiled_logp_func.ctypes(
        len(x),
        x.ctypes.data_as(_DOUBLE_P),
        grad.ctypes.data_as(_DOUBLE_P),
        logp.ctypes.data_as(_DOUBLE_P),
        compiled.user_data.ctypes.data,
    )
    return code, float(logp[0]), grad


def _expand(compiled, x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=float)
    out = np.empty(compiled.n_expanded)
    code = compiled.compiled_expand_func.ctypes(
        len(x),
        compiled.n_expanded,
        x.ctypes.data_as(_DOUBLE_P),
        out.ctypes.data_as(_DOUBLE_P),
        compiled.user_data.ctypes.data,
    )
    assert code == 0
    return out


def _fast_path_model(prepared):
    return build_model(load_spec("M3"), prepared, prior_data=True, marginal=True)


def test_cached_callbacks_equal_nutpies_own(small_prepared, small_study):
    """Log density, gradient and stored values agree with nutpie's compiled model at several
    points, also after ``with_data`` swaps in a data set with another number of persons."""
    from ambidex_bayes.data import ColumnMapping, load_diary
    from ambidex_bayes.engine.nutpie_cache import compile_cached
    from ambidex_bayes.prepare import prepare
    from ambidex_bayes.simulate import reference_design, simulate_diary

    model = _fast_path_model(small_prepared).pymc_model
    ours = compile_cached(model)
    assert ours is not None
    theirs = nutpie.compile_pymc_model(model)

    other = simulate_diary(reference_design(n_persons=23, likert=None), seed=4)
    other_model = _fast_path_model(
        prepare(load_diary(other.data, ColumnMapping.from_dict(other.mapping)))
    ).pymc_model
    new_data = {var.name: var.get_value() for var in other_model.data_vars}
    pairs = [(ours, theirs), (ours.with_data(**new_data), theirs.with_data(**new_data))]
    values = []
    for mine, reference in pairs:
        for seed in range(4):
            x = reference.initial_point_func(seed)
            np.testing.assert_array_equal(mine.initial_point_func(seed), x)
            code, logp, grad = _logp_and_grad(mine, x)
            ref_code, ref_logp, ref_grad = _logp_and_grad(reference, x)
            assert code == ref_code == 0
            assert logp == pytest.approx(ref_logp, rel=1e-10)
            np.testing.assert_allclose(grad, ref_grad, rtol=1e-9, atol=1e-9)
            np.testing.assert_allclose(_expand(mine, x), _expand(reference, x), rtol=1e-12)
            values.append(logp)
    # the second data set really changed the density
    assert not np.allclose(values[:4], values[4:])
    # a point outside the support is reported to the sampler, not a crash
    bad = np.full(ours.n_dim, np.nan)
    assert _logp_and_grad(ours, bad)[0] != 0


def test_a_new_process_loads_the_callbacks_from_disk(small_prepared, tmp_path):
    from ambidex_bayes.engine.nutpie_cache import compile_cached

    os.environ["AMBIDEX_NUMBA_CACHE_DIR"] = str(tmp_path)
    try:
        first = compile_cached(_fast_path_model(small_prepared).pymc_model)
    finally:
        del os.environ["AMBIDEX_NUMBA_CACHE_DIR"]
    assert first.compiled_logp_func.cache_hits == 0
    assert len(list(tmp_path.glob("callback_*.py"))) == 2
    assert len(list(tmp_path.glob("graph_*.pkl"))) == 1

    script = textwrap.dedent(
        """
        from ambidex_bayes.model import build_model
        from ambidex_bayes.engine.nutpie_cache import compile_cached
        from ambidex_bayes.prepare import prepare
        from ambidex_bayes.spec import load_spec
        from ambidex_bayes.simulate import reference_design, simulate_diary
        from ambidex_bayes.data import ColumnMapping, load_diary
        import nutpie.compile_pymc

        def rewrite_again(*args, **kwargs):
            raise AssertionError("the rewritten functions were built again")

        # the rewritten PyTensor functions come from disk as well
        nutpie.compile_pymc._make_functions = rewrite_again

        study = simulate_diary(reference_design(n_persons=31, likert=None), seed=8)
        prepared = prepare(load_diary(study.data, ColumnMapping.from_dict(study.mapping)))
        model = build_model(load_spec("M3"), prepared, prior_data=True, marginal=True)
        compiled = compile_cached(model.pymc_model)
        print(compiled.compiled_logp_func.cache_hits, compiled.compiled_expand_func.cache_hits)
        """
    )
    env = os.environ | {"AMBIDEX_NUMBA_CACHE_DIR": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split()[-2:] == ["1", "1"]
    assert len(list(tmp_path.glob("callback_*.py"))) == 2  # nothing new written
    assert len(list(tmp_path.glob("graph_*.pkl"))) == 1


def test_compilation_falls_back_to_nutpie_with_a_warning(monkeypatch):
    import pymc as pm

    from ambidex_bayes.engine import sampling

    def broken(model):
        raise OSError("read-only file system")

    monkeypatch.setattr(sampling, "compile_cached", broken)
    with pm.Model() as model:
        pm.Normal("mu", 0.0, 1.0)
    with pytest.warns(RuntimeWarning, match="read-only file system"):
        compiled = sampling._compile_nutpie(model)
    assert _logp_and_grad(compiled, np.array([0.5]))[1] == pytest.approx(
        -0.5 * np.log(2 * np.pi) - 0.125
    )


def test_a_model_with_many_shared_arrays_compiles_and_agrees_with_nutpie(tmp_path, monkeypatch):
    """Python passes more than 30 call arguments through a list, which numba cannot compile;
    the callbacks of a model with 34 shared arrays (a model with several predictors and a
    factor has that many) must still compile and equal nutpie's own."""
    import pymc as pm

    from ambidex_bayes.engine.nutpie_cache import compile_cached

    monkeypatch.setenv("AMBIDEX_NUMBA_CACHE_DIR", str(tmp_path))
    with pm.Model() as model:
        shared = [pm.Data(f"d{i}", np.arange(3.0) + i) for i in range(34)]
        mu = pm.Normal("mu", 0, 1)
        offset = sum(d.sum() * (i + 1) for i, d in enumerate(shared)) * 1e-4
        pm.Normal("y", mu + offset, 1, observed=np.zeros(3))
    ours = compile_cached(model)
    assert ours is not None
    theirs = nutpie.compile_pymc_model(model)
    for seed in range(3):
        x = theirs.initial_point_func(seed)
        code, logp, grad = _logp_and_grad(ours, x)
        ref_code, ref_logp, ref_grad = _logp_and_grad(theirs, x)
        assert code == ref_code == 0
        assert logp == pytest.approx(ref_logp, rel=1e-12)
        np.testing.assert_allclose(grad, ref_grad, rtol=1e-12)
        np.testing.assert_allclose(_expand(ours, x), _expand(theirs, x), rtol=1e-12)
