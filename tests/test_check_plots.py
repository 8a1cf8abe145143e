"""The checks' plot twins draw what the compute functions return (arviz-plots draws most).

The inputs are made by hand in the shape the compute functions return them (the predictive
figures from hand-made draws and a fit-like object with a log-likelihood), so no fit is
needed; each test checks that the data drawn are the data given.
"""

from __future__ import annotations

from types import SimpleNamespace

import arviz_plots as azp
import arviz_stats as azs
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from fake_predictive import arviz_tree, predictive_pair

from ambidex_bayes.checks import comparison, loo_pit, ppc
from ambidex_bayes.checks import plots as check_plots
from ambidex_bayes.errors import AmbidexError
from ambidex_bayes.plotting import collection_on


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _elpd(shift: float, seed: int) -> object:
    rng = np.random.default_rng(seed)
    log_lik = -1.0 - shift + 0.1 * rng.normal(size=(2, 100, 30))
    tree = xr.DataTree.from_dict(
        {
            "posterior": xr.Dataset({"mu": (("chain", "draw"), rng.normal(size=(2, 100)))}),
            "log_likelihood": xr.Dataset({"y": (("chain", "draw", "obs"), log_lik)}),
            "observed_data": xr.Dataset({"y": ("obs", rng.normal(size=30))}),
        }
    )
    return azs.loo(tree, pointwise=True)


def test_ppc_density_draws_the_observed_and_the_chosen_replicated_data():
    draws, _ = predictive_pair(1.0, n_rows=40)
    overlay = ppc.density_overlay(draws, n_replicates=5, seed=2)
    _, ax = plt.subplots()
    assert check_plots.plot_ppc_density(overlay, ax=ax) is ax
    (observed,) = [line for line in ax.lines if line.get_label() == "observed"]
    x = observed.get_xdata()
    step = x[1] - x[0]  # the kernel density is evaluated at bin centres over the data
    assert (x[0], x[-1]) == pytest.approx((draws.y_obs.min(), draws.y_obs.max()), abs=step)
    assert np.trapezoid(observed.get_ydata(), x) == pytest.approx(1.0, abs=0.05)
    picked = overlay["posterior_predictive"]["draw"].values
    replicated = [line for line in ax.lines if line.get_linestyle() == "-" and line is not observed]
    drawn = sorted((line.get_xdata()[0], line.get_xdata()[-1]) for line in replicated)
    flat = draws.flat()
    expected = sorted((flat[k].min(), flat[k].max()) for k in picked)
    assert len(drawn) == 5
    np.testing.assert_allclose(drawn, expected, atol=0.02)
    bounds = [line.get_xdata()[0] for line in ax.lines if line.get_linestyle() == ":"]
    assert bounds == [-4.0, 4.0]
    assert ax.get_xlabel() == "inno"
    assert ax.get_title() == "Posterior predictive density (M3)"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["replicated", "observed"]
    with pytest.raises(AmbidexError, match="lacks the group 'observed_data'"):
        check_plots.plot_ppc_density(xr.DataTree.from_dict({"posterior_predictive": None}))


def test_ppc_statistics_one_panel_per_statistic_with_observed_line_and_flag():
    rng = np.random.default_rng(3)
    replicated = pd.DataFrame({"mean": rng.normal(size=200), "sd": rng.gamma(4.0, size=200)})
    replicated.loc[5, "sd"] = np.nan
    table = pd.DataFrame(
        {
            "statistic": ["mean", "sd"],
            "observed": [0.1, 20.0],
            "p_value": [0.45, 0.0],
            "flagged": [False, True],
        }
    )
    fig = check_plots.plot_ppc_statistics(SimpleNamespace(table=table, replicated=replicated))
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in shown] == ["mean  (p = 0.45)", "sd  (p = 0.00)"]
    assert shown[1].title.get_color() == check_plots.FLAG_COLOR
    for ax, value in zip(shown, [0.1, 20.0], strict=True):
        verticals = [line for line in ax.lines if list(line.get_xdata()) == [value, value]]
        assert len(verticals) == 1
    with pytest.raises(AmbidexError, match="'skew' is not in the checks table"):
        check_plots.plot_ppc_statistics(
            SimpleNamespace(table=table, replicated=replicated), statistics=["skew"]
        )


def test_loo_pit_draws_the_pit_ecdf_and_the_uniformity_test_of_the_draws():
    draws, fit = predictive_pair(3.0)  # predictions three times too wide: PIT bunched near 0.5
    tree = loo_pit.loo_pit_tree(fit, draws)
    result = loo_pit.loo_pit_uniformity(tree, prob=0.95)
    assert not result.calibrated and result.n == 60 and result.n_marked > 0
    _, ax = plt.subplots()
    assert check_plots.plot_loo_pit(tree, prob=0.95, ax=ax) is ax
    whole = arviz_tree(fit, draws, fit.idata["log_likelihood"]["inno_z"].values)
    pit = azs.loo_pit(whole, pareto_pit=True)["inno"].values
    u = np.linspace(0.0, 1.0, pit.size)
    expected = np.searchsorted(np.sort(pit), u, side="right") / pit.size - u
    (ecdf,) = [line for line in ax.lines if line.get_color() == "black"]
    np.testing.assert_allclose(ecdf.get_ydata(), expected)
    (p_text,) = ax.texts
    assert p_text.get_text() == f"p={result.p_value:.2f}(α=0.05) "
    low, high = ax.get_ylim()  # arviz-plots' symmetric limits, the p-value inside them
    assert low == pytest.approx(-high) and 0 < p_text.get_position()[1] < high
    (marked,) = ax.collections
    assert len(marked.get_offsets()) == result.n_marked
    assert ax.get_title() == "LOO-PIT calibration (M3)"
    with pytest.raises(AmbidexError, match="lacks the group 'loo_pit'"):
        check_plots.plot_loo_pit(ppc.density_overlay(draws))
    # the figure arviz-plots' plot_loo_pit draws from the whole DataTree is the same
    _, reference = plt.subplots()
    azp.plot_loo_pit(
        whole,
        envelope_prob=0.95,
        plot_collection=collection_on(reference, whole["observed_data"].to_dataset()),
        visuals={"ecdf_lines": {"color": "black"}, "title": False},
    )
    (reference_ecdf,) = [line for line in reference.lines if line.get_color() == "black"]
    np.testing.assert_allclose(ecdf.get_xydata(), reference_ecdf.get_xydata())
    assert [t.get_text() for t in reference.texts] == [p_text.get_text()]
    (reference_marked,) = reference.collections
    np.testing.assert_allclose(marked.get_offsets(), reference_marked.get_offsets())


def test_pareto_k_draws_k_before_the_remedy_and_rings_remedied_rows():
    elpd = _elpd(0.0, 1)
    before = np.linspace(0.0, 0.9, elpd.pareto_k.size)
    result = SimpleNamespace(
        model="M3",
        elpd=elpd,
        pareto_k_before=before,
        threshold=0.7,
        remedy="integrated",
        remedied_rows=(28, 29),
    )
    _, ax = plt.subplots()
    assert check_plots.plot_pareto_k(result, ax=ax) is ax
    points, ringed = ax.collections
    assert points.get_offsets()[:, 1].tolist() == pytest.approx(before.tolist())
    assert ringed.get_offsets()[:, 0].tolist() == [28, 29]
    assert ringed.get_offsets()[:, 1].tolist() == pytest.approx(before[[28, 29]].tolist())
    assert any(list(line.get_ydata()) == [0.7, 0.7] for line in ax.lines)
    assert ax.get_title() == "PSIS-LOO diagnostics (M3)"
    assert elpd.pareto_k.values.tolist() != before.tolist()  # the result is left as it was
    with pytest.raises(AmbidexError, match="LooResult"):
        check_plots.plot_pareto_k(SimpleNamespace(pareto_k_before=None))


def test_comparison_draws_each_models_difference_and_se():
    table = comparison.compare_models({"M1": _elpd(0.2, 2), "M3": _elpd(0.0, 3)})
    ax = check_plots.plot_comparison(table)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == list(table["model"])
    drawn = sorted(float(x) for c in ax.collections for x in c.get_offsets()[:, 0])
    assert drawn == pytest.approx(sorted(table["elpd_diff"].tolist()))
    assert ax.get_xlabel() == "ELPD difference to the best model (PSIS-LOO)"


def test_ppc_statistics_draws_a_constant_statistic_and_skips_one_without_replicates():
    replicated = pd.DataFrame({"share_floor": np.zeros(100), "sd_person_sds": np.full(100, np.nan)})
    table = pd.DataFrame(
        {
            "statistic": ["share_floor", "sd_person_sds"],
            "observed": [0.0, np.nan],
            "p_value": [0.5, np.nan],
            "flagged": [False, False],
        }
    )
    fig = check_plots.plot_ppc_statistics(SimpleNamespace(table=table, replicated=replicated))
    (shown,) = [ax for ax in fig.axes if ax.get_visible()]
    assert shown.get_title() == "share_floor  (p = 0.50)"
    with pytest.raises(AmbidexError, match="no statistic has a finite replicated value"):
        check_plots.plot_ppc_statistics(
            SimpleNamespace(table=table, replicated=replicated), statistics=["sd_person_sds"]
        )
