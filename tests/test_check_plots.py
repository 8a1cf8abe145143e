"""The checks' plot twins draw what the compute functions return (arviz-plots draws most).

The inputs are made by hand in the shape the compute functions return them, so no fit is
needed; each test checks that the data drawn are the data given.
"""

from __future__ import annotations

from types import SimpleNamespace

import arviz_stats as azs
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from ambidex_bayes.checks import comparison
from ambidex_bayes.checks import plots as check_plots
from ambidex_bayes.errors import AmbidexError


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


def test_ppc_density_draws_the_overlay_curves():
    grid = np.linspace(-3.0, 3.0, 40)
    frames = [pd.DataFrame({"kind": "observed", "replicate": -1, "x": grid, "density": grid**2})]
    for k in range(3):
        frames.append(
            pd.DataFrame({"kind": "replicated", "replicate": k, "x": grid, "density": grid + k})
        )
    overlay = pd.concat(frames, ignore_index=True)
    overlay.attrs.update(range=(-2.0, 2.0), outcome="inno", model="M3")
    _, ax = plt.subplots()
    out = check_plots.plot_ppc_density(overlay, ax=ax)
    assert out is ax
    (replicated,) = ax.collections
    drawn = sorted(segment[:, 1].tolist() for segment in replicated.get_segments())
    assert drawn == sorted((grid + k).tolist() for k in range(3))
    observed = [line for line in ax.lines if line.get_label() == "observed"]
    assert observed[0].get_ydata().tolist() == pytest.approx((grid**2).tolist())
    bounds = [line.get_xdata()[0] for line in ax.lines if line.get_linestyle() == ":"]
    assert bounds == [-2.0, 2.0]
    assert ax.get_xlabel() == "inno"
    assert ax.get_title() == "Posterior predictive density (M3)"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["replicated", "observed"]


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


def test_loo_pit_draws_the_ecdf_difference_and_band():
    u = np.linspace(0.0, 1.0, 21)
    calibration = pd.DataFrame(
        {"u": u, "ecdf": u**1.2, "lower": u - 0.1, "upper": u + 0.1, "difference": u**1.2 - u}
    )
    calibration.attrs.update(ci_prob=0.9)
    ax = check_plots.plot_loo_pit(calibration)
    (ecdf,) = [line for line in ax.lines if line.get_label() == "LOO-PIT ECDF"]
    assert ecdf.get_ydata().tolist() == pytest.approx((u**1.2 - u).tolist())
    (band,) = ax.collections
    assert band.get_label() == "90% band for uniform PIT"
    ys = np.concatenate([path.vertices[:, 1] for path in band.get_paths()])
    assert ys.min() == pytest.approx(-0.1) and ys.max() == pytest.approx(0.1)
    with pytest.raises(AmbidexError, match="lacks the column"):
        check_plots.plot_loo_pit(calibration.drop(columns="upper"))


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
