"""Scores of new persons for latent-centred fits, against answers computed another way.

Fake latent fits (known draws on a small panel, :func:`test_latent_checks.fake_latent_fit`,
and one with two level-1 predictors built here) are scored as new persons and compared with

- without a person slope: the exact conditional density :math:`p(y_j \\mid x_j)` of the
  joint normal of the person's predictor values and outcomes, built from the model's sources
  (person means, within deviations, person intercept, residuals) and evaluated with scipy;
- with a person slope: a brute-force Monte Carlo ratio
  :math:`E[p(y \\mid x, \\mu, u)\\,p(x \\mid \\mu)] / E[p(x \\mid \\mu)]` over the population
  distribution of the person means and effects, within its Monte Carlo error;
- as the within SD of the predictor goes to 0: the observed-centring score with the person's
  observed mean plugged in.

One small real latent fit runs through leave-persons-out K-fold and a single-row refit.
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
from test_latent_checks import CHAINS, DRAWS, fake_latent_fit, latent_terms

from ambidex_bayes.checks.latent_new_person import GH_NODES, latent_new_person_scores
from ambidex_bayes.checks.log_likelihood import (
    new_person_log_density,
    person_covariance,
    rows_by_person,
    scalar_draws,
)
from ambidex_bayes.model.latent_data import LatentNames

SHAPE = (CHAINS, DRAWS)


# ------------------------------------------------------------------ fakes
def _posterior(fit) -> xr.Dataset:
    return fit.idata["posterior"].to_dataset()


def _with(fit, **values: float | np.ndarray) -> SimpleNamespace:
    """``fit`` with scalar posterior variables set (a number, or draws of shape SHAPE)."""
    post = _posterior(fit).copy()
    for name, value in values.items():
        post[name] = (("chain", "draw"), np.broadcast_to(np.asarray(value, float), SHAPE).copy())
    return SimpleNamespace(**{**vars(fit), "idata": xr.DataTree.from_dict({"posterior": post})})


def _moderated(fit) -> SimpleNamespace:
    """The fake fit with a moderator effect on the latent person means (``x_mu:{w}``)."""
    w = fit.prepared.roles["w"]
    rng = np.random.default_rng(5)
    return _with(fit, **{f"x_mu:{w}": rng.normal(0.3, 0.05, SHAPE)})


def _x_only_days(fit) -> pd.DataFrame:
    """The fitted rows with a few outcomes removed (days that inform the person means only)."""
    rows = fit.prepared.frame.reset_index(drop=True).copy()
    gone = np.random.default_rng(9).choice(len(rows), size=6, replace=False)
    rows.loc[gone, "y"] = np.nan
    return rows


def two_predictor_fit(*, slope: bool = True, seed: int = 1) -> SimpleNamespace:
    """A fake latent fit with two level-1 predictors ``x`` and ``x2``, the person slope (if
    any) on ``x2``, a moderator effect on both person means."""
    rng = np.random.default_rng(seed)
    base = fake_latent_fit(n_missing=0, slope=False, seed=seed)
    frame = base.prepared.frame.reset_index(drop=True).copy()
    persons = frame["person"].astype(str)
    offset = persons.map({p: rng.normal(0, 0.7) for p in persons.unique()})
    frame["x2"] = 1.0 + offset.to_numpy() + rng.normal(0, 0.8, len(frame))
    frame.loc[rng.choice(len(frame), size=4, replace=False), "x2"] = np.nan
    prepared = dataclasses.replace(base.prepared, frame=frame)
    w = prepared.roles["w"]
    nm = LatentNames(x="x", y="y", person="person", w=w, others=("x2",))
    post = _posterior(base)
    s = nm.of("x2")
    draws = {
        "x2_mu_mean": rng.normal(1.0, 0.1, SHAPE),
        "x2_mu_sd": np.abs(rng.normal(0.7, 0.05, SHAPE)),
        "x2_within_sd": np.abs(rng.normal(0.8, 0.05, SHAPE)),
        s.within: rng.normal(-0.3, 0.05, SHAPE),
        s.between: rng.normal(0.4, 0.1, SHAPE),
        s.interaction: rng.normal(-0.1, 0.05, SHAPE),
        f"x_mu:{w}": rng.normal(0.3, 0.05, SHAPE),
        f"x2_mu:{w}": rng.normal(-0.2, 0.05, SHAPE),
    }
    if slope:
        draws[f"{s.slope_effect}_sigma"] = np.abs(rng.normal(0.3, 0.03, SHAPE))
        draws[s.correlation] = rng.uniform(-0.5, 0.5, SHAPE)
    for name, value in draws.items():
        post[name] = (("chain", "draw"), value)
    post["x2_mu"] = (("chain", "draw", nm.person_dim), rng.normal(1.0, 0.7, post["x_mu"].shape))
    terms = latent_terms(nm, slope=slope, slope_on=s)
    return SimpleNamespace(
        **{
            **vars(base),
            "prepared": prepared,
            "terms": terms,
            "idata": xr.DataTree.from_dict({"posterior": post}),
            "meta": {"centring": "latent", "latent_names": {"predictors": ["x", "x2"]}},
        }
    )


# ------------------------------------------------------------------ hand computations
def _draw(post: xr.Dataset, name: str, s: int, default: float = 0.0) -> float:
    if name not in post.data_vars:
        return default
    return float(post[name].transpose("chain", "draw").values.reshape(-1)[s])


def _parameters(fit, s: int) -> dict:
    """Draw ``s`` of everything the outcome and predictor models use."""
    post = _posterior(fit)
    w = fit.prepared.roles["w"]
    predictors = (fit.meta.get("latent_names") or {}).get("predictors") or ["x"]
    each = []
    for x in predictors:
        each.append(
            {
                "x": x,
                "mu0": _draw(post, f"{x}_mu_mean", s),
                "tau": _draw(post, f"{x}_mu_sd", s),
                "sd_x": _draw(post, f"{x}_within_sd", s),
                "gamma": _draw(post, f"{x}_mu:{w}", s),
                "between": _draw(post, f"{x}_pm", s),
                "within": _draw(post, f"{x}_cw", s),
                "interaction": _draw(post, f"{x}_cw:{w}", s),
                "slope": fit.terms.group_slope == f"{x}_cw|person",
            }
        )
    t = fit.terms
    tau0 = _draw(post, t.group_intercept_sd, s)
    tau1 = _draw(post, t.group_slope_sd, s) if t.group_slope_sd else 0.0
    rho = _draw(post, t.correlation, s) if t.correlation else 0.0
    return {
        "each": each,
        "b0": _draw(post, "Intercept", s),
        "bw": _draw(post, w, s),
        "sigma": _draw(post, "sigma", s),
        "cov": np.array([[tau0**2, rho * tau0 * tau1], [rho * tau0 * tau1, tau1**2]]),
    }


def _person(rows: pd.DataFrame, person: str, w: str):
    """The person's predictor values (rows, P), outcomes, moderator and scored rows."""
    part = rows[rows["person"].astype(str) == person]
    return part, float(part[w].iloc[0])


def joint_normal_log_density(fit, rows: pd.DataFrame, person: str, s: int) -> float:
    """log p(y | x) of one person at draw ``s`` without a person slope, from the joint normal
    of (observed x, scored y) built from the model's independent sources."""
    par = _parameters(fit, s)
    w_name = fit.prepared.roles["w"]
    part, w = _person(rows, person, w_name)
    xs = part[[e["x"] for e in par["each"]]].to_numpy(float)
    y = part["y"].to_numpy(float)
    scored = np.flatnonzero(~np.isnan(y) & ~np.isnan(xs).any(axis=1))
    seen = [(i, p) for i in range(len(part)) for p in range(xs.shape[1]) if not np.isnan(xs[i, p])]
    P = xs.shape[1]
    # sources: mu_p (P), e_(i,p) per observed x, u0, eps per scored row
    n_src = P + len(seen) + 1 + scored.size
    mean = np.zeros(n_src)
    var = np.zeros(n_src)
    for p, e in enumerate(par["each"]):
        mean[p] = e["mu0"] + e["gamma"] * w
        var[p] = e["tau"] ** 2
    for k, (_, p) in enumerate(seen):
        var[P + k] = par["each"][p]["sd_x"] ** 2
    var[P + len(seen)] = par["cov"][0, 0]
    var[P + len(seen) + 1 :] = par["sigma"] ** 2
    A = np.zeros((len(seen) + scored.size, n_src))
    c = np.zeros(len(seen) + scored.size)
    for k, (_, p) in enumerate(seen):
        A[k, p] = 1.0
        A[k, P + k] = 1.0
    for r, i in enumerate(scored):
        row = len(seen) + r
        c[row] = par["b0"] + par["bw"] * w
        for p, e in enumerate(par["each"]):
            b = e["within"] + e["interaction"] * w
            A[row, p] = e["between"]
            c[row] -= e["between"] * e["mu0"]
            A[row, P + seen.index((i, p))] = b  # x - mu = e
        A[row, P + len(seen)] = 1.0
        A[row, P + len(seen) + 1 + r] = 1.0
    m = A @ mean + c
    V = A @ np.diag(var) @ A.T
    values = np.concatenate([[xs[i, p] for i, p in seen], y[scored]])
    nx = len(seen)
    joint = stats.multivariate_normal(m, V).logpdf(values)
    marginal = stats.multivariate_normal(m[:nx], V[:nx, :nx]).logpdf(values[:nx])
    return float(joint - marginal)


def monte_carlo_log_density(
    fit, rows: pd.DataFrame, person: str, s: int, *, n: int, seed: int
) -> tuple[float, float]:
    """Brute-force log p(y | x) of one person at draw ``s`` and its Monte Carlo SE: person
    means drawn from the population, weighted by the density of the person's observed x's
    (a ratio of two Monte Carlo means), the person effects integrated out by the normal
    density of the outcomes given each drawn mean (numpy's determinant and solve)."""
    par = _parameters(fit, s)
    rng = np.random.default_rng(seed)
    part, w = _person(rows, person, fit.prepared.roles["w"])
    xs = part[[e["x"] for e in par["each"]]].to_numpy(float)
    y = part["y"].to_numpy(float)
    scored = ~np.isnan(y) & ~np.isnan(xs).any(axis=1)
    k = int(scored.sum())
    log_g = np.zeros(n)
    eta = np.full((n, k), par["b0"] + par["bw"] * w)
    z = np.ones((n, k, 2))
    for p, e in enumerate(par["each"]):
        mu = rng.normal(e["mu0"] + e["gamma"] * w, e["tau"], n)
        seen = xs[~np.isnan(xs[:, p]), p]
        log_g += stats.norm.logpdf(seen[None, :], mu[:, None], e["sd_x"]).sum(axis=1)
        c = xs[scored, p][None, :] - mu[:, None]
        b = e["within"] + e["interaction"] * w
        eta += e["between"] * (mu - e["mu0"])[:, None] + b * c
        if e["slope"]:
            z[:, :, 1] = c
    v = par["sigma"] ** 2 * np.eye(k) + np.einsum("mia,ab,mjb->mij", z, par["cov"], z)
    r = y[scored][None, :] - eta
    _, logdet = np.linalg.slogdet(v)
    quad = np.einsum("mi,mi->m", r, np.linalg.solve(v, r[..., None])[..., 0])
    log_f = -0.5 * (k * np.log(2 * np.pi) + logdet + quad)
    shift = log_g.max()
    g = np.exp(log_g - shift)
    h = np.exp(log_f + log_g - shift)
    ratio = h.mean() / g.mean()
    se = np.sqrt(np.var(h - ratio * g) / n) / g.mean()
    return float(np.log(ratio)), float(se / ratio)


def _scores(fit, rows: pd.DataFrame, nodes: int | None = None) -> dict[str, np.ndarray]:
    post = _posterior(fit)
    cov, _ = person_covariance(fit, post)
    return latent_new_person_scores(
        fit,
        post,
        rows.reset_index(drop=True),
        sigma=scalar_draws(post, fit.terms.sigma, "residual SD"),
        cov=cov,
        by_person=rows_by_person(rows.reset_index(drop=True), "person"),
        nodes=nodes,
    )


# ------------------------------------------------------------------ tests
@pytest.mark.parametrize("q", [0, 1, 2])
def test_the_person_density_is_the_multivariate_normal(q):
    from ambidex_bayes.checks.person_gaussian import person_log_density, person_solve

    rng = np.random.default_rng(q)
    n, draws = 6, 5
    z = rng.normal(size=(draws, n, q))
    if q:
        z[..., 0] = 1.0
    root = rng.normal(size=(draws, q, q))
    cov = root @ np.swapaxes(root, -1, -2)
    if q == 2:
        cov[1] = np.diag([0.3, 0.0])  # a singular covariance (a slope SD of 0)
    sigma2 = rng.uniform(0.2, 1.0, draws)
    r = rng.normal(size=(draws, n))
    x = rng.normal(size=(draws, n, 3))
    density = person_log_density(r, z, cov, sigma2)
    solved = person_solve(x, z, cov, sigma2)
    for d in range(draws):
        v = sigma2[d] * np.eye(n) + z[d] @ cov[d] @ z[d].T
        hand = stats.multivariate_normal(np.zeros(n), v).logpdf(r[d])
        assert density[d] == pytest.approx(hand, abs=1e-10)
        np.testing.assert_allclose(solved[d], np.linalg.solve(v, x[d]), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("moderated", [False, True])
def test_without_a_person_slope_the_score_is_the_exact_conditional_normal(moderated):
    fit = fake_latent_fit(slope=False)
    fit = _moderated(fit) if moderated else fit
    rows = _x_only_days(fit)  # also rows whose predictor is missing (not scored)
    scores = _scores(fit, rows)
    persons = list(scores)[:4]
    for person in persons:
        for s in (0, 7, 33, 59):
            hand = joint_normal_log_density(fit, rows, person, s)
            assert scores[person][s] == pytest.approx(hand, abs=1e-8)
    table = new_person_log_density(fit, rows, original_scale=False)
    assert table.attrs["method"] == "exact"
    np.testing.assert_allclose(table.loc[persons[0]].to_numpy(), scores[persons[0]], atol=1e-12)


def test_two_predictors_without_a_person_slope_are_exact():
    fit = two_predictor_fit(slope=False)
    rows = _x_only_days(fit)
    scores = _scores(fit, rows)
    for person in list(scores)[:3]:
        for s in (1, 40):
            hand = joint_normal_log_density(fit, rows, person, s)
            assert scores[person][s] == pytest.approx(hand, abs=1e-8)


def test_quadrature_is_exact_when_the_person_slopes_do_not_vary():
    fit = _moderated(fake_latent_fit(slope=True))
    fit = _with(fit, **{f"{fit.terms.group_slope}_sigma": 0.0})
    rows = _x_only_days(fit)
    scores = _scores(fit, rows, nodes=3)  # adaptive nodes: exact at any number
    for person in list(scores)[:3]:
        for s in (2, 45):
            hand = joint_normal_log_density(fit, rows, person, s)
            assert scores[person][s] == pytest.approx(hand, abs=1e-8)


@pytest.mark.parametrize("make", ["one", "two"])
def test_with_a_person_slope_the_score_matches_brute_force_monte_carlo(make):
    if make == "one":
        fit = _moderated(fake_latent_fit(slope=True))
        fit = _with(fit, **{f"{fit.terms.group_slope}_sigma": 0.6})  # a strong product term
    else:
        fit = two_predictor_fit(slope=True)
    # an intercept near the panel's (0), so that drawing person means from the population
    # is an efficient brute force
    fit = _with(fit, Intercept=0.0)
    rows = _x_only_days(fit)
    scores = _scores(fit, rows)
    checked = 0
    for k, person in enumerate(list(scores)[:3]):
        for s in (3, 50):
            mc, se = monte_carlo_log_density(fit, rows, person, s, n=200_000, seed=10 * k + s)
            assert se < 0.02
            assert abs(scores[person][s] - mc) < 4.5 * se + 1e-9, (person, s, mc, se)
            checked += 1
    assert checked == 6
    # the slope matters: the score differs from the same fit without person slopes
    flat = _with(fit, **{f"{fit.terms.group_slope}_sigma": 0.0})
    assert np.max(np.abs(_scores(flat, rows)[person] - scores[person])) > 1e-3


@pytest.mark.parametrize("intercept", [None, 0.0])
def test_more_quadrature_nodes_change_nothing(intercept):
    fit = _moderated(fake_latent_fit(slope=True))
    # person slopes that vary strongly (their SD times the within SD of x above sigma),
    # with draws that fit the outcomes badly (the fake intercept 3) or well (0)
    fit = _with(fit, **{f"{fit.terms.group_slope}_sigma": 0.6})
    if intercept is not None:
        fit = _with(fit, Intercept=intercept)
    rows = _x_only_days(fit)
    default = _scores(fit, rows)
    double = _scores(fit, rows, nodes=2 * GH_NODES)
    few = _scores(fit, rows, nodes=2)
    gap = max(np.max(np.abs(default[p] - double[p])) for p in default)
    assert gap < 1e-6
    # and the check can fail: two nodes are visibly off
    assert max(np.max(np.abs(few[p] - double[p])) for p in default) > 10 * gap


def test_a_tiny_within_sd_gives_the_observed_centring_score():
    fit = _moderated(fake_latent_fit(slope=True, n_missing=0))
    fit = _with(fit, x_within_sd=1e-6)
    rows = fit.prepared.frame.reset_index(drop=True)
    scores = _scores(fit, rows)
    post = _posterior(fit)
    for person in list(scores)[:3]:
        for s in (4, 21):
            par = _parameters(fit, s)
            e = par["each"][0]
            part, w = _person(rows, person, fit.prepared.roles["w"])
            x = part["x"].to_numpy(float)
            y = part["y"].to_numpy(float)
            xbar = x.mean()
            b = e["within"] + e["interaction"] * w
            m = par["b0"] + par["bw"] * w + e["between"] * (xbar - e["mu0"]) + b * (x - xbar)
            z = np.column_stack([np.ones_like(x), x - xbar])
            v = par["sigma"] ** 2 * np.eye(x.size) + z @ par["cov"] @ z.T
            hand = stats.multivariate_normal(m, v).logpdf(y)
            assert scores[person][s] == pytest.approx(hand, abs=1e-6)
    assert post.sizes["draw"] == DRAWS


def test_persons_without_a_scored_row_and_without_a_moderator():
    fit = fake_latent_fit(slope=True)
    rows = fit.prepared.frame.reset_index(drop=True).copy()
    first = rows["person"].astype(str).iloc[0]
    rows.loc[rows["person"].astype(str) == first, "y"] = np.nan
    table = new_person_log_density(fit, rows)
    assert (table.loc[first] == 0).all()
    assert table.attrs["n_rows"][first] == 0
    w = fit.prepared.roles["w"]
    rows.loc[rows["person"].astype(str) == first, w] = np.nan
    from ambidex_bayes.errors import ModelError

    with pytest.raises(ModelError, match="has no value of the moderator"):
        new_person_log_density(fit, rows)


def test_the_scores_of_a_person_do_not_depend_on_the_other_persons():
    fit = fake_latent_fit(slope=True)
    rows = _x_only_days(fit)
    everyone = _scores(fit, rows)
    person = list(everyone)[2]
    alone = _scores(fit, rows[rows["person"].astype(str) == person])
    np.testing.assert_array_equal(alone[person], everyone[person])
    assert np.all(special.logsumexp(everyone[person]) > -np.inf)


# ------------------------------------------------------------------ a real fit
@pytest.mark.fit
def test_a_latent_fit_runs_through_kfold_and_a_single_row_refit():
    from ambidex_bayes.checks.kfold import fold_tasks, kfold_by_person, person_folds
    from ambidex_bayes.checks.loo import _refit_row_log_density
    from ambidex_bayes.engine.settings import SamplerSettings
    from ambidex_bayes.model.latent_simulate import simulate_latent_panel
    from ambidex_bayes.spec import load_spec

    frame = simulate_latent_panel(14, (4, 7), seed=3, missing_x=0.05, missing_y=0.05)
    last = frame["person"].iloc[-1]
    frame = frame[(frame["person"] != last) | (frame["day"] == frame["day"].min())]
    prepared = prepare_panel(frame.reset_index(drop=True))
    settings = SamplerSettings(backend="nutpie", draws=100, tune=150, chains=1, seed=2)
    fit = quiet_fit(load_spec("M2"), prepared, settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # few draws: ESS warnings expected
        persons = fit.prepared.frame["person"].astype(str)
        tasks = fold_tasks(fit, person_folds(persons, 2, seed=1), settings=settings)
        assert {t["centring"] for t in tasks} == {"latent"}
        n_all = len(fit.prepared.frame) + len(fit.prepared.partial_rows)
        assert sum(len(t["test"]) for t in tasks) == n_all
        result = kfold_by_person(fit, k=2, settings=settings, seed=1)
        only = int(np.flatnonzero(persons.to_numpy() == str(last))[0])
        single = _refit_row_log_density(fit, only, settings=settings, cache_dir=False)
    assert result.method == "gauss-hermite"
    assert np.isfinite(result.elpd.elpd) and np.isfinite(result.persons["elpd"]).all()
    assert result.persons["n_rows"].sum() == int(
        (fit.prepared.frame["x"].notna() & fit.prepared.frame["y"].notna()).sum()
    )
    assert result.persons.loc[result.persons["person"] == str(last), "n_rows"].item() == 1
    assert np.isfinite(single)
