"""The main job on a random-slope study without a moderator, where the day number is both
the occasion and the predictor (lme4's sleepstudy design): the ladder stops at M2, the day
has no between-person term, and the report is written."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import ambidex_bayes as ab
from ambidex_bayes.diagnostics import ConvergenceWarning

pytestmark = pytest.mark.fit


def _sleep_like_study(seed: int = 11) -> pd.DataFrame:
    """18 persons observed on the same 10 days; true slope 10 per day, slope SD 6."""
    rng = np.random.default_rng(seed)
    rows = []
    for j in range(18):
        u0, u1 = rng.normal(0, 25), rng.normal(0, 6)
        for day in range(10):
            y = 250 + u0 + (10 + u1) * day + rng.normal(0, 20)
            rows.append({"subject": f"s{j}", "days": day, "reaction": round(y, 2)})
    return pd.DataFrame(rows)


def test_the_job_fits_m0_to_m2_and_the_day_has_no_between_term(tmp_path, capsys):
    mapping = {"person": "subject", "occasion": "days", "outcome": "reaction", "level1": "days"}
    settings = ab.SamplerSettings(draws=300, tune=300, chains=2, seed=3)
    with warnings.catch_warnings():
        # 600 draws are too few for the ESS limits; this test checks the ladder and report
        warnings.simplefilter("ignore", ConvergenceWarning)
        report_md = ab.report(
            _sleep_like_study(),
            tmp_path / "report",
            mapping=mapping,
            settings=settings,
            progressbar=False,
        )
    printed = capsys.readouterr().out
    assert "unreliable" not in printed
    assert "no between-person part" in printed
    text = report_md.read_text(encoding="utf-8")
    assert "no level-2 moderator" in text
    assert "M3 " not in text and "effects_M3" not in text
    figures = {p.name for p in (report_md.parent / "figures").iterdir()}
    assert {"effects_M0.png", "effects_M1.png", "effects_M2.png"} <= figures
    assert "effects_M3.png" not in figures
    fixed = pd.read_csv(report_md.parent / "tables" / "apa_fixed_effects.csv")
    assert set(fixed["model"]) == {"M0", "M1", "M2"}
    assert set(fixed["parameter"]) == {"Intercept", "days_cw"}  # no between term days_pm
    m2_slope = fixed.set_index(["model", "parameter"]).loc[("M2", "days_cw")]
    assert m2_slope["ci_lower"] < 10.0 < m2_slope["ci_upper"]
