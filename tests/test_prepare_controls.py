"""Controls split within/between on request, and weekday/weekend derived from dates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ambidex_bayes.data import ColumnMapping, validate
from ambidex_bayes.errors import DataError, SpecError, ValidationError
from ambidex_bayes.prepare import PreparedData, prepare
from ambidex_bayes.spec import ModelSpec


def _diary(seed: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(8):
        level = rng.normal(0, 2)
        for d in range(10):
            rows.append(
                {
                    "pid": p,
                    "date": (pd.Timestamp("2024-03-04") + pd.Timedelta(days=d)).date().isoformat(),
                    "x": rng.normal(),
                    "y": rng.normal(),
                    "stress": level + rng.normal(),
                    "sleep": rng.normal(7, 1),
                    "place": ["home", "office"][d % 2],
                }
            )
    return pd.DataFrame(rows)


def _mapping(**extra: object) -> ColumnMapping:
    d = {"person": "pid", "occasion": "date", "outcome": "y", "level1": ["x"], **extra}
    return ColumnMapping.from_dict(d)


def test_split_controls_get_within_and_between_parts() -> None:
    m = _mapping(controls=["stress", "sleep"], split_controls=["stress"])
    p = prepare(validate(_diary(), m))
    assert p.roles["c0"] == "stress"
    assert p.roles["c0_within"] == "stress_cw" and p.roles["c0_between"] == "stress_pm"
    assert p.role_columns("c0") == ("stress_cw", "stress_pm")
    assert p.role_columns("c1") == ("sleep",)
    means = p.frame.groupby("pid")["stress_cw"].mean()
    assert np.allclose(means, 0.0)
    person_mean = p.frame.groupby("pid")["stress"].mean()
    expected = p.frame["pid"].map(person_mean - person_mean.mean())
    np.testing.assert_allclose(p.frame["stress_pm"], expected)
    assert p.formula_columns() == {"stress": ("stress_cw", "stress_pm")}
    spec = ModelSpec.from_dict(
        {
            "name": "C",
            "formula": "{y} ~ 1 + {x_within} + ({x_within} | {person})",
            "include_controls": True,
        }
    )
    controls = tuple(p.roles[f"c{k}"] for k in range(2))
    formula = spec.render(p.formula_fields(), controls=controls, factors=p.formula_columns())
    assert formula == "y ~ 1 + x_cw + stress_cw + stress_pm + sleep + (x_cw | pid)"
    # new rows get the same split; a known person keeps the stored person mean
    new = _diary().head(3)
    out = p.apply(new)
    pm0 = p.person_means.loc["0", "stress"]
    np.testing.assert_allclose(out["stress_cw"], new["stress"] - pm0)
    np.testing.assert_allclose(out["stress_pm"], p.frame["stress_pm"].iloc[0])
    back = PreparedData.from_dict(p.to_dict(), frame=p.frame)
    assert back.role_columns("c0") == ("stress_cw", "stress_pm")


def test_split_controls_true_splits_every_numeric_control_but_not_factors() -> None:
    m = _mapping(controls=["stress", "place"], split_controls=True)
    assert ColumnMapping.from_dict(m.to_dict()) == m
    p = prepare(validate(_diary(), m))
    assert "stress_cw" in p.frame.columns and "place_cw" not in p.frame.columns
    assert p.role_columns("c1") == ("place_office",)


def test_split_controls_refuses_unknown_and_factor_controls() -> None:
    with pytest.raises(SpecError, match="'stres' is not among the controls.*'stress'"):
        _mapping(controls=["stress"], split_controls=["stres"])
    m = _mapping(controls=["place"], split_controls=["place"])
    with pytest.raises(DataError, match="'place' is a factor .*cannot be split"):
        prepare(validate(_diary(), m))


def test_weekday_and_weekend_are_derived_from_a_date_occasion() -> None:
    m = _mapping(controls=["sleep"], derive=["weekend"])
    assert m.controls == ("sleep", "weekend")
    assert ColumnMapping.from_dict(m.to_dict()) == m
    first = validate(_diary(), m).frame.query("pid == '0'")
    # 2024-03-04 is a Monday
    assert first["weekend"].tolist() == [0, 0, 0, 0, 0, 1, 1, 0, 0, 0]
    m = _mapping(derive=["weekday"])
    assert m.controls == ("weekday",)
    v = validate(_diary(), m)
    assert v.factor_levels["weekday"] == ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    p = prepare(v)
    coding = p.factor_codings["weekday"]
    assert coding.reference == "Mon"
    assert coding.columns == tuple(
        f"weekday_{d}" for d in ("Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    )
    sat = p.frame["weekday"] == "Sat"
    assert (p.frame.loc[sat, "weekday_Sat"] == 1).all()
    assert (p.frame.loc[~sat, "weekday_Sat"] == 0).all()


def test_derive_needs_a_date_occasion_and_free_names() -> None:
    with pytest.raises(SpecError, match="cannot derive 'month'"):
        _mapping(derive=["month"])
    with pytest.raises(SpecError, match="weekday and weekend together are collinear"):
        _mapping(derive=["weekday", "weekend"])
    with pytest.raises(SpecError, match="needs a date occasion"):
        ColumnMapping(person="pid", outcome="y", level1=("x",), derive=("weekend",))
    df = _diary()
    df["date"] = np.tile(np.arange(10), 8)
    with pytest.raises(ValidationError, match="'date' \\(occasion\\) does not hold dates"):
        validate(df, _mapping(derive=["weekend"]))
    df = _diary()
    df["weekend"] = 0
    with pytest.raises(ValidationError, match="already have such a column"):
        validate(df, _mapping(derive=["weekend"]))


def test_a_model_with_split_and_derived_controls_builds() -> None:
    from ambidex_bayes.data import load_diary
    from ambidex_bayes.model import build_model

    m = _mapping(controls=["stress"], split_controls=["stress"], derive=["weekday"])
    p = prepare(load_diary(_diary(), m))
    spec = ModelSpec.from_dict(
        {
            "name": "C",
            "formula": "{y} ~ 1 + {x_within} + (1 | {person})",
            "include_controls": True,
            "correlated": False,
        }
    )
    built = build_model(spec, p)
    assert built.formula == (
        "y ~ 1 + x_cw + stress_cw + stress_pm + weekday_Tue + weekday_Wed + "
        "weekday_Thu + weekday_Fri + weekday_Sat + weekday_Sun + (1 | pid)"
    )


def test_apply_derives_the_weekday_of_new_rows() -> None:
    p = prepare(validate(_diary(), _mapping(derive=["weekday"])))
    new = _diary().head(7).drop(columns=["stress", "sleep", "place"])
    out = p.apply(new)
    assert out["weekday_Sat"].tolist() == [0, 0, 0, 0, 0, 1, 0]
    assert out["weekday_Tue"].tolist() == [0, 1, 0, 0, 0, 0, 0]
