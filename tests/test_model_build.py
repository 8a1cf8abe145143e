"""Model building: names, correlated person effects, priors, checks before sampling."""

from __future__ import annotations

import numpy as np
import pytest

from ambidex_bayes.errors import ModelError, SpecError
from ambidex_bayes.model import build_model, check_initial_point
from ambidex_bayes.spec import ModelSpec, load_spec


def test_m3_has_bambi_names_and_correlation(small_prepared):
    built = build_model(load_spec("M3"), small_prepared)
    t = built.terms
    assert built.formula == (
        "innovation ~ 1 + uncertainty_cw + uncertainty_pm + leader_support_c"
        " + uncertainty_cw:leader_support_c + (uncertainty_cw | person_id)"
    )
    assert t.slope == "uncertainty_cw"
    assert t.interaction == "uncertainty_cw:leader_support_c"
    assert t.group_slope == "uncertainty_cw|person_id"
    assert t.correlation == "corr(1|person_id,uncertainty_cw|person_id)"
    names = set(built.pymc_model.named_vars)
    for name in (
        "Intercept",
        "uncertainty_cw:leader_support_c",
        "1|person_id",
        "uncertainty_cw|person_id_sigma",
        t.correlation,
        "sigma",
    ):
        assert name in names
    assert built.pymc_model.named_vars_to_dims["1|person_id"] == ("person_id__factor_dim",)
    check_initial_point(built.pymc_model)


def test_person_levels_follow_bambi_order(small_prepared):
    built = build_model(load_spec("M3"), small_prepared)
    bambi_levels = list(
        built.bambi_model.parameters["mu"].group_specific_terms["1|person_id"].groups
    )
    assert list(built.pymc_model.coords["person_id__factor_dim"]) == bambi_levels


def test_every_prior_is_recorded(small_prepared):
    built = build_model(load_spec("M3"), small_prepared)
    table = built.prior_table()
    assert set(table["parameter"]) >= {
        "Intercept",
        "uncertainty_cw",
        "1|person_id_sigma",
        "uncertainty_cw|person_id_sigma",
        "corr(person_id)",
        "sigma",
    }
    corr = table.set_index("parameter").loc["corr(person_id)"]
    assert corr["prior"] == "LKJ(eta=2)" and corr["source"] == "spec"


def test_prior_override_is_used(small_prepared):
    spec = ModelSpec.from_dict(
        {
            "name": "T",
            "formula": "{y} ~ 1 + {x_within} + (1 | {person})",
            "priors": {"{x_within}": {"dist": "Normal", "mu": 0.7, "sigma": 0.01}},
        }
    )
    built = build_model(spec, small_prepared)
    rv = built.pymc_model["uncertainty_cw"]
    draws = np.asarray([rv.eval() for _ in range(1)])  # a prior draw is near 0.7
    assert abs(draws[0] - 0.7) < 0.1
    assert built.priors["uncertainty_cw"]["source"] == "spec"


def test_unknown_prior_key_is_refused_with_hint(small_prepared):
    spec = ModelSpec.from_dict(
        {
            "name": "T",
            "formula": "{y} ~ 1 + {x_within} + (1 | {person})",
            "priors": {"{x_within}_typo": {"dist": "Normal", "mu": 0, "sigma": 1}},
        }
    )
    with pytest.raises(SpecError, match=r"matches no parameter.*Did you mean 'uncertainty_cw'"):
        build_model(spec, small_prepared)


def test_missing_column_in_formula(small_prepared):
    spec = ModelSpec.from_dict({"name": "T", "formula": "{y} ~ 1 + stress + (1 | {person})"})
    with pytest.raises(SpecError, match="names the column 'stress'"):
        build_model(spec, small_prepared)


def test_constant_predictor_is_refused(small_prepared):
    import dataclasses

    frame = small_prepared.frame.copy()
    frame["flat"] = 1.0
    prepared = dataclasses.replace(small_prepared, frame=frame)
    spec = ModelSpec.from_dict({"name": "T", "formula": "{y} ~ 1 + flat + (1 | {person})"})
    with pytest.raises(ModelError, match="'flat' is constant"):
        build_model(spec, prepared)


def test_collinear_predictors_are_refused(small_prepared):
    import dataclasses

    frame = small_prepared.frame.copy()
    frame["twice"] = 2 * frame["uncertainty_cw"]
    prepared = dataclasses.replace(small_prepared, frame=frame)
    spec = ModelSpec.from_dict(
        {"name": "T", "formula": "{y} ~ 1 + {x_within} + twice + (1 | {person})"}
    )
    with pytest.raises(ModelError, match="perfectly collinear"):
        build_model(spec, prepared)


def test_moderator_without_between_person_variance_is_refused(small_prepared):
    import dataclasses

    frame = small_prepared.frame.copy()
    frame["leader_support_c"] = 0.0
    prepared = dataclasses.replace(small_prepared, frame=frame)
    with pytest.raises(ModelError, match="'leader_support_c' is constant"):
        build_model(load_spec("M3"), prepared)


def test_uncorrelated_option_gives_bambi_style_offsets(small_prepared):
    spec = ModelSpec.from_dict(
        {
            "name": "U",
            "formula": "{y} ~ 1 + {x_within} + ({x_within} | {person})",
            "correlated": False,
        }
    )
    built = build_model(spec, small_prepared)
    assert built.terms.correlation is None
    assert "_uncertainty_cw|person_id_offset" in built.pymc_model.named_vars


def test_infinite_logp_is_caught_before_sampling(small_prepared):
    import pymc as pm

    with pm.Model() as model:
        pm.Normal("y", 0, 1, observed=np.array([np.inf]))
    with pytest.raises(ModelError, match="not finite at the initial point"):
        check_initial_point(model, source="test")


def test_shared_initial_point_check_sees_new_prior_values(small_prepared):
    """One compiled check serves every model of a structure, with its own data and priors."""
    from ambidex_bayes.model import build as build_module

    spec = load_spec("M3")
    first = build_model(spec, small_prepared, marginal=True, prior_data=True)
    key = first.reuse_key
    assert key is not None
    build_module._CHECKS.pop(key, None)
    check_initial_point(first.pymc_model, source="first", reuse_key=key)
    compiled = build_module._CHECKS[key]

    second = build_model(spec, small_prepared, marginal=True, prior_data=True)
    assert second.reuse_key == key
    second.pymc_model.set_data("_prior[sigma].sigma", -1.0)  # impossible prior scale
    with pytest.raises(ModelError, match="second: the log density is not finite"):
        check_initial_point(second.pymc_model, source="second", reuse_key=key)
    assert build_module._CHECKS[key] is compiled  # not compiled again


def test_models_with_constant_priors_are_not_shared(small_prepared):
    built = build_model(load_spec("M3"), small_prepared, marginal=True)
    assert built.reuse_key is None
