"""Tests of the simulator's further parts: several level-1 predictors, a factor moderator and
correlated person effects (ExtendedDesign)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from ambidex_bayes.simulate import (
    DesignError,
    ExtendedDesign,
    FactorModerator,
    Level1Predictor,
    SimulationDesign,
    reference_design,
    simulate_diary,
)
from ambidex_bayes.simulation_terms import allocate_levels

N_PERSONS = 3000
DIARIES = 10

SHARES = (0.5, 0.3, 0.2)
#: true slope contrasts of the levels against the reference "A"
SLOPE_B = {"x": 0.30, "z": -0.20}
SLOPE_C = {"x": -0.25, "z": 0.15}


def _factor(**kw) -> dict:
    base = {
        "name": "sector",
        "levels": ("A", "B", "C"),
        "shares": SHARES,
        "intercept": {"B": 0.5, "C": -0.4},
        "slopes": {
            "x": {"B": SLOPE_B["x"], "C": SLOPE_C["x"]},
            "z": {"B": SLOPE_B["z"], "C": SLOPE_C["z"]},
        },
    }
    base.update(kw)
    return base


def _design(**kw) -> SimulationDesign:
    base = dict(
        n_persons=N_PERSONS,
        diaries_dist="fixed",
        diaries_mean=DIARIES,
        tau0=0.5,
        tau1=0.15,
        rho=0.3,
        sigma=0.6,
        g00=1.0,
        g02=0.2,
        g10=0.4,
        x_mean=2.0,
        x_sd_within=1.0,
        x_sd_between=0.7,
        w_col=None,
    )
    base.update(kw)
    plain = SimulationDesign(**base)
    return plain.replace(
        predictors=[
            {
                "name": "z",
                "g10": -0.3,
                "g02": 0.1,
                "tau1": 0.2,
                "x_mean": 5.0,
                "x_sd_within": 1.5,
                "x_sd_between": 0.5,
            }
        ],
        factor=_factor(),
        person_corr=[[1.0, 0.3, -0.2], [0.3, 1.0, 0.4], [-0.2, 0.4, 1.0]],
    )


@pytest.fixture(scope="module")
def large():
    return simulate_diary(_design(), seed=20261201)


# --- plain designs are untouched -------------------------------------------------------------


def test_plain_design_stays_plain():
    design = reference_design(n_persons=30)
    assert type(design) is SimulationDesign
    assert not design.extended
    assert type(design.replace(g10=0.3)) is SimulationDesign


def test_extension_fields_give_an_extended_design_with_parts():
    design = _design(n_persons=20)
    assert isinstance(design, ExtendedDesign) and design.extended
    assert design.predictors == (
        Level1Predictor(
            name="z", g10=-0.3, g02=0.1, tau1=0.2, x_mean=5.0, x_sd_within=1.5, x_sd_between=0.5
        ),
    )
    assert isinstance(design.factor, FactorModerator)
    assert design.factor.resolved_reference == "A"
    assert design.person_corr[1] == (0.3, 1.0, 0.4)
    assert design.predictor_names == ("x", "z")
    hash(design)  # a frozen design stays hashable with its parts
    # replace keeps the parts, the same seed gives the same study
    again = design.replace(g00=2.0)
    assert again.factor == design.factor and again.g00 == 2.0
    a, b = simulate_diary(design, seed=4), simulate_diary(design, seed=4)
    pd.testing.assert_frame_equal(a.data, b.data)


def test_plain_columns_unchanged_by_extension_draws():
    """The further parts draw after the plain design's draws: the plain predictor, the
    person effects' standard normals and the outcome gaps are the plain design's."""
    plain = SimulationDesign(n_persons=50, icc=0.3, tau1=0.2, w_col=None, missing_rate=0.1)
    more = plain.replace(predictors=[{"name": "z"}])
    a, b = simulate_diary(plain, seed=9), simulate_diary(more, seed=9)
    pd.testing.assert_series_equal(a.data["x"], b.data["x"])
    pd.testing.assert_series_equal(a.effects["u1"], b.effects["u1"])
    assert (a.data["y"].isna() == b.data["y"].isna()).all()
    # z has slope 0 and no person effects: the outcome is the plain one exactly
    pd.testing.assert_series_equal(a.data["y"], b.data["y"])


# --- the table, the mapping and the truth ----------------------------------------------------


def test_columns_mapping_and_prepare(large):
    from ambidex_bayes.data import ColumnMapping, load_diary
    from ambidex_bayes.prepare import prepare

    small = simulate_diary(_design(n_persons=40), seed=1)
    assert list(small.data.columns) == ["person", "day", "y", "x", "z", "sector"]
    assert small.mapping["level1"] == ["x", "z"]
    assert small.mapping["level2"] == ["sector"]
    assert small.mapping["factors"] == {"sector": {"reference": "A"}}
    assert (small.data.groupby("person")["sector"].nunique() == 1).all()
    prepared = prepare(load_diary(small.data, ColumnMapping.from_dict(small.mapping)))
    assert prepared.roles["x1_within"] == "z_cw" and prepared.roles["w"] == "sector"
    assert {"sector_B", "sector_C"} <= set(prepared.frame.columns)


def test_truth_names_the_model_parameters(large):
    truth = large.truth
    assert truth["x_cw"] == 0.4 and truth["z_cw"] == -0.3
    assert truth["x_pm"] == 0.2 and truth["z_pm"] == 0.1
    assert truth["sector_B"] == 0.5 and truth["sector_C"] == -0.4
    assert truth["x_cw:sector_B"] == SLOPE_B["x"] and truth["z_cw:sector_C"] == SLOPE_C["z"]
    assert truth["1|person_sigma"] == 0.5 and truth["z_cw|person_sigma"] == 0.2
    assert truth["corr(x_cw|person,z_cw|person)"] == 0.4
    assert truth["corr(1|person,z_cw|person)"] == -0.2
    assert truth["sigma"] == 0.6
    # no numeric moderator: none of its keys
    assert not any(k.startswith(("w_", "simple_slope")) for k in truth)


def test_outcome_follows_the_model_exactly_without_residual():
    design = _design(n_persons=60, sigma=0.0)
    study = simulate_diary(design, seed=3)
    m = study.data.merge(study.effects, on="person")
    level_a = {"A": 0.0, "B": 0.5, "C": -0.4}
    b_x = {"A": 0.0, "B": SLOPE_B["x"], "C": SLOPE_C["x"]}
    b_z = {"A": 0.0, "B": SLOPE_B["z"], "C": SLOPE_C["z"]}
    expected = (
        1.0
        + m["level"].map(level_a)
        + 0.2 * m["xbar_c"]
        + 0.1 * m["xbar_c_z"]
        + (0.4 + m["level"].map(b_x) + m["u1"]) * (m["x"] - m["xbar_true"])
        + (-0.3 + m["level"].map(b_z) + m["u1_z"]) * (m["z"] - m["xbar_true_z"])
        + m["u0"]
    )
    np.testing.assert_allclose(m["y"], expected, rtol=0, atol=1e-12)
    assert (m["sector"] == m["level"]).all()


# --- sample statistics match the design ------------------------------------------------------


def test_shares_per_level_are_exact(large):
    """Levels are allocated exactly: each share is within 1/n of the design's."""
    shares = large.effects["level"].value_counts(normalize=True)
    for level, share in zip(("A", "B", "C"), SHARES, strict=True):
        assert abs(shares[level] - share) <= 1 / N_PERSONS
    counts = allocate_levels(np.random.default_rng(0), 7, (0.5, 0.3, 0.2))
    assert np.bincount(counts).tolist() == [4, 2, 1]  # 3.5, 2.1, 1.4: the .5 remainder wins


def test_predictor_means_and_sds(large):
    """Person means: mean within 4 standard errors (SD/sqrt(n)); SD within 4 standard errors
    of an SD (about SD/sqrt(2n)); daily deviations likewise over n * diaries rows."""
    e, data = large.effects, large.data.merge(large.effects, on="person")
    n, rows = N_PERSONS, len(data)
    for mean_col, dev_of, mu, sd_b, sd_w in (
        ("xbar_true", "x", 2.0, 0.7, 1.0),
        ("xbar_true_z", "z", 5.0, 0.5, 1.5),
    ):
        means = e[mean_col]
        assert abs(means.mean() - mu) < 4 * sd_b / math.sqrt(n)
        assert abs(means.std() - sd_b) < 4 * sd_b / math.sqrt(2 * n)
        deviations = data[dev_of] - data[mean_col]
        assert abs(deviations.mean()) < 4 * sd_w / math.sqrt(rows)
        assert abs(deviations.std() - sd_w) < 4 * sd_w / math.sqrt(2 * rows)


def test_person_effects_follow_the_correlation_matrix(large):
    """Sample SDs within 4 standard errors; correlations within 4 / sqrt(n) (the standard
    error of a correlation is at most 1 / sqrt(n))."""
    u = large.effects[["u0", "u1", "u1_z"]]
    np.testing.assert_allclose(u.std(), [0.5, 0.15, 0.2], rtol=4 / math.sqrt(2 * N_PERSONS))
    r = u.corr().to_numpy()
    target = np.array([[1.0, 0.3, -0.2], [0.3, 1.0, 0.4], [-0.2, 0.4, 1.0]])
    assert np.abs(r - target).max() < 4 / math.sqrt(N_PERSONS)


def _person_ols_slopes(data: pd.DataFrame) -> pd.DataFrame:
    """Each person's within-person OLS slopes of y on x and z (person-demeaned)."""
    cols = ["y", "x", "z"]
    demeaned = data[cols] - data.groupby("person")[cols].transform("mean")
    out = {}
    for person, rows in demeaned.groupby(data["person"]):
        coef, *_ = np.linalg.lstsq(rows[["x", "z"]].to_numpy(), rows["y"].to_numpy(), rcond=None)
        out[person] = coef
    return pd.DataFrame.from_dict(out, orient="index", columns=["x", "z"])


def test_per_level_slopes_from_pooled_person_ols(large):
    """Per level, the mean of the persons' OLS slopes estimates g10 + b_level (person slopes
    average 0); the tolerance is 4 standard errors of that mean, from the spread of the
    persons' slopes (person-slope SD and OLS noise, sigma / sqrt(9 * sd_w**2) per person)."""
    slopes = _person_ols_slopes(large.data)
    levels = large.effects.set_index("person")["level"]
    for level, b in (("A", {"x": 0.0, "z": 0.0}), ("B", SLOPE_B), ("C", SLOPE_C)):
        inside = slopes[levels.reindex(slopes.index) == level]
        for column, g10 in (("x", 0.4), ("z", -0.3)):
            se = inside[column].std() / math.sqrt(len(inside))
            assert se < 0.02  # about 600 to 1500 persons each
            assert abs(inside[column].mean() - (g10 + b[column])) < 4 * se, (level, column)


# --- invalid parts are named -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"factor": _factor(shares=(0.5, 0.3, 0.3))}, "factor.shares must sum to 1"),
        ({"factor": _factor(reference="D")}, "factor.reference 'D'"),
        ({"factor": _factor(intercept={"A": 0.1})}, "not a non-reference level"),
        ({"factor": _factor(slopes={"q": {"B": 0.1}})}, "'q' is not a level-1 predictor"),
        ({"factor": _factor(levels=("A",), shares=None)}, "at least two distinct"),
        ({"factor": _factor(name="x")}, "factor.name 'x'"),
        ({"predictors": [{"name": "y"}]}, "predictors[0].name 'y'"),
        ({"predictors": [{"name": "z", "tau1": -1.0}]}, "predictors[0].tau1 is an SD"),
        ({"predictors": [{"name": "z", "g11": 0.2}]}, "w_col is None"),
        ({"predictors": [{"name": "z", "slope": 1}]}, "unexpected keyword"),
        ({"person_corr": [[1.0, 0.5, 0.0], [0.5, 1.0, 0.0], [0.0, 0.0, 1.0]]}, "must equal rho"),
        ({"person_corr": [[1.0, 0.1, 0.9], [0.1, 1.0, -0.9], [0.9, -0.9, 1.0]]}, "semi-definite"),
        ({"person_corr": [[1.0, 0.1, 0.0], [0.1, 1.0, 0.0]]}, "must be 3 x 3"),
    ],
)
def test_invalid_parts_are_named(changes, words):
    base = SimulationDesign(icc=0.2, rho=0.1, w_col=None).replace(predictors=[{"name": "z"}])
    with pytest.raises(DesignError, match="Invalid simulation design") as info:
        base.replace(**changes)
    assert words in str(info.value)


def test_no_numeric_moderator_needs_zero_moderator_effects():
    with pytest.raises(DesignError, match="g11 acts through the numeric moderator"):
        SimulationDesign(icc=0.2, w_col=None, g11=0.3)
    study = simulate_diary(SimulationDesign(icc=0.2, w_col=None), seed=1)
    assert "w" not in study.data.columns and study.mapping["level2"] == []


def test_unknown_field_still_refused():
    with pytest.raises(DesignError, match="unknown design field 'factors'"):
        reference_design(factors={})


# --- a real fit recovers the per-level slopes ------------------------------------------------


@pytest.mark.fit
def test_small_fit_recovers_the_per_level_slopes():
    import ambidex_bayes as ab
    from ambidex_bayes.diagnostics import ConvergenceWarning
    from ambidex_bayes.spec import ModelSpec

    design = _design(n_persons=150, diaries_mean=8).replace(
        predictors=[{"name": "z", "g10": -0.3, "x_mean": 5.0, "x_sd_within": 1.5}],
        person_corr=None,
    )
    study = simulate_diary(design, seed=5)
    data = ab.prepare(ab.load_diary(study.data, study.mapping))
    spec = ModelSpec(
        name="two_predictors_factor",
        formula="{y} ~ 1 + {x0_within} + {x0_between} + {x1_within} + {x1_between} + {w} "
        "+ {x0_within}:{w} + ({x0_within} | {person})",
    )
    settings = ab.SamplerSettings(backend="pymc", draws=250, tune=250, chains=2, seed=11)
    with warnings.catch_warnings():  # few draws: the person-effect SDs' ESS is low
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit = ab.fit(
            spec, data, settings=settings, cache_dir=False, progressbar=False, verbose=False
        )
    table = ab.simple_slopes(fit, focal="x", moderator="sector").table.set_index("moderator_label")
    truth = {"A": 0.4, "B": 0.4 + SLOPE_B["x"], "C": 0.4 + SLOPE_C["x"]}
    for level, value in truth.items():
        row = table.loc[level]
        # the 95% interval covers the truth, and is narrow enough to tell the levels apart
        assert row["ci_lower"] <= value <= row["ci_upper"], (level, value, row)
        assert row["ci_upper"] - row["ci_lower"] < 0.35
    assert table.loc["B", "median"] > table.loc["C", "median"]


def test_latent_truth_of_every_predictor():
    study = simulate_diary(_design(n_persons=20), seed=2)
    truth = study.truth
    assert (truth["x_mu_mean"], truth["x_mu_sd"], truth["x_within_sd"]) == (2.0, 0.7, 1.0)
    assert (truth["z_mu_mean"], truth["z_within_sd"]) == (5.0, 1.5)
    assert truth["z_pm"] == 0.1
    assert not any(k.endswith("_c") and "_mu:" in k for k in truth)  # no numeric moderator
    z = study.person_means("z")
    assert z.name == "z_mu"
    np.testing.assert_array_equal(z.to_numpy(), study.effects["xbar_true_z"].to_numpy())
