"""The Gaussian fast path gives the same posterior as full NUTS (within Monte Carlo error)."""

from __future__ import annotations

import numpy as np
import pytest

from ambidex_bayes.errors import ModelError
from ambidex_bayes.fit import SamplerSettings, fit
from ambidex_bayes.model.build import FastPathUnavailable, build_model
from ambidex_bayes.spec import ModelSpec, load_spec


def test_fast_path_model_samples_only_hyperparameters(small_prepared):
    built = build_model(load_spec("M3"), small_prepared, marginal=True)
    free = {rv.name for rv in built.pymc_model.free_RVs}
    assert free == {
        "Intercept",
        "uncertainty_cw",
        "uncertainty_pm",
        "leader_support_c",
        "uncertainty_cw:leader_support_c",
        "1|person_id_sigma",
        "uncertainty_cw|person_id_sigma",
        "_person_id_corr",
        "sigma",
    }
    assert built.is_marginal
    assert built.marginal.stats.ZtZ.shape == (60, 2, 2)


def test_marginal_and_full_models_share_every_hyperparameter_prior(small_prepared):
    """Both models have the same hyperparameter priors. That the fast path's likelihood is
    the full model's with the person effects integrated out is checked in test_marginal.py
    (test_marginal_loglik_equals_multivariate_normal)."""
    full = build_model(load_spec("M3"), small_prepared)
    fast = build_model(load_spec("M3"), small_prepared, marginal=True)
    assert full.priors == fast.priors


def test_student_t_uses_full_nuts(small_prepared):
    spec = ModelSpec.from_dict(
        {"name": "T", "formula": "{y} ~ 1 + {x_within} + (1 | {person})", "family": "t"}
    )
    with pytest.raises(FastPathUnavailable, match="'t' family"):
        build_model(spec, small_prepared, marginal=True)
    assert issubclass(FastPathUnavailable, ModelError)


@pytest.mark.slow
def test_fast_path_agrees_with_full_nuts(small_prepared):
    import arviz_stats as azs

    settings = dict(backend="pymc", draws=1000, tune=1000, chains=4, seed=21)
    runs = {}
    for fast in (False, True):
        runs[fast] = fit(
            load_spec("M3"),
            small_prepared,
            settings=SamplerSettings(**settings, fast_path=fast),
            cache_dir=False,
            progressbar=False,
            verbose=False,
            centring="observed",
        )
    full, quick = runs[False], runs[True]
    assert quick.meta["method"].startswith("fast path")
    assert set(full.posterior.data_vars) == set(quick.posterior.data_vars)
    assert (
        full.idata["log_likelihood"]["innovation"].shape
        == quick.idata["log_likelihood"]["innovation"].shape
    )
    failures = []
    for name in full.posterior.data_vars:
        a, b = full.posterior[name], quick.posterior[name]
        assert a.dims == b.dims, name
        mean_gap = np.abs(a.mean(("chain", "draw")) - b.mean(("chain", "draw"))).values
        mean_err = np.sqrt(azs.mcse(a, method="mean") ** 2 + azs.mcse(b, method="mean") ** 2).values
        sd_gap = np.abs(a.std(("chain", "draw")) - b.std(("chain", "draw"))).values
        sd_err = np.sqrt(azs.mcse(a, method="sd") ** 2 + azs.mcse(b, method="sd") ** 2).values
        # 4.5 standard errors: about one false alarm in 150,000 comparisons
        if np.any(mean_gap > 4.5 * mean_err) or np.any(sd_gap > 4.5 * sd_err):
            failures.append(
                (name, float(np.max(mean_gap / mean_err)), float(np.max(sd_gap / sd_err)))
            )
    assert not failures, f"posterior means/SDs differ beyond Monte Carlo error: {failures}"
    # the fast path mixes better over the hyperparameters
    assert quick.convergence.min_ess_bulk > full.convergence.min_ess_bulk
