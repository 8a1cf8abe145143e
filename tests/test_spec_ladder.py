"""The ladder adapts to the data: optional roles, M3 skipped without a moderator."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from ambidex_bayes.data import ColumnMapping, validate
from ambidex_bayes.errors import SpecError
from ambidex_bayes.ladder import ladder_notes, ladder_specs
from ambidex_bayes.prepare import prepare
from ambidex_bayes.spec import ModelSpec, load_spec

NO_MODERATOR = {"y": "y", "person": "pid", "x_within": "x_cw", "x_between": "x_pm"}
NO_BETWEEN = {"y": "y", "person": "pid", "x_within": "x_cw", "w": "w_c"}


def test_bundled_specs_mark_their_optional_roles() -> None:
    assert load_spec("M0").optional_roles == ()
    assert load_spec("M1").optional_roles == ("w", "x_between")
    assert load_spec("M2").optional_roles == ("w", "x_between")
    assert load_spec("M3").optional_roles == ("x_between",)


def test_without_a_moderator_m1_and_m2_leave_out_its_terms() -> None:
    assert load_spec("M1").render(NO_MODERATOR) == "y ~ 1 + x_cw + x_pm + (1 | pid)"
    assert load_spec("M2").render(NO_MODERATOR) == "y ~ 1 + x_cw + x_pm + (x_cw | pid)"
    note = load_spec("M2").adaptation_note(NO_MODERATOR)
    assert note == "M2: the data have no {w}, so the term(s) {w} are left out of its formula."


def test_without_a_between_part_the_between_term_is_left_out() -> None:
    assert load_spec("M3").render(NO_BETWEEN) == ("y ~ 1 + x_cw + w_c + x_cw:w_c + (x_cw | pid)")
    assert load_spec("M3").dropped_terms(NO_BETWEEN) == ["{x_between}"]


def test_m3_without_a_moderator_points_to_m2() -> None:
    with pytest.raises(SpecError, match=r"uses \{w\}.*no level-2 moderator.*M2"):
        load_spec("M3").render(NO_MODERATOR)


def test_the_ladder_skips_m3_without_a_moderator_with_a_note() -> None:
    names = [s.name for s in ladder_specs(roles=NO_MODERATOR)]
    assert names == ["M0", "M1", "M2"]
    assert [s.name for s in ladder_specs(roles=NO_BETWEEN)] == ["M0", "M1", "M2", "M3"]
    assert [s.name for s in ladder_specs()] == ["M0", "M1", "M2", "M3"]
    notes = ladder_notes(ladder_specs(), NO_MODERATOR)
    assert any(n.startswith("M3 (") and "is skipped: it needs {w}" in n for n in notes)
    assert any(n.startswith("M1: the data have no {w}") for n in notes)


def test_marking_roles_optional_keeps_the_fingerprint() -> None:
    for name in ("M1", "M2", "M3"):
        spec = load_spec(name)
        plain = dataclasses.replace(spec, optional_roles=())
        assert spec.fingerprint() == plain.fingerprint()
        assert ModelSpec.from_dict(spec.to_dict(), source="x") == dataclasses.replace(
            spec, source="x"
        )


def test_priors_of_left_out_terms_are_dropped() -> None:
    spec = ModelSpec.from_dict(
        {
            "name": "P",
            "formula": "{y} ~ 1 + {x_within} + {w} + ({x_within} | {person})",
            "optional_roles": ["w"],
            "priors": {
                "{w}": {"dist": "Normal", "mu": 0, "sigma": 1},
                "sigma": {"dist": "HalfNormal", "sigma": 1},
            },
        }
    )
    assert list(spec.render_priors(NO_MODERATOR)) == ["sigma"]


def test_bad_optional_roles_are_refused() -> None:
    base = {"name": "P", "formula": "{y} ~ 1 + {x_within} + ({x_within} | {person})"}
    with pytest.raises(SpecError, match="optional role 'w' is not a role of the formula"):
        ModelSpec.from_dict({**base, "optional_roles": ["w"]})
    with pytest.raises(SpecError, match="must be a list of role names"):
        ModelSpec.from_dict({**base, "optional_roles": "x_within"})
    with pytest.raises(SpecError, match="'person' cannot be optional"):
        ModelSpec.from_dict({**base, "optional_roles": ["person"]})


def test_random_slope_model_without_a_moderator_builds() -> None:
    from ambidex_bayes.model import build_model

    rng = np.random.default_rng(2)
    df = pd.DataFrame(
        {
            "pid": np.repeat(np.arange(15), 6),
            "day": np.tile(np.arange(6), 15),
            "x": rng.normal(size=90),
            "y": rng.normal(size=90),
        }
    )
    mapping = ColumnMapping(person="pid", occasion="day", outcome="y", level1=("x",))
    p = prepare(validate(df, mapping))
    assert any(n.startswith("No level-2 moderator is mapped") for n in p.notes)
    specs = ladder_specs(roles=p.formula_fields())
    assert [s.name for s in specs] == ["M0", "M1", "M2"]
    built = build_model(specs[-1], p)
    assert built.formula == "y ~ 1 + x_cw + x_pm + (x_cw | pid)"
    assert "x_cw|pid_sigma" in built.pymc_model.named_vars
