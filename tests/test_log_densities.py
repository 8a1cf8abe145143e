"""The log densities of the blocked log-likelihood equal scipy's."""

from __future__ import annotations

import numpy as np
from scipy import stats

from ambidex_bayes.checks.log_likelihood import normal_logpdf, student_t_logpdf


def test_normal_and_student_t_log_densities_equal_scipy():
    rng = np.random.default_rng(5)
    y = 3.0 * rng.normal(size=80)
    mu = rng.normal(size=(50, 80))
    sigma = 0.3 + np.abs(rng.normal(size=(50, 1)))
    nu = 1.0 + 30.0 * rng.random(size=(50, 1))
    np.testing.assert_allclose(
        normal_logpdf(y, mu, sigma), stats.norm.logpdf(y, loc=mu, scale=sigma), rtol=1e-12
    )
    np.testing.assert_allclose(
        student_t_logpdf(y, mu, sigma, nu),
        stats.t.logpdf(y, df=nu, loc=mu, scale=sigma),
        rtol=1e-12,
    )
