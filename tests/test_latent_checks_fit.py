"""The checks of real latent-centred fits (small, seeded): LOO, PPC and R² run, the
log-likelihood is the normal density of the latent linear predictor, and with many diaries per
person latent and observed centring explain about the same variance."""

from __future__ import annotations

import numpy as np
import pytest
from latent_fits import prepare_panel, quiet_fit
from scipy import stats

from ambidex_bayes.checks.log_likelihood import row_log_likelihood
from ambidex_bayes.checks.loo import psis_loo
from ambidex_bayes.checks.predictive import posterior_predictive
from ambidex_bayes.checks.r2 import explained_variance, variance_decomposition
from ambidex_bayes.engine.settings import SamplerSettings
from ambidex_bayes.model.latent_simulate import LatentTruth, simulate_latent_panel
from ambidex_bayes.spec import load_spec

pytestmark = pytest.mark.fit


@pytest.fixture(scope="module")
def high_reliability_fits():
    """M3 with observed and with latent centring on 40 persons x 20 diaries (reliability
    above 0.95), a few predictor values missing on days with an outcome."""
    truth = LatentTruth(mu_sd=0.8, within_sd=0.5, sd_slope=0.1)
    frame = simulate_latent_panel(40, (20, 20), truth, seed=8, missing_x=0.03)
    prepared = prepare_panel(frame)
    settings = SamplerSettings(backend="nutpie", draws=150, tune=200, chains=2, seed=5)
    fits = {  # 300 draws: a low ESS is expected
        centring: quiet_fit(load_spec("M3"), prepared, settings, centring=centring)
        for centring in ("observed", "latent")
    }
    assert prepared.person_mean_reliability["x"] > 0.95
    return fits


def _hand_mu(result) -> np.ndarray:
    """The latent linear predictor (draws, rows) straight from the posterior arrays."""
    post = result.posterior
    frame = result.prepared.frame.reset_index(drop=True)
    w = result.prepared.roles["w"]
    S = post.sizes["chain"] * post.sizes["draw"]

    def flat(name):
        values = post[name].transpose("chain", "draw", ...).to_numpy()
        return values.reshape(S, *values.shape[2:])

    persons = [str(p) for p in post["person__factor_dim"].to_numpy()]
    j = np.array([persons.index(str(p)) for p in frame["person"]])
    x = np.tile(frame["x"].to_numpy(dtype=float), (S, 1))
    missing = np.flatnonzero(frame["x"].isna().to_numpy())
    x[:, missing] = flat("x_imputed")
    mu_j = flat("x_mu")[:, j]
    c = x - mu_j
    wv = frame[w].to_numpy(dtype=float)
    slope = flat("x_cw")[:, None] + flat(f"x_cw:{w}")[:, None] * wv + flat("x_cw|person")[:, j]
    return (
        flat("Intercept")[:, None]
        + flat("x_pm")[:, None] * (mu_j - flat("x_mu_mean")[:, None])
        + flat(w)[:, None] * wv
        + flat("1|person")[:, j]
        + slope * c
    )


def test_latent_fit_log_likelihood_loo_ppc_and_r2(high_reliability_fits):
    latent = high_reliability_fits["latent"]
    assert latent.meta["centring"] == "latent"
    frame = latent.prepared.frame
    assert frame["x"].isna().sum() > 0  # imputed days are among the checked rows
    ll = row_log_likelihood(latent)
    values = np.concatenate([b.to_numpy() for _, b in ll.blocks(10**6)], axis=-1)
    S = ll.n_samples
    sigma = latent.posterior["sigma"].to_numpy().reshape(S, 1)
    want = stats.norm.logpdf(frame["y"].to_numpy(), loc=_hand_mu(latent), scale=sigma)
    np.testing.assert_allclose(values.reshape(S, -1), want, rtol=1e-9, atol=1e-9)

    loo = psis_loo(latent, max_refits=0)
    assert loo.pareto_k_before.shape == (len(frame),)
    assert np.isfinite(loo.elpd.elpd) and loo.elpd.se > 0
    pp = posterior_predictive(latent, seed=2, max_draws=50)
    assert pp.y_rep.shape[-1] == len(frame) and np.all(np.isfinite(pp.y_rep.to_numpy()))
    assert np.isfinite(pp.y_obs).all()
    decomposition = variance_decomposition(latent).set_index("component")
    assert decomposition.loc["total", "share_mean"] == pytest.approx(1.0)


def test_high_reliability_latent_and_observed_r2_agree(high_reliability_fits):
    tables = {c: explained_variance(f).set_index("r2") for c, f in high_reliability_fits.items()}
    for kind in ("marginal", "conditional"):
        a, b = tables["latent"].loc[kind, "mean"], tables["observed"].loc[kind, "mean"]
        assert 0.05 < a < 0.95
        assert abs(a - b) < 0.05, (kind, a, b)
