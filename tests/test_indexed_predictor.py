"""The linear predictor from per-person index vectors: against a hand computation on known
draws, and -- on a real fit -- against Bambi's ``predict`` (the dense rows x persons route it
replaces) for the predictor itself, the replicated data, the log-likelihood, R² and LOO."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr
from scipy import stats
from stub_fits import hand_linear_predictor, predictor_fit

from ambidex_bayes.checks import indexed_predictor as lp
from ambidex_bayes.checks import loo, ppc, r2
from ambidex_bayes.checks.log_likelihood import (
    pointwise_log_likelihood,
    row_log_likelihood,
    rows_by_person,
)
from ambidex_bayes.checks.predictive import linear_predictor, outcome_transform
from ambidex_bayes.errors import ModelError
from ambidex_bayes.posterior import posterior_dataset


@pytest.mark.parametrize("random_slope", [True, False])
@pytest.mark.parametrize("group_specific", [True, False])
def test_predictor_equals_hand_computation(random_slope, group_specific):
    fit = predictor_fit(random_slope=random_slope, interaction=random_slope)
    mu = linear_predictor(fit, group_specific=group_specific)
    assert mu.dims == ("chain", "draw", "__obs__")
    expected = hand_linear_predictor(fit, group_specific=group_specific)
    np.testing.assert_allclose(mu.values, expected, rtol=1e-12, atol=1e-12)


def test_blocks_of_draws_give_the_same_predictor(monkeypatch):
    fit = predictor_fit()
    whole = linear_predictor(fit).values
    rows = len(fit.prepared.frame)
    monkeypatch.setattr(lp, "CHUNK_NUMBERS", 3 * rows + 1)  # 3 draws per block
    np.testing.assert_allclose(linear_predictor(fit).values, whole, rtol=1e-13, atol=1e-13)
    post = posterior_dataset(fit.idata)
    design = lp.predictor_design(fit, post)
    blocks = [(b.start, b.stop) for b, _ in lp.predictor_chunks(design, post)]
    assert blocks[0] == (0, 3) and blocks[-1][1] == 100 and len(blocks) == 34


def test_new_rows_of_known_persons_and_of_new_persons():
    fit = predictor_fit()
    frame = fit.prepared.frame
    picked = [0, 5, 13]
    rows = frame.iloc[picked]
    whole = linear_predictor(fit).values
    np.testing.assert_allclose(linear_predictor(fit, data=rows).values, whole[..., picked])
    stranger = rows.assign(pid="nobody")
    with pytest.raises(ModelError, match="no effects in the posterior"):
        linear_predictor(fit, data=stranger)
    fixed = linear_predictor(fit, group_specific=False).values[..., picked]
    np.testing.assert_allclose(
        linear_predictor(fit, group_specific=False, data=stranger).values, fixed
    )


def test_design_holds_no_rows_by_persons_matrix():
    fit = predictor_fit()
    design = lp.predictor_design(fit, posterior_dataset(fit.idata))
    n = len(fit.prepared.frame)
    assert design.X.shape == (n, 5)
    assert design.fixed_names[0] == "Intercept"
    assert [t.name for t in design.persons] == ["1|pid", "unc_cw|pid"]
    for term in design.persons:
        assert term.codes.shape == (n,) and term.predictor.shape == (n,)


def test_rows_by_person_in_order_of_appearance():
    frame = predictor_fit().prepared.frame.iloc[::-1].reset_index(drop=True)
    groups = rows_by_person(frame, "pid")
    ids = frame["pid"].astype(str).to_numpy()
    assert list(groups) == list(dict.fromkeys(ids))
    for person, idx in groups.items():
        np.testing.assert_array_equal(idx, np.flatnonzero(ids == person))


# --------------------------------------------------------------------------- a real fit
def _bambi_mu(fit, *, group_specific, posterior=None, data=None):
    """The route this module replaces: Bambi's predict on the whole model."""
    post = posterior if posterior is not None else posterior_dataset(fit.idata)
    keep = [v for v in post.data_vars if "__obs__" not in post[v].dims]
    tree = xr.DataTree.from_dict({"posterior": post[keep]})
    kwargs = {"kind": "response_params", "inplace": False}
    kwargs["include_group_specific"] = group_specific
    if data is not None:
        kwargs["data"] = data
    out = fit.bambi_model.predict(tree, **kwargs)["posterior"]["mu"]
    return out.transpose("chain", "draw", "__obs__").values


@pytest.mark.fit
@pytest.mark.parametrize("group_specific", [True, False])
def test_real_fit_predictor_equals_bambi_predict(m3_fit, group_specific):
    np.testing.assert_allclose(
        linear_predictor(m3_fit, group_specific=group_specific).values,
        _bambi_mu(m3_fit, group_specific=group_specific),
        rtol=1e-12,
        atol=1e-12,
    )
    rows = m3_fit.prepared.frame.iloc[[1, 7, 30]].reset_index(drop=True)
    np.testing.assert_allclose(
        linear_predictor(m3_fit, group_specific=group_specific, data=rows).values,
        _bambi_mu(m3_fit, group_specific=group_specific, data=rows),
        rtol=1e-12,
        atol=1e-12,
    )


@pytest.mark.fit
def test_real_fit_replicates_log_likelihood_and_r2_equal_the_bambi_route(m3_fit):
    draws = ppc.posterior_predictive(m3_fit, seed=3, max_draws=200)
    post_all = posterior_dataset(m3_fit.idata)
    post = post_all.isel(draw=slice(None, None, draws.draw_step))
    centre, scale = outcome_transform(m3_fit)
    mu = _bambi_mu(m3_fit, group_specific=True, posterior=post)
    noise = np.random.default_rng(3).standard_normal(mu.shape)
    sigma = post[m3_fit.terms.sigma].values[..., None]
    np.testing.assert_allclose(draws.mu.values, mu * scale + centre, rtol=1e-12, atol=1e-12)
    expected = (mu * scale + centre) + (sigma * scale) * noise
    np.testing.assert_allclose(draws.y_rep.values, expected, rtol=1e-12, atol=1e-12)
    # pointwise log-likelihood: the stored one is the Gaussian density around the predictor
    stored = m3_fit.idata["log_likelihood"].to_dataset()
    stored = stored[next(iter(stored.data_vars))].transpose("chain", "draw", "__obs__").values
    y = m3_fit.prepared.frame[m3_fit.terms.y_column].to_numpy()
    full_mu = linear_predictor(m3_fit).values
    density = stats.norm.logpdf(y, full_mu, post_all[m3_fit.terms.sigma].values[..., None])
    np.testing.assert_allclose(density, stored, rtol=1e-5, atol=1e-6)
    # R²: the blocked variances give the draws Bambi's predictor gives with arviz_stats
    for group_specific in (True, False):
        old = r2.r2_draws(
            _bambi_mu(m3_fit, group_specific=group_specific, posterior=post).reshape(-1, len(y)),
            np.ones(post.sizes["chain"] * post.sizes["draw"]),
        )
        new = r2.r2_from_variance(
            r2.predictor_variance(m3_fit, post, group_specific),
            np.ones(post.sizes["chain"] * post.sizes["draw"]),
        )
        np.testing.assert_allclose(new, old, rtol=1e-10)


@pytest.mark.fit
def test_real_fit_blocked_loo_equals_one_call(m3_fit, monkeypatch):
    import arviz_stats as azs

    ll = pointwise_log_likelihood(m3_fit)
    post = posterior_dataset(m3_fit.idata)
    tree = xr.DataTree.from_dict({"posterior": post, "log_likelihood": xr.Dataset({"y": ll})})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # high Pareto k, said by psis_loo
        whole = azs.loo(tree, pointwise=True)
    reff = loo.relative_efficiency(post)
    monkeypatch.setattr(loo, "LOO_CHUNK_NUMBERS", 7 * ll.sizes["chain"] * ll.sizes["draw"])
    blocked = loo.blocked_loo(ll, reff)
    np.testing.assert_allclose(blocked.elpd_i.values, whole.elpd_i.values, rtol=1e-12)
    np.testing.assert_allclose(blocked.pareto_k.values, whole.pareto_k.values, rtol=1e-12)
    assert blocked.elpd == pytest.approx(whole.elpd, rel=1e-12)
    assert blocked.se == pytest.approx(whole.se, rel=1e-9)
    assert blocked.p == pytest.approx(whole.p, rel=1e-9)
    assert blocked.n_data_points == whole.n_data_points
    values = ll.values.reshape(-1, ll.sizes["__obs__"])
    np.testing.assert_allclose(loo.row_lpd(ll), loo.logmeanexp(values, axis=0), rtol=1e-12)


@pytest.mark.fit
def test_real_fit_log_likelihood_computed_by_blocks_when_not_stored(m3_fit, monkeypatch):
    import dataclasses

    children = {k: v for k, v in m3_fit.idata.children.items() if k != "log_likelihood"}
    bare = dataclasses.replace(m3_fit, idata=xr.DataTree.from_dict(dict(children)))
    stored = pointwise_log_likelihood(m3_fit).values
    computed = row_log_likelihood(bare)
    assert not computed.stored and computed.n_rows == stored.shape[-1]
    np.testing.assert_allclose(
        computed.read(slice(0, computed.n_rows)).values, stored, rtol=1e-6, atol=1e-8
    )
    monkeypatch.setattr(loo, "LOO_CHUNK_NUMBERS", 11 * computed.n_samples)  # 11 rows a block
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # rows still above the Pareto k limit
        from_posterior = loo.psis_loo(bare, remedy="none")
        from_stored = loo.psis_loo(m3_fit, remedy="none")
    np.testing.assert_allclose(
        from_posterior.elpd.elpd_i.values, from_stored.elpd.elpd_i.values, rtol=1e-6
    )
    np.testing.assert_allclose(
        from_posterior.pareto_k_before, from_stored.pareto_k_before, rtol=1e-4, atol=1e-6
    )
