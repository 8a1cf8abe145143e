"""Tests of the diary simulator and the bundled synthetic example."""

from __future__ import annotations

import importlib.util
import json
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ambidex_bayes import datasets
from ambidex_bayes.errors import AmbidexError, SpecError
from ambidex_bayes.simulate import (
    DesignError,
    SimulationDesign,
    diary_count_probabilities,
    reference_design,
    simulate_diary,
)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def maker():
    """The example-data script, imported from its file."""
    path = REPO / "benchmarks" / "make_example_data.py"
    spec = importlib.util.spec_from_file_location("make_example_data_under_test", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _large(**kw) -> SimulationDesign:
    base = dict(
        n_persons=3000,
        diaries_dist="fixed",
        diaries_mean=10,
        icc=0.3,
        sigma=1.0,
    )
    base.update(kw)
    return SimulationDesign(**base)


# --- reproducibility -------------------------------------------------------------------------


def test_same_seed_gives_identical_frame():
    design = reference_design()
    a = simulate_diary(design, seed=123)
    b = simulate_diary(design, seed=123)
    pd.testing.assert_frame_equal(a.data, b.data)
    pd.testing.assert_frame_equal(a.effects, b.effects)
    assert a.truth == b.truth


def test_generator_seed_matches_integer_seed():
    design = reference_design()
    a = simulate_diary(design, seed=7)
    b = simulate_diary(design, seed=np.random.default_rng(7))
    pd.testing.assert_frame_equal(a.data, b.data)


def test_different_seed_gives_different_frame():
    design = reference_design(n_persons=50, diaries_dist="fixed", diaries_mean=4)
    a = simulate_diary(design, seed=1).data
    b = simulate_diary(design, seed=2).data
    assert a.shape == b.shape
    assert not a.equals(b)
    assert (a["uncertainty"] != b["uncertainty"]).mean() > 0.3


# --- shape of the table ----------------------------------------------------------------------


def test_columns_ids_and_days():
    study = simulate_diary(
        SimulationDesign(n_persons=12, icc=0.2, diaries_dist="uniform", diaries_min=2),
        seed=3,
    )
    data = study.data
    assert list(data.columns) == ["person", "day", "y", "x", "w"]
    ids = data["person"].unique()
    assert list(ids) == [f"P{j:03d}" for j in range(1, 13)]
    for _, days in data.groupby("person")["day"]:
        assert list(days) == list(range(1, len(days) + 1))
    sizes = data.groupby("person").size()
    assert sizes.between(2, 7).all()
    assert (study.effects.set_index("person")["n_diaries"] == sizes).all()


def test_person_id_width_grows_with_persons():
    study = simulate_diary(
        SimulationDesign(n_persons=1200, icc=0.2, diaries_dist="fixed", diaries_mean=1), seed=1
    )
    assert study.data["person"].iloc[0] == "P0001"
    assert study.data["person"].iloc[-1] == "P1200"


def test_custom_column_names_and_mapping():
    design = SimulationDesign(
        icc=0.2,
        person_col="pid",
        occasion_col="t",
        y_col="out",
        x_col="pred",
        w_col="mod",
        likert=(0, 10),
    )
    study = simulate_diary(design, seed=1)
    assert list(study.data.columns) == ["pid", "t", "out", "pred", "mod"]
    assert study.mapping == {
        "person": "pid",
        "occasion": "t",
        "outcome": "out",
        "level1": ["pred"],
        "level2": ["mod"],
        "ranges": {"out": [0, 10], "pred": [0, 10], "mod": [0, 10]},
    }


def test_mapping_without_likert_has_no_ranges():
    study = simulate_diary(SimulationDesign(icc=0.2), seed=1)
    assert study.mapping["ranges"] == {}
    assert study.mapping["outcome"] == "y"


def test_caller_design_unchanged_and_truth_keys():
    design = SimulationDesign(tau0=0.5, sigma=2.0, g10=0.3, g11=-0.1, tau1=0.2, rho=0.4)
    study = simulate_diary(design, seed=5)
    assert study.design is design
    assert set(study.truth) == {
        "g00",
        "g01",
        "g02",
        "g10",
        "g11",
        "tau0",
        "tau1",
        "rho",
        "sigma",
        "icc",
        "w_mean_persons",
        "w_sd_persons",
        "simple_slope_low",
        "simple_slope_high",
        "x_pm",
        "x_mu_mean",
        "x_mu_sd",
        "x_within_sd",
        "x_mu:w_c",
    }
    assert study.truth["tau0"] == 0.5
    assert study.truth["icc"] == pytest.approx(0.25 / 4.25)
    per_person_w = study.data.groupby("person")["w"].first()
    assert study.truth["w_mean_persons"] == pytest.approx(per_person_w.mean())
    assert study.truth["w_sd_persons"] == pytest.approx(per_person_w.std(ddof=1))


# --- the generating model --------------------------------------------------------------------


def test_outcome_follows_the_model_exactly_without_residual():
    design = SimulationDesign(
        n_persons=40,
        tau0=0.7,
        tau1=0.3,
        rho=0.5,
        sigma=0.0,
        g00=1.0,
        g01=0.5,
        g02=-0.4,
        g10=0.2,
        g11=0.6,
        x_mean=2.0,
        w_mean=-1.0,
        w_sd=2.0,
    )
    study = simulate_diary(design, seed=11)
    merged = study.data.merge(study.effects, on="person")
    wc = merged["w"] - design.w_mean
    np.testing.assert_allclose(wc, merged["w_c"])
    np.testing.assert_allclose(merged["xbar_true"] - design.x_mean, merged["xbar_c"])
    expected = (
        1.0
        + 0.5 * wc
        - 0.4 * merged["xbar_c"]
        + (0.2 + 0.6 * wc + merged["u1"]) * (merged["x"] - merged["xbar_true"])
        + merged["u0"]
    )
    np.testing.assert_allclose(merged["y"], expected, rtol=0, atol=1e-12)


def test_residual_sd_recovered():
    design = _large(g10=0.4, tau1=0.2, x_sd_within=1.5)
    study = simulate_diary(design, seed=2)
    merged = study.data.merge(study.effects, on="person")
    fitted = (0.4 + merged["u1"]) * (merged["x"] - merged["xbar_true"]) + merged["u0"]
    resid = merged["y"] - fitted
    assert resid.std() == pytest.approx(1.0, rel=0.02)


def test_predictor_sds_recovered():
    design = _large(x_mean=2.5, x_sd_within=0.8, x_sd_between=1.3)
    study = simulate_diary(design, seed=4)
    data = study.data
    person_mean = data.groupby("person")["x"].transform("mean")
    within_var = ((data["x"] - person_mean) ** 2).sum() / (len(data) - design.n_persons)
    assert np.sqrt(within_var) == pytest.approx(0.8, rel=0.02)
    assert study.effects["xbar_true"].std() == pytest.approx(1.3, rel=0.04)
    assert study.effects["xbar_true"].mean() == pytest.approx(2.5, abs=0.08)
    # observed person means carry within noise: var = between^2 + within^2 / k
    observed = data.groupby("person")["x"].mean()
    assert observed.var() == pytest.approx(1.3**2 + 0.8**2 / 10, rel=0.08)


def test_moderator_distribution_and_centring():
    study = simulate_diary(_large(w_mean=4.0, w_sd=0.5), seed=6)
    w = study.effects["w_true"]
    assert w.mean() == pytest.approx(4.0, abs=0.03)
    assert w.std() == pytest.approx(0.5, rel=0.04)
    np.testing.assert_allclose(study.effects["w_c"], w - 4.0)


@pytest.mark.parametrize("icc", [0.1, 0.45])
def test_icc_of_intercept_only_design(icc):
    design = _large(icc=icc, sigma=0.8)
    assert design.resolved_tau0 == pytest.approx(0.8 * np.sqrt(icc / (1 - icc)))
    data = simulate_diary(design, seed=8).data
    k, n = 10, design.n_persons
    person_mean = data.groupby("person")["y"].transform("mean")
    msw = ((data["y"] - person_mean) ** 2).sum() / (n * (k - 1))
    msb = k * ((data.groupby("person")["y"].mean() - data["y"].mean()) ** 2).sum() / (n - 1)
    estimate = (msb - msw) / (msb + (k - 1) * msw)
    assert estimate == pytest.approx(icc, abs=0.03)


@pytest.mark.parametrize("rho", [-0.6, 0.0, 0.5])
def test_person_effects_covariance(rho):
    study = simulate_diary(_large(tau0=0.5, icc=None, tau1=0.3, rho=rho), seed=9)
    u = study.effects
    assert u["u0"].std() == pytest.approx(0.5, rel=0.05)
    assert u["u1"].std() == pytest.approx(0.3, rel=0.05)
    assert np.corrcoef(u["u0"], u["u1"])[0, 1] == pytest.approx(rho, abs=0.05)


@pytest.mark.parametrize("rho", [-1.0, 1.0])
def test_perfect_correlation_allowed(rho):
    study = simulate_diary(SimulationDesign(tau0=0.5, tau1=0.2, rho=rho), seed=1)
    u = study.effects
    np.testing.assert_allclose(u["u1"], rho * 0.2 / 0.5 * u["u0"], atol=1e-12)


def test_ols_recovers_fixed_effects_on_large_sample():
    design = SimulationDesign(
        n_persons=2000,
        diaries_dist="fixed",
        diaries_mean=8,
        g00=2.0,
        g01=0.3,
        g02=0.5,
        g10=0.15,
        g11=0.25,
        tau0=0.5,
        tau1=0.15,
        rho=-0.3,
        sigma=0.6,
        x_mean=3.0,
        x_sd_within=0.9,
        x_sd_between=0.6,
        w_mean=3.4,
        w_sd=0.7,
    )
    data = simulate_diary(design, seed=21).data
    # within part: person-centred x and its product with the moderator centred over persons
    w_bar = data.groupby("person")["w"].first().mean()
    x_within = data["x"] - data.groupby("person")["x"].transform("mean")
    wc = data["w"] - w_bar
    X = np.column_stack([np.ones(len(data)), x_within, x_within * wc, wc])
    coef, *_ = np.linalg.lstsq(X, data["y"].to_numpy(), rcond=None)
    assert coef[1] == pytest.approx(0.15, abs=0.03)
    assert coef[2] == pytest.approx(0.25, abs=0.04)
    # between part: person means of y on the centred moderator and observed person mean of x
    persons = data.groupby("person").agg(y=("y", "mean"), x=("x", "mean"), w=("w", "first"))
    Xb = np.column_stack(
        [np.ones(len(persons)), persons["w"] - w_bar, persons["x"] - persons["x"].mean()]
    )
    coef_b, *_ = np.linalg.lstsq(Xb, persons["y"].to_numpy(), rcond=None)
    assert coef_b[0] == pytest.approx(2.0, abs=0.05)
    assert coef_b[1] == pytest.approx(0.3, abs=0.06)
    # the observed mean is unreliable: its slope is attenuated by 0.36 / (0.36 + 0.81 / 8)
    assert coef_b[2] == pytest.approx(0.5 * 0.36 / (0.36 + 0.81 / 8), abs=0.06)


def test_simple_slope():
    study = simulate_diary(reference_design(), seed=1)
    assert study.simple_slope(3.4) == pytest.approx(0.15)
    assert study.simple_slope(3.4 - 0.7) == pytest.approx(-0.025)
    assert study.simple_slope(3.4 + 0.7) == pytest.approx(0.325)
    t = study.truth
    assert t["simple_slope_low"] == pytest.approx(
        study.simple_slope(t["w_mean_persons"] - t["w_sd_persons"])
    )
    assert t["simple_slope_high"] == pytest.approx(
        study.simple_slope(t["w_mean_persons"] + t["w_sd_persons"])
    )


# --- bounded scales and missingness ----------------------------------------------------------


def test_likert_outputs_are_whole_numbers_in_range():
    design = SimulationDesign(
        n_persons=300,
        icc=0.4,
        sigma=1.5,
        x_mean=3,
        x_sd_between=1.5,
        w_mean=3,
        w_sd=2,
        likert=(1, 5),
        g00=3.0,
    )
    data = simulate_diary(design, seed=10).data
    for col in ("y", "x", "w"):
        values = data[col]
        assert (values == np.round(values)).all()
        assert values.between(1, 5).all()
        # wide distributions reach both bounds: clipping, not dropping
        assert values.min() == 1 and values.max() == 5


def test_moderator_constant_within_person():
    for design in (reference_design(), SimulationDesign(icc=0.2, w_sd=3.0)):
        data = simulate_diary(design, seed=12).data
        assert (data.groupby(design.person_col)[design.w_col].nunique() == 1).all()


def test_missing_rate_honoured_exactly():
    design = SimulationDesign(
        n_persons=200, icc=0.2, diaries_dist="fixed", diaries_mean=5, missing_rate=0.1
    )
    data = simulate_diary(design, seed=13).data
    assert data["y"].isna().sum() == 100
    assert data["x"].isna().sum() == 0
    assert data["w"].isna().sum() == 0


def test_predictor_missingness_is_separate():
    design = SimulationDesign(
        n_persons=100,
        icc=0.2,
        diaries_dist="fixed",
        diaries_mean=4,
        missing_rate=0.05,
        missing_rate_x=0.25,
    )
    data = simulate_diary(design, seed=14).data
    assert data["y"].isna().sum() == 20
    assert data["x"].isna().sum() == 100


# --- diary counts ----------------------------------------------------------------------------


def test_fixed_diary_count():
    study = simulate_diary(SimulationDesign(icc=0.1, diaries_dist="fixed", diaries_mean=12), seed=1)
    assert (study.data.groupby("person").size() == 12).all()


def test_uniform_diary_count_covers_bounds():
    design = SimulationDesign(
        n_persons=2000, icc=0.1, diaries_dist="uniform", diaries_min=3, diaries_max=6
    )
    sizes = simulate_diary(design, seed=1).data.groupby("person").size()
    assert sorted(sizes.unique()) == [3, 4, 5, 6]
    assert sizes.mean() == pytest.approx(4.5, abs=0.1)


@pytest.mark.parametrize("dist", ["poisson", "negbin"])
def test_truncated_count_mean_is_the_design_mean(dist):
    design = SimulationDesign(
        n_persons=5000, icc=0.1, diaries_dist=dist, diaries_mean=4.2, diaries_max=7
    )
    probs = diary_count_probabilities(design)
    assert list(probs.index) == list(range(1, 8))
    assert probs.sum() == pytest.approx(1.0)
    assert float((probs.index * probs).sum()) == pytest.approx(4.2, abs=1e-9)
    sizes = simulate_diary(design, seed=1).data.groupby("person").size()
    assert sizes.between(1, 7).all()
    assert sizes.mean() == pytest.approx(4.2, abs=0.06)


def test_negbin_is_more_spread_than_poisson():
    kw = dict(icc=0.1, diaries_mean=5.0, diaries_max=20)
    pois = diary_count_probabilities(SimulationDesign(diaries_dist="poisson", **kw))
    nb = diary_count_probabilities(
        SimulationDesign(diaries_dist="negbin", diaries_dispersion=2.0, **kw)
    )

    def var(p):
        k = p.index.to_numpy()
        return float(p @ k**2 - (p @ k) ** 2)

    assert var(nb) > 1.5 * var(pois)


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"n_persons": 0}, "n_persons"),
        ({"n_persons": 2.5}, "n_persons"),
        ({"sigma": -0.1}, "sigma"),
        ({"tau1": -1.0}, "tau1"),
        ({"x_sd_within": -1.0}, "x_sd_within"),
        ({"x_sd_between": float("nan")}, "x_sd_between"),
        ({"w_sd": -0.5}, "w_sd"),
        ({"rho": 1.2}, "rho"),
        ({"icc": 1.0}, "icc"),
        ({"icc": -0.1}, "icc"),
        ({"tau0": -0.2, "icc": None}, "tau0"),
        ({"missing_rate": 1.0}, "missing_rate"),
        ({"missing_rate_x": -0.1}, "missing_rate_x"),
        ({"diaries_min": 0}, "diaries_min"),
        ({"diaries_min": 5, "diaries_max": 3}, "diaries_max"),
        ({"diaries_mean": 7.5}, "diaries_mean"),
        ({"diaries_dist": "fixed", "diaries_mean": 3.5}, "diaries_mean"),
        ({"diaries_dist": "poison"}, "did you mean 'poisson'"),
        ({"diaries_dist": "negbin", "diaries_dispersion": 0.0}, "diaries_dispersion"),
        ({"likert": (5, 1)}, "likert"),
        ({"likert": (1.5, 5)}, "likert"),
        ({"y_col": "x"}, "y_col and x_col"),
        ({"w_col": ""}, "w_col"),
        ({"g11": "big"}, "g11"),
    ],
)
def test_invalid_design_names_the_field(changes, field):
    kwargs = {"icc": 0.2, **changes}
    with pytest.raises(DesignError, match=field) as info:
        SimulationDesign(**kwargs)
    assert isinstance(info.value, SpecError)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, AmbidexError)


def test_all_problems_reported_at_once():
    with pytest.raises(DesignError) as info:
        SimulationDesign(icc=0.2, sigma=-1.0, rho=2.0, n_persons=0)
    message = str(info.value)
    for name in ("sigma", "rho", "n_persons"):
        assert name in message


def test_exactly_one_of_tau0_and_icc():
    with pytest.raises(DesignError, match="neither was given"):
        SimulationDesign()
    with pytest.raises(DesignError, match="not both"):
        SimulationDesign(tau0=0.5, icc=0.3)


def test_boundary_values_accepted():
    SimulationDesign(icc=0.0, rho=-1.0, missing_rate=0.0, tau1=0.0, w_sd=0.0, n_persons=1)
    SimulationDesign(tau0=0.0, rho=1.0, sigma=0.0, diaries_min=3, diaries_max=3)


def test_replace_swaps_tau0_and_icc_and_rejects_unknown_fields():
    design = reference_design(tau0=0.4)
    assert design.tau0 == 0.4 and design.icc is None
    assert design.resolved_icc == pytest.approx(0.16 / (0.16 + 0.25))
    back = design.replace(icc=0.3)
    assert back.tau0 is None and back.resolved_icc == 0.3
    with pytest.raises(DesignError, match="did you mean 'n_persons'"):
        reference_design(n_person=10)


def test_simulate_rejects_bad_seed_and_design():
    with pytest.raises(DesignError, match="seed"):
        simulate_diary(reference_design(), seed="42")
    with pytest.raises(DesignError, match="SimulationDesign"):
        simulate_diary({"n_persons": 3}, seed=1)


# --- reference design and the bundled example ------------------------------------------------


def test_reference_design_shape():
    design = reference_design()
    assert design.n_persons == 97
    assert design.likert == (1.0, 5.0)
    assert design.g10 - design.g11 * design.w_sd == pytest.approx(-0.025)
    assert design.g10 + design.g11 * design.w_sd == pytest.approx(0.325)
    assert reference_design(n_persons=10).n_persons == 10


def test_bundled_csv_is_what_the_script_generates(maker):
    study = maker.make_example_study()
    bundled = datasets.example_path().read_text(encoding="utf-8")
    assert bundled == maker.example_csv_text(study.data)
    truth_text = (datasets.example_path().parent / "example_truth.json").read_text("utf-8")
    assert truth_text == maker.example_truth_text(study)
    pd.testing.assert_frame_equal(datasets.load_example(), study.data)


def test_example_seed_follows_the_stated_rule(maker):
    assert maker.search_seed() == maker.EXAMPLE_SEED


def test_example_mapping_matches_the_data(maker):
    with datasets.example_mapping_path().open("rb") as handle:
        mapping = tomllib.load(handle)
    assert mapping == maker.make_example_study().mapping
    assert mapping == datasets.load_example_mapping()
    assert mapping["outcome"] == "innovation"
    assert mapping["ranges"]["leader_support"] == [1, 5]


def test_example_shape_and_truth():
    frame = datasets.load_example()
    assert list(frame.columns) == [
        "person_id",
        "day",
        "innovation",
        "uncertainty",
        "leader_support",
    ]
    assert frame["person_id"].nunique() == 97
    assert len(frame) == 405
    sizes = frame.groupby("person_id").size()
    assert sizes.min() == 1 and sizes.max() == 7
    assert sizes.mean() == pytest.approx(405 / 97)
    assert frame["innovation"].isna().sum() == 8  # round(0.02 * 405)
    assert frame[["uncertainty", "leader_support"]].notna().all().all()
    assert (frame.groupby("person_id")["leader_support"].nunique() == 1).all()
    truth = datasets.example_truth()
    assert truth["g10"] == 0.15 and truth["g11"] == 0.25
    assert abs(truth["simple_slope_low"]) < 0.05
    assert truth["simple_slope_high"] > 0.3
    payload = json.loads((datasets.example_path().parent / "example_truth.json").read_text())
    assert "SYNTHETIC" in payload["note"]


def test_example_recovers_the_moderation_pattern(maker):
    study = maker.make_example_study()
    est = maker.within_person_slopes(study)
    assert abs(est["low"]) < 2 * est["low_se"]  # about zero at low support
    assert est["high"] > 4 * est["high_se"]  # clearly positive at high support


def test_load_example_returns_a_fresh_frame():
    a = datasets.load_example()
    a.loc[0, "innovation"] = 99.0
    assert datasets.load_example().loc[0, "innovation"] != 99.0


def test_datasets_docs_say_synthetic():
    readme = (datasets.example_path().parent / "README.md").read_text(encoding="utf-8")
    assert "SYNTHETIC" in readme
    assert "SYNTHETIC" in datasets.__doc__
    assert str(json.loads(datasets.example_truth_path().read_text())["seed"]) in readme


# --- latent truth ------------------------------------------------------------------------------


def test_truth_records_the_latent_model():
    design = SimulationDesign(
        icc=0.2, g02=-0.4, x_mean=2.0, x_sd_between=0.7, x_sd_within=1.3, n_persons=30
    )
    study = simulate_diary(design, seed=3)
    assert study.truth["x_pm"] == -0.4
    assert study.truth["x_mu_mean"] == 2.0
    assert study.truth["x_mu_sd"] == 0.7
    assert study.truth["x_within_sd"] == 1.3
    assert study.truth["x_mu:w_c"] == 0.0
    means = study.person_means()
    assert means.name == "x_mu"
    assert list(means.index) == sorted(study.data["person"].unique())
    np.testing.assert_array_equal(means.to_numpy(), study.effects["xbar_true"].to_numpy())
    # without residual, the outcome is a function of the true means, not the observed ones
    exact = simulate_diary(design.replace(sigma=0.0, tau1=0.0, icc=None, tau0=0.0), seed=3)
    frame = exact.data.merge(exact.person_means().rename("mu").reset_index(), on="person")
    wc = frame["w"] - design.w_mean
    expected = (
        design.g00
        + design.g01 * wc
        - 0.4 * (frame["mu"] - 2.0)
        + (design.g10 + design.g11 * wc) * (frame["x"] - frame["mu"])
    )
    np.testing.assert_allclose(frame["y"], expected, atol=1e-10)


def test_person_means_refuses_an_unknown_predictor():
    study = simulate_diary(SimulationDesign(icc=0.2, n_persons=5), seed=1)
    with pytest.raises(DesignError, match="'z' is not a level-1 predictor"):
        study.person_means("z")


def test_latent_truth_adds_nothing_to_the_data():
    # the frames of these designs and seeds, hashed before the truth recorded the latent
    # model: the same seed still gives the same data
    plain = simulate_diary(SimulationDesign(icc=0.2, n_persons=12, missing_rate=0.1), seed=11)
    reference = simulate_diary(reference_design(n_persons=40), seed=5)
    for study, digest in ((plain, 1960760256357130734), (reference, 2127845743406041213)):
        assert int(pd.util.hash_pandas_object(study.data, index=True).sum()) % 2**64 == digest
