"""The Gaussian fast path's maths against direct computations."""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
import pytest
from scipy import stats

from ambidex_bayes.model.marginal import (
    conditional_loglik,
    covariance_cholesky,
    draw_person_effects,
    marginal_loglik,
    person_statistics,
)


def _problem(q: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    J, n, p = 7, 40, 3
    person = rng.integers(0, J, n)
    person[:J] = np.arange(J)
    X = np.column_stack([np.ones(n), rng.normal(size=(n, p - 1))])
    Z = np.column_stack([np.ones(n), rng.normal(size=(n, q - 1))])
    y = rng.normal(size=n)
    beta = rng.normal(size=p)
    A = rng.normal(size=(q, q))
    cov = A @ A.T + 0.5 * np.eye(q)
    return rng, J, person, X, Z, y, beta, cov, 0.7


def test_statistics_equal_per_person_sums():
    _, J, person, X, Z, y, *_ = _problem(2)
    ss = person_statistics(X, Z, y, person, J)
    for j in range(J):
        m = person == j
        np.testing.assert_allclose(ss.ZtZ[j], Z[m].T @ Z[m])
        np.testing.assert_allclose(ss.ZtX[j], Z[m].T @ X[m])
        np.testing.assert_allclose(ss.Zty[j], Z[m].T @ y[m])
    np.testing.assert_allclose(ss.XtX, X.T @ X)
    assert ss.n_total == len(y)


@pytest.mark.parametrize("q", [1, 2, 3])
def test_marginal_loglik_equals_multivariate_normal(q):
    _, J, person, X, Z, y, beta, cov, sigma = _problem(q, seed=q)
    ss = person_statistics(X, Z, y, person, J)
    direct = 0.0
    for j in range(J):
        m = person == j
        V = sigma**2 * np.eye(m.sum()) + Z[m] @ cov @ Z[m].T
        direct += stats.multivariate_normal(X[m] @ beta, V).logpdf(y[m])
    tensors = [pt.as_tensor(v) for v in (ss.ZtZ, ss.ZtX, ss.Zty, ss.XtX, ss.Xty, ss.yty)]
    value = marginal_loglik(
        pt.as_tensor(beta),
        pt.as_tensor(np.linalg.cholesky(cov)),
        pt.as_tensor(sigma),
        *tensors,
        pt.as_tensor(float(ss.n_total)),
        q=q,
    ).eval()
    assert value == pytest.approx(direct, rel=1e-10)


def test_person_effect_draws_have_the_conditional_moments():
    rng, J, person, X, Z, y, beta, cov, sigma = _problem(2, seed=5)
    ss = person_statistics(X, Z, y, person, J)
    S = 20000
    L = np.linalg.cholesky(cov)
    u = draw_person_effects(
        ss, np.tile(beta, (S, 1)), np.tile(L, (S, 1, 1)), np.full(S, sigma), rng
    )
    j = 3
    m = person == j
    P = np.linalg.inv(cov) + Z[m].T @ Z[m] / sigma**2
    mean = np.linalg.solve(P, Z[m].T @ (y[m] - X[m] @ beta) / sigma**2)
    np.testing.assert_allclose(
        u[:, j].mean(axis=0), mean, atol=4 * np.sqrt(np.diag(np.linalg.inv(P)) / S).max()
    )
    np.testing.assert_allclose(np.cov(u[:, j].T), np.linalg.inv(P), rtol=0.05, atol=1e-3)


def test_covariance_cholesky_rebuilds_sigma():
    stds = np.array([[0.5, 0.2]])
    corr = np.array([[[1.0, -0.3], [-0.3, 1.0]]])
    L = covariance_cholesky(stds, corr)[0]
    np.testing.assert_allclose(L @ L.T, [[0.25, -0.03], [-0.03, 0.04]], atol=1e-10)


def test_conditional_loglik_is_normal_logpdf():
    rng, J, person, X, Z, y, beta, cov, sigma = _problem(2, seed=7)
    u = rng.normal(size=(1, J, 2))
    ll = conditional_loglik(y, X, Z, person, beta[None], u, np.array([sigma]))
    mu = X @ beta + (u[0, person] * Z).sum(axis=1)
    np.testing.assert_allclose(ll[0], stats.norm(mu, sigma).logpdf(y))


@pytest.mark.parametrize("q", [1, 2])
def test_closed_form_draws_equal_the_linear_algebra_route(q):
    """The elementwise draws for one or two effects equal batched LAPACK on the same normals."""
    from ambidex_bayes.model.marginal import _draw_by_linear_algebra

    rng, J, person, X, Z, y, beta, cov, sigma = _problem(q, seed=11)
    ss = person_statistics(X, Z, y, person, J)
    S = 6
    betas = beta + 0.1 * rng.normal(size=(S, len(beta)))
    chols = np.stack([np.linalg.cholesky(cov * (1 + 0.2 * s)) for s in range(S)])
    sigmas = sigma * (1 + 0.1 * np.arange(S))
    fast = draw_person_effects(ss, betas, chols, sigmas, np.random.default_rng(3))
    z = np.random.default_rng(3).standard_normal((S, J, q))
    slow = _draw_by_linear_algebra(ss, betas, chols, sigmas, z)
    np.testing.assert_allclose(fast, slow, rtol=1e-10, atol=1e-12)


def _hyperparameter_draws(seed: int, chains: int, draws: int):
    """A two-effect design and fake hyperparameter draws around the problem's truth."""
    from ambidex_bayes.model.marginal import MarginalDesign

    rng, J, person, X, Z, y, beta, cov, sigma = _problem(2, seed=seed)
    design = MarginalDesign(
        X=X,
        Z=Z,
        y=y,
        person=person,
        levels=[str(j) for j in range(J)],
        fixed_names=["a", "b", "c"],
        group_names=["u0", "u1"],
        factor="p",
        response="y",
        stats=person_statistics(X, Z, y, person, J),
    )
    shape = (chains, draws)
    posterior = {n: beta[k] + 0.05 * rng.normal(size=shape) for k, n in enumerate("abc")}
    posterior |= {"u0_sigma": rng.uniform(0.3, 0.8, shape), "u1_sigma": np.full(shape, 0.3)}
    posterior["sigma"] = np.full(shape, sigma)
    return design, posterior


def test_person_effect_draws_depend_on_the_chunk_size_only_by_rounding():
    from ambidex_bayes.model.marginal import complete_posterior

    design, posterior = _hyperparameter_draws(seed=13, chains=2, draws=5)
    corr = np.broadcast_to(np.array([[1.0, 0.2], [0.2, 1.0]]), (2, 5, 2, 2))
    runs = [
        complete_posterior(
            posterior,
            design,
            corr=corr,
            rng=np.random.default_rng(5),
            log_likelihood=True,
            chunk=chunk,
        )
        for chunk in (1, 3, None)
    ]
    for effects, loglik in runs[1:]:
        for name in ("u0", "u1"):
            np.testing.assert_allclose(effects[name], runs[0][0][name], rtol=1e-12)
        np.testing.assert_allclose(loglik, runs[0][1], rtol=1e-12)


def test_threaded_completion_gives_the_same_draws(monkeypatch):
    from ambidex_bayes.model import marginal

    design, posterior = _hyperparameter_draws(seed=17, chains=3, draws=20)

    def run():
        return marginal.complete_posterior(
            posterior,
            design,
            corr=None,
            rng=np.random.default_rng(2),
            log_likelihood=True,
            chunk=4,
        )

    serial = run()
    monkeypatch.setattr(marginal, "_THREADS_FROM", 0)
    monkeypatch.setattr(marginal, "_worker_threads", lambda: 3)
    threaded = run()
    for name in ("u0", "u1"):
        np.testing.assert_array_equal(threaded[0][name], serial[0][name])
    np.testing.assert_array_equal(threaded[1], serial[1])
