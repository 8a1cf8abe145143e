"""Posterior predictive checks: p-values and statistics on hand-made draws, the replicated
data's scale and seeding on a stub fit, and the correctly specified shared fit unflagged."""

from __future__ import annotations

import math
from dataclasses import replace

import arviz_stats as azs
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from fake_predictive import arviz_tree, predictive_pair
from stub_fits import hand_linear_predictor, predictor_fit

from ambidex_bayes.checks import ppc
from ambidex_bayes.checks.loo_pit import loo_pit_tree, loo_pit_uniformity
from ambidex_bayes.checks.ppc import PredictiveDraws
from ambidex_bayes.errors import AmbidexError, ModelError


def _draws(
    y_obs: list[float],
    persons: list[str],
    y_rep: np.ndarray,
    *,
    scale_range: tuple[float, float] | None = None,
) -> PredictiveDraws:
    """PredictiveDraws from plain arrays; ``y_rep`` has shape (draws, rows), one chain."""
    y_rep = np.asarray(y_rep, dtype=float)
    da = xr.DataArray(y_rep[None], dims=("chain", "draw", "__obs__"))
    return PredictiveDraws(
        y_rep=da,
        mu=da,
        y_obs=np.asarray(y_obs, dtype=float),
        persons=np.asarray(persons),
        outcome="y",
        scale_range=scale_range,
        family="gaussian",
        model="fake",
        draw_step=1,
        seed=0,
    )


# --------------------------------------------------------------------------- p-values
def test_p_value_counts_larger_replicates_and_half_the_ties():
    rep = np.arange(100.0)  # 0..99
    assert ppc.ppc_p_value(rep, 49.5) == pytest.approx(0.5)
    assert ppc.ppc_p_value(rep, 89.0) == pytest.approx((10 + 0.5) / 100)  # 90..99, tie at 89
    assert ppc.ppc_p_value(rep, -1.0) == 1.0
    assert ppc.ppc_p_value(rep, 200.0) == 0.0
    assert ppc.ppc_p_value(np.zeros(40), 0.0) == 0.5  # all tied: not extreme


def test_p_value_ignores_nan_draws_and_is_nan_without_an_observed_value():
    rep = np.array([1.0, 2.0, np.nan, 3.0])
    assert ppc.ppc_p_value(rep, 2.5) == pytest.approx(1 / 3)
    assert math.isnan(float(ppc.ppc_p_value(rep, np.nan)))
    per_column = ppc.ppc_p_value(np.array([[1.0, 5.0], [2.0, 6.0]]), np.array([0.0, 10.0]))
    np.testing.assert_allclose(per_column, [1.0, 0.0])


# --------------------------------------------------------------------------- statistics
Y_OBS = [1.0, 3.0, 2.0, 4.0, 6.0]
PERSONS = ["a", "a", "b", "b", "b"]


def test_observed_statistics_equal_hand_computation():
    shifts = np.array([-2.0, -1.0, 1.0, 2.0])
    draws = _draws(Y_OBS, PERSONS, np.asarray(Y_OBS)[None, :] + shifts[:, None])
    table = ppc.statistic_checks(draws).table.set_index("statistic")
    obs = table["observed"]
    assert obs["mean"] == pytest.approx(3.2)
    assert obs["sd"] == pytest.approx(np.std(Y_OBS, ddof=1))
    # person means 2 and 4; within sums of squares 2 + 8 over N - J = 3
    assert obs["within_sd"] == pytest.approx(math.sqrt(10 / 3))
    assert obs["sd_person_means"] == pytest.approx(math.sqrt(2))
    assert obs["sd_person_sds"] == pytest.approx(np.std([math.sqrt(2), 2.0], ddof=1))
    assert obs["min"] == 1.0 and obs["max"] == 6.0
    # shifted replicates: two of four means above, spreads all tied -> 0.5, nothing flagged
    assert table.loc["mean", "p_value"] == pytest.approx(0.5)
    assert table.loc["sd", "p_value"] == pytest.approx(0.5)
    assert not table["flagged"].any()
    assert "share_floor" not in table.index  # no range declared


def test_a_model_with_too_little_spread_is_flagged():
    rng = np.random.default_rng(1)
    y_rep = 3.2 + 0.1 * rng.standard_normal((200, 5))
    checks = ppc.statistic_checks(_draws(Y_OBS, PERSONS, y_rep))
    table = checks.table.set_index("statistic")
    assert table.loc["sd", "p_value"] == 0.0 and table.loc["sd", "flagged"]
    assert table.loc["max", "flagged"] and table.loc["min", "flagged"]
    assert table.loc["min", "p_value"] == 1.0
    assert checks.replicated.shape == (200, len(table))


def test_floor_and_ceiling_shares_with_a_declared_range():
    y_obs = [1.0, 1.0, 3.0, 5.0, 2.0]
    y_rep = np.array([[0.5, 2.0, 3.0, 4.0, 5.5], [1.5, 2.0, 3.0, 4.0, 4.5]])
    checks = ppc.statistic_checks(_draws(y_obs, PERSONS, y_rep, scale_range=(1.0, 5.0)))
    table = checks.table.set_index("statistic")
    assert table.loc["share_floor", "observed"] == pytest.approx(2 / 5)
    assert table.loc["share_ceiling", "observed"] == pytest.approx(1 / 5)
    np.testing.assert_allclose(checks.replicated["share_floor"], [0.2, 0.0])
    np.testing.assert_allclose(checks.replicated["share_ceiling"], [0.2, 0.0])


def test_range_check_counts_predictions_outside_the_scale():
    y_rep = np.array([[0.5, 2.0, 3.0, 4.0, 5.5], [1.5, 2.0, 3.0, 4.0, 6.5]])
    table = ppc.range_check(_draws(Y_OBS, PERSONS, y_rep, scale_range=(1.0, 5.0))).set_index(
        "where"
    )
    assert table.loc["below", "mean"] == pytest.approx(0.1)  # 1 of 10 values
    assert table.loc["above", "mean"] == pytest.approx(0.2)
    assert table.loc["outside", "mean"] == pytest.approx(0.3)
    assert table.loc["outside", "observed"] == pytest.approx(0.2)  # observed 6 is above 5
    assert ppc.range_check(_draws(Y_OBS, PERSONS, y_rep)).empty


def test_unknown_statistic_is_named_in_the_error():
    draws = _draws(Y_OBS, PERSONS, np.tile(Y_OBS, (3, 1)))
    with pytest.raises(AmbidexError, match="share_floor.*declared range|kurtosis"):
        ppc.statistic_checks(draws, statistics=["kurtosis"])
    with pytest.raises(AmbidexError, match="tail"):
        ppc.statistic_checks(draws, tail=0.7)


# --------------------------------------------------------------------------- persons
def test_person_checks_flag_the_person_whose_spread_the_model_misses():
    rng = np.random.default_rng(2)
    persons = ["a"] * 4 + ["b"] * 4
    y_obs = [2.0, 2.1, 1.9, 2.0, 1.0, 5.0, 0.0, 6.0]  # a: tiny spread, b: huge spread
    y_rep = np.asarray(y_obs)[None, :] * 0 + 2.5 + rng.standard_normal((400, 8))
    table = ppc.person_checks(_draws(y_obs, persons, y_rep))
    sd = table[table["statistic"] == "sd"].set_index("person")
    assert sd.loc["a", "p_value"] > 0.975 and sd.loc["a", "flagged"]
    assert sd.loc["b", "p_value"] < 0.025 and sd.loc["b", "flagged"]
    assert sd.loc["b", "observed"] == pytest.approx(np.std(y_obs[4:], ddof=1))
    summary = ppc.flagged_persons(table).set_index("statistic")
    assert summary.loc["sd", "n_flagged"] == 2 and summary.loc["sd", "n_persons"] == 2
    assert summary.loc["sd", "expected_share"] == pytest.approx(2 * ppc.P_VALUE_TAIL)


def test_a_single_diary_has_no_sd_and_is_never_flagged_for_it():
    table = ppc.person_checks(_draws([1.0, 2.0, 3.0], ["a", "a", "b"], np.zeros((5, 3))))
    row = table[(table["statistic"] == "sd") & (table["person"] == "b")].iloc[0]
    assert math.isnan(row["p_value"]) and not row["flagged"]
    summary = ppc.flagged_persons(table).set_index("statistic")
    assert summary.loc["sd", "n_persons"] == 1


def test_person_intervals_and_unknown_persons():
    y_rep = np.tile(np.arange(5.0), (100, 1)) + np.linspace(-1, 1, 100)[:, None]
    table = ppc.person_intervals(_draws(Y_OBS, PERSONS, y_rep), ["b"], prob=0.9)
    assert table["row"].tolist() == [2, 3, 4]
    assert table["position"].tolist() == [0, 1, 2]
    # intervals about 2, 3, 4 +- 0.9: observed 2 inside, 4 and 6 above
    assert table["outside"].tolist() == [False, True, True]
    with pytest.raises(AmbidexError, match="'zz'"):
        ppc.person_intervals(_draws(Y_OBS, PERSONS, y_rep), ["zz"])


def test_density_overlay_holds_the_observed_data_and_chosen_replicates():
    rng = np.random.default_rng(3)
    y_rep = rng.normal(3, 2, (30, 5))
    draws = _draws(Y_OBS, PERSONS, y_rep, scale_range=(1.0, 5.0))
    overlay = ppc.density_overlay(draws, n_replicates=10, seed=4)
    replicated = overlay["posterior_predictive"]["y"]
    assert replicated.dims == ("chain", "draw", "__obs__") and replicated.shape == (1, 10, 5)
    picked = replicated["draw"].values
    assert len(set(picked)) == 10
    np.testing.assert_array_equal(replicated.values[0], y_rep[picked])
    np.testing.assert_array_equal(overlay["observed_data"]["y"].values, Y_OBS)
    assert overlay.attrs == {"model": "fake", "outcome": "y", "range": (1.0, 5.0)}
    again = ppc.density_overlay(draws, n_replicates=10, seed=4)
    np.testing.assert_array_equal(again["posterior_predictive"]["draw"].values, picked)
    everything = ppc.density_overlay(draws, n_replicates=100)
    assert everything["posterior_predictive"]["y"].shape == (1, 30, 5)
    with pytest.raises(AmbidexError, match="n_replicates"):
        ppc.density_overlay(draws, n_replicates=0)


def test_loo_pit_tree_holds_the_observed_outcome_and_the_pit_values_of_arviz_stats():
    draws, fit = predictive_pair(1.0)
    tree = loo_pit_tree(fit, draws)
    assert set(tree.children) == {"observed_data", "loo_pit"}
    np.testing.assert_array_equal(tree["observed_data"]["inno"].values, draws.y_obs)
    whole = arviz_tree(fit, draws, fit.idata["log_likelihood"]["inno_z"].values)
    np.testing.assert_allclose(
        tree["loo_pit"]["inno"].values,
        azs.loo_pit(whole, pareto_pit=True)["inno"].values,
        rtol=1e-10,
        atol=1e-12,
    )
    np.testing.assert_allclose(
        ppc.loo_pit_values(fit, draws), azs.loo_pit(whole)["inno"].values, rtol=1e-10, atol=1e-12
    )
    assert tree.attrs == {"model": "M3", "outcome": "inno", "range": (-4.0, 4.0)}
    thinned = replace(draws, y_rep=draws.y_rep.isel(draw=slice(None, None, 2)), draw_step=3)
    with pytest.raises(ModelError, match="pass draws made from this fit"):
        loo_pit_tree(fit, thinned)


def test_loo_pit_uniformity_accepts_calibrated_and_rejects_too_wide_predictions():
    draws, fit = predictive_pair(1.0)
    calibrated = loo_pit_uniformity(loo_pit_tree(fit, draws))
    assert calibrated.calibrated and calibrated.p_value >= 0.05 and calibrated.n_marked == 0
    assert calibrated.n == 60 and calibrated.model == "M3" and calibrated.method == "pot_c"
    with pytest.raises(AmbidexError, match="loo_pit_tree"):
        loo_pit_uniformity(ppc.density_overlay(draws))
    wide_draws, wide_fit = predictive_pair(3.0)  # too-wide predictions: PIT near 0.5
    too_wide = loo_pit_uniformity(loo_pit_tree(wide_fit, wide_draws), prob=0.99)
    assert too_wide.p_value < 0.01 and not too_wide.calibrated and too_wide.n_marked > 0


# --------------------------------------------------------------------------- stub fit
def stub_fit(*, family: str = "gaussian", standardize: bool = False, sigma: float = 0.0):
    fit = predictor_fit(family=family, standardize=standardize)
    post = fit.idata["posterior"].to_dataset()
    post["sigma"] = xr.full_like(post["sigma"], sigma)
    if family == "t":
        post["nu"] = xr.full_like(post["sigma"], 3.0)
    fit.idata = xr.DataTree.from_dict({"posterior": post})
    return fit


def test_replicated_data_are_on_the_original_scale():
    fit = stub_fit(standardize=True)
    transform = fit.prepared.transforms[fit.terms.y_column]
    assert transform.scale != 1.0
    draws = ppc.posterior_predictive(fit)
    mu = hand_linear_predictor(fit)
    # sigma = 0: replicates are the back-transformed linear predictor exactly
    np.testing.assert_allclose(draws.y_rep.values, mu * transform.scale + transform.centre)
    np.testing.assert_allclose(draws.y_obs, fit.prepared.frame["inno"].to_numpy())
    assert draws.persons.tolist() == fit.prepared.frame["pid"].tolist()


def test_noise_is_seeded_thinned_and_student_t_when_asked():
    fit = stub_fit(sigma=1.0)
    a = ppc.posterior_predictive(fit, seed=1)
    b = ppc.posterior_predictive(fit, seed=1)
    c = ppc.posterior_predictive(fit, seed=2)
    np.testing.assert_array_equal(a.y_rep.values, b.y_rep.values)
    assert not np.allclose(a.y_rep.values, c.y_rep.values)
    thinned = ppc.posterior_predictive(fit, max_draws=25)
    assert thinned.draw_step == 4 and thinned.n_draws == 2 * 13
    resid = (a.y_rep - a.mu).values.ravel()
    assert abs(np.std(resid) - 1.0) < 0.1
    heavy = ppc.posterior_predictive(stub_fit(family="t", sigma=1.0), seed=1)
    resid_t = (heavy.y_rep - heavy.mu).values.ravel()
    kurt = np.mean(resid_t**4) / np.mean(resid_t**2) ** 2
    assert kurt > 4.0  # t with 3 df: far heavier tails than the normal's 3


# --------------------------------------------------------------------------- a real fit
@pytest.mark.fit
def test_correctly_specified_model_is_not_flagged(m3_fit):
    draws = ppc.posterior_predictive(m3_fit)
    checks = ppc.statistic_checks(draws)
    assert not checks.table["flagged"].any(), checks.table
    outcome = m3_fit.prepared.mapping.outcome
    assert np.mean(draws.y_obs) == pytest.approx(m3_fit.prepared.frame[outcome].mean())
    assert abs(float(draws.y_rep.mean()) - float(np.mean(draws.y_obs))) < 0.1
    summary = ppc.flagged_persons(ppc.person_checks(draws))
    assert (summary["share_flagged"] <= summary["expected_share"]).all(), summary
    assert loo_pit_uniformity(loo_pit_tree(m3_fit, draws)).calibrated


@pytest.mark.fit
def test_report_section_writes_figures_tables_and_text(m3_fit, tmp_path):
    from ambidex_bayes.checks.report_section import report_section
    from ambidex_bayes.pipeline import analysis_from_fits

    figures, tables = tmp_path / "figures", tmp_path / "tables"
    figures.mkdir()
    tables.mkdir()
    lines = report_section(analysis_from_fits([m3_fit]), figures, tables)
    text = "\n".join(lines)
    for heading in (
        "### Posterior predictive checks (M3)",
        "### Model comparison",
        "### Explained variance",
    ):
        assert heading in text
    assert "**Not computed:**" not in text
    assert "integrated out analytically" in text and "new person" in text
    for name in (
        "ppc_density.png",
        "ppc_statistics.png",
        "loo_pit.png",
        "pareto_k.png",
        "variance_decomposition.png",
    ):
        assert (figures / name).stat().st_size > 0
        assert f"figures/{name}" in text
    statistics = pd.read_csv(tables / "ppc_statistics.csv")
    assert {"mean", "within_sd", "sd_person_means", "min", "max"} <= set(statistics["statistic"])
    assert set(pd.read_csv(tables / "r2.csv")["r2"]) == {"marginal", "conditional"}


@pytest.mark.fit
def test_ppc_command_prints_checks_and_writes_files(m3_fit, tmp_path, capsys):
    from ambidex_bayes.cli import main

    person = str(m3_fit.prepared.frame[m3_fit.prepared.mapping.person].iloc[0])
    out = tmp_path / "ppc"
    status = main(["ppc", str(m3_fit.path), "--persons", person, "--out", str(out)])
    printed = capsys.readouterr().out
    assert status == 0
    assert "sd_person_means" in printed and "Persons flagged" in printed and "LOO-PIT" in printed
    assert person in printed
    assert (out / "ppc_statistics.csv").exists() and (out / "ppc_persons.png").exists()
    assert (out / "loo_pit.png").stat().st_size > 0
    assert main(["ppc", str(m3_fit.path), "--persons", "nobody"]) == 2
    assert "'nobody'" in capsys.readouterr().err


def test_statistics_over_blocks_of_data_sets_equal_one_pass(monkeypatch):
    from ambidex_bayes.checks import ppc_statistics as stats_module
    from ambidex_bayes.checks.person_groups import PersonGroups

    rng = np.random.default_rng(4)
    persons = np.repeat(["a", "b", "c", "d"], [3, 1, 4, 2])
    y_rep = rng.normal(size=(23, persons.size))
    groups = PersonGroups.from_ids(persons)
    functions = [
        (f"{kind} {name}", fn)
        for kind, table in (
            ("whole", stats_module.STATISTICS),
            ("person", stats_module.PERSON_STATISTICS),
        )
        for name, (_, fn) in table.items()
    ]
    whole = [np.asarray(fn(y_rep, groups), dtype=float) for _, fn in functions]
    monkeypatch.setattr(stats_module, "BLOCK_NUMBERS", 5 * persons.size)  # 5 data sets a block
    for (name, fn), expected in zip(functions, whole, strict=True):
        blocked = stats_module.statistic_draws(fn, y_rep, groups)
        np.testing.assert_array_equal(blocked, expected, err_msg=name)
