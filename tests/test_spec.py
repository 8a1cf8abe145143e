"""Spec and prior-set files: validation on load, rendering with the data's roles."""

from __future__ import annotations

from pathlib import Path

import pytest

from ambidex_bayes.errors import SpecError
from ambidex_bayes.ladder import ladder_specs
from ambidex_bayes.priors.sets import load_prior_set
from ambidex_bayes.spec import ModelSpec, PriorSpec, load_spec

FIELDS = {"y": "inno", "person": "pid", "x_within": "unc_cw", "x_between": "unc_pm", "w": "sup_c"}


def test_ladder_files_load_in_order():
    specs = ladder_specs()
    assert [s.name for s in specs] == ["M0", "M1", "M2", "M3"]
    m3 = specs[-1]
    assert m3.correlated is True
    assert m3.render(FIELDS) == (
        "inno ~ 1 + unc_cw + unc_pm + sup_c + unc_cw:sup_c + (unc_cw | pid)"
    )
    assert m3.priors["corr"] == PriorSpec("LKJ", {"eta": 2.0})


def test_load_by_name():
    assert load_spec("M2").name == "M2"
    assert load_spec("m0_null").name == "M0"


def test_unknown_key_has_hint():
    with pytest.raises(SpecError, match=r"unknown key 'formla'.*Did you mean 'formula'"):
        ModelSpec.from_dict({"name": "A", "formla": "y ~ 1"}, source="a.toml")


def test_unknown_distribution_has_hint():
    with pytest.raises(
        SpecError, match=r"unknown distribution 'HalfNormall'.*Did you mean 'HalfNormal'"
    ):
        PriorSpec.from_dict({"dist": "HalfNormall", "sigma": 1}, where="p")


def test_unknown_parameter_of_distribution():
    with pytest.raises(SpecError, match=r"Normal has no parameter 'sd'.*Did you mean 'sigma'"):
        PriorSpec.from_dict({"dist": "Normal", "mu": 0, "sd": 1}, where="p")


def test_nonpositive_scale_refused():
    with pytest.raises(SpecError, match="must be > 0"):
        PriorSpec.from_dict({"dist": "HalfNormal", "sigma": 0}, where="p")


def test_unknown_family():
    with pytest.raises(SpecError, match="unknown family 'gausian'.*Did you mean 'gaussian'"):
        ModelSpec.from_dict({"name": "A", "formula": "y ~ 1", "family": "gausian"})


def test_render_missing_role_explains_moderator():
    spec = load_spec("M3")
    fields = {k: v for k, v in FIELDS.items() if k != "w"}
    with pytest.raises(SpecError, match=r"uses \{w\}.*no level-2 moderator"):
        spec.render(fields)


def test_render_adds_controls_before_group_terms():
    spec = ModelSpec.from_dict(
        {"name": "C", "formula": "{y} ~ 1 + {x_within} + (1 | {person})", "include_controls": True}
    )
    assert spec.render(FIELDS, controls=("day",)) == "inno ~ 1 + unc_cw + day + (1 | pid)"


def test_prior_keys_rendered_with_roles():
    spec = ModelSpec.from_dict(
        {
            "name": "P",
            "formula": "{y} ~ {x_within}:{w}",
            "priors": {"{x_within}:{w}": {"dist": "Normal", "mu": 0, "sigma": 0.5}},
        }
    )
    assert spec.render_priors(FIELDS) == {
        "unc_cw:sup_c": PriorSpec("Normal", {"mu": 0.0, "sigma": 0.5})
    }


def test_round_trip_and_fingerprint():
    spec = load_spec("M3")
    again = ModelSpec.from_dict(spec.to_dict(), source="x")
    assert again.fingerprint() == spec.fingerprint()
    changed = spec.with_priors({"sigma": PriorSpec("HalfNormal", {"sigma": 1.0})}, label="tight")
    assert changed.fingerprint() != spec.fingerprint()
    assert changed.name == "M3[tight]"


def test_invalid_toml_names_file(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text("name = 'A'\nformula = \n")
    with pytest.raises(SpecError, match="bad.toml: not valid TOML"):
        load_spec(bad)


def test_prior_set_file(tmp_path: Path):
    f = tmp_path / "set.toml"
    f.write_text('name = "tight"\n[priors]\nsigma = { dist = "Exponential", lam = 2 }\n')
    assert load_prior_set(f) == {"sigma": PriorSpec("Exponential", {"lam": 2.0})}
    f.write_text('nme = "tight"\n')
    with pytest.raises(SpecError, match="Did you mean 'name'"):
        load_prior_set(f)
