"""Posterior summary and ICC, checked against numpy on known draws."""

from __future__ import annotations

import math

import arviz_stats
import numpy as np
import pytest
import xarray as xr
from fake_posterior import (
    CHAINS,
    DRAWS,
    as_fit,
    make_terms,
    moderation_draws,
    null_model_draws,
    posterior_tree,
)

from ambidex_bayes import constants
from ambidex_bayes.errors import AmbidexError, ModelError
from ambidex_bayes.results import icc, icc_draws, posterior_summary
from ambidex_bayes.terms import ModerationTerms


@pytest.fixture(scope="module")
def fit():
    terms = make_terms()
    tree, arrays = moderation_draws(1, terms=terms)
    return tree, terms, arrays


def test_rows_and_roles_in_reading_order(fit):
    tree, terms, _ = fit
    table = posterior_summary(as_fit(tree, terms))
    assert table["parameter"].tolist() == [
        "Intercept",
        "unc_cw",
        "unc_pm",
        "sup_c",
        "unc_cw:sup_c",
        "1|pid_sigma",
        "unc_cw|pid_sigma",
        "corr(1|pid,unc_cw|pid)",
        "sigma",
    ]
    roles = dict(zip(table["parameter"], table["role"], strict=True))
    assert roles["unc_cw"] == "within-person slope"
    assert roles["unc_cw:sup_c"] == "cross-level interaction"
    assert roles["1|pid_sigma"] == "SD of person intercepts"
    assert roles["unc_cw|pid_sigma"] == "SD of person slopes"
    assert roles["sigma"] == "residual SD"
    assert list(table.columns) == [
        "parameter",
        "role",
        "mean",
        "sd",
        "median",
        "ci_lower",
        "ci_upper",
        "p_positive",
        "rhat",
        "ess_bulk",
        "ess_tail",
    ]


def test_statistics_equal_numpy_on_the_draws(fit):
    tree, terms, arrays = fit
    table = posterior_summary(as_fit(tree, terms), prob=0.9).set_index("parameter")
    for name in table.index:
        values = arrays[name].reshape(-1)
        row = table.loc[name]
        assert row["mean"] == pytest.approx(values.mean())
        assert row["sd"] == pytest.approx(values.std(ddof=1))
        assert row["median"] == pytest.approx(np.median(values))
        assert row["ci_lower"] == pytest.approx(np.quantile(values, 0.05))
        assert row["ci_upper"] == pytest.approx(np.quantile(values, 0.95))
    assert table.attrs["ci_prob"] == 0.9
    # the known generating values show through
    assert table.loc["unc_cw", "mean"] == pytest.approx(0.2, abs=0.01)
    assert table.loc["unc_cw:sup_c", "mean"] == pytest.approx(0.3, abs=0.01)


def test_p_positive_is_share_of_positive_draws_for_fixed_effects_only(fit):
    tree, terms, arrays = fit
    table = posterior_summary(as_fit(tree, terms)).set_index("parameter")
    for name in terms.fixed:
        assert table.loc[name, "p_positive"] == pytest.approx(np.mean(arrays[name] > 0))
    # moderator effect N(0.1, 0.05): clearly between 0 and 1
    assert 0.9 < table.loc["sup_c", "p_positive"] < 1.0
    for name in ("1|pid_sigma", "sigma", "corr(1|pid,unc_cw|pid)"):
        assert math.isnan(table.loc[name, "p_positive"])


def test_default_prob_is_read_at_call_time(fit, monkeypatch):
    tree, terms, arrays = fit
    monkeypatch.setattr(constants, "CI_PROB", 0.5)
    row = posterior_summary(as_fit(tree, terms)).set_index("parameter").loc["unc_cw"]
    values = arrays["unc_cw"].reshape(-1)
    assert row["ci_lower"] == pytest.approx(np.quantile(values, 0.25))
    assert row["ci_upper"] == pytest.approx(np.quantile(values, 0.75))


def test_diagnostics_come_from_arviz_stats_and_flag_stuck_chains():
    rng = np.random.default_rng(3)
    good = rng.normal(0.0, 1.0, (CHAINS, DRAWS))
    stuck = good + np.arange(CHAINS)[:, None] * 3.0  # chains disagree
    terms = ModerationTerms(
        person_dim="pid__factor_dim", intercept="good", sigma=None, other_fixed=("stuck",)
    )
    table = posterior_summary(as_fit(posterior_tree({"good": good, "stuck": stuck}), terms))
    table = table.set_index("parameter")
    good_da = xr.DataArray(good, dims=("chain", "draw"))
    assert table.loc["good", "rhat"] == pytest.approx(float(arviz_stats.rhat(good_da)))
    assert table.loc["good", "ess_bulk"] == pytest.approx(
        float(arviz_stats.ess(good_da, method="bulk"))
    )
    assert table.loc["good", "ess_tail"] == pytest.approx(
        float(arviz_stats.ess(good_da, method="tail"))
    )
    assert table.loc["good", "rhat"] < 1.01
    assert table.loc["stuck", "rhat"] > 1.5
    assert table.loc["stuck", "ess_bulk"] < 50
    assert table.loc["stuck", "role"] == "other fixed effect"


def test_vector_valued_fixed_effect_gives_one_row_per_level():
    rng = np.random.default_rng(4)
    dow = rng.normal(size=(CHAINS, DRAWS, 2))
    tree = posterior_tree({"Intercept": rng.normal(size=(CHAINS, DRAWS)), "dow": dow})
    tree["posterior"] = tree["posterior"].to_dataset().rename({"pid__factor_dim": "dow_dim"})
    tree["posterior"] = tree["posterior"].to_dataset().assign_coords(dow_dim=["Tue", "Wed"])
    terms = ModerationTerms(person_dim="pid__factor_dim", sigma=None, other_fixed=("dow",))
    table = posterior_summary(as_fit(tree, terms)).set_index("parameter")
    assert list(table.index) == ["Intercept", "dow[Tue]", "dow[Wed]"]
    assert table.loc["dow[Wed]", "mean"] == pytest.approx(dow[..., 1].mean())


def test_missing_variable_is_named_in_the_error(fit):
    tree, _, _ = fit
    terms = make_terms()
    wrong = ModerationTerms(**{**terms.to_dict(), "slope": "uncertainty_cw", "other_fixed": ()})
    with pytest.raises(ModelError, match=r"'uncertainty_cw' \(the within-person slope\)"):
        posterior_summary(as_fit(tree, wrong))


def test_tree_without_posterior_group_is_refused(fit):
    _, terms, _ = fit
    with pytest.raises(ModelError, match="no 'posterior' group"):
        posterior_summary(as_fit(xr.DataTree(), terms))


@pytest.mark.parametrize("prob", [0.0, 1.0, 95, "0.9"])
def test_bad_prob_is_refused(fit, prob):
    tree, terms, _ = fit
    with pytest.raises(AmbidexError, match="prob must"):
        posterior_summary(as_fit(tree, terms), prob=prob)


# --- ICC ---------------------------------------------------------------------------------


def test_icc_equals_hand_computation():
    tree, terms, arrays = null_model_draws(5)
    tau0 = arrays["1|pid_sigma"].reshape(-1)
    sigma = arrays["sigma"].reshape(-1)
    expected = tau0**2 / (tau0**2 + sigma**2)
    table = icc(as_fit(tree, terms), prob=0.8)
    assert list(table.columns) == ["mean", "median", "sd", "ci_lower", "ci_upper"]
    row = table.loc["ICC"]
    assert row["mean"] == pytest.approx(expected.mean())
    assert row["median"] == pytest.approx(np.median(expected))
    assert row["sd"] == pytest.approx(expected.std(ddof=1))
    assert row["ci_lower"] == pytest.approx(np.quantile(expected, 0.1))
    assert row["ci_upper"] == pytest.approx(np.quantile(expected, 0.9))
    # tau0 ~ 0.5, sigma ~ 0.8: ICC about 0.25/0.89
    assert row["mean"] == pytest.approx(0.25 / 0.89, abs=0.02)
    np.testing.assert_allclose(icc_draws(as_fit(tree, terms)).values.reshape(-1), expected)


def test_icc_refuses_models_with_random_slopes():
    tree, arrays = moderation_draws(0)
    with pytest.raises(ModelError, match="depends on the value x"):
        icc(as_fit(tree, make_terms()))


def test_icc_refuses_models_with_predictors():
    terms = make_terms(random_slope=False, interaction=False)
    tree, _ = moderation_draws(0, terms=terms)
    with pytest.raises(ModelError, match=r"has predictors \(unc_cw, unc_pm, sup_c\)"):
        icc(as_fit(tree, terms))


def test_icc_needs_sigma():
    tree, terms, _ = null_model_draws(0)
    no_sigma = ModerationTerms(**{**terms.to_dict(), "sigma": None, "other_fixed": ()})
    with pytest.raises(ModelError, match="not a Gaussian family"):
        icc(as_fit(tree, no_sigma))


def test_the_posterior_alone_is_refused_with_the_call_to_write(fit):
    tree, terms, _ = fit
    with pytest.raises(
        AmbidexError, match=r"posterior_summary takes the fit first.*DataTree, which has no idata"
    ):
        posterior_summary(tree)
    with pytest.raises(AmbidexError, match=r"icc takes the fit first"):
        icc(tree)
