r"""The correlated person effects keep their prior: SDs as specified, LKJ(eta) correlation.

The SDs and the correlation's Cholesky factor are sampled apart (see
:func:`ambidex_bayes.model.build.correlation_cholesky`). Under :math:`\mathrm{LKJ}(\eta)` on
a q x q correlation matrix every correlation is marginally :math:`2B - 1` with
:math:`B \sim \mathrm{Beta}(a, a)`, :math:`a = \eta - 1 + q/2`: mean 0, variance
:math:`1/(2a + 1)`. Both the forward draws of the built model and NUTS draws of the
log density (which checks the density and the Jacobian of the unconstrained transform) are
compared with that.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest
from scipy import stats

from ambidex_bayes.model.build import build_model, correlation_cholesky
from ambidex_bayes.spec import ModelSpec, load_spec


def _lkj_marginal(eta: float, q: int) -> stats.rv_continuous:
    a = eta - 1.0 + q / 2.0
    return stats.beta(a, a, loc=-1.0, scale=2.0)


def _prior_draws(built, draws: int, seed: int):
    with built.pymc_model:
        prior = pm.sample_prior_predictive(draws=draws, random_seed=seed)
    return prior["prior"].to_dataset()


@pytest.mark.parametrize("prior_data", [False, True])
def test_m3_prior_of_sds_and_correlation_is_unchanged(small_prepared, prior_data):
    built = build_model(load_spec("M3"), small_prepared, prior_data=prior_data)
    prior = _prior_draws(built, 4000, seed=3)
    corr = prior[built.terms.correlation].values.ravel()
    assert stats.kstest(corr, _lkj_marginal(2.0, 2).cdf).pvalue > 1e-3
    for name in (built.terms.group_intercept_sd, built.terms.group_slope_sd):
        scale = float(built.priors[name]["prior"].split("sigma=")[1].rstrip(")"))
        draws = prior[name].values.ravel()
        assert stats.kstest(draws, stats.halfnorm(scale=scale).cdf).pvalue > 1e-3, name


def test_prior_of_three_correlated_effects_is_lkj(small_prepared):
    spec = ModelSpec.from_dict(
        {
            "name": "Q3",
            "formula": "{y} ~ 1 + {x_within} + {x_between} + (1 + {x_within} + {x_between} | {person})",
            "priors": {"corr": {"dist": "LKJ", "eta": 3.0}},
        }
    )
    built = build_model(spec, small_prepared)
    assert "_person_id_corr" in built.pymc_model.named_vars
    prior = _prior_draws(built, 4000, seed=4)
    names = [n for n in prior.data_vars if str(n).startswith("corr(")]
    assert len(names) == 3
    for name in names:
        assert stats.kstest(prior[name].values.ravel(), _lkj_marginal(3.0, 3).cdf).pvalue > 1e-3


@pytest.mark.slow
@pytest.mark.parametrize(("q", "eta"), [(2, 2.0), (2, 1.0), (3, 2.0), (4, 1.5)])
def test_sampled_correlation_density_is_lkj(q, eta):
    """NUTS on the density alone (with the transform's Jacobian) gives the LKJ marginals."""
    with pm.Model():
        chol = correlation_cholesky("_corr", q, eta)
        pm.Deterministic("corr", pt_corr(chol))
        idata = pm.sample(
            draws=2500,
            tune=1000,
            chains=2,
            cores=1,
            random_seed=5,
            progressbar=False,
            compute_convergence_checks=False,
        )
    corr = idata["posterior"]["corr"].values.reshape(-1, q, q)
    np.testing.assert_allclose(np.diagonal(corr, axis1=1, axis2=2), 1.0, atol=1e-9)
    assert int(idata["sample_stats"]["diverging"].sum()) == 0
    marginal = _lkj_marginal(eta, q)
    for a in range(q):
        for b in range(a + 1, q):
            r = corr[:, a, b]
            # thinned (NUTS draws of these are nearly independent); a loose KS level
            assert stats.kstest(r[::3], marginal.cdf).pvalue > 1e-3, (a, b)
            assert abs(r.var() - marginal.var()) < 0.15 * marginal.var(), (a, b)


def pt_corr(chol):
    """R = L L^T."""
    return chol @ chol.T


@pytest.mark.fit
@pytest.mark.parametrize("backend", ["nutpie", "numpyro"])
# 2 x 50 draws of a model with three correlated effects cannot pass the convergence checks;
# the test is about the posterior's names
@pytest.mark.filterwarnings("ignore::ambidex_bayes.diagnostics.ConvergenceWarning")
def test_three_correlated_effects_keep_their_names_with_external_samplers(small_prepared, backend):
    """Full NUTS by nutpie or NumPyro returns the LKJ factor under its own name, so the
    log-likelihood is computed and the internal variable is dropped."""
    from ambidex_bayes.fit import SamplerSettings, fit

    pytest.importorskip(backend)
    spec = ModelSpec.from_dict(
        {
            "name": "Q3",
            "formula": "{y} ~ 1 + {x_within} + {x_between} + (1 + {x_within} + {x_between} | {person})",
        }
    )
    settings = SamplerSettings(
        backend=backend, draws=50, tune=50, chains=2, seed=1, fast_path=False, cores=1
    )
    result = fit(spec, small_prepared, settings=settings, cache_dir=False, verbose=False)
    names = set(result.posterior.data_vars)
    assert not any(name.startswith("_") for name in names)
    assert sum(name.startswith("corr(") for name in names) == 3
    assert "log_likelihood" in result.idata.children
