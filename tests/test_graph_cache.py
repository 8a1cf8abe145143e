"""nutpie's rewritten PyTensor functions kept on disk: same values, right data, right key."""

from __future__ import annotations

import numpy as np
import pytest

from ambidex_bayes.model import build_model
from ambidex_bayes.spec import load_spec

pytestmark = pytest.mark.fit
nutpie = pytest.importorskip("nutpie")


def _fast_path_model(prepared):
    return build_model(load_spec("M3"), prepared, prior_data=True, marginal=True).pymc_model


def _start_point(model):
    from pymc.initial_point import make_initial_point_fn

    return make_initial_point_fn(
        model=model,
        default_strategy="support_point",
        jitter_rvs=set(model.free_RVs),
        return_transformed=True,
    )


def _nutpies_own(model):
    from nutpie.compile_pymc import _make_functions

    return _make_functions(
        model,
        mode="NUMBA",
        compute_grad=True,
        join_expanded=True,
        pymc_initial_point_fn=_start_point(model),
        var_names=None,
    )


def _other_prepared(n_persons: int, seed: int):
    from ambidex_bayes.data import ColumnMapping, load_diary
    from ambidex_bayes.prepare import prepare
    from ambidex_bayes.simulate import reference_design, simulate_diary

    study = simulate_diary(reference_design(n_persons=n_persons, likert=None), seed=seed)
    return prepare(load_diary(study.data, ColumnMapping.from_dict(study.mapping)))


def _assert_same_functions(made, reference, seeds=range(3)):
    n_dim, n_expanded, logp_fn, expand_fn, initial, shape_info, reparameterized = made
    assert (n_dim, n_expanded) == reference[:2]
    assert shape_info[0] == reference[5][0] and reparameterized == reference[6]
    for seed in seeds:
        x = reference[4](seed)
        np.testing.assert_array_equal(initial(seed), x)
        logp, grad = logp_fn(x)
        ref_logp, ref_grad = reference[2](x)
        assert logp == pytest.approx(ref_logp, rel=1e-12)
        np.testing.assert_allclose(grad, ref_grad, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(expand_fn(x)[0], reference[3](x)[0], rtol=1e-12)


def test_a_model_of_the_same_structure_loads_the_functions_with_its_own_data(
    small_prepared, tmp_path, monkeypatch
):
    import nutpie.compile_pymc

    from ambidex_bayes.engine.graph_cache import make_functions_cached

    first = _fast_path_model(small_prepared)
    first_reference = _nutpies_own(first)
    _assert_same_functions(
        make_functions_cached(first, _start_point(first), tmp_path), first_reference
    )
    assert len(list(tmp_path.glob("graph_*.pkl"))) == 1

    other = _fast_path_model(_other_prepared(23, seed=4))
    reference = _nutpies_own(other)

    def rewrite_again(*args, **kwargs):
        raise AssertionError("the rewritten functions were built again")

    monkeypatch.setattr(nutpie.compile_pymc, "_make_functions", rewrite_again)
    loaded = make_functions_cached(other, _start_point(other), tmp_path)
    _assert_same_functions(loaded, reference)
    # the other data really change the density: the loaded function reads this model's data
    x = reference[4](0)
    assert loaded[2](x)[0] != pytest.approx(first_reference[2](x)[0], rel=1e-6)
    assert len(list(tmp_path.glob("graph_*.pkl"))) == 1


def test_a_damaged_file_is_built_and_written_again(small_prepared, tmp_path):
    from ambidex_bayes.engine.graph_cache import make_functions_cached

    model = _fast_path_model(small_prepared)
    make_functions_cached(model, _start_point(model), tmp_path)
    (path,) = tmp_path.glob("graph_*.pkl")
    path.write_bytes(b"not a pickle")
    made = make_functions_cached(model, _start_point(model), tmp_path)
    _assert_same_functions(made, _nutpies_own(model), seeds=[1])
    assert path.read_bytes() != b"not a pickle"
    assert not list(tmp_path.glob(".*.tmp"))


def test_the_key_sees_constants_a_printed_graph_shortens():
    """Two models that differ only in the middle of a long constant array print the same
    graph; their keys must differ all the same."""
    import pymc as pm

    from ambidex_bayes.engine.graph_cache import graph_cache_key

    def model_with(offset: np.ndarray) -> pm.Model:
        with pm.Model() as model:
            mu = pm.Normal("mu", 0.0, 1.0)
            pm.Normal("y", mu + offset, 1.0, observed=np.zeros(offset.size))
        return model

    base = np.arange(3000.0)
    changed = base.copy()
    changed[2500] += 1.0
    assert graph_cache_key(model_with(base)) == graph_cache_key(model_with(base.copy()))
    assert graph_cache_key(model_with(base)) != graph_cache_key(model_with(changed))


def test_a_model_with_its_data_in_the_graph_is_not_kept(tmp_path):
    """Data written into the graph as constants make the functions serve one data set: they
    are built as usual and no file is written."""
    import pymc as pm

    from ambidex_bayes.engine.graph_cache import (
        MAX_CONSTANT_NUMBERS,
        graph_cache_key,
        make_functions_cached,
    )

    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 1.0)
        pm.Normal("y", mu, 1.0, observed=np.zeros(MAX_CONSTANT_NUMBERS + 1))
    assert graph_cache_key(model) is None
    made = make_functions_cached(model, _start_point(model), tmp_path)
    assert made[2](np.array([0.0]))[0] == pytest.approx(
        (MAX_CONSTANT_NUMBERS + 1) * -0.5 * np.log(2 * np.pi) - 0.5 * np.log(2 * np.pi)
    )
    assert not list(tmp_path.iterdir())
