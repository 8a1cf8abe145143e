"""Comparing priors: log prior, contraction and power-scaling on known answers; the
compile-once path; compare_priors end to end on tiny data; the command."""

from __future__ import annotations

import math

import numpy as np
import pymc as pm
import pytest
import xarray as xr
from scipy import stats

from ambidex_bayes.errors import ModelError
from ambidex_bayes.fit import SamplerSettings
from ambidex_bayes.model import build_model
from ambidex_bayes.priors import (
    PriorSet,
    ReusableModel,
    compare_priors,
    contraction,
    log_prior_dataset,
    model_priors,
    plot_bf_sensitivity,
    plot_prior_forest,
    plot_prior_sensitivity,
    power_scaling,
)
from ambidex_bayes.priors.bayes_factor import BayesFactorWarning
from ambidex_bayes.priors.sensitivity import lkj_logpdf, prior_variance
from ambidex_bayes.spec import PriorSpec, load_spec


def _conjugate(m0: float, s0: float, n: int, ybar: float, seed: int = 0) -> xr.DataTree:
    """Exact posterior draws of theta in y_i ~ N(theta, 1), theta ~ N(m0, s0^2)."""
    rng = np.random.default_rng(seed)
    y = rng.normal(0.0, 1.0, size=n)
    y = y - y.mean() + ybar
    var = 1.0 / (1.0 / s0**2 + n)
    mean = var * (m0 / s0**2 + y.sum())
    theta = rng.normal(mean, math.sqrt(var), size=(4, 1000))
    posterior = xr.Dataset({"theta": (("chain", "draw"), theta)})
    loglik = stats.norm.logpdf(y[None, None, :], theta[..., None], 1.0)
    prior = {"theta": PriorSpec("Normal", {"mu": m0, "sigma": s0})}
    return xr.DataTree.from_dict(
        {
            "posterior": posterior,
            "log_likelihood": xr.Dataset({"y": (("chain", "draw", "obs"), loglik)}),
            "log_prior": log_prior_dataset(posterior, prior),
        }
    )


# --- densities, variances, contraction ---------------------------------------------------


def test_lkj_density_is_beta_for_two_and_integrates_to_one_for_three():
    r = np.array([-0.6, 0.0, 0.3, 0.9])
    matrices = np.stack([np.array([[1.0, v], [v, 1.0]]) for v in r])
    for eta in (1.0, 2.0, 4.5):
        expected = stats.beta.logpdf((r + 1) / 2, eta, eta) - math.log(2.0)
        np.testing.assert_allclose(lkj_logpdf(matrices, eta), expected)
    rng = np.random.default_rng(0)
    n = 400_000
    u = rng.uniform(-1, 1, size=(n, 3))
    m = np.broadcast_to(np.eye(3), (n, 3, 3)).copy()
    m[:, 0, 1] = m[:, 1, 0] = u[:, 0]
    m[:, 0, 2] = m[:, 2, 0] = u[:, 1]
    m[:, 1, 2] = m[:, 2, 1] = u[:, 2]
    integral = 8.0 * np.mean(np.exp(lkj_logpdf(m, 1.5)))  # volume of the cube is 8
    assert integral == pytest.approx(1.0, abs=0.01)


def test_prior_variances_match_draws():
    half_t = PriorSpec("HalfStudentT", {"nu": 5.0, "sigma": 0.7})
    draws = np.abs(stats.t.rvs(5.0, scale=0.7, size=1_000_000, random_state=1))
    assert prior_variance(half_t) == pytest.approx(np.var(draws), rel=0.02)
    assert prior_variance(PriorSpec("HalfNormal", {"sigma": 2.0})) == pytest.approx(
        4.0 * (1 - 2 / math.pi)
    )
    corr = pm.draw(pm.LKJCorr.dist(n=3, eta=2.0), draws=20_000, random_seed=2)
    if corr.shape[-1] == 3 and np.allclose(corr[:, 0, 1], 0.0):  # Cholesky factors
        corr = corr @ np.swapaxes(corr, -1, -2)
    lkj = PriorSpec("LKJ", {"eta": 2.0})
    assert prior_variance(lkj, dimension=3) == pytest.approx(np.var(corr[:, 1, 0]), rel=0.05)
    assert math.isinf(prior_variance(PriorSpec("HalfCauchy", {"beta": 1.0})))


def test_log_prior_of_each_parameter_is_its_density_at_the_draws():
    rng = np.random.default_rng(4)
    shape = (2, 50)
    draws = {
        "b": rng.normal(size=shape),
        "s": np.abs(rng.normal(size=shape)),
        "corr(1|g,x|g)": rng.uniform(-0.9, 0.9, size=shape),
    }
    posterior = xr.Dataset({k: (("chain", "draw"), v) for k, v in draws.items()})
    priors = {
        "b": PriorSpec("Normal", {"mu": 0.5, "sigma": 2.0}),
        "s": PriorSpec("HalfStudentT", {"nu": 4.0, "sigma": 0.5}),
        "corr(g)": PriorSpec("LKJ", {"eta": 2.0}),
    }
    lp = log_prior_dataset(posterior, priors)
    np.testing.assert_allclose(lp["b"], stats.norm.logpdf(draws["b"], 0.5, 2.0))
    np.testing.assert_allclose(lp["s"], math.log(2) + stats.t.logpdf(draws["s"], 4.0, scale=0.5))
    r = draws["corr(1|g,x|g)"]
    np.testing.assert_allclose(lp["corr(g)"], stats.beta.logpdf((r + 1) / 2, 2, 2) - math.log(2))
    with pytest.raises(ModelError, match="no variable 'missing'"):
        log_prior_dataset(posterior, {"missing": priors["b"]})


def test_contraction_of_a_conjugate_normal():
    tree = _conjugate(0.0, 2.0, 25, 1.0)
    table = contraction(
        tree["posterior"].to_dataset(), {"theta": PriorSpec("Normal", {"mu": 0, "sigma": 2})}
    )
    posterior_var = 1.0 / (1.0 / 4.0 + 25)
    assert table["contraction"].iloc[0] == pytest.approx(1 - posterior_var / 4.0, abs=0.002)
    assert table["prior_sd"].iloc[0] == pytest.approx(2.0)


def test_power_scaling_flags_a_conflicting_prior():
    conflict = power_scaling(_conjugate(-2.0, 0.3, 50, 2.0))
    assert conflict["verdict"].tolist() == ["prior-data conflict"]
    assert conflict["prior_sensitivity"].iloc[0] > 0.3
    vague = power_scaling(_conjugate(0.0, 100.0, 50, 2.0))
    assert vague["verdict"].tolist() == ["fine"]
    assert vague["prior_sensitivity"].iloc[0] < 0.01
    weak = power_scaling(_conjugate(2.0, 0.1, 1, 2.0))
    assert weak["verdict"].tolist() == ["weak likelihood"]
    with pytest.raises(ModelError, match="log_prior"):
        power_scaling(xr.DataTree.from_dict({"posterior": _conjugate(0, 1, 5, 0)["posterior"]}))


# --- the compile-once model ----------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_prepared():
    from ambidex_bayes.data import ColumnMapping, load_diary
    from ambidex_bayes.prepare import prepare
    from ambidex_bayes.simulate import reference_design, simulate_diary

    design = reference_design(
        n_persons=16,
        diaries_dist="fixed",
        diaries_mean=4,
        likert=None,
        missing_rate=0.0,
        g10=0.2,
        g11=0.6,
        tau1=0.1,
    )
    study = simulate_diary(design, seed=8)
    return prepare(load_diary(study.data, ColumnMapping.from_dict(study.mapping)))


WIDE = PriorSet(
    name="wide",
    priors={
        "{x_within}:{w}": PriorSpec("Normal", {"mu": 0.0, "sigma": 1.0}),
        "{x_within}": PriorSpec("Normal", {"mu": 0.0, "sigma": 1.0}),
        "sigma": PriorSpec("HalfStudentT", {"nu": 4.0, "sigma": 1.0}),
    },
)
SCEPTICAL = PriorSet(
    name="sceptical",
    priors={
        "{x_within}:{w}": PriorSpec("Normal", {"mu": 0.0, "sigma": 0.05}),
        "{x_within}": PriorSpec("Normal", {"mu": 0.0, "sigma": 1.0}),
        "sigma": PriorSpec("HalfStudentT", {"nu": 4.0, "sigma": 1.0}),
    },
)


def test_prior_data_model_has_the_same_density_and_priors(tiny_prepared):
    spec = load_spec("M3").with_priors(WIDE.priors, label="wide")
    constant = build_model(spec, tiny_prepared)
    shared = build_model(spec, tiny_prepared, prior_data=True)
    assert shared.priors == constant.priors
    priors = model_priors(shared)
    assert priors["uncertainty_cw:leader_support_c"] == PriorSpec(
        "Normal", {"mu": 0.0, "sigma": 1.0}
    )
    assert priors["corr(person_id)"] == PriorSpec("LKJ", {"eta": 2.0})
    assert priors["1|person_id_sigma"].dist == "HalfNormal"
    point = constant.pymc_model.initial_point()
    rng = np.random.default_rng(0)
    point = {k: v + 0.3 * rng.normal(size=np.shape(v)) for k, v in point.items()}
    logp_constant = constant.pymc_model.compile_logp()(point)
    logp_shared = shared.pymc_model.compile_logp()
    assert logp_shared(point) == pytest.approx(logp_constant, rel=1e-9)
    # new numbers in the data variables give the density of a model built with them
    sceptical = build_model(load_spec("M3").with_priors(SCEPTICAL.priors, label="s"), tiny_prepared)
    ReusableModel(shared).set_priors(
        model_priors(build_model(sceptical.spec, tiny_prepared, prior_data=True))
    )
    expected = sceptical.pymc_model.compile_logp()(point)
    assert logp_shared(point) == pytest.approx(expected, rel=1e-9)
    with pytest.raises(ModelError, match="other distribution families"):
        ReusableModel(shared).set_priors({**priors, "sigma": PriorSpec("Exponential", {"lam": 1})})


@pytest.mark.fit
@pytest.mark.parametrize("marginal", [True, False], ids=["fast_path", "full"])
def test_reuse_gives_the_same_draws_as_a_fresh_build(tiny_prepared, marginal):
    settings = SamplerSettings(backend="pymc", draws=40, tune=40, chains=1, seed=12)
    wide_spec = load_spec("M3").with_priors(WIDE.priors, label="wide")
    sceptical_spec = load_spec("M3").with_priors(SCEPTICAL.priors, label="sceptical")

    def build(spec):
        return build_model(spec, tiny_prepared, prior_data=True, marginal=marginal)

    reused = ReusableModel(build(wide_spec))
    reused.sample(settings)  # compiled and used for the wide set first
    reused.set_priors(model_priors(build(sceptical_spec)))
    again = reused.finish(reused.sample(settings), settings)
    fresh = ReusableModel(build(sceptical_spec))
    first = fresh.finish(fresh.sample(settings), settings)
    for name in ("uncertainty_cw:leader_support_c", "sigma", "uncertainty_cw|person_id"):
        np.testing.assert_array_equal(again["posterior"][name], first["posterior"][name])
    np.testing.assert_array_equal(
        again["log_likelihood"]["innovation"], first["log_likelihood"]["innovation"]
    )


# fits of 2 x 200 draws: too few for the R-hat and ESS limits, as expected here
@pytest.mark.filterwarnings("ignore::ambidex_bayes.diagnostics.ConvergenceWarning")
@pytest.mark.fit
def test_compare_priors_end_to_end(tiny_prepared, tmp_path):
    settings = SamplerSettings(backend="pymc", draws=200, tune=200, chains=2, seed=3)
    sets = {"default": "default", "wide": WIDE, "sceptical": SCEPTICAL}
    # on tiny data the interaction lies far from 0, so the Bayes factors say they are
    # approximate
    with pytest.warns(BayesFactorWarning, match="normal approximation"):
        comparison = compare_priors(
            load_spec("M3"),
            tiny_prepared,
            sets,
            settings=settings,
            cache_dir=tmp_path,
            progressbar=False,
            verbose=False,
        )
    assert list(comparison.fits) == ["default", "wide", "sceptical"]
    timings = comparison.timings.set_index("prior_set")
    assert timings.loc["default", "compile_s"] > 0
    # all three use the families of the defaults (Normal, HalfNormal, HalfStudentT): one compile
    assert timings.loc["wide", "reused"] and timings.loc["sceptical", "reused"]
    assert timings.loc["wide", "compile_s"] < 0.2 * timings.loc["default", "compile_s"]

    inter = comparison.interaction().set_index("prior_set")
    # the sceptical prior pulls the interaction toward 0 on tiny data
    assert abs(inter.loc["sceptical", "mean"]) < 0.6 * abs(inter.loc["wide", "mean"])
    assert inter.loc["sceptical", "sd"] < inter.loc["wide", "sd"]
    assert 0.0 <= inter.loc["wide", "p_positive"] <= 1.0

    bf = comparison.bayes_factors.set_index("prior_set")
    assert np.isnan(bf.loc["default", "bf10"]) and "refused" in bf.loc["default", "note"]
    assert bf.loc["wide", "bf10"] > 0 and bf.loc["sceptical", "bf10"] > 0
    assert set(comparison.bf_curves) == {"wide", "sceptical"}

    contraction_table = comparison.wide("contraction", "contraction").set_index("parameter")
    name = "uncertainty_cw:leader_support_c"
    assert contraction_table.loc[name, "wide"] > contraction_table.loc[name, "sceptical"]
    verdicts = comparison.wide("sensitivity", "verdict")
    assert set(verdicts.columns) == {"parameter", "default", "wide", "sceptical"}
    # power-scaling flags the deliberately conflicting prior, not the wide one
    interaction_verdicts = verdicts.set_index("parameter").loc[name]
    assert interaction_verdicts["sceptical"] == "prior-data conflict"
    assert interaction_verdicts["wide"] == "fine"
    assert set(comparison.sensitivity["verdict"]) <= {
        "prior-data conflict",
        "weak likelihood",
        "fine",
    }
    side = comparison.side_by_side()
    assert list(side.columns) == ["parameter", "default", "wide", "sceptical"]
    assert set(comparison.slopes["moderator_label"]) == {"-1 SD", "mean", "+1 SD"}
    for result in comparison.fits.values():
        assert result.meta["method"].startswith("fast path")  # as fit() would sample
        assert {"log_prior", "log_likelihood"} <= set(result.idata.children)
        assert not any(str(v).startswith("_") for v in result.idata["posterior"].data_vars)
    record = comparison.fits["sceptical"].priors[name]
    assert record == {"prior": "Normal(mu=0, sigma=0.05)", "source": "spec"}

    plot_prior_forest(comparison)
    plot_bf_sensitivity(comparison.bf_curves)
    plot_prior_sensitivity(comparison.sensitivity)

    # the same call again re-uses the saved fits (and says again that its BFs are approximate)
    with pytest.warns(BayesFactorWarning, match="normal approximation"):
        again = compare_priors(
            load_spec("M3"),
            tiny_prepared,
            sets,
            settings=settings,
            cache_dir=tmp_path,
            progressbar=False,
            verbose=False,
        )
    assert again.timings["cached"].all()
    np.testing.assert_allclose(again.summary["mean"], comparison.summary["mean"])


def test_command_reports_an_unknown_prior_set(capsys):
    from ambidex_bayes.cli import main

    status = main(["compare-priors", "M3", "--example", "--priors", "default,scepticall"])
    assert status == 2
    err = capsys.readouterr().err
    assert "no prior set 'scepticall'" in err and "Did you mean 'sceptical'" in err
