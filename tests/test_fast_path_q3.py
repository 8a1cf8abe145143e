"""The Gaussian fast path at q = 3 (intercept and two correlated slopes) gives the same
posterior as full NUTS, within Monte Carlo error.

The q = 2 agreement is checked in test_fast_path.py; at q = 3 the marginal likelihood and
the person-effect draws take their entry-by-entry branch (no closed form; checked here
against the multivariate normal and the batched Cholesky route, value and gradient), the
correlation is PyMC's ``LKJCorr`` rather than the Beta of q = 2, and three correlations
``corr(a,b)`` are reported.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytensor
import pytensor.tensor as pt
import pytest
from scipy import stats

import ambidex_bayes.model.marginal as marginal
from ambidex_bayes.data import ColumnMapping, load_diary
from ambidex_bayes.diagnostics import ConvergenceWarning
from ambidex_bayes.fit import SamplerSettings, fit
from ambidex_bayes.model.build import build_model
from ambidex_bayes.prepare import prepare
from ambidex_bayes.spec import ModelSpec

#: Two level-1 predictors, each split within/between, both with correlated person slopes.
Q3_SPEC = ModelSpec.from_dict(
    {
        "name": "Q3",
        "formula": "{y} ~ 1 + {x0_within} + {x1_within} + {x0_between} + {x1_between}"
        " + ({x0_within} + {x1_within} | {person})",
    }
)


def _q3_study(n_persons: int = 50, n_diaries: int = 6, seed: int = 3) -> pd.DataFrame:
    """Diaries with two daily predictors whose effects vary by person (correlated)."""
    rng = np.random.default_rng(seed)
    cov = np.array([[0.5, 0.1, -0.05], [0.1, 0.3, 0.05], [-0.05, 0.05, 0.2]])
    u = rng.multivariate_normal(np.zeros(3), cov, size=n_persons)
    means = rng.normal(0.0, 0.5, size=(n_persons, 2))
    person = np.repeat(np.arange(n_persons), n_diaries)
    x = means[person] + rng.standard_normal((len(person), 2))
    y = (
        1.0
        + u[person, 0]
        + (0.4 + u[person, 1]) * x[:, 0]
        + (-0.3 + u[person, 2]) * x[:, 1]
        + 0.2 * means[person, 0]
        + rng.normal(0.0, 0.7, len(person))
    )
    return pd.DataFrame({"pid": [f"p{j}" for j in person], "x1": x[:, 0], "x2": x[:, 1], "y": y})


def _problem(q: int, seed: int):
    """A small design with q person effects, a covariance and fixed effects."""
    rng = np.random.default_rng(seed)
    J, n, p = 6, 40, 3
    person = rng.integers(0, J, n)
    person[:J] = np.arange(J)
    X = np.column_stack([np.ones(n), rng.normal(size=(n, p - 1))])
    Z = np.column_stack([np.ones(n), rng.normal(size=(n, q - 1))])
    y = rng.normal(size=n)
    A = rng.normal(size=(q, q))
    cov = A @ A.T + 0.5 * np.eye(q)
    ss = marginal.person_statistics(X, Z, y, person, J)
    return rng, person, X, Z, y, rng.normal(size=p), cov, 0.7, ss


def _loglik_and_gradient(ss, beta, chol, sigma, q):
    """The marginal log-likelihood and its gradient in (beta, chol, sigma), compiled."""
    b, L, s = pt.dvector("b"), pt.dmatrix("L"), pt.dscalar("s")
    data = [pt.as_tensor(v) for v in (ss.ZtZ, ss.ZtX, ss.Zty, ss.XtX, ss.Xty, ss.yty)]
    value = marginal.marginal_loglik(b, L, s, *data, pt.as_tensor(float(ss.n_total)), q=q)
    grads = pt.grad(value, [b, L, s])
    return list(pytensor.function([b, L, s], [value, *grads])(beta, chol, sigma))


@pytest.mark.parametrize("q", [3, 4])
def test_unrolled_marginal_loglik_equals_multivariate_normal(q):
    _, person, X, Z, y, beta, cov, sigma, ss = _problem(q, seed=q)
    direct = sum(
        stats.multivariate_normal(
            X[m] @ beta, sigma**2 * np.eye(m.sum()) + Z[m] @ cov @ Z[m].T
        ).logpdf(y[m])
        for m in (person == j for j in range(ss.ZtZ.shape[0]))
    )
    value, *_ = _loglik_and_gradient(ss, beta, np.linalg.cholesky(cov), sigma, q)
    assert value == pytest.approx(direct, rel=1e-10)


@pytest.mark.parametrize("q", [3, 4])
def test_unrolled_and_batched_routes_agree_with_their_gradients(q, monkeypatch):
    """The entry-by-entry algebra gives the batched Cholesky route's value and gradient."""
    assert q <= marginal.UNROLLED_MAX_Q
    _, _, _, _, _, beta, cov, sigma, ss = _problem(q, seed=10 + q)
    chol = np.linalg.cholesky(cov)
    unrolled = _loglik_and_gradient(ss, beta, chol, sigma, q)
    monkeypatch.setattr(marginal, "UNROLLED_MAX_Q", 2)
    batched = _loglik_and_gradient(ss, beta, chol, sigma, q)
    # the model's factor is lower triangular: the batched route's solves also read (and
    # differentiate) the upper triangle, the written-out route only the lower one
    unrolled[2], batched[2] = np.tril(unrolled[2]), np.tril(batched[2])
    assert np.all(unrolled[2][np.tril_indices(q)] != 0)
    for a, b in zip(unrolled, batched, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("q", [3, 4])
def test_unrolled_draws_equal_the_linear_algebra_route(q):
    """Person-effect draws for q > 2 written out entry by entry equal batched LAPACK."""
    rng, _, _, _, _, beta, cov, sigma, ss = _problem(q, seed=20 + q)
    S, J = 5, ss.ZtZ.shape[0]
    betas = beta + 0.1 * rng.normal(size=(S, len(beta)))
    chols = np.stack([np.linalg.cholesky(cov * (1 + 0.2 * s)) for s in range(S)])
    sigmas = sigma * (1 + 0.1 * np.arange(S))
    fast = marginal.draw_person_effects(ss, betas, chols, sigmas, np.random.default_rng(3))
    z = np.random.default_rng(3).standard_normal((S, J, q))
    slow = marginal._draw_by_linear_algebra(ss, betas, chols, sigmas, z)
    np.testing.assert_allclose(fast, slow, rtol=1e-10, atol=1e-12)


@pytest.fixture(scope="module")
def q3_prepared():
    mapping = ColumnMapping.from_dict({"person": "pid", "outcome": "y", "level1": ["x1", "x2"]})
    return prepare(load_diary(_q3_study(), mapping))


def test_q3_fast_path_integrates_three_correlated_effects(q3_prepared):
    built = build_model(Q3_SPEC, q3_prepared, marginal=True)
    free = {rv.name for rv in built.pymc_model.free_RVs}
    assert free == {
        "Intercept",
        "x1_cw",
        "x2_cw",
        "x1_pm",
        "x2_pm",
        "1|pid_sigma",
        "x1_cw|pid_sigma",
        "x2_cw|pid_sigma",
        "_pid_corr",
        "sigma",
    }
    assert built.marginal.group_names == ["1|pid", "x1_cw|pid", "x2_cw|pid"]
    assert built.marginal.stats.ZtZ.shape == (50, 3, 3)
    names = {v.name for v in built.pymc_model.deterministics}
    assert {
        "corr(1|pid,x1_cw|pid)",
        "corr(1|pid,x2_cw|pid)",
        "corr(x1_cw|pid,x2_cw|pid)",
    } <= names


@pytest.mark.slow
def test_q3_fast_path_agrees_with_full_nuts(q3_prepared):
    import arviz_stats as azs

    settings = dict(backend="pymc", draws=1000, tune=1000, chains=2, seed=23)
    runs = {}
    for fast in (False, True):
        with warnings.catch_warnings():
            # full NUTS over 150 person effects mixes slowly: a low ESS is expected here, and
            # the comparison below scales every gap by the Monte Carlo SE it implies
            warnings.simplefilter("ignore", ConvergenceWarning)
            runs[fast] = fit(
                Q3_SPEC,
                q3_prepared,
                settings=SamplerSettings(**settings, fast_path=fast),
                cache_dir=False,
                progressbar=False,
                verbose=False,
                rescue=False,
            )
    full, quick = runs[False], runs[True]
    assert quick.meta["method"].startswith("fast path")
    assert full.meta["method"].startswith("full NUTS")
    assert set(full.posterior.data_vars) == set(quick.posterior.data_vars)
    assert {"corr(1|pid,x1_cw|pid)", "corr(1|pid,x2_cw|pid)", "corr(x1_cw|pid,x2_cw|pid)"} <= set(
        quick.posterior.data_vars
    )
    failures = []
    for name in full.posterior.data_vars:
        a, b = full.posterior[name], quick.posterior[name]
        assert a.dims == b.dims, name
        mean_gap = np.abs(a.mean(("chain", "draw")) - b.mean(("chain", "draw"))).values
        mean_err = np.sqrt(azs.mcse(a, method="mean") ** 2 + azs.mcse(b, method="mean") ** 2).values
        sd_gap = np.abs(a.std(("chain", "draw")) - b.std(("chain", "draw"))).values
        sd_err = np.sqrt(azs.mcse(a, method="sd") ** 2 + azs.mcse(b, method="sd") ** 2).values
        # 4.5 standard errors: about one false alarm in 150,000 comparisons (here ~330)
        if np.any(mean_gap > 4.5 * mean_err) or np.any(sd_gap > 4.5 * sd_err):
            failures.append(
                (name, float(np.max(mean_gap / mean_err)), float(np.max(sd_gap / sd_err)))
            )
    assert not failures, f"posterior means/SDs differ beyond Monte Carlo error: {failures}"
    # the fast path mixes better over the hyperparameters
    assert quick.convergence.min_ess_bulk > full.convergence.min_ess_bulk
