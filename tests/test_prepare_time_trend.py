"""The occasion as a level-1 predictor (a time trend), and level-1 predictors whose person
means do not vary (no between-person part)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from ambidex_bayes.data import ColumnMapping, load_diary, validate
from ambidex_bayes.errors import SpecError
from ambidex_bayes.ladder import ladder_specs
from ambidex_bayes.prepare import prepare
from ambidex_bayes.spec import load_spec


def _sleep(n_persons: int = 10, days: int = 10, seed: int = 1) -> pd.DataFrame:
    """Every person observed on the same days 0..days-1 (as in lme4's sleepstudy)."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_persons):
        a, b = rng.normal(250, 25), rng.normal(10, 5)
        for d in range(days):
            rows.append(
                {
                    "Subject": f"s{p}",
                    "Days": d,
                    "Reaction": a + b * d + rng.normal(0, 20),
                    "x": rng.normal(p / 3, 1),
                }
            )
    return pd.DataFrame(rows)


def test_the_occasion_may_also_be_a_level1_predictor() -> None:
    m = ColumnMapping(person="Subject", occasion="Days", outcome="Reaction", level1=("Days",))
    assert m.model_columns == ("Subject", "Days", "Reaction")
    assert ColumnMapping.from_dict(m.to_dict()) == m


@pytest.mark.parametrize(
    "extra",
    [
        {"level2": ("Days",)},
        {"controls": ("Days",)},
        {"level1": ("Days", "Days")},
        {"level1": ("Subject",)},
    ],
)
def test_other_double_roles_are_still_refused(extra: dict) -> None:
    d = {"person": "Subject", "occasion": "Days", "outcome": "Reaction", "level1": ("x",)}
    with pytest.raises(SpecError, match="more than one role"):
        ColumnMapping(**{**d, **extra})


def test_constant_person_means_give_no_between_part_and_a_plain_note() -> None:
    m = ColumnMapping(person="Subject", occasion="Days", outcome="Reaction", level1=("Days",))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = prepare(load_diary(_sleep(), m))
    assert "Days_cw" in p.frame.columns and "Days_pm" not in p.frame.columns
    assert "x0_between" not in p.roles and "x_between" not in p.roles
    assert p.roles["x_within"] == "Days_cw"
    assert (
        "The person means of 'Days' are the same for everyone, so it has no between-person "
        "part; the model has no between term for it."
    ) in p.notes
    assert not any("unreliable" in w or "lambda" in w for w in p.warnings)
    assert not any("lambda" in n and "'Days'" in n for n in p.notes)
    assert "Days" not in p.person_mean_reliability
    assert "Days_pm" not in p.transforms
    # the ladder's models leave out {x_between}; M3 is skipped (no moderator)
    specs = ladder_specs(roles=p.formula_fields())
    assert [s.name for s in specs] == ["M0", "M1", "M2"]
    formula = specs[2].render(p.formula_fields())
    assert formula == "Reaction ~ 1 + Days_cw + (Days_cw | Subject)"
    # new rows are transformed the same way, without a between part
    out = p.apply(_sleep().head(3))
    assert "Days_pm" not in out.columns
    assert out["Days_cw"].tolist() == pytest.approx([-4.5, -3.5, -2.5])


def test_standardize_with_a_time_trend_needs_no_between_sd() -> None:
    m = ColumnMapping(person="Subject", occasion="Days", outcome="Reaction", level1=("Days",))
    p = prepare(load_diary(_sleep(), m), standardize=True)
    assert "Days_pm" not in p.frame.columns
    assert p.frame["Days_cw"].std() == pytest.approx(1.0)


def test_time_trend_beside_another_predictor() -> None:
    m = ColumnMapping(person="Subject", occasion="Days", outcome="Reaction", level1=("x", "Days"))
    p = prepare(load_diary(_sleep(), m))
    assert p.roles["x_between"] == "x_pm" and p.roles["x1_within"] == "Days_cw"
    assert "x1_between" not in p.roles
    m3 = load_spec("M3")
    with pytest.raises(SpecError, match=r"\{w\}.*M2"):
        m3.render(p.formula_fields())


def test_unequal_days_keep_the_between_part() -> None:
    df = _sleep()
    df = df[~((df["Subject"] == "s0") & (df["Days"] > 5))]
    m = ColumnMapping(person="Subject", occasion="Days", outcome="Reaction", level1=("Days",))
    p = prepare(load_diary(df, m))
    assert p.roles["x_between"] == "Days_pm"


def test_date_occasion_as_a_predictor_counts_days() -> None:
    df = _sleep(n_persons=4, days=3)
    df["date"] = pd.to_datetime("2024-03-01") + pd.to_timedelta(df["Days"], unit="D")
    m = ColumnMapping(person="Subject", occasion="date", outcome="Reaction", level1=("date",))
    v = validate(df, m)
    assert v.frame["date"].tolist()[:3] == [0.0, 1.0, 2.0]
    assert "date_cw" in prepare(v).frame.columns


def test_detrending_the_time_trend_predictor_is_refused() -> None:
    m = ColumnMapping(person="Subject", occasion="Days", outcome="Reaction", level1=("Days",))
    with pytest.raises(SpecError, match="also a level-1 predictor"):
        prepare(load_diary(_sleep(), m), detrend=True)
