"""Latent centring's fast path against brute force, without sampling.

The integrated outcome likelihood is checked against each person's multivariate normal
density with the person effects integrated out by hand (:math:`V_j = \\sigma^2 I +
Z_j \\Sigma Z_j^\\top`), the predictor likelihood against a sum of normal densities, and the
exact draws of the person effects against their conditional mean and covariance.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytensor.tensor as pt
import pytest
from scipy import stats

from ambidex_bayes.errors import DataError, SpecError
from ambidex_bayes.model.latent_centring import build_latent_model, latent_terms
from ambidex_bayes.model.latent_data import latent_data
from ambidex_bayes.model.latent_fast_path import (
    draw_person_effects_latent,
    latent_sums,
    outcome_marginal_loglik,
    outcome_sums,
    x_loglik,
)
from ambidex_bayes.model.latent_simulate import (
    LatentTruth,
    observed_reliability,
    simulate_latent_panel,
)


@pytest.fixture(scope="module")
def panel():
    df = simulate_latent_panel(12, (1, 5), seed=4, missing_x=0.2, missing_y=0.2)
    return latent_data(df, y="y", x="x", person="person", w="w")


def _parameters(panel, seed=0):
    rng = np.random.default_rng(seed)
    J = panel.n_persons
    return dict(
        mu=3.0 + 0.5 * rng.standard_normal(J),
        x_imp=3.0 + rng.standard_normal(panel.n_imputed),
        a=0.3 * rng.standard_normal(J),
        b=0.1 + 0.1 * rng.standard_normal(J),
        sigma=0.6,
        tau=[0.5, 0.3],
        rho=-0.4,
    )


def _brute_force(panel, p, q):
    """Sum over persons of log N(y_j | a_j + b_j c_j, sigma^2 I + Z_j Sigma Z_j')."""
    x = panel.x.copy()
    x[panel.missing] = p["x_imp"]
    t0, t1 = p["tau"]
    Sigma = np.array([[t0**2, p["rho"] * t0 * t1], [p["rho"] * t0 * t1, t1**2]])[:q, :q]
    total = 0.0
    for j in range(panel.n_persons):
        rows = panel.person == j
        if not rows.any():
            continue
        c = x[rows] - p["mu"][j]
        Z = np.column_stack([np.ones(rows.sum()), c])[:, :q]
        V = p["sigma"] ** 2 * np.eye(rows.sum()) + Z @ Sigma @ Z.T
        mean = p["a"][j] + p["b"][j] * c
        total += stats.multivariate_normal(mean, V).logpdf(panel.y[rows])
    return total


@pytest.mark.parametrize("q", [1, 2])
def test_integrated_outcome_likelihood_matches_brute_force(panel, q):
    p = _parameters(panel)
    sums = latent_sums(panel)
    Sx, Sxx, Sxy = outcome_sums(sums, pt.as_tensor(p["x_imp"]))
    value = outcome_marginal_loglik(
        sums,
        Sx,
        Sxx,
        Sxy,
        pt.as_tensor(p["mu"]),
        pt.as_tensor(p["a"]),
        pt.as_tensor(p["b"]),
        pt.as_tensor(p["sigma"]),
        [pt.as_tensor(t) for t in p["tau"][:q]],
        pt.as_tensor(p["rho"]) if q == 2 else None,
    ).eval()
    assert value == pytest.approx(_brute_force(panel, p, q), rel=1e-8)


def test_predictor_likelihood_counts_every_observed_x(panel):
    p = _parameters(panel)
    sums = latent_sums(panel)
    x_all, p_all = panel.all_x()
    expected = stats.norm(p["mu"][p_all], 0.8).logpdf(x_all).sum()
    value = x_loglik(sums, pt.as_tensor(p["mu"]), pt.as_tensor(0.8)).eval()
    assert value == pytest.approx(expected, rel=1e-12)
    # the x-only rows are in: more observed x than outcome rows with x
    assert len(x_all) == (~panel.missing).sum() + len(panel.x_only) > (~panel.missing).sum()


def test_person_effect_draws_follow_their_conditional_posterior(panel):
    p = _parameters(panel, seed=1)
    sums = latent_sums(panel)
    S, J = 40000, panel.n_persons
    u = draw_person_effects_latent(
        sums,
        np.broadcast_to(p["mu"], (S, J)),
        np.broadcast_to(p["x_imp"], (S, panel.n_imputed)),
        np.broadcast_to(p["a"], (S, J)),
        np.broadcast_to(p["b"], (S, J)),
        np.full(S, p["sigma"]),
        np.broadcast_to(p["tau"], (S, 2)),
        np.full(S, p["rho"]),
        np.random.default_rng(2),
    )
    x = panel.x.copy()
    x[panel.missing] = p["x_imp"]
    t0, t1 = p["tau"]
    Sigma = np.array([[t0**2, p["rho"] * t0 * t1], [p["rho"] * t0 * t1, t1**2]])
    for j in range(J):
        rows = panel.person == j
        c = x[rows] - p["mu"][j]
        Z = np.column_stack([np.ones(rows.sum()), c])
        P = np.linalg.inv(Sigma) + Z.T @ Z / p["sigma"] ** 2
        cov = np.linalg.inv(P)
        mean = cov @ Z.T @ (panel.y[rows] - p["a"][j] - p["b"][j] * c) / p["sigma"] ** 2
        se = np.sqrt(np.diag(cov) / S)
        assert np.all(np.abs(u[:, j].mean(axis=0) - mean) < 5 * se)
        assert np.allclose(np.cov(u[:, j].T), cov, rtol=0.05, atol=1e-3)


def test_fast_and_full_models_have_the_same_density_up_to_the_person_effects(panel):
    """The fast path's free variables are the full model's less the person effects (in the
    plain coordinates of the latent means; the conditional ones sample ``_mu_eta`` instead
    of ``_mu_z``, see test_latent_means)."""
    fast = build_latent_model(panel, "M3", marginal=True, conditional_means=False)
    full = build_latent_model(panel, "M3", marginal=False)
    fast_free = {v.name for v in fast.pymc_model.free_RVs}
    full_free = {v.name for v in full.pymc_model.free_RVs}
    assert full_free - fast_free == {"_u_z"}
    assert fast_free <= full_free
    assert "x_imputed" in fast_free and "x_mu" in fast.pymc_model.named_vars
    guided = build_latent_model(panel, "M3", marginal=True)
    guided_free = {v.name for v in guided.pymc_model.free_RVs}
    assert guided_free == fast_free - {"_mu_z"} | {"_mu_eta"}


def test_data_rows_missing_values_and_note():
    df = pd.DataFrame(
        {
            "person": ["a", "a", "a", "b", "b", "c"],
            "x": [1.0, np.nan, 2.0, 3.0, np.nan, 4.0],
            "y": [0.5, 1.0, np.nan, 2.0, np.nan, np.nan],
            "w": [1.0, 1.0, 1.0, -1.0, -1.0, 0.0],
        }
    )
    d = latent_data(df, y="y", x="x", person="person", w="w")
    assert d.levels == ["a", "b", "c"]
    assert d.n_imputed == 1 and list(d.imputed_source_rows) == [1]
    assert list(d.x_only) == [2.0, 4.0] and list(d.x_only_person) == [0, 2]
    assert list(d.source_rows) == [0, 1, 3]  # row 4 has neither x nor y
    assert list(d.w) == [1.0, -1.0, 0.0]
    assert "1 missing daily value" in d.imputation_note()
    assert "2 day(s)" in d.imputation_note()


def test_data_errors():
    df = pd.DataFrame({"person": ["a", "a"], "x": [1.0, 2.0], "y": [1.0, 2.0], "w": [0.0, 1.0]})
    with pytest.raises(DataError, match="varies within a person"):
        latent_data(df, y="y", x="x", person="person", w="w")
    with pytest.raises(DataError, match="no column"):
        latent_data(df, y="y", x="z", person="person")
    d = latent_data(df, y="y", x="x", person="person")
    with pytest.raises(SpecError, match="M3 needs a moderator"):
        build_latent_model(d, "M3")
    with pytest.raises(SpecError, match="unknown model"):
        build_latent_model(d, "M9")


def test_terms_use_the_observed_models_names(panel):
    terms = latent_terms(panel, "M3")
    assert (terms.slope, terms.between, terms.moderator, terms.interaction) == (
        "x_cw",
        "x_pm",
        "w",
        "x_cw:w",
    )
    assert terms.group_slope_sd == "x_cw|person_sigma"
    assert latent_terms(panel, "M1").group_slope is None


def test_reliability_of_the_simulated_designs():
    assert observed_reliability(LatentTruth(), 3) == pytest.approx(0.4286, abs=1e-3)
