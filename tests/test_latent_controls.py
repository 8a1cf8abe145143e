"""Controls in latent-centred fits: the fast path's sums, exact person effects, the model.

The outcome model with controls :math:`k_{ij}` (fixed effects :math:`\\gamma`) is checked
against each person's multivariate normal density with the person effects integrated out by
hand, and the exact draws of the person effects against their conditional moments, as
``test_latent_fast_path.py`` does without controls.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
import pytest
from latent_fits import prepare_panel, quiet_fit
from scipy import stats

from ambidex_bayes.model.latent_centring import build_latent_model
from ambidex_bayes.model.latent_data import latent_data
from ambidex_bayes.model.latent_fast_path import (
    draw_person_effects_latent,
    latent_sums,
    outcome_marginal_loglik,
    outcome_sums,
    residual_sums,
)
from ambidex_bayes.model.latent_simulate import simulate_latent_panel

GAMMA = np.array([0.7, -0.4])


def controlled_frame(seed: int = 4):
    """A simulated panel with a day-level control ``k_day`` and a person-level ``k_person``,
    missing x and missing y."""
    df = simulate_latent_panel(12, (1, 5), seed=seed, missing_x=0.2, missing_y=0.2)
    rng = np.random.default_rng(seed + 100)
    df["k_day"] = rng.normal(size=len(df))
    per = dict(zip(df["person"].unique(), rng.normal(size=df["person"].nunique()), strict=True))
    df["k_person"] = df["person"].map(per)
    return df


@pytest.fixture(scope="module")
def panel():
    return latent_data(
        controlled_frame(), y="y", x="x", person="person", w="w", controls=("k_day", "k_person")
    )


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


def _sigma(p):
    t0, t1 = p["tau"]
    return np.array([[t0**2, p["rho"] * t0 * t1], [p["rho"] * t0 * t1, t1**2]])


def test_data_keep_the_controls_of_the_outcome_rows(panel):
    assert panel.n_controls == 2
    assert panel.controls.shape == (len(panel.y), 2)
    assert panel.names.controls == ("k_day", "k_person")
    frame = controlled_frame().reset_index(drop=True)
    np.testing.assert_array_equal(
        panel.controls, frame.loc[panel.source_rows, ["k_day", "k_person"]].to_numpy()
    )


@pytest.mark.parametrize("q", [1, 2])
def test_integrated_likelihood_with_controls_matches_brute_force(panel, q):
    p = _parameters(panel)
    sums = residual_sums(latent_sums(panel), pt.as_tensor(GAMMA))
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
    x = panel.x.copy()
    x[panel.missing] = p["x_imp"]
    Sigma = _sigma(p)[:q, :q]
    expected = 0.0
    for j in range(panel.n_persons):
        rows = panel.person == j
        if not rows.any():
            continue
        c = x[rows] - p["mu"][j]
        Z = np.column_stack([np.ones(rows.sum()), c])[:, :q]
        V = p["sigma"] ** 2 * np.eye(rows.sum()) + Z @ Sigma @ Z.T
        mean = p["a"][j] + p["b"][j] * c + panel.controls[rows] @ GAMMA
        expected += stats.multivariate_normal(mean, V).logpdf(panel.y[rows])
    assert value == pytest.approx(expected, rel=1e-8)
    # the controls matter: without them the value differs
    plain = latent_sums(panel)
    Sx0, Sxx0, Sxy0 = outcome_sums(plain, pt.as_tensor(p["x_imp"]))
    other = outcome_marginal_loglik(
        plain,
        Sx0,
        Sxx0,
        Sxy0,
        pt.as_tensor(p["mu"]),
        pt.as_tensor(p["a"]),
        pt.as_tensor(p["b"]),
        pt.as_tensor(p["sigma"]),
        [pt.as_tensor(t) for t in p["tau"][:q]],
        pt.as_tensor(p["rho"]) if q == 2 else None,
    ).eval()
    assert abs(other - value) > 1.0


def test_residual_sums_per_draw_match_the_model_ones(panel):
    sums = latent_sums(panel)
    gammas = np.array([GAMMA, -GAMMA, [0.0, 0.0]])
    per_draw = residual_sums(sums, gammas, module=np)
    for s, g in enumerate(gammas):
        one = residual_sums(sums, pt.as_tensor(g))
        for field in ("Sy", "Syy", "Sxy", "imputed_y"):
            np.testing.assert_allclose(
                getattr(per_draw, field)[s], getattr(one, field).eval(), rtol=1e-10, atol=1e-10
            )


def test_person_effect_draws_with_controls_follow_their_conditional_posterior(panel):
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
        gamma=np.broadcast_to(GAMMA, (S, 2)),
    )
    x = panel.x.copy()
    x[panel.missing] = p["x_imp"]
    Sigma = _sigma(p)
    for j in range(J):
        rows = panel.person == j
        c = x[rows] - p["mu"][j]
        Z = np.column_stack([np.ones(rows.sum()), c])
        P = np.linalg.inv(Sigma) + Z.T @ Z / p["sigma"] ** 2
        cov = np.linalg.inv(P)
        r = panel.y[rows] - p["a"][j] - p["b"][j] * c - panel.controls[rows] @ GAMMA
        mean = cov @ Z.T @ r / p["sigma"] ** 2
        se = np.sqrt(np.diag(cov) / S)
        assert np.all(np.abs(u[:, j].mean(axis=0) - mean) < 5 * se)
        assert np.allclose(np.cov(u[:, j].T), cov, rtol=0.05, atol=1e-3)


@pytest.mark.parametrize("marginal", [True, False])
def test_models_name_the_controls_fixed_effects_as_the_observed_model(panel, marginal):
    model = build_latent_model(panel, "M3", marginal=marginal)
    free = {v.name for v in model.pymc_model.free_RVs}
    assert {"k_day", "k_person"} <= free
    assert "Normal" in model.priors["k_day"]["prior"]
    assert model.structure_key[-1] == 2


def _fit_with_controls():
    """The fake latent fit of ``test_latent_checks`` with a day-level and a person-level
    control in its rows, mapping and draws, fitted by a spec that includes controls."""
    import dataclasses
    from types import SimpleNamespace

    import xarray as xr
    from test_latent_checks import fake_latent_fit

    fit = fake_latent_fit()
    rng = np.random.default_rng(9)
    frame = fit.prepared.frame.copy()
    frame["k_day"] = rng.normal(size=len(frame))
    frame["k_person"] = frame["person"].map({p: rng.normal() for p in frame["person"].unique()})
    mapping = dataclasses.replace(fit.prepared.mapping, controls=("k_day", "k_person"))
    fit.prepared = dataclasses.replace(fit.prepared, frame=frame, mapping=mapping)
    fit.spec = SimpleNamespace(name="M3", family="gaussian", include_controls=True)
    post = fit.idata["posterior"].to_dataset()
    shape = (post.sizes["chain"], post.sizes["draw"])
    post["k_day"] = (("chain", "draw"), rng.normal(0.7, 0.1, shape))
    post["k_person"] = (("chain", "draw"), rng.normal(-0.4, 0.1, shape))
    fit.idata = xr.DataTree.from_dict({"posterior": post})
    return fit


@pytest.mark.parametrize("group_specific", [True, False])
def test_latent_linear_predictor_with_controls_matches_hand_computation(group_specific):
    from test_latent_checks import hand_latent_predictor

    from ambidex_bayes.checks.indexed_predictor import linear_predictor_draws, predictor_design

    fit = _fit_with_controls()
    post = fit.idata["posterior"].to_dataset()
    design = predictor_design(fit, post, group_specific=group_specific)
    assert design.names.controls == ("k_day", "k_person")
    assert {"k_day", "k_person"} <= set(design.fixed)
    got = linear_predictor_draws(design, post, name="M3")
    frame = fit.prepared.frame
    want = hand_latent_predictor(fit, group_specific=group_specific)
    want += post["k_day"].to_numpy()[..., None] * frame["k_day"].to_numpy()
    want += post["k_person"].to_numpy()[..., None] * frame["k_person"].to_numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    rows = np.array([4, 1])
    np.testing.assert_allclose(
        linear_predictor_draws(design.take(rows), post), want[..., rows], rtol=1e-12
    )
    # a posterior without a control's draws is refused, not read as a zero effect
    with pytest.raises(Exception, match="k_person"):
        linear_predictor_draws(design, post.drop_vars("k_person"), name="M3")


def _prepared_with_controls(frame, **mapping_extra):
    return prepare_panel(frame, **{"controls": ["k_day", "k_person"], **mapping_extra})


def _with_controls(spec):
    import dataclasses

    return dataclasses.replace(spec, include_controls=True)


def test_latent_centring_takes_numeric_controls_and_says_what_it_refuses():
    from ambidex_bayes.centring import choose_centring, latent_unavailable_reason
    from ambidex_bayes.errors import SpecError
    from ambidex_bayes.spec import load_spec

    frame = controlled_frame().dropna(subset=["x", "y"])
    prepared = _prepared_with_controls(frame)
    m3 = _with_controls(load_spec("M3"))
    assert latent_unavailable_reason(m3, prepared) is None
    assert latent_unavailable_reason(load_spec("M3"), prepared) is None  # controls unused
    assert choose_centring("latent", m3, prepared) == "latent"
    split = _prepared_with_controls(frame, split_controls=["k_day"])
    assert "split_controls" in latent_unavailable_reason(m3, split)
    # the spec leaves the controls out: their split does not matter
    assert latent_unavailable_reason(load_spec("M3"), split) is None
    frame["sector"] = np.where(frame["k_person"] > 0, "a", "b")
    factor = _prepared_with_controls(frame, controls=["k_day", "sector"])
    reason = latent_unavailable_reason(m3, factor)
    assert "numeric controls" in reason and "sector" in reason
    standardized = _prepared_with_controls(frame, standardize=True)
    assert "unstandardised" in latent_unavailable_reason(m3, standardized)
    import dataclasses

    poisson = dataclasses.replace(m3, family="poisson")
    assert "Gaussian" in latent_unavailable_reason(poisson, prepared)
    with pytest.raises(SpecError, match="split_controls"):
        choose_centring("latent", m3, split)


@pytest.mark.fit
def test_fast_path_agrees_with_full_nuts_with_controls():
    import arviz_stats as azs

    from ambidex_bayes.fit import SamplerSettings
    from ambidex_bayes.spec import load_spec

    frame = simulate_latent_panel(60, (2, 5), seed=21, missing_x=0.1, missing_y=0.1)
    rng = np.random.default_rng(3)
    frame["k_day"] = rng.normal(size=len(frame))
    per = {p: rng.normal() for p in frame["person"].unique()}
    frame["k_person"] = frame["person"].map(per)
    frame["y"] += 0.5 * frame["k_day"] - 0.3 * frame["k_person"]
    prepared = _prepared_with_controls(frame)
    assert prepared.partial_rows is not None and len(prepared.partial_rows) > 0
    spec = _with_controls(load_spec("M3"))
    fits = {}
    for fast in (True, False):
        settings = SamplerSettings(
            backend="nutpie", draws=500, tune=500, chains=2, seed=8, fast_path=fast
        )
        fits[fast] = quiet_fit(spec, prepared, settings)
    post = {k: v.idata["posterior"] for k, v in fits.items()}
    assert set(post[True].data_vars) == set(post[False].data_vars)
    assert fits[True].meta["imputed"]["x_imputed"] > 0
    for name in ["k_day", "k_person", "x_cw", "x_pm", "Intercept", "sigma", "x_mu", "1|person"]:
        a, b = post[True][name], post[False][name]
        se = np.sqrt(azs.mcse(a).to_numpy() ** 2 + azs.mcse(b).to_numpy() ** 2)
        diff = np.abs(a.mean(("chain", "draw")).to_numpy() - b.mean(("chain", "draw")).to_numpy())
        within = diff < 4.0 * se
        assert within.mean() >= (1.0 if within.ndim == 0 else 0.97), (name, diff, se)
    # the controls' effects are found
    assert abs(float(post[True]["k_day"].mean()) - 0.5) < 0.15
    # the observed fit of the same spec has the same fixed-effect names
    settings = SamplerSettings(backend="nutpie", draws=100, tune=100, chains=1, seed=8)
    observed = quiet_fit(spec, prepared, settings, centring="observed")
    shared = {"Intercept", "x_cw", "x_pm", "w_c", "x_cw:w_c", "k_day", "k_person", "sigma"}
    assert shared <= set(observed.idata["posterior"].data_vars)
    assert shared <= set(post[True].data_vars)
