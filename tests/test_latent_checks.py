"""The checks of latent-centred fits: linear predictor, log-likelihood, PPC, LOO and R².

A fake latent fit (known draws of the latent model's variables on a small prepared panel,
some of its predictor values missing and imputed) checks the vectorised latent linear
predictor against a row-by-row, draw-by-draw hand computation of its formula, and the
log-likelihood against scipy's normal density. Observed fits keep their own route.
"""

from __future__ import annotations

import dataclasses
import importlib
from types import SimpleNamespace

import numpy as np
import pytest
import xarray as xr
from latent_fits import prepare_panel
from scipy import stats

from ambidex_bayes.checks.indexed_predictor import linear_predictor_draws, predictor_design
from ambidex_bayes.checks.latent_predictor import (
    LatentDesign,
    latent_chunks,
    latent_design,
    latent_within_moments,
)
from ambidex_bayes.checks.log_likelihood import integrated_log_likelihood, row_log_likelihood
from ambidex_bayes.errors import ModelError
from ambidex_bayes.model.latent_data import LatentNames, latent_data
from ambidex_bayes.model.latent_simulate import simulate_latent_panel
from ambidex_bayes.terms import ModerationTerms

CHAINS, DRAWS = 2, 30


def latent_terms(
    nm: LatentNames,
    *,
    slope: bool = True,
    interaction: bool = True,
    slope_on: LatentNames | None = None,
) -> ModerationTerms:
    """The terms of a latent fit with the names ``nm``; the person slope (if any) on the
    predictor named by ``slope_on`` (None: the first)."""
    s = nm if slope_on is None else slope_on
    return ModerationTerms(
        person_dim=nm.person_dim,
        x_column=nm.within,
        w_column=nm.w,
        y_column=nm.y,
        slope=nm.within,
        moderator=nm.w,
        interaction=nm.interaction if interaction else None,
        between=nm.between,
        group_intercept=nm.intercept_effect,
        group_slope=s.slope_effect if slope else None,
        group_intercept_sd=f"{nm.intercept_effect}_sigma",
        group_slope_sd=f"{s.slope_effect}_sigma" if slope else None,
        correlation=s.correlation if slope else None,
    )


def fake_latent_fit(
    *, n_missing: int = 3, slope: bool = True, interaction: bool = True, seed: int = 0
) -> SimpleNamespace:
    """A latent-centred fit from known draws on a small panel; ``n_missing`` rows with an
    outcome lose their predictor (imputed in the draws), as prepare keeps them for latent
    fits."""
    rng = np.random.default_rng(seed)
    prepared = prepare_panel(simulate_latent_panel(12, (3, 6), seed=seed))
    frame = prepared.frame.reset_index(drop=True).copy()
    gone = rng.choice(len(frame), size=n_missing, replace=False)
    frame.loc[gone, "x"] = np.nan
    prepared = dataclasses.replace(prepared, frame=frame)
    w = prepared.roles["w"]
    nm = LatentNames(x="x", y="y", person="person", w=w)
    data = latent_data(frame, y="y", x="x", person="person", w=w)
    J, k, shape = data.n_persons, data.n_imputed, (CHAINS, DRAWS)
    draws = {
        "Intercept": rng.normal(3.0, 0.1, shape),
        nm.within: rng.normal(0.2, 0.05, shape),
        nm.between: rng.normal(0.6, 0.1, shape),
        nm.w: rng.normal(0.2, 0.05, shape),
        nm.mu_mean: rng.normal(3.0, 0.1, shape),
        nm.mu_sd: np.abs(rng.normal(0.5, 0.05, shape)),
        nm.within_sd: np.abs(rng.normal(1.0, 0.05, shape)),
        "sigma": np.abs(rng.normal(0.5, 0.05, shape)),
        f"{nm.intercept_effect}_sigma": np.abs(rng.normal(0.4, 0.05, shape)),
    }
    per_person = {
        nm.mu: rng.normal(3.0, 0.5, (*shape, J)),
        nm.intercept_effect: rng.normal(0.0, 0.4, (*shape, J)),
    }
    if interaction:
        draws[nm.interaction] = rng.normal(0.1, 0.05, shape)
    if slope:
        draws[f"{nm.slope_effect}_sigma"] = np.abs(rng.normal(0.2, 0.03, shape))
        draws[nm.correlation] = rng.uniform(-0.5, 0.5, shape)
        per_person[nm.slope_effect] = rng.normal(0.0, 0.2, (*shape, J))
    variables = {n: (("chain", "draw"), v) for n, v in draws.items()}
    variables |= {n: (("chain", "draw", nm.person_dim), v) for n, v in per_person.items()}
    variables[nm.imputed] = (("chain", "draw", nm.imputed_dim), rng.normal(3.0, 1.0, (*shape, k)))
    post = xr.Dataset(
        variables,
        coords={
            "chain": np.arange(CHAINS),
            "draw": np.arange(DRAWS),
            nm.person_dim: data.levels,
            nm.imputed_dim: np.arange(k),
        },
    )
    return SimpleNamespace(
        spec=SimpleNamespace(name="M3", family="gaussian"),
        terms=latent_terms(nm, slope=slope, interaction=interaction),
        prepared=prepared,
        idata=xr.DataTree.from_dict({"posterior": post}),
        formula="y ~ 1 + x_cw + x_pm",
        meta={"centring": "latent", "data_hash": "h"},
        imputed_rows=data.imputed_source_rows,
    )


def hand_latent_predictor(fit: SimpleNamespace, *, group_specific: bool = True) -> np.ndarray:
    """The latent linear predictor ``(chain, draw, rows)``, one row and draw at a time."""
    post = fit.idata["posterior"].to_dataset()
    frame = fit.prepared.frame.reset_index(drop=True)
    w = fit.prepared.roles["w"]
    persons = [str(p) for p in post["person__factor_dim"].values]
    imputed = {int(r): k for k, r in enumerate(fit.imputed_rows)}
    out = np.zeros((CHAINS, DRAWS, len(frame)))
    for c in range(CHAINS):
        for d in range(DRAWS):

            def v(name: str, *at: int, c: int = c, d: int = d) -> float:
                if name not in post:
                    return 0.0
                return float(post[name].values[(c, d, *at)])

            for i, row in frame.iterrows():
                j = persons.index(str(row["person"]))
                x = row["x"] if i not in imputed else v("x_imputed", imputed[i])
                mu_j = v("x_mu", j)
                within = x - mu_j
                eta = v("Intercept") + v("x_cw") * within
                eta += v("x_pm") * (mu_j - v("x_mu_mean"))
                eta += v(w) * row[w] + v(f"x_cw:{w}") * row[w] * within
                if group_specific:
                    eta += v("1|person", j) + v("x_cw|person", j) * within
                out[c, d, i] = eta
    return out


@pytest.mark.parametrize("group_specific", [True, False])
@pytest.mark.parametrize(("slope", "interaction"), [(True, True), (True, False), (False, False)])
def test_latent_linear_predictor_matches_hand_computation(group_specific, slope, interaction):
    fit = fake_latent_fit(slope=slope, interaction=interaction)
    post = fit.idata["posterior"].to_dataset()
    design = predictor_design(fit, post, group_specific=group_specific)
    assert isinstance(design, LatentDesign)
    assert np.sum(design.imputed >= 0) == 3
    got = linear_predictor_draws(design, post, name="M3")
    want = hand_latent_predictor(fit, group_specific=group_specific)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    # tiny blocks of draws give the same values
    small = np.concatenate([b for _, b in latent_chunks(design, post, numbers=1)])
    np.testing.assert_allclose(small, want.reshape(CHAINS * DRAWS, -1), rtol=1e-12, atol=1e-12)
    # rows taken apart keep their imputed values
    rows = np.array([5, 0, int(fit.imputed_rows[0])])
    part = linear_predictor_draws(design.take(rows), post)
    np.testing.assert_allclose(part, want[..., rows], rtol=1e-12, atol=1e-12)


def test_within_moments_are_those_of_the_hand_within_part():
    fit = fake_latent_fit()
    post = fit.idata["posterior"].to_dataset()
    slopes_only = hand_latent_predictor(fit) - hand_latent_predictor(fit, group_specific=False)
    u1 = post["x_cw|person"].values
    frame = fit.prepared.frame
    persons = [str(p) for p in post["person__factor_dim"].values]
    codes = np.array([persons.index(str(p)) for p in frame["person"]])
    u0 = post["1|person"].values[..., codes]
    within = (slopes_only - u0) / u1[..., codes]
    mean, square = latent_within_moments(latent_design(fit, post), post)
    np.testing.assert_allclose(mean, within.mean(axis=-1).reshape(-1), rtol=1e-9)
    np.testing.assert_allclose(square, (within**2).mean(axis=-1).reshape(-1), rtol=1e-9)


def test_latent_log_likelihood_is_scipys_normal_density():
    fit = fake_latent_fit()
    post = fit.idata["posterior"].to_dataset()
    ll = row_log_likelihood(fit)
    assert not ll.stored
    values = np.concatenate([b.values for _, b in ll.blocks(7 * CHAINS * DRAWS)], axis=-1)
    mu = hand_latent_predictor(fit)
    y = fit.prepared.frame["y"].to_numpy()
    want = stats.norm.logpdf(y, loc=mu, scale=post["sigma"].values[..., None])
    np.testing.assert_allclose(values, want, rtol=1e-10)


def test_latent_integrated_log_likelihood_is_the_persons_conditional_normal():
    fit = fake_latent_fit()
    post = fit.idata["posterior"].to_dataset()
    frame = fit.prepared.frame.reset_index(drop=True)
    row = int(fit.imputed_rows[0])
    person = frame.loc[row, "person"]
    rows = np.flatnonzero(frame["person"].to_numpy() == person)
    got = integrated_log_likelihood(fit, rows=[row]).values.reshape(-1)
    m = hand_latent_predictor(fit, group_specific=False)[..., rows].reshape(CHAINS * DRAWS, -1)
    full = hand_latent_predictor(fit)[..., rows].reshape(CHAINS * DRAWS, -1)
    j = [str(p) for p in post["person__factor_dim"].values].index(str(person))
    flat = {n: post[n].values.reshape(CHAINS * DRAWS, *post[n].shape[2:]) for n in post}
    u0, u1 = flat["1|person"][:, j], flat["x_cw|person"][:, j]
    within = (full - m - u0[:, None]) / u1[:, None]
    k = list(rows).index(row)
    for s in range(0, CHAINS * DRAWS, 7):
        t0, t1, rho = flat["1|person_sigma"][s], flat["x_cw|person_sigma"][s], None
        rho = flat["corr(1|person,x_cw|person)"][s]
        cov = np.array([[t0**2, rho * t0 * t1], [rho * t0 * t1, t1**2]])
        z = np.column_stack([np.ones(rows.size), within[s]])
        v = flat["sigma"][s] ** 2 * np.eye(rows.size) + z @ cov @ z.T
        y = frame["y"].to_numpy()[rows]
        others = [i for i in range(rows.size) if i != k]
        # conditional normal of y_k given the person's other rows
        vo = v[np.ix_(others, others)]
        mean = m[s, k] + v[k, others] @ np.linalg.solve(vo, y[others] - m[s, others])
        var = v[k, k] - v[k, others] @ np.linalg.solve(vo, v[others, k])
        want = stats.norm.logpdf(y[k], loc=mean, scale=np.sqrt(var))
        assert got[s] == pytest.approx(want, rel=1e-9)


def test_latent_design_refuses_what_it_cannot_predict():
    fit = fake_latent_fit()
    post = fit.idata["posterior"].to_dataset()
    new = fit.prepared.frame.iloc[:3].copy()
    new.loc[new.index[0], "x"] = np.nan
    with pytest.raises(ModelError, match="imputes only the fitted rows"):
        latent_design(fit, post, data=new)
    stranger = fit.prepared.frame.iloc[:2].copy()
    stranger["person"] = "nobody"
    with pytest.raises(ModelError, match="no latent person mean"):
        latent_design(fit, post, data=stranger)


def test_new_person_scores_of_latent_fits_refuse_only_monte_carlo():
    from ambidex_bayes.checks.log_likelihood import new_person_log_density

    fit = fake_latent_fit()
    with pytest.raises(ModelError, match="method='monte_carlo' is not available for latent"):
        new_person_log_density(fit, method="monte_carlo")
    scores = new_person_log_density(fit)
    assert scores.attrs["method"] == "gauss-hermite"
    assert np.isfinite(scores.to_numpy()).all()


def test_person_slopes_of_a_latent_fit_and_bambis_cross_check_refuses():
    from ambidex_bayes.moderation.person_slopes import person_slopes, person_slopes_bambi

    fit = fake_latent_fit()
    post = fit.idata["posterior"].to_dataset()
    w = fit.prepared.roles["w"]
    persons = [str(p) for p in post["person__factor_dim"].values]
    w_j = fit.prepared.frame.groupby(fit.prepared.frame["person"].astype(str))[w].first()
    slopes = person_slopes(fit).table.set_index("person")
    for j, person in enumerate(persons):
        draws = (
            post["x_cw"].values
            + post[f"x_cw:{w}"].values * w_j[person]
            + post["x_cw|person"].values[..., j]
        )
        assert slopes.loc[person, "mean"] == pytest.approx(draws.mean(), rel=1e-9)
    with pytest.raises(ModelError, match="cannot cross-check a latent-centred fit"):
        person_slopes_bambi(fit)


def test_an_exact_refit_drops_a_row_with_an_imputed_predictor_and_scores_it(monkeypatch):
    """The refit's data lack the left-out row altogether (its imputed value goes with it)
    and its outcome is scored with the missing predictor integrated out."""
    from ambidex_bayes.checks.latent_log_likelihood import latent_left_out_log_density
    from ambidex_bayes.checks.log_likelihood import logmeanexp
    from ambidex_bayes.checks.loo import _refit_row_log_density

    fit = fake_latent_fit()
    seen = {}

    def refit(spec, prepared, **options):
        seen.update(prepared=prepared, options=options)
        return fit  # the draws stand in for the refit's

    fit_module = importlib.import_module("ambidex_bayes.fit")  # the module, not ab.fit
    monkeypatch.setattr(fit_module, "fit", refit)
    frame = fit.prepared.frame
    post = fit.idata["posterior"].to_dataset()
    for row in np.sort(fit.imputed_rows):
        got = _refit_row_log_density(fit, int(row), settings=None, cache_dir=False)
        reduced = seen["prepared"].frame
        assert len(reduced) == len(frame) - 1
        assert reduced.equals(frame.drop(index=frame.index[row]).reset_index(drop=True))
        assert seen["options"]["centring"] == "latent"
        want = logmeanexp(latent_left_out_log_density(fit, post, frame.iloc[[row]]))
        assert np.isfinite(got) and got == pytest.approx(float(want), rel=1e-12)


def test_the_reports_loo_comparison_holds_models_of_the_same_rows():
    from ambidex_bayes.checks.report_section import _same_rows

    def scored(n):
        return SimpleNamespace(pareto_k_before=np.zeros(n))

    same = {"M0": scored(10), "M1": scored(10)}
    kept, lines = _same_rows(same)
    assert kept == same and lines == []
    mixed = {"M0": scored(8), "M1": scored(10), "M2": scored(10)}
    kept, lines = _same_rows(mixed)
    assert list(kept) == ["M1", "M2"]
    assert "left out of the comparison: M0 (8 diaries)" in lines[0]
