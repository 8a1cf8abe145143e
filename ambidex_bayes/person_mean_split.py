r"""Split level-1 predictors and controls into within- and between-person parts.

For person :math:`j` on occasion :math:`i`, a level-1 predictor (or a control named in
``split_controls``) :math:`x` becomes ``{x}_cw`` :math:`= x_{ij} - \bar x_j` (detrended
when asked, see :class:`OccasionTrend`) and ``{x}_pm`` :math:`= \bar x_j - \bar{\bar x}`,
the person mean centred at the mean over persons; a variable whose person means are the
same for everyone gets no ``{x}_pm``. The reliability of each predictor's person means goes
to a note. :func:`ambidex_bayes.prepare.prepare` calls these steps; the module docstring
there states the whole preparation.

This module holds :class:`Created` (what preparing makes, gathered step by step, shared by
every step of :func:`~ambidex_bayes.prepare.prepare`), :class:`OccasionTrend` (the occasion
centred within person, for detrending), :func:`decompose_level1` and
:func:`split_controls`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from ambidex_bayes.data.mapping import ColumnMapping
from ambidex_bayes.errors import DataError
from ambidex_bayes.reliability import person_mean_reliability, reliability_message
from ambidex_bayes.transforms import (
    NO_VARIANCE_RTOL,
    Transform,
    largest_magnitude,
    standardising_sd,
)

__all__ = ["Created", "OccasionTrend", "decompose_level1", "split_controls"]


@dataclass
class Created:
    """What preparing makes, gathered step by step: transforms, roles, notes, warnings, and
    a description of every created column."""

    notes: list[str]
    roles: dict[str, str]
    transforms: dict[str, Transform] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    made: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class OccasionTrend:
    r"""The occasion centred within person, :math:`t^c_{ij} = t_{ij} - \bar t_j`, for
    detrending (all None without detrending).

    Sums of squares are taken on :math:`t^c / \max|t^c|` (``top``), so that extreme
    occasions neither overflow nor underflow.
    """

    occasion: str | None
    centred: pd.Series | None
    occasion_means: pd.Series | None
    top: float = 1.0
    sum_sq: float = 0.0

    @classmethod
    def none(cls, m: ColumnMapping) -> OccasionTrend:
        """No detrending."""
        return cls(m.occasion, None, None)

    @classmethod
    def of(cls, frame: pd.DataFrame, m: ColumnMapping) -> OccasionTrend:
        """The centred occasion of the rows; a DataError when it never varies."""
        assert m.occasion is not None
        g = frame[m.person]
        t = frame[m.occasion]
        occasion_means = t.groupby(g, sort=False).mean().rename_axis(m.person)
        t_c = t - g.map(occasion_means)
        t_top = largest_magnitude(t_c)
        if not t_top > NO_VARIANCE_RTOL * largest_magnitude(t):
            raise DataError(
                f"cannot detrend: the occasion column {m.occasion!r} does not vary within any "
                "person in the rows used; prepare without detrend=True"
            )
        ss_t = float(((t_c / t_top) ** 2).sum())
        return cls(m.occasion, t_c, occasion_means, t_top, ss_t)

    def slope(self, centred: pd.Series, what: str) -> float:
        """Pooled within-person slope of ``centred`` per unit of the occasion (0 without
        detrending)."""
        if self.centred is None:
            return 0.0
        t_c, t_top = self.centred, self.top
        slope = float(((t_c / t_top) * centred).sum()) / self.sum_sq / t_top
        if not math.isfinite(slope):
            raise DataError(
                f"cannot detrend {what}: its trend per unit of the occasion {self.occasion!r} "
                "is too large to represent (the occasion varies by tiny amounts); rescale the "
                "occasion or prepare without detrend=True"
            )
        return slope


def decompose_level1(
    frame: pd.DataFrame,
    m: ColumnMapping,
    g: pd.Series,
    trend: OccasionTrend,
    created: Created,
    *,
    standardize: bool,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Split each level-1 predictor into ``{x}_cw`` and ``{x}_pm`` (added to ``frame``).

    Returns the raw person means (one column per predictor) and the reliability of each
    predictor's person means; notes and warnings on the reliability go to ``created``.

    A predictor whose person means are the same for everyone (the day number when every
    person is observed on the same days) has no between-person part: no ``{x}_pm`` column,
    no ``x<k>_between`` role (nor ``x_between`` for the first predictor), no reliability,
    and a plain note saying so.
    """
    person_means = pd.DataFrame(index=pd.Index(pd.unique(g), dtype="str", name=m.person))
    reliability: dict[str, float] = {}
    for k, x in enumerate(m.level1):
        person_means[x] = frame[x].groupby(g, sort=False).mean()
        has_between = _split(
            frame, x, g, person_means[x], trend, created, f"x{k}", standardize=standardize
        )
        if not has_between:
            continue
        rel = person_mean_reliability(frame[x], g)
        reliability[x] = rel["reliability"]
        note, warning = reliability_message(x, rel)
        created.notes.append(note)
        if warning:
            created.warnings.append(warning)
    created.roles["x_within"] = created.roles["x0_within"]
    if "x0_between" in created.roles:
        created.roles["x_between"] = created.roles["x0_between"]
    return person_means, reliability


def _split(
    frame: pd.DataFrame,
    x: str,
    g: pd.Series,
    pm: pd.Series,
    trend: OccasionTrend,
    created: Created,
    role: str,
    *,
    standardize: bool,
) -> bool:
    """Add ``{x}_cw`` and (when the person means ``pm`` vary) ``{x}_pm`` to ``frame``, with
    their transforms and the roles ``{role}_within``, ``{role}_between``; return whether
    there is a between part (else a note says there is none)."""
    within = frame[x] - g.map(pm)
    slope = trend.slope(within, repr(x))
    if trend.centred is not None:
        within = within - slope * trend.centred
    s_w = (
        standardising_sd(within, f"the within-person part of {x!r}", reference=frame[x])
        if standardize
        else 1.0
    )
    cw, pmc = f"{x}_cw", f"{x}_pm"
    frame[cw] = within / s_w
    created.transforms[cw] = Transform(cw, x, "within_centred", 0.0, s_w, slope)
    created.roles[f"{role}_within"] = cw
    detrended = ", detrended" if trend.centred is not None else ""
    made = f"{cw!r} ({x} minus the person's own mean{detrended})"
    if _same_for_everyone(pm):
        created.made.append(made)
        created.notes.append(
            f"The person means of {x!r} are the same for everyone, so it has no "
            "between-person part; the model has no between term for it."
        )
        return False
    c_b = float(pm.mean())
    s_b = standardising_sd(pm, f"the person means of {x!r}") if standardize else 1.0
    frame[pmc] = (g.map(pm) - c_b) / s_b
    created.transforms[pmc] = Transform(pmc, x, "person_mean", c_b, s_b)
    created.roles[f"{role}_between"] = pmc
    created.made.append(
        made + f", {pmc!r} (the person mean of {x} centred at the mean over persons, {c_b:.4g})"
    )
    return True


def split_controls(
    frame: pd.DataFrame,
    m: ColumnMapping,
    g: pd.Series,
    split: list[str],
    person_means: pd.DataFrame,
    created: Created,
    *,
    standardize: bool,
) -> None:
    """Split the controls ``split`` into ``{c}_cw`` and ``{c}_pm`` like the level-1
    predictors (not detrended); their raw person means go to ``person_means``."""
    for k, c in enumerate(m.controls):
        if c not in split:
            continue
        person_means[c] = frame[c].groupby(g, sort=False).mean()
        created.roles[f"c{k}"] = c
        _split(
            frame,
            c,
            g,
            person_means[c],
            OccasionTrend.none(m),
            created,
            f"c{k}",
            standardize=standardize,
        )


def _same_for_everyone(person_means: pd.Series) -> bool:
    """Whether the person means are equal but for rounding (relative to their magnitude,
    :data:`~ambidex_bayes.transforms.NO_VARIANCE_RTOL`)."""
    spread = float(person_means.max() - person_means.min())
    return not spread > NO_VARIANCE_RTOL * max(largest_magnitude(person_means), 1e-300)
