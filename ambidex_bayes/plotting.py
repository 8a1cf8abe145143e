"""What every plot module shares: the axes to draw on, and an arviz-plots collection on them.

The generic figures (posterior predictive densities and statistics, LOO-PIT, Pareto k, model
comparison, SBC rank ECDFs, lines with credible bands) are drawn by arviz-plots; this module
gives them one place to draw: :func:`collection_on` wraps a matplotlib ``Axes`` (the
caller's, or a new one) in an :class:`arviz_plots.PlotCollection`, so arviz-plots' functions
and visuals draw on the axes the report and the notebooks hand in.

A leaf of the package (it imports only matplotlib, xarray and arviz-plots, and those only
when a figure is made), so the plot modules of :mod:`~ambidex_bayes.results`,
:mod:`~ambidex_bayes.moderation`, :mod:`~ambidex_bayes.checks`,
:mod:`~ambidex_bayes.priors` and :mod:`~ambidex_bayes.design` need not import each other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import xarray as xr
    from arviz_plots import PlotCollection
    from matplotlib.axes import Axes
    from numpy.typing import ArrayLike

__all__ = ["axes_or_new", "collection_on", "curve_data", "band_data", "BACKEND"]

#: The arviz-plots backend every figure of the package uses.
BACKEND = "matplotlib"


def axes_or_new(ax: Axes | None, *, figsize: tuple[float, float] | None = None) -> Axes:
    """``ax``, or the axes of a new figure (constrained layout, size ``figsize``)."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(layout="constrained", figsize=figsize)
    return ax


def collection_on(
    ax: Axes | None,
    data: xr.Dataset | None = None,
    *,
    aes: Mapping[str, Sequence[str]] | None = None,
    figsize: tuple[float, float] | None = None,
    **aes_values: Sequence[object],
) -> PlotCollection:
    """A one-panel :class:`arviz_plots.PlotCollection` that draws on ``ax`` (or a new axes).

    Parameters
    ----------
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure (constrained layout, size ``figsize``) when omitted.
    data : xarray.Dataset, optional
        The data whose dimensions the aesthetics map (empty by default).
    aes : mapping of str to list of str, optional
        Aesthetic -> dimensions, as in :meth:`arviz_plots.PlotCollection.wrap`
        (e.g. ``{"color": ["moderator"]}``).
    **aes_values
        Values an aesthetic takes (e.g. ``color=["C0", "C1"]``).
    """
    import xarray as xr
    from arviz_plots import PlotCollection

    ax = axes_or_new(ax, figsize=figsize)
    viz = xr.DataTree(
        xr.Dataset(
            {
                "figure": np.array(ax.figure, dtype=object),
                "plot": np.array(ax, dtype=object),
                "row_index": 0,
                "col_index": 0,
            }
        )
    )
    return PlotCollection(
        xr.Dataset() if data is None else data,
        viz,
        aes=dict(aes or {}),
        backend=BACKEND,
        **aes_values,
    )


def curve_data(
    x: ArrayLike, y: ArrayLike, *, name: str | None = None, dim: str = "point"
) -> xr.DataArray:
    """A curve as arviz-plots' ``line_xy`` and ``ecdf_line`` visuals take it
    (``plot_axis`` = x, y)."""
    import xarray as xr

    values = np.vstack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)])
    return xr.DataArray(
        values, dims=("plot_axis", dim), coords={"plot_axis": ["x", "y"]}, name=name
    )


def band_data(
    x: ArrayLike,
    lower: ArrayLike,
    upper: ArrayLike,
    *,
    name: str | None = None,
    dim: str = "point",
) -> xr.DataArray:
    """A band as arviz-plots' ``fill_between_y`` visual takes it
    (``kwarg`` = x, y_bottom, y_top)."""
    import xarray as xr

    values = np.vstack([np.asarray(v, dtype=float) for v in (x, lower, upper)])
    return xr.DataArray(
        values, dims=("kwarg", dim), coords={"kwarg": ["x", "y_bottom", "y_top"]}, name=name
    )
