"""The fast path's person effects come back as one contiguous block per effect.

A saved fit holds each person effect as one contiguous array; draws held as strided views
of a shared array had to be copied on every save. The blocks must still be the draws the
log-likelihood was computed from, in the order of the group names.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_marginal import _hyperparameter_draws

from ambidex_bayes.model import marginal


@pytest.mark.parametrize("threads", [1, 3])
def test_person_effects_are_contiguous_and_match_the_log_likelihood(monkeypatch, threads):
    design, posterior = _hyperparameter_draws(seed=23, chains=3, draws=8)
    if threads > 1:
        monkeypatch.setattr(marginal, "_THREADS_FROM", 0)
        monkeypatch.setattr(marginal, "_worker_threads", lambda: threads)
    corr = np.broadcast_to(np.array([[1.0, -0.3], [-0.3, 1.0]]), (3, 8, 2, 2))
    effects, loglik = marginal.complete_posterior(
        posterior, design, corr=corr, rng=np.random.default_rng(4), log_likelihood=True, chunk=5
    )
    J = len(design.levels)
    assert list(effects) == design.group_names
    for values in effects.values():
        assert values.shape == (3, 8, J)
        assert values.flags.c_contiguous
    # the stored effects, stacked back per draw, give the log-likelihood computed with them
    u = np.stack([effects[n].reshape(24, J) for n in design.group_names], axis=-1)
    beta = np.stack([posterior[n].reshape(24) for n in design.fixed_names], axis=1)
    sigma = posterior["sigma"].reshape(24)
    expected = marginal.conditional_loglik(
        design.y, design.X, design.Z, design.person, beta, u, sigma
    )
    np.testing.assert_array_equal(loglik.reshape(24, -1), expected)
    # and the two effects are not the same block twice
    assert not np.array_equal(effects["u0"], effects["u1"])
