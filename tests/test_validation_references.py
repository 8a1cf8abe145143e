"""External validation: our estimates on public data sets against stored lme4 and brms fits.

The data and the reference estimates are fixtures (``tests/fixtures/validation/``) made by
``validation/references.R``; these tests never need R. Each model is the same model as
lme4's (same fixed part, raw columns where lme4 uses raw columns, correlated person
effects on one grouping factor), fitted with our default priors by the fast path.

Tolerances, and why:

* fixed effects: our posterior mean within half an lme4 (REML) standard error of lme4's
  estimate. With weakly informative priors the posterior mean of a fixed effect is the
  GLS estimate averaged over the variance components' posterior, close to REML's; the
  Monte Carlo error of the mean (posterior SD / sqrt(ESS), a few hundredths of an SE
  here) is small beside half an SE.
* person-effect SDs, correlations and the residual SD: within half a brms posterior SD of
  brms' posterior mean. Both are Bayesian posterior means with weakly informative default
  priors (ours: Bambi's data-scaled half-normal SD priors and LKJ; brms: half-Student-t and
  LKJ(1)); with 18 subjects (sleepstudy) or 65 schools (Exam) the priors differ enough to move an SD's mean by a fraction of
  its posterior SD, not more. Against lme4 the SDs are compared more loosely: lme4 gives
  the mode of the (restricted) likelihood, and the posterior of an SD is right-skewed, so
  its mean lies above REML's estimate, here by under one posterior SD. The residual SD is
  well determined (180 and 4059 rows): within 5 % of lme4's.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from ambidex_bayes.fit import SamplerSettings

_MODULE = Path(__file__).resolve().parents[1] / "validation" / "reference_fits.py"


def _reference_fits():
    """validation/reference_fits.py, loaded from its file (validation/ is not a package)."""
    name = "validation_reference_fits"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, _MODULE)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


rf = _reference_fits()

SETTINGS = SamplerSettings(draws=1000, tune=1000, chains=2, seed=2026)


def test_fixtures_record_their_software_and_data():
    for case in rf.CASES.values():
        reference = case.reference()
        assert {"R", "lme4", "brms", "rstan"} <= set(reference["software"])
        data = case.data()
        assert len(data) == reference["rows"] == reference["lme4"]["REML"]["n_obs"]
        for method in ("REML", "ML"):
            part = reference["lme4"][method]
            assert set(case.fixed) == set(part["fixed"])
            assert set(case.sds) == set(part["sd"])
            assert set(case.cors) == set(part["cor"])
        assert set(case.fixed) == set(reference["brms"]["fixed"])
        assert reference["brms"]["max_rhat"] < 1.01


def test_sleepstudy_model_is_lme4s():
    """Raw Days (not centred within person) is the fixed and the person slope, as in lme4."""
    from ambidex_bayes.model.build import build_model

    case = rf.SLEEPSTUDY
    built = build_model(case.spec(), case.prepared(), marginal=True)
    assert built.formula == "Reaction ~ 1 + Days + (1 + Days | Subject)"
    assert built.marginal.fixed_names == ["Intercept", "Days"]
    raw_days = case.data()["Days"].to_numpy(dtype=float)
    np.testing.assert_array_equal(built.marginal.X[:, 1], raw_days)
    np.testing.assert_array_equal(built.marginal.Z[:, 1], raw_days)


def test_exam_model_is_lme4s():
    """Factor columns coded as lme4 codes them: treatment contrasts against R's first level
    (sex 'F', schgend 'mixed'); standLRT raw in the fixed part and the school slope."""
    from ambidex_bayes.model.build import build_model

    case = rf.EXAM
    built = build_model(case.spec(), case.prepared(), marginal=True)
    assert built.marginal.fixed_names == list(case.fixed.values())
    assert built.marginal.group_names == ["1|school", "standLRT|school"]
    data = case.data()
    X = dict(zip(built.marginal.fixed_names, built.marginal.X.T, strict=True))
    np.testing.assert_array_equal(X["standLRT"], data["standLRT"].to_numpy(dtype=float))
    np.testing.assert_array_equal(X["sex_M"], (data["sex"] == "M").to_numpy(dtype=float))
    for level in ("boys", "girls"):
        np.testing.assert_array_equal(
            X[f"schgend_{level}"], (data["schgend"] == level).to_numpy(dtype=float)
        )


@pytest.fixture(scope="module", params=list(rf.CASES))
def table(request):
    case = rf.CASES[request.param]
    result = case.fit(SETTINGS)
    assert result.meta["method"].startswith("fast path")
    return rf.comparison_table(case, result, case.reference()).set_index("parameter")


@pytest.mark.fit
def test_fixed_effects_within_half_an_lme4_se(table):
    fixed = table[table["kind"] == "fixed"]
    assert len(fixed) >= 2
    assert (fixed["gap_in_lme4_se"] < 0.5).all(), fixed


@pytest.mark.fit
def test_sds_and_correlation_close_to_brms_and_lme4(table):
    rest = table[table["kind"] != "fixed"]
    assert list(rest["kind"]) == ["sd", "sd", "cor", "residual"]
    gap_brms = np.abs(rest["ours_mean"] - rest["brms_mean"]) / rest["brms_sd"]
    assert (gap_brms < 0.5).all(), rest
    sds = rest[rest["kind"] == "sd"]
    # posterior means of SDs lie above the REML mode, by less than one posterior SD
    assert (sds["ours_mean"] > sds["lme4_reml"]).all(), sds
    assert (sds["ours_mean"] - sds["lme4_reml"] < sds["ours_sd"]).all(), sds
    sigma = rest.loc["sigma"]
    assert abs(sigma["ours_mean"] / sigma["lme4_reml"] - 1) < 0.05
