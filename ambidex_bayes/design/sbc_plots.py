"""Plots of simulation-based calibration: rank ECDF differences and rank histograms.

Each function draws what :mod:`ambidex_bayes.design.sbc_stats` computes (or, for the
histograms, the counts of the ranks themselves) and returns the ``Figure``; none calls
``plt.show()``.

What arviz-plots draws and what stays ours
------------------------------------------
The ECDF panels are an arviz-plots ``PlotCollection`` (one panel per parameter, colour
mapped to the verdict) drawn with its visuals, but the band is ours:
:func:`arviz_plots.plot_ecdf_pit` would either draw its "envelope" band (deprecated in
arviz-plots 1.3 with a ``FutureWarning``, computed for continuous values, without the
adjustment for several parameters) or run its own uniformity test (``pot_c``), whose
verdict could contradict the one :func:`~ambidex_bayes.design.sbc_stats.sbc_calibration`
writes (discrete ranks :math:`0..L`, family-wise level). The figure has to show the band the
verdict was made with. The rank histograms stay hand-drawn: arviz-plots has no SBC rank
histogram (its ``plot_rank`` draws ranks of MCMC chains against each other).
"""

from __future__ import annotations

import math
import textwrap
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.stats import binom

from ambidex_bayes.design.sbc_stats import SBCCalibration, _clean_ranks
from ambidex_bayes.errors import AmbidexError
from ambidex_bayes.plotting import BACKEND, band_data, curve_data

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_sbc_ecdf", "plot_rank_histograms"]

MAX_COLUMNS = 4
FAIL_COLOR = "tab:red"
PASS_COLOR = "tab:blue"
HISTOGRAM_BAND = 0.99


def _panel_grid(n_panels: int, title: str) -> tuple[Figure, list[Axes]]:
    """A grid of up to four columns with exactly ``n_panels`` axes (extras removed)."""
    import matplotlib.pyplot as plt

    ncols = max(1, min(MAX_COLUMNS, n_panels))
    nrows = math.ceil(n_panels / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(3.2 * ncols, 2.5 * nrows + 0.6), layout="constrained", squeeze=False
    )
    flat = list(axes.ravel())
    for ax in flat[n_panels:]:
        fig.delaxes(ax)
    fig.suptitle(
        textwrap.fill(title, width=max(50, 30 * ncols), break_on_hyphens=False), fontsize=10
    )
    return fig, flat[:n_panels]


def _check_same_ranks(calibration: SBCCalibration, ranks: pd.DataFrame) -> None:
    """The ranks must be those the calibration was computed from (parameters and counts)."""
    clean, _, _ = _clean_ranks(ranks, calibration.n_draws)
    counts = clean.groupby("parameter", sort=False).size()
    expected = calibration.table.set_index("parameter")["n"]
    if set(counts.index) != set(expected.index) or any(
        int(counts[p]) != int(expected[p]) for p in expected.index
    ):
        raise AmbidexError(
            "ranks does not match the calibration (different parameters or numbers of ranks); "
            "pass the ranks that sbc_calibration was computed from."
        )


def plot_sbc_ecdf(calibration: SBCCalibration, ranks: pd.DataFrame) -> Figure:
    r"""ECDF of each parameter's scaled ranks minus :math:`z`, inside its simultaneous band.

    One panel per parameter (up to four columns, an arviz-plots ``PlotCollection``): the
    step line :math:`\mathrm{ECDF}(z_k) - z_k`, the shaded band
    :math:`(\mathrm{lower}_k - z_k, \mathrm{upper}_k - z_k)` and a zero line. A failing
    parameter's panel is drawn in red and titled "fails". The suptitle is the verdict's
    first sentence.

    Parameters
    ----------
    calibration : SBCCalibration
        From :func:`ambidex_bayes.design.sbc_stats.sbc_calibration`.
    ranks : DataFrame
        The rank table the calibration was computed from (checked for consistency).
    """
    import xarray as xr
    from arviz_plots import PlotCollection
    from arviz_plots.visuals import fill_between_y, hline, line_xy

    _check_same_ranks(calibration, ranks)
    names = [str(name) for name in calibration.parameters]
    bands, steps = {}, {}
    for name, key in zip(calibration.parameters, names, strict=True):
        grid = calibration.bands_by_parameter[name]
        ecdf = calibration.tests_by_parameter[name].ecdf
        z = np.concatenate(([0.0], grid.z))
        start = np.concatenate(([0.0], -grid.z))  # each curve starts at (0, 0)
        dim = f"z of {key}"
        lower, upper = start + np.append(0.0, grid.lower), start + np.append(0.0, grid.upper)
        bands[key] = band_data(z, lower, upper, dim=dim)
        steps[key] = curve_data(z, start + np.append(0.0, ecdf), dim=dim)
    passes = [calibration.tests_by_parameter[name].passes for name in calibration.parameters]
    ncols = max(1, min(MAX_COLUMNS, len(names)))
    nrows = math.ceil(len(names) / ncols)
    pc = PlotCollection.wrap(
        xr.Dataset(steps),
        cols=["__variable__"],
        col_wrap=MAX_COLUMNS,
        backend=BACKEND,
        figure_kwargs={"figsize": (3.2 * ncols, 2.5 * nrows + 0.6), "layout": "constrained"},
        aes={"color": ["__variable__"]},
        color=[PASS_COLOR if ok else FAIL_COLOR for ok in passes],
    )
    pc.map(fill_between_y, "band", data=xr.Dataset(bands), alpha=0.2, linewidth=0)
    pc.map(line_xy, "ecdf", data=xr.Dataset(steps), drawstyle="steps-post", width=1.2)
    zero = xr.Dataset({key: xr.DataArray(0.0) for key in names})
    pc.map(hline, "zero", data=zero, ignore_aes={"color"}, color="grey", width=0.8)
    fig = pc.viz["figure"].item()
    drawn = {pc.viz["plot"][key].item() for key in names}
    for ax in [ax for ax in fig.axes if ax not in drawn]:
        fig.delaxes(ax)
    for key, ok in zip(names, passes, strict=True):
        ax = pc.viz["plot"][key].item()
        ax.set_title(key if ok else f"{key} (fails)", fontsize=9)
        ax.set_xlim(0.0, 1.0)
        ax.set_xlabel("scaled rank z", fontsize=8)
        ax.tick_params(labelsize=7)
    pc.viz["plot"][names[0]].item().set_ylabel("ECDF - z", fontsize=8)
    fig.suptitle(
        textwrap.fill(calibration.headline, width=max(50, 30 * ncols), break_on_hyphens=False),
        fontsize=10,
    )
    return fig


def _default_bins(n_ranks: int, n_draws: int) -> int:
    """About ten ranks per bin (at most 20 bins), preferring a divisor of ``n_draws + 1``.

    A divisor gives every bin the same number of rank values and hence the same expected
    count.
    """
    values = n_draws + 1
    target = max(1, min(values, 20, n_ranks // 10))
    divisors = [d for d in range(1, target + 1) if values % d == 0]
    best = max(divisors)
    return best if 2 * best >= target else target


def _bin_edges(bins: int, n_draws: int) -> np.ndarray:
    """Integer edges: bin ``j`` holds the ranks ``edges[j] <= r < edges[j + 1]``."""
    return (np.arange(bins + 1) * (n_draws + 1)) // bins


def plot_rank_histograms(ranks: pd.DataFrame, n_draws: int, *, bins: int | None = None) -> Figure:
    r"""Histogram of each parameter's ranks with the count expected under uniformity.

    Bin :math:`j` holds the :math:`w_j` rank values :math:`e_j \le r < e_{j+1}`; under
    uniformity its count is :math:`\mathrm{Binomial}(N, w_j/(L+1))`. Each panel shows the
    counts, the expected count :math:`N w_j/(L+1)` (line) and the central 99% binomial
    interval per bin (shaded). The band is pointwise: with many bins, a bar or two outside
    it is expected; the simultaneous test is :func:`plot_sbc_ecdf`.

    Parameters
    ----------
    ranks : DataFrame
        Long table with ``simulation``, ``parameter``, ``rank``; missing ranks are dropped.
    n_draws : int
        :math:`L`: ranks lie in ``0..n_draws``.
    bins : int, optional
        Number of bins, 1..``n_draws + 1`` (default about ten ranks per bin, at most 20).
    """
    if isinstance(n_draws, bool) or not isinstance(n_draws, int) or n_draws < 1:
        raise AmbidexError(f"n_draws must be a whole number >= 1; got {n_draws!r}.")
    clean, _, _ = _clean_ranks(ranks, n_draws)
    if bins is not None and (
        isinstance(bins, bool) or not isinstance(bins, int) or not 1 <= bins <= n_draws + 1
    ):
        raise AmbidexError(f"bins must be a whole number in 1..{n_draws + 1}; got {bins!r}.")
    names = list(pd.unique(clean["parameter"]))
    fig, axes = _panel_grid(len(names), f"Rank histograms ({n_draws} draws per rank)")
    for ax, name in zip(axes, names, strict=True):
        values = clean.loc[clean["parameter"] == name, "rank"].to_numpy()
        n_bins = bins if bins is not None else _default_bins(values.size, n_draws)
        _draw_histogram_panel(ax, values, _bin_edges(n_bins, n_draws), n_draws)
        ax.set_title(str(name), fontsize=9)
        ax.set_xlabel("rank", fontsize=8)
    axes[0].set_ylabel("count", fontsize=8)
    return fig


def _draw_histogram_panel(ax: Axes, values: np.ndarray, edges: np.ndarray, n_draws: int) -> None:
    counts = np.bincount(np.searchsorted(edges, values, side="right") - 1, minlength=edges.size - 1)
    p = np.diff(edges) / (n_draws + 1)
    n = values.size
    tail = (1 - HISTOGRAM_BAND) / 2
    lo, hi = binom.ppf(tail, n, p), binom.ppf(1 - tail, n, p)
    ax.bar(
        edges[:-1],
        counts,
        width=np.diff(edges),
        align="edge",
        color="grey",
        edgecolor="dimgrey",
        alpha=0.6,
        zorder=2,
    )
    x = edges.astype(float)
    ax.fill_between(
        x,
        np.append(lo, lo[-1]),
        np.append(hi, hi[-1]),
        step="post",
        color=PASS_COLOR,
        alpha=0.2,
        zorder=1,
    )
    ax.step(x, np.append(n * p, n * p[-1]), where="post", color=PASS_COLOR, linewidth=1.2, zorder=3)
    ax.set_xlim(0, n_draws + 1)
    ax.tick_params(labelsize=7)
