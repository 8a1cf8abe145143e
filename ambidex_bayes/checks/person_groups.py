"""Rows grouped by person, for vectorised per-person reductions of many draws at once.

:class:`PersonGroups` sorts the rows by person once; its reductions then work on arrays of
shape ``(..., rows)`` (one data set per leading index, e.g. per posterior draw) with
``numpy.ufunc.reduceat`` and return ``(..., persons)``, persons in sorted order of their ids.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["PersonGroups"]


@dataclass(frozen=True)
class PersonGroups:
    """Rows sorted by person, for vectorised per-person reductions with ``reduceat``.

    Attributes
    ----------
    order : numpy.ndarray
        Row positions sorted by person (stable: a person's rows keep their order).
    starts : numpy.ndarray
        Where each person's rows begin in ``order``.
    counts : numpy.ndarray
        Rows per person.
    labels : numpy.ndarray
        Person ids (str), sorted.
    """

    order: np.ndarray
    starts: np.ndarray
    counts: np.ndarray
    labels: np.ndarray

    @classmethod
    def from_ids(cls, persons: np.ndarray) -> PersonGroups:
        """Group rows by their person ids (one id per row, compared as strings)."""
        persons = np.asarray(persons).astype(str)
        labels, codes = np.unique(persons, return_inverse=True)
        order = np.argsort(codes, kind="stable")
        counts = np.bincount(codes, minlength=len(labels))
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        return cls(order=order, starts=starts, counts=counts, labels=labels)

    def sums(self, y: np.ndarray) -> np.ndarray:
        """Sum per person."""
        return np.add.reduceat(y[..., self.order], self.starts, axis=-1)

    def means(self, y: np.ndarray) -> np.ndarray:
        """Mean per person."""
        return self.sums(y) / self.counts

    def sds(self, y: np.ndarray) -> np.ndarray:
        """SD (ddof=1) per person; NaN for persons with one row."""
        means = self.means(y)
        dev2 = self.sums(y**2) - self.counts * means**2
        with np.errstate(invalid="ignore", divide="ignore"):
            var = np.where(self.counts > 1, dev2 / (self.counts - 1), np.nan)
        return np.sqrt(np.clip(var, 0.0, None))

    def mins(self, y: np.ndarray) -> np.ndarray:
        """Smallest value per person."""
        return np.minimum.reduceat(y[..., self.order], self.starts, axis=-1)

    def maxs(self, y: np.ndarray) -> np.ndarray:
        """Largest value per person."""
        return np.maximum.reduceat(y[..., self.order], self.starts, axis=-1)
