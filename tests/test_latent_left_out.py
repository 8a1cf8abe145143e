"""Exact LOO refits of a latent-centred fit's rows whose predictor was imputed.

Leaving out such a row's outcome leaves nothing of the row, so the refit drops it, and its
outcome is scored with the missing predictor integrated out: in closed form for a person the
refit has draws of (checked against the hand formula to 1e-10 and against brute-force Monte
Carlo over the missing values), as a new person's when it was the person's only row
(checked against brute-force Monte Carlo over the person means, the missing values and the
person effects). A small real fit forces an exact refit of two such rows.
"""

from __future__ import annotations

import dataclasses
import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from latent_fits import prepare_panel, quiet_fit
from scipy import special, stats
from test_latent_checks import fake_latent_fit
from test_latent_new_person import _parameters, _posterior, two_predictor_fit

from ambidex_bayes.checks.latent_log_likelihood import latent_left_out_log_density
from ambidex_bayes.checks.latent_new_person import latent_new_person_scores
from ambidex_bayes.checks.log_likelihood import person_covariance, rows_by_person, scalar_draws
from ambidex_bayes.errors import ModelError


# ------------------------------------------------------------------ fakes and hand sums
def _with_person_slopes(fit) -> SimpleNamespace:
    """``fit`` with draws of its person slopes when the fake lacks them (two predictors)."""
    post = _posterior(fit).copy()
    effect = fit.terms.group_slope
    if effect is not None and effect not in post.data_vars:
        shape = post["1|person"].shape
        post[effect] = (post["1|person"].dims, np.random.default_rng(4).normal(0, 0.3, shape))
    return SimpleNamespace(**{**vars(fit), "idata": xr.DataTree.from_dict({"posterior": post})})


def _flat_person(post: xr.Dataset, name: str, j: int) -> np.ndarray:
    values = post[name].transpose("chain", "draw", ...).values
    return values.reshape(-1, values.shape[-1])[:, j]


def _known_person_terms(fit, row: pd.Series) -> list[dict]:
    """Per draw: the row's eta at each predictor's person mean, per predictor its person
    mean and within coefficient b (person slope included), and sigma."""
    post = _posterior(fit)
    w = float(row[fit.prepared.roles["w"]])
    persons = [str(p) for p in post["person__factor_dim"].values]
    j = persons.index(str(row["person"]))
    n_draws = post.sizes["chain"] * post.sizes["draw"]
    u0 = _flat_person(post, "1|person", j)
    slope = fit.terms.group_slope
    u1 = _flat_person(post, slope, j) if slope in post.data_vars else np.zeros(n_draws)
    out = []
    for s in range(n_draws):
        par = _parameters(fit, s)
        eta = par["b0"] + par["bw"] * w + u0[s]
        each = []
        for e in par["each"]:
            mu = _flat_person(post, f"{e['x']}_mu", j)[s]
            b = e["within"] + e["interaction"] * w + (u1[s] if e["slope"] else 0.0)
            eta += e["between"] * (mu - e["mu0"])
            each.append({"x": e["x"], "mu": mu, "b": b, "sd_x": e["sd_x"]})
        out.append({"eta": eta, "each": each, "sigma": par["sigma"]})
    return out


def hand_closed_form(fit, row: pd.Series) -> np.ndarray:
    """log N(y | eta at the person means, sigma^2 + sum over missing b^2 sd_x^2) per draw."""
    out = []
    for t in _known_person_terms(fit, row):
        eta, var = t["eta"], t["sigma"] ** 2
        for e in t["each"]:
            if np.isnan(row[e["x"]]):
                var += e["b"] ** 2 * e["sd_x"] ** 2
            else:
                eta += e["b"] * (row[e["x"]] - e["mu"])
        out.append(stats.norm.logpdf(row["y"], eta, np.sqrt(var)))
    return np.array(out)


def brute_force_known_person(fit, row: pd.Series, *, n: int, seed: int) -> tuple[float, float]:
    """log of the mean over draws of the mean over x_i ~ N(mu_j, sd_x^2) (each missing
    predictor) of N(y | eta(x_i), sigma), and its Monte Carlo SE on the log scale."""
    rng = np.random.default_rng(seed)
    means, variances = [], []
    for t in _known_person_terms(fit, row):
        eta = np.full(n, t["eta"])
        for e in t["each"]:
            value = row[e["x"]]
            x = rng.normal(e["mu"], e["sd_x"], n) if np.isnan(value) else np.full(n, value)
            eta += e["b"] * (x - e["mu"])
        f = stats.norm.pdf(row["y"], eta, t["sigma"])
        means.append(f.mean())
        variances.append(f.var() / n)
    total = np.mean(means)
    se = np.sqrt(np.sum(variances)) / len(means)
    return float(np.log(total)), float(se / total)


def _missing_rows(fit, predictors: tuple[str, ...]) -> pd.DataFrame:
    """Fitted rows with an outcome and the given predictors missing (set here when needed)."""
    frame = fit.prepared.frame.reset_index(drop=True).copy()
    rows = frame.iloc[[2, 9]].copy()
    for x in predictors:
        rows[x] = np.nan
    return rows.reset_index(drop=True)


KNOWN = [
    (lambda: fake_latent_fit(), ("x",)),
    (lambda: fake_latent_fit(slope=False), ("x",)),
    (lambda: _with_person_slopes(two_predictor_fit()), ("x2",)),
    (lambda: _with_person_slopes(two_predictor_fit()), ("x",)),
    (lambda: _with_person_slopes(two_predictor_fit()), ("x", "x2")),
    (lambda: two_predictor_fit(slope=False), ("x", "x2")),
]


# ------------------------------------------------------------------ a person the refit knows
@pytest.mark.parametrize(("make", "missing"), KNOWN)
def test_a_known_persons_row_without_x_is_the_closed_form_and_the_monte_carlo_average(
    make, missing
):
    fit = make()
    post = _posterior(fit)
    for k, row in _missing_rows(fit, missing).iterrows():
        got = latent_left_out_log_density(fit, post, row.to_frame().T)
        np.testing.assert_allclose(got, hand_closed_form(fit, row), rtol=1e-10, atol=1e-10)
        mc, se = brute_force_known_person(fit, row, n=4000, seed=k)
        score = special.logsumexp(got) - np.log(got.size)
        assert abs(score - mc) < 4 * se + 1e-12, (score, mc, se)


def test_a_known_persons_row_with_every_x_is_the_normal_density_at_its_predictor():
    from ambidex_bayes.checks.predictive import linear_predictor

    fit = fake_latent_fit()
    post = _posterior(fit)
    frame = fit.prepared.frame.reset_index(drop=True)
    i = int(np.flatnonzero(frame["x"].notna().to_numpy())[0])
    row = frame.iloc[[i]].reset_index(drop=True)
    mu = np.asarray(
        linear_predictor(fit, group_specific=True, data=row, posterior=post).values
    ).reshape(-1)
    sigma = post["sigma"].values.reshape(-1)
    np.testing.assert_allclose(
        latent_left_out_log_density(fit, post, row),
        stats.norm.logpdf(row["y"].iloc[0], mu, sigma),
        rtol=1e-10,
    )


def test_the_left_out_row_needs_an_outcome_and_one_row():
    fit = fake_latent_fit()
    post = _posterior(fit)
    rows = _missing_rows(fit, ("x",))
    with pytest.raises(ModelError, match="one left-out row"):
        latent_left_out_log_density(fit, post, rows)
    rows.loc[0, "y"] = np.nan
    with pytest.raises(ModelError, match="no outcome"):
        latent_left_out_log_density(fit, post, rows.iloc[[0]])


# ------------------------------------------------------------------ a new person
def _new_person_rows(fit, missing: tuple[str, ...]) -> pd.DataFrame:
    """One person's rows: the first with its outcome and the ``missing`` predictors gone,
    the others without an outcome (they inform the person means only)."""
    frame = fit.prepared.frame.reset_index(drop=True)
    person = frame["person"].iloc[0]
    rows = frame[frame["person"] == person].reset_index(drop=True).copy()
    rows.loc[1:, "y"] = np.nan
    for x in missing:
        rows.loc[0, x] = np.nan
    return rows


def _new_scores(fit, rows: pd.DataFrame, **options) -> np.ndarray:
    post = _posterior(fit)
    cov, _ = person_covariance(fit, post)
    scores = latent_new_person_scores(
        fit,
        post,
        rows,
        sigma=scalar_draws(post, fit.terms.sigma, "residual SD"),
        cov=cov,
        by_person=rows_by_person(rows, "person"),
        **options,
    )
    return scores[str(rows["person"].iloc[0])]


def brute_force_new_person(fit, rows: pd.DataFrame, s: int, *, n: int) -> tuple[float, float]:
    """log p(y_0 | the person's x's) at draw ``s`` by Monte Carlo: person means from the
    population weighted by the density of the observed x's, each missing x_0 drawn around
    its person mean, the person effects integrated out by the normal density of y_0 given
    both; with its SE on the log scale."""
    par = _parameters(fit, s)
    rng = np.random.default_rng(s)
    w = float(rows[fit.prepared.roles["w"]].iloc[0])
    y = float(rows["y"].iloc[0])
    log_g = np.zeros(n)
    eta = np.full(n, par["b0"] + par["bw"] * w)
    z = np.zeros(n)
    for e in par["each"]:
        mu = rng.normal(e["mu0"] + e["gamma"] * w, e["tau"], n)
        seen = rows[e["x"]].to_numpy(float)
        seen = seen[~np.isnan(seen)]
        log_g += stats.norm.logpdf(seen[None, :], mu[:, None], e["sd_x"]).sum(axis=1)
        x0 = rows[e["x"]].iloc[0]
        x = rng.normal(mu, e["sd_x"]) if np.isnan(x0) else np.full(n, x0)
        b = e["within"] + e["interaction"] * w
        eta += e["between"] * (mu - e["mu0"]) + b * (x - mu)
        if e["slope"]:
            z = x - mu
    cov = par["cov"]
    var = par["sigma"] ** 2 + cov[0, 0] + 2 * cov[0, 1] * z + cov[1, 1] * z**2
    f = stats.norm.pdf(y, eta, np.sqrt(var))
    g = np.exp(log_g - log_g.max())
    ratio = (f * g).mean() / g.mean()
    se = np.sqrt(np.var(f * g - ratio * g) / n) / g.mean()
    return float(np.log(ratio)), float(se / ratio)


NEW = [
    (lambda: fake_latent_fit(n_missing=0), ("x",)),
    (lambda: fake_latent_fit(n_missing=0, slope=False), ("x",)),
    (lambda: two_predictor_fit(), ("x2",)),
    (lambda: two_predictor_fit(), ("x",)),
    (lambda: two_predictor_fit(), ("x", "x2")),
    (lambda: two_predictor_fit(slope=False), ("x2",)),
]


@pytest.mark.parametrize(("make", "missing"), NEW)
def test_a_new_persons_only_row_without_x_is_the_monte_carlo_average(make, missing):
    fit = make()
    rows = _new_person_rows(fit, missing)
    got = _new_scores(fit, rows, missing_x=True)
    assert np.all(np.isfinite(got))
    for s in (0, 7, 31):
        mc, se = brute_force_new_person(fit, rows, s, n=200_000)
        assert abs(got[s] - mc) < 4 * se + 1e-6, (s, got[s], mc, se)
    # without missing_x the row is not scored, as before (log of an empty product)
    np.testing.assert_array_equal(_new_scores(fit, rows), 0.0)


def test_a_new_persons_only_row_without_x_and_no_person_slope_is_exact():
    """Without a person slope every source is normal: y_0 ~ N(eta at the prior person mean,
    sigma^2 + tau_0^2 + beta_B^2 tau^2 + b^2 sd_x^2) when the person has no other row."""
    fit = fake_latent_fit(n_missing=0, slope=False)
    rows = _new_person_rows(fit, ("x",)).iloc[[0]].reset_index(drop=True)
    got = _new_scores(fit, rows, missing_x=True)
    w = float(rows[fit.prepared.roles["w"]].iloc[0])
    for s in range(got.size):
        par = _parameters(fit, s)
        e = par["each"][0]
        b = e["within"] + e["interaction"] * w
        mean = par["b0"] + par["bw"] * w + e["between"] * e["gamma"] * w
        var = par["sigma"] ** 2 + par["cov"][0, 0] + (e["between"] * e["tau"]) ** 2
        var += b**2 * e["sd_x"] ** 2
        want = stats.norm.logpdf(rows["y"].iloc[0], mean, np.sqrt(var))
        assert got[s] == pytest.approx(want, rel=1e-10, abs=1e-10)


def test_a_new_person_with_a_row_without_x_among_other_outcomes_is_refused():
    fit = fake_latent_fit(n_missing=0)
    rows = _new_person_rows(fit, ("x",))
    rows.loc[1, "y"] = 1.0
    with pytest.raises(ModelError, match="one row with an outcome"):
        _new_scores(fit, rows, missing_x=True)


# ------------------------------------------------------------------ a real fit
@pytest.mark.fit
def test_psis_loo_refits_rows_with_an_imputed_predictor(monkeypatch):
    from ambidex_bayes.checks import loo
    from ambidex_bayes.engine.settings import SamplerSettings
    from ambidex_bayes.model.latent_simulate import simulate_latent_panel
    from ambidex_bayes.spec import load_spec

    frame = simulate_latent_panel(10, (4, 6), seed=5)
    frame.loc[frame.index[3], "x"] = np.nan  # a row of a person with other rows
    last = frame["person"].iloc[-1]  # a person whose only row lacks x
    frame = frame[(frame["person"] != last) | (frame["day"] == frame["day"].min())]
    frame.loc[frame.index[-1], "x"] = np.nan
    prepared = prepare_panel(frame.reset_index(drop=True))
    settings = SamplerSettings(backend="nutpie", draws=100, tune=150, chains=1, seed=2)
    fit = quiet_fit(load_spec("M2"), prepared, settings)  # few draws: a low ESS
    imputed = np.flatnonzero(fit.prepared.frame["x"].isna().to_numpy())
    assert imputed.size == 2
    persons = fit.prepared.frame["person"].astype(str).to_numpy()
    assert (persons == persons[imputed[0]]).sum() > 1 and (persons == str(last)).sum() == 1
    original = loo.blocked_loo
    calls = []

    def forced(ll, reff):  # the first pass sees Pareto k above any threshold at these rows
        result = original(ll, reff)
        calls.append(1)
        if len(calls) == 1:
            k = np.zeros(result.pareto_k.shape)
            k[imputed] = 2.0
            result = dataclasses.replace(result, pareto_k=result.pareto_k.copy(data=k))
        return result

    monkeypatch.setattr(loo, "blocked_loo", forced)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        result = loo.psis_loo(fit, remedy="refit", max_refits=2, settings=settings)
    assert result.remedy == "refit"
    assert result.remedied_rows == tuple(int(i) for i in imputed)
    assert result.unresolved_rows == ()
    elpd_i = np.asarray(result.elpd.elpd_i.values)
    assert np.all(np.isfinite(elpd_i[imputed]))
    assert np.all(np.isnan(result.pareto_k_after[imputed]))
    assert not any("cannot be refitted" in note for note in result.notes)
    assert any("2 row(s) were computed exactly by refitting" in note for note in result.notes)
