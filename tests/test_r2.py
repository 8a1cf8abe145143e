"""Explained variance: Bayesian R² and the variance decomposition against hand computations on
known draws (a stub fit whose linear predictor is computed by hand), and sanity on the shared real fit."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import xarray as xr
from stub_fits import hand_linear_predictor, predictor_fit

from ambidex_bayes.checks import r2
from ambidex_bayes.errors import AmbidexError, ModelError


def test_r2_draws_closed_form():
    mu = np.array([[0.0, 2.0, 4.0], [1.0, 1.0, 1.0], [0.0, 3.0, 6.0]])  # var (ddof=1) 4, 0, 9
    np.testing.assert_allclose(r2.r2_draws(mu, np.array([4.0, 1.0, 0.0])), [0.5, 0.0, 1.0])
    with pytest.raises(AmbidexError, match="shape"):
        r2.r2_draws(mu, np.ones(2))
    with pytest.raises(AmbidexError, match="non-negative"):
        r2.r2_draws(mu, -np.ones(3))


def stub_fit(
    *,
    seed: int = 0,
    standardize: bool = False,
    family: str = "gaussian",
    interaction: bool = True,
    random_slope: bool = True,
    tau1: float | None = None,
    data_hash: str = "h",
    name: str = "stub",
):
    fit = predictor_fit(
        seed=seed,
        standardize=standardize,
        family=family,
        interaction=interaction,
        random_slope=random_slope,
        name=name,
        data_hash=data_hash,
    )
    post = fit.idata["posterior"].to_dataset()
    terms = fit.terms
    if tau1 is not None:
        post[terms.group_slope_sd] = xr.full_like(post[terms.group_slope_sd], tau1)
    if family == "t":
        nu = np.where(np.arange(50) % 2 == 0, 1.5, 5.0)  # half the draws without a variance
        post["nu"] = (("chain", "draw"), np.tile(nu, (2, 1)))
    fit.idata = xr.DataTree.from_dict({"posterior": post})
    return fit


def _flat(values) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    return arr.reshape(arr.shape[0] * arr.shape[1], *arr.shape[2:])


def test_marginal_and_conditional_r2_equal_hand_computation():
    fit = stub_fit()
    post = fit.idata["posterior"].to_dataset()
    t = fit.terms
    x = fit.prepared.frame[t.x_column].to_numpy()
    sigma2 = _flat(post[t.sigma]) ** 2
    tau0, tau1 = _flat(post[t.group_intercept_sd]), _flat(post[t.group_slope_sd])
    rho = _flat(post[t.correlation])
    person_var = tau0**2 + 2 * rho * tau0 * tau1 * x.mean() + tau1**2 * np.mean(x**2)
    var_f = np.var(_flat(hand_linear_predictor(fit, group_specific=False)), axis=1, ddof=1)
    var_c = np.var(_flat(hand_linear_predictor(fit)), axis=1, ddof=1)
    marginal = var_f / (var_f + sigma2 + person_var)
    conditional = var_c / (var_c + sigma2)
    table = r2.explained_variance(fit, prob=0.9).set_index("r2")
    assert table.loc["marginal", "mean"] == pytest.approx(marginal.mean())
    assert table.loc["conditional", "mean"] == pytest.approx(conditional.mean())
    assert table.loc["marginal", "ci_upper"] == pytest.approx(np.quantile(marginal, 0.95))
    assert (table["undefined_draws"] == 0).all()


def test_student_t_residual_variance_and_undefined_draws():
    fit = stub_fit(family="t")
    post = fit.idata["posterior"].to_dataset()
    res = _flat(r2.residual_variance(fit, post))
    sigma = _flat(post["sigma"])
    nu = _flat(post["nu"])
    np.testing.assert_allclose(res[nu > 2], sigma[nu > 2] ** 2 * 5.0 / 3.0)
    assert np.isnan(res[nu <= 2]).all()
    table = r2.explained_variance(fit)
    assert (table["undefined_draws"] == 50).all()
    assert table["mean"].between(0, 1).all()


def test_variance_decomposition_adds_up_in_original_units():
    fit = stub_fit(standardize=True)
    scale = fit.prepared.transforms[fit.terms.y_column].scale
    assert scale != 1.0
    table = r2.variance_decomposition(fit).set_index("component")
    mu_f = _flat(hand_linear_predictor(fit, group_specific=False))
    persons = fit.prepared.frame["pid"].to_numpy()
    person_mean = np.stack([mu_f[:, persons == p].mean(axis=1) for p in persons], axis=1)
    between = np.var(person_mean, axis=1) * scale**2
    within = np.var(mu_f - person_mean, axis=1) * scale**2
    assert table.loc["fixed_between", "mean"] == pytest.approx(between.mean())
    assert table.loc["fixed_within", "mean"] == pytest.approx(within.mean())
    post = fit.idata["posterior"].to_dataset()
    tau0 = _flat(post[fit.terms.group_intercept_sd])
    assert table.loc["person_intercepts", "mean"] == pytest.approx(np.mean(tau0**2) * scale**2)
    parts = ["fixed_between", "fixed_within", "person_intercepts", "person_slopes", "residual"]
    assert table.loc[parts, "mean"].sum() == pytest.approx(table.loc["total", "mean"])
    assert table.loc[parts, "share_mean"].sum() == pytest.approx(1.0)
    assert table.loc["between", "mean"] == pytest.approx(
        table.loc[["fixed_between", "person_intercepts"], "mean"].sum()
    )
    assert table.loc["total", "level"] == "both"


def test_share_of_slope_variance_explained_closed_form():
    without = stub_fit(interaction=False, tau1=0.5, name="M2")
    with_ = stub_fit(seed=1, tau1=0.3, name="M3")
    row = r2.slope_variance_explained(without, with_).iloc[0]
    assert row["ratio_of_means"] == pytest.approx(1 - 0.09 / 0.25)
    assert row["mean"] == pytest.approx(0.64) and row["ci_lower"] == pytest.approx(0.64)
    assert row["p_positive"] == 1.0
    assert r2.slope_models({"M2": without, "M3": with_}) == ("M2", "M3")
    assert r2.slope_models({"M3": with_}) is None
    with pytest.raises(ModelError, match="different data"):
        r2.slope_variance_explained(without, stub_fit(tau1=0.3, data_hash="other"))
    with pytest.raises(ModelError, match="no cross-level interaction"):
        r2.slope_variance_explained(without, without)
    with pytest.raises(ModelError, match="no random slope"):
        r2.slope_variance_explained(stub_fit(random_slope=False, interaction=False), with_)


def test_unknown_person_effects_are_refused():
    fit = stub_fit()
    post = fit.idata["posterior"].to_dataset()
    post["day|pid"] = post[fit.terms.group_intercept]
    fit = replace_idata(fit, post)
    with pytest.raises(ModelError, match="day\\|pid"):
        r2.explained_variance(fit)


def replace_idata(fit, post):
    out = SimpleNamespace(**vars(fit))
    out.idata = xr.DataTree.from_dict({"posterior": post})
    return out


@pytest.mark.fit
def test_real_fit_explains_more_with_person_effects(m3_fit):
    table = r2.explained_variance(m3_fit).set_index("r2")
    assert 0 < table.loc["marginal", "mean"] < table.loc["conditional", "mean"] < 1
    decomposition = r2.variance_decomposition(m3_fit).set_index("component")
    outcome = m3_fit.prepared.frame[m3_fit.terms.y_column].to_numpy()
    assert decomposition.loc["total", "mean"] == pytest.approx(np.var(outcome), rel=0.25)
