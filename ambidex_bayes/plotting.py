"""What every plot module shares: the axes to draw on.

A leaf of the package (it imports only matplotlib, and that only when a figure is made), so
the plot modules of :mod:`~ambidex_bayes.results`, :mod:`~ambidex_bayes.moderation`,
:mod:`~ambidex_bayes.checks` and :mod:`~ambidex_bayes.priors` need not import each other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["axes_or_new"]


def axes_or_new(ax: Axes | None, *, figsize: tuple[float, float] | None = None) -> Axes:
    """``ax``, or the axes of a new figure (constrained layout, size ``figsize``)."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(layout="constrained", figsize=figsize)
    return ax
