r"""Prepare validated diary data for the model: centre, decompose, optionally detrend/standardise.

For person :math:`j` on occasion :math:`i`, each level-1 predictor :math:`x` is split into

* ``{x}_cw`` -- the within-person part :math:`x_{ij} - \bar x_j` (centred at the person's own
  observed mean), whose person means are 0;
* ``{x}_pm`` -- the between-person part :math:`\bar x_j - \bar{\bar x}`, the person mean centred
  at the mean over *persons* of the person means (each person counts once, however many
  diaries they wrote);

each level-2 moderator :math:`W` becomes ``{w}_c`` :math:`= W_j - \bar W` with :math:`\bar W`
the mean over persons (not over rows: on unbalanced data a row mean would weight persons by
their number of diaries). The outcome keeps its name, controls are used as they are.

Options
-------
``detrend``
    A shared time trend in predictor and outcome confounds the within-person effect. With
    :math:`t^c_{ij} = t_{ij} - \bar t_j` the occasion centred within person, the pooled slope
    of a variable's within-person part is :math:`b = \sum_{ij} t^c_{ij}(v_{ij} - \bar v_j) /
    \sum_{ij} (t^c_{ij})^2`, and :math:`b\,t^c_{ij}` is subtracted from the within-person parts
    of :math:`y` and of each :math:`x` (person means are unchanged). The detrended outcome is
    called ``{y}_dt`` so the raw outcome stays in the frame.
``standardize``
    Divide by a standard deviation (``ddof=1``) after centring: over *rows* for the outcome
    (``{y}_z``), the controls (``{c}_z``) and the within-person parts ``{x}_cw`` (their SD
    over rows is the pooled within-person SD, since every person's within part has mean 0);
    over *persons* for the person means ``{x}_pm`` and moderators ``{w}_c``, so that one unit
    is one SD of the variable at its own level. SDs are computed on the values divided by
    their largest magnitude (no overflow or underflow); an SD at or below ``1e-12`` of that
    magnitude is rounding noise (values equal but for rounding, such as ``0.1 + 0.2`` and
    ``0.3``) and counts as no variance, which cannot be standardised.

Every centre and scale is recorded in a :class:`Transform`, so that new rows can be
transformed the same way (:meth:`PreparedData.apply`) and results turned back into raw units
(:meth:`PreparedData.to_original`, :meth:`PreparedData.slope_to_original`).

Reliability of person means (Lüdtke et al., 2008)
------------------------------------------------
With few diaries per person the observed person mean is a noisy measure of the person's true
mean. From a one-way ANOVA of :math:`x` by person (:math:`J` persons, :math:`N` rows,
:math:`n_j` rows per person),

.. math::

    MS_B = \frac{\sum_j n_j(\bar x_j - \bar x)^2}{J-1},\quad
    MS_W = \frac{\sum_{ij}(x_{ij} - \bar x_j)^2}{N-J},\quad
    n_0 = \frac{N - \sum_j n_j^2/N}{J-1},

:math:`\hat\tau^2 = \max(0, (MS_B - MS_W)/n_0)`, :math:`\hat\sigma^2 = MS_W`,
:math:`ICC(1) = \hat\tau^2/(\hat\tau^2 + \hat\sigma^2)` and the reliability of the observed
person means is :math:`\lambda = \hat\tau^2 / (\hat\tau^2 + \hat\sigma^2/\bar n)` with
:math:`\bar n = N/J`. Below ``constants.PERSON_MEAN_RELIABILITY_MIN`` a warning is given: the
coefficient of ``{x}_pm`` is then roughly :math:`\lambda\beta_B + (1-\lambda)\beta_W`, pulled
toward the within-person effect, so the between-person and contextual effects are biased.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ambidex_bayes import constants
from ambidex_bayes.data.load import DiaryData
from ambidex_bayes.data.mapping import ColumnMapping, did_you_mean
from ambidex_bayes.data.validate import (
    MAX_ABS_VALUE,
    ROW_COLUMN,
    ValidatedData,
    describe_bad_values,
    format_rows,
    outcome_never_varies,
    person_id_strings,
    row_numbers,
    to_float,
    too_large,
)
from ambidex_bayes.errors import DataError, SpecError
from ambidex_bayes.formula_guard import column_name_problem

__all__ = [
    "Transform",
    "PreparedData",
    "prepare",
    "person_mean_reliability",
    "TRANSFORM_KINDS",
]

#: The kinds of :class:`Transform`.
TRANSFORM_KINDS = ("within_centred", "person_mean", "grand_centred", "outcome", "control")

_FORMAT = "ambidex_bayes.PreparedData"
_VERSION = 1

#: A standard deviation at or below this fraction of the largest absolute value it was
#: computed from is rounding noise (values that are equal in exact arithmetic), not variance.
_NO_VARIANCE_RTOL = 1e-12


@dataclass(frozen=True)
class Transform:
    """How one column of the prepared frame was made from a raw column.

    The prepared value is ``(raw - centre - detrend_slope * t_c) / scale``, where for
    ``within_centred`` the centre is the person's own mean (``centre`` is 0.0 here) and
    ``t_c`` is the occasion centred within person (only when detrended).

    Attributes
    ----------
    column
        Column created in the prepared frame.
    source
        Raw column it came from.
    kind
        One of :data:`TRANSFORM_KINDS`.
    centre
        Value subtracted.
    scale
        Value divided by after centring (1.0 unless standardised).
    detrend_slope
        Slope per occasion removed when detrending (0.0 if none).
    """

    column: str
    source: str
    kind: str
    centre: float
    scale: float
    detrend_slope: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in TRANSFORM_KINDS:
            raise SpecError(
                f"unknown transform kind {self.kind!r}; expected one of {TRANSFORM_KINDS}"
            )


def person_mean_reliability(values: pd.Series, persons: pd.Series) -> dict[str, float]:
    """ICC(1) and the reliability of observed person means from a one-way ANOVA.

    Parameters
    ----------
    values
        The variable, one value per row (no missing values).
    persons
        Person id per row.

    Returns
    -------
    dict
        ``icc``, ``reliability`` (:math:`\\lambda`), ``tau2``, ``sigma2``, ``n_bar``; NaN
        where they cannot be estimated (fewer than two persons, or no person with two rows).
    """
    v = pd.Series(values, dtype="float64").reset_index(drop=True)
    g = pd.Series(persons).reset_index(drop=True)
    # The ratios are scale-free: compute on values divided by their largest magnitude so that
    # squares of very large or very small values neither overflow nor underflow.
    top = float(v.abs().max()) if len(v) else 0.0
    if not (math.isfinite(top) and top > 0):
        top = 1.0
    v = v / top
    n_total = len(v)
    counts = v.groupby(g, sort=False).size()
    n_groups = len(counts)
    nan = float("nan")
    out = {"icc": nan, "reliability": nan, "tau2": nan, "sigma2": nan, "n_bar": nan}
    if n_groups < 2 or n_total <= n_groups:
        return out
    means = v.groupby(g, sort=False).transform("mean")
    grand = float(v.mean())
    ms_between = float(((means - grand) ** 2).sum()) / (n_groups - 1)
    ms_within = float(((v - means) ** 2).sum()) / (n_total - n_groups)
    n0 = (n_total - float((counts**2).sum()) / n_total) / (n_groups - 1)
    tau2 = max(0.0, (ms_between - ms_within) / n0)
    n_bar = n_total / n_groups
    out.update(tau2=tau2 * top * top, sigma2=ms_within * top * top, n_bar=n_bar)
    if tau2 + ms_within > 0:
        out["icc"] = tau2 / (tau2 + ms_within)
        out["reliability"] = tau2 / (tau2 + ms_within / n_bar)
    return out


def _jf(value: float) -> float | None:
    """A JSON-safe float (NaN becomes None)."""
    value = float(value)
    return None if math.isnan(value) else value


def _fj(value: float | None) -> float:
    return float("nan") if value is None else float(value)


@dataclass(frozen=True, eq=False)
class PreparedData:
    """Diary data ready for the model, with everything needed to redo or undo the transforms.

    Attributes
    ----------
    frame
        The rows used by the model (rows with a missing model value left out, each counted
        in ``notes``): the validated columns plus the created ones, with a fresh
        ``RangeIndex``; ``__row__`` still gives each row's source row.
    mapping
        The column mapping.
    roles
        Role -> column, for ``str.format`` of formula templates: ``y``, ``person``,
        ``occasion`` (if any), ``x_within``, ``x_between``, ``w`` (if any level-2), and
        ``x{k}_within``, ``x{k}_between`` per level-1 predictor, ``w{k}`` per moderator and
        ``c{k}`` per control (0-based).
    transforms
        Created (or kept) column -> :class:`Transform`.
    person_means
        Index: person id (str); one column per level-1 predictor: its observed person mean on
        the raw scale, computed after leaving out incomplete rows.
    moderator_stats
        Index: level-2 names; columns ``mean_over_persons``, ``sd_over_persons`` (raw scale).
    notes
        Informational messages (the input's notes first).
    warnings
        Messages that qualify the results (e.g. unreliable person means).
    occasion_means
        Person id -> the person's mean occasion (only when detrended; used by :meth:`apply`).
    person_mean_reliability
        Level-1 predictor -> reliability :math:`\\lambda` of its observed person means.
    detrend, standardize
        The options used.
    """

    frame: pd.DataFrame
    mapping: ColumnMapping
    roles: Mapping[str, str]
    transforms: Mapping[str, Transform]
    person_means: pd.DataFrame
    moderator_stats: pd.DataFrame
    notes: tuple[str, ...]
    warnings: tuple[str, ...]
    occasion_means: pd.Series | None = None
    person_mean_reliability: Mapping[str, float] = field(default_factory=dict)
    detrend: bool = False
    standardize: bool = False

    def formula_fields(self) -> dict[str, str]:
        """The roles as a dict, for ``template.format(**prepared.formula_fields())``."""
        return dict(self.roles)

    def _transform(self, column: str) -> Transform:
        try:
            return self.transforms[column]
        except KeyError:
            raise DataError(
                f"no transform is recorded for column {column!r}"
                f"{did_you_mean(column, self.transforms)}; known columns: "
                f"{', '.join(self.transforms)}"
            ) from None

    def apply(self, new: pd.DataFrame) -> pd.DataFrame:
        """Transform new rows with the same centres, scales, detrend slopes and person means.

        Persons seen in the prepared data use their stored person means (and mean occasion);
        new persons use the mean of their own rows in ``new``. Needs the person, level-1 and
        level-2 columns (and the occasion when detrended); the outcome and controls are
        transformed when present. Returns a copy of ``new`` with the created columns added
        (or recomputed) and person ids as strings; ``new`` is not modified.
        """
        if not isinstance(new, pd.DataFrame):
            raise DataError(f"apply() needs a pandas DataFrame, got {type(new).__name__}")
        m = self.mapping
        need = [m.person, *m.level1, *m.level2]
        if self.detrend and m.occasion is not None:
            need.append(m.occasion)
        absent = [c for c in need if c not in new.columns]
        if absent:
            cols = [str(c) for c in new.columns]
            hints = "".join(did_you_mean(c, cols) for c in absent)
            raise DataError(
                f"apply(): the new data lack column(s) {', '.join(map(repr, absent))}{hints}; "
                "they are needed to transform the rows like the prepared data"
            )
        out = new.copy()
        rows = pd.Series(row_numbers(out), index=out.index)
        ids = person_id_strings(out[m.person])
        out[m.person] = ids

        def numbers(col: str) -> pd.Series:
            vals, bad = to_float(out[col])
            if bad.any():
                raise DataError(
                    f"apply(): column {col!r} must be numeric but holds "
                    f"{describe_bad_values(out[col], bad, rows)}"
                )
            big = too_large(vals)
            if big.any():
                raise DataError(
                    f"apply(): column {col!r} holds infinite or too large values (beyond "
                    f"+-{MAX_ABS_VALUE:g}): {describe_bad_values(out[col], big, rows)}"
                )
            return vals

        def person_level(per_row: pd.Series, stored: pd.Series) -> pd.Series:
            """Stored value for known persons, the mean of their rows in ``new`` otherwise."""
            own = per_row.groupby(ids).mean()
            return ids.map(stored).fillna(ids.map(own)).astype("float64")

        t_c = None
        if self.detrend and m.occasion is not None and self.occasion_means is not None:
            t = numbers(m.occasion)
            t_c = t - person_level(t, self.occasion_means)

        for k, x in enumerate(m.level1):
            vals = numbers(x)
            pm = person_level(vals, self.person_means[x])
            tw = self._transform(self.roles[f"x{k}_within"])
            tb = self._transform(self.roles[f"x{k}_between"])
            within = vals - pm
            if t_c is not None:
                within = within - tw.detrend_slope * t_c
            out[tw.column] = within / tw.scale
            out[tb.column] = (pm - tb.centre) / tb.scale
        for k, w in enumerate(m.level2):
            tr = self._transform(self.roles[f"w{k}"])
            out[tr.column] = (numbers(w) - tr.centre) / tr.scale
        if m.outcome in out.columns:
            tr = self._transform(self.roles["y"])
            yv = numbers(m.outcome)
            if t_c is not None:
                yv = yv - tr.detrend_slope * t_c
            if tr.column != m.outcome:
                out[tr.column] = (yv - tr.centre) / tr.scale
        for k, c in enumerate(m.controls):
            tr = self._transform(self.roles[f"c{k}"])
            if c in out.columns and tr.column != c:
                out[tr.column] = (numbers(c) - tr.centre) / tr.scale
        return out

    def to_original(self, column: str, values: Any) -> Any:
        """Undo centring and scaling: ``values * scale + centre``.

        For ``{x}_cw`` this gives the within-person deviation in raw units, for ``{x}_pm``
        the raw person mean, for ``{w}_c`` the raw moderator value. Detrending is not undone
        (the removed trend depends on the occasion). Lists become numpy arrays; Series,
        arrays and xarray objects keep their type.
        """
        tr = self._transform(column)
        if isinstance(values, list | tuple):
            values = np.asarray(values, dtype="float64")
        return values * tr.scale + tr.centre

    def slope_to_original(self, x_column: str, y_column: str) -> float:
        """Factor turning a slope of prepared ``y_column`` on prepared ``x_column`` into raw
        units (outcome units per raw unit of the predictor): ``scale_y / scale_x``."""
        return self._transform(y_column).scale / self._transform(x_column).scale

    def to_dict(self) -> dict[str, Any]:
        """Everything but the frame's rows, JSON-serialisable (NaN becomes None)."""
        pm = self.person_means
        return {
            "format": _FORMAT,
            "version": _VERSION,
            "mapping": self.mapping.to_dict(),
            "roles": dict(self.roles),
            "transforms": {k: asdict(t) for k, t in self.transforms.items()},
            "person_means": {
                "index": [str(i) for i in pm.index],
                "columns": {c: [_jf(v) for v in pm[c]] for c in pm.columns},
            },
            "occasion_means": None
            if self.occasion_means is None
            else {
                "index": [str(i) for i in self.occasion_means.index],
                "values": [_jf(v) for v in self.occasion_means],
            },
            "moderator_stats": {
                "index": [str(i) for i in self.moderator_stats.index],
                "columns": {
                    c: [_jf(v) for v in self.moderator_stats[c]]
                    for c in self.moderator_stats.columns
                },
            },
            "person_mean_reliability": {k: _jf(v) for k, v in self.person_mean_reliability.items()},
            "notes": list(self.notes),
            "warnings": list(self.warnings),
            "detrend": self.detrend,
            "standardize": self.standardize,
            "columns": [str(c) for c in self.frame.columns],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, frame: pd.DataFrame | None = None) -> PreparedData:
        """Rebuild from :meth:`to_dict`. Without ``frame`` the frame is empty (0 rows) with
        the stored column names; pass the prepared rows to get them back."""
        if not isinstance(d, Mapping) or d.get("format") != _FORMAT:
            raise DataError("not a saved PreparedData (the 'format' entry is missing or wrong)")
        if d.get("version") != _VERSION:
            raise DataError(
                f"saved PreparedData has version {d.get('version')!r}; this version of "
                f"ambidex_bayes reads version {_VERSION}"
            )
        try:
            mapping = ColumnMapping.from_dict(d["mapping"], source="saved prepared data")
            pm = d["person_means"]
            person_means = pd.DataFrame(
                {c: [_fj(v) for v in vals] for c, vals in pm["columns"].items()},
                index=pd.Index(pm["index"], dtype="str", name=mapping.person),
            )
            ms = d["moderator_stats"]
            moderator_stats = pd.DataFrame(
                {c: [_fj(v) for v in vals] for c, vals in ms["columns"].items()},
                index=pd.Index(ms["index"], dtype="str"),
                columns=list(ms["columns"]) or ["mean_over_persons", "sd_over_persons"],
            )
            om = d["occasion_means"]
            occasion_means = (
                None
                if om is None
                else pd.Series(
                    [_fj(v) for v in om["values"]],
                    index=pd.Index(om["index"], dtype="str", name=mapping.person),
                    dtype="float64",
                )
            )
            if frame is None:
                frame = pd.DataFrame(columns=d["columns"])
            return cls(
                frame=frame,
                mapping=mapping,
                roles=dict(d["roles"]),
                transforms={k: Transform(**t) for k, t in d["transforms"].items()},
                person_means=person_means,
                moderator_stats=moderator_stats,
                notes=tuple(d["notes"]),
                warnings=tuple(d["warnings"]),
                occasion_means=occasion_means,
                person_mean_reliability={
                    k: _fj(v) for k, v in d["person_mean_reliability"].items()
                },
                detrend=bool(d["detrend"]),
                standardize=bool(d["standardize"]),
            )
        except (KeyError, TypeError) as exc:
            raise DataError(f"saved PreparedData is incomplete or malformed: {exc!r}") from None


def _largest(values: pd.Series) -> float:
    """Largest absolute value (0.0 for no values)."""
    v = np.abs(values.to_numpy(dtype="float64"))
    return float(np.nanmax(v)) if np.isfinite(v).any() else 0.0


def _std(values: pd.Series) -> float:
    r"""Standard deviation (``ddof=1``), computed as :math:`a \cdot SD(v / a)` with
    :math:`a = \max|v|`, so that the squares neither overflow nor underflow. NaN for fewer
    than two values."""
    v = values.to_numpy(dtype="float64")
    v = v[~np.isnan(v)]
    if len(v) < 2:
        return float("nan")
    top = float(np.max(np.abs(v)))
    if top == 0:
        return 0.0
    return float(np.std(v / top, ddof=1)) * top


def _sd(values: pd.Series, what: str, *, reference: pd.Series | None = None) -> float:
    """SD of ``values`` for standardising, or a DataError when it is 0 or rounding noise.

    ``reference``: the raw values ``values`` were computed from (default ``values``); an SD
    at or below ``_NO_VARIANCE_RTOL`` times their largest magnitude counts as no variance.
    """
    sd = _std(values)
    ref = _largest(values if reference is None else reference)
    if not (math.isfinite(sd) and sd > 0 and sd > _NO_VARIANCE_RTOL * ref):
        raise DataError(
            f"cannot standardise {what}: it has no variance in the rows used; "
            "prepare without standardize=True"
        )
    return sd


def _drop_incomplete(
    frame: pd.DataFrame, model: list[str], person: str
) -> tuple[pd.DataFrame, list[str]]:
    """Leave out rows with a missing model value; return the rest and notes counting them."""
    incomplete = frame[model].isna().any(axis=1)
    if not incomplete.any():
        return frame, []
    rows = frame.loc[incomplete, ROW_COLUMN]
    per_col = ", ".join(
        f"{c!r}: {int(n)}" for c, n in frame.loc[incomplete, model].isna().sum().items() if n
    )
    notes = [
        f"{int(incomplete.sum())} of {len(frame)} row(s) were left out because a model value "
        f"is missing ({per_col}; source {format_rows(rows)})."
    ]
    lost = sorted(set(frame[person][incomplete]) - set(frame[person][~incomplete]))
    if lost:
        shown = ", ".join(repr(p) for p in lost[:10]) + (" ..." if len(lost) > 10 else "")
        notes.append(f"{len(lost)} person(s) have no complete row and are left out: {shown}.")
    kept = frame[~incomplete].reset_index(drop=True)
    if len(kept) == 0:
        raise DataError(
            "no row has every model column filled in, so nothing is left to model; "
            "check the missing values: " + notes[0]
        )
    return kept, notes


def _check_rows_used(frame: pd.DataFrame, m: ColumnMapping, n_left_out: int) -> None:
    """Raise if, in the rows left after dropping incomplete ones, the outcome is constant,
    no level-1 predictor varies within any person, or a moderator is the same for everyone.

    :func:`~ambidex_bayes.data.validate.validate` checks this on all rows; leaving out
    incomplete rows can take the variation away again.
    """
    if not n_left_out:
        return
    where = (
        f"in the {len(frame)} row(s) used ({n_left_out} row(s) with a missing model value "
        "were left out)"
    )
    g = frame[m.person]
    if frame[m.outcome].nunique() < 2:
        raise DataError(
            f"{where}, column {m.outcome!r} (outcome) has no variance; a constant cannot be "
            "modelled. Fill in the missing values or check the data."
        )
    if (frame[m.outcome].groupby(g, sort=False).nunique() < 2).all():
        raise DataError(f"{where}, {outcome_never_varies(m.outcome)}")
    for x in m.level1:
        if (frame[x].groupby(g, sort=False).nunique() < 2).all():
            raise DataError(
                f"{where}, column {x!r} (level-1 predictor) never varies within a person, so "
                "it has no within-person effect. Fill in the missing values or check the data."
            )
    for w in m.level2:
        if frame[w].groupby(g, sort=False).first().nunique() < 2:
            raise DataError(
                f"{where}, column {w!r} (level-2 moderator) has the same value for every "
                "person; it cannot be modelled. Fill in the missing values or check the data."
            )


#: An outcome that varies from day to day within fewer than this share of the persons with
#: several diaries, or within at most :data:`_FEW_VARYING_PERSONS` of ten or more such
#: persons, draws a warning.
_MIN_VARYING_SHARE = 0.1
_FEW_VARYING_PERSONS = 2


def _few_varying_persons(y: pd.Series, g: pd.Series, name: str) -> str | None:
    """A warning when the outcome varies within only a few persons."""
    per_person = y.groupby(g, sort=False)
    several = per_person.size() > 1
    n_several = int(several.sum())
    n_varying = int((per_person.nunique()[several] > 1).sum())
    few = n_varying < _MIN_VARYING_SHARE * n_several or (
        n_varying <= _FEW_VARYING_PERSONS and n_several >= 10
    )
    if n_varying == 0 or not few:
        return None
    return (
        f"The outcome {name!r} varies from day to day within only {n_varying} of the "
        f"{n_several} persons with more than one diary; for the others every diary holds the "
        "same value. The residual SD and the within-person slopes rest on those few persons, "
        "so expect wide intervals and check the data (is the outcome a person-level variable, "
        "or are values carried forward?)."
    )


def _check_new_names(
    frame: pd.DataFrame, m: ColumnMapping, y_col: str, control_cols: list[str]
) -> None:
    """Raise if a column that prepare creates already exists or would be made twice."""
    created = [
        *(n for x in m.level1 for n in (f"{x}_cw", f"{x}_pm")),
        *(f"{w}_c" for w in m.level2),
        *([y_col] if y_col != m.outcome else []),
        *(n for n, c in zip(control_cols, m.controls, strict=True) if n != c),
    ]
    clashes = sorted({n for n in created if n in frame.columns or created.count(n) > 1})
    if clashes:
        raise DataError(
            f"prepare() would create column(s) {', '.join(map(repr, clashes))}, but that name is "
            "already a column of the data (or made twice); rename the column in the data and "
            "the mapping so that the names derived from it are free"
        )


def prepare(
    data: DiaryData | ValidatedData,
    *,
    detrend: bool = False,
    standardize: bool = False,
) -> PreparedData:
    """Centre and decompose validated diary data for the multilevel model.

    Parameters
    ----------
    data
        From :func:`~ambidex_bayes.data.load.load_diary` or
        :func:`~ambidex_bayes.data.validate.validate` (not modified).
    detrend
        Remove a pooled linear trend in the occasion from the within-person parts of the
        outcome and of each level-1 predictor (needs an occasion column).
    standardize
        Divide the centred columns by their SD (see the module docstring for which SD).

    Returns
    -------
    PreparedData

    Raises
    ------
    DataError
        No complete rows; in the complete rows, an outcome without variance, a level-1
        predictor that never varies within a person or a moderator with one value for all
        persons; a created column name that already exists; nothing to detrend or
        standardise.
    SpecError
        ``detrend=True`` without an occasion column in the mapping.
    """
    if not isinstance(data, DiaryData | ValidatedData):
        raise DataError(
            f"prepare() needs the result of load_diary() or validate(), got {type(data).__name__}"
        )
    m = data.mapping
    if detrend and m.occasion is None:
        raise SpecError(
            "detrend=True needs an occasion column: add occasion = '<column>' to the mapping"
        )
    model = list(m.model_columns)
    for column in model:
        problem = column_name_problem(column)
        if problem:
            raise DataError(f"{data.source}: {problem}.")
    absent = [c for c in model if c not in data.frame.columns]
    if absent:
        raise DataError(f"prepare(): the data lack the model column(s) {absent}; validate first")

    notes = list(data.notes)
    frame = data.frame.copy()
    if ROW_COLUMN not in frame.columns:
        frame[ROW_COLUMN] = row_numbers(frame)
    frame[m.person] = person_id_strings(frame[m.person])
    for col in model:
        if col != m.person:
            frame[col] = frame[col].astype("float64")

    n_before = len(frame)
    frame, dropped = _drop_incomplete(frame, model, m.person)
    notes.extend(dropped)
    _check_rows_used(frame, m, n_before - len(frame))
    y_col = f"{m.outcome}_z" if standardize else (f"{m.outcome}_dt" if detrend else m.outcome)
    control_cols = [f"{c}_z" if standardize else c for c in m.controls]
    _check_new_names(frame, m, y_col, control_cols)

    g = frame[m.person]
    t_c: pd.Series | None = None
    occasion_means: pd.Series | None = None
    t_top, ss_t = 1.0, 0.0
    if detrend:
        assert m.occasion is not None
        t = frame[m.occasion]
        occasion_means = t.groupby(g, sort=False).mean().rename_axis(m.person)
        t_c = t - g.map(occasion_means)
        # Sums of squares on t_c / max|t_c|: no overflow or underflow for extreme occasions.
        t_top = _largest(t_c)
        if not t_top > _NO_VARIANCE_RTOL * _largest(t):
            raise DataError(
                f"cannot detrend: the occasion column {m.occasion!r} does not vary within any "
                "person in the rows used; prepare without detrend=True"
            )
        ss_t = float(((t_c / t_top) ** 2).sum())

    def trend(centred: pd.Series, what: str) -> float:
        """Pooled within-person slope of ``centred`` per unit of the occasion."""
        if t_c is None:
            return 0.0
        slope = float(((t_c / t_top) * centred).sum()) / ss_t / t_top
        if not math.isfinite(slope):
            raise DataError(
                f"cannot detrend {what}: its trend per unit of the occasion {m.occasion!r} is "
                "too large to represent (the occasion varies by tiny amounts); rescale the "
                "occasion or prepare without detrend=True"
            )
        return slope

    transforms: dict[str, Transform] = {}
    roles: dict[str, str] = {"y": y_col, "person": m.person}
    if m.occasion is not None:
        roles["occasion"] = m.occasion
    person_means = pd.DataFrame(index=pd.Index(pd.unique(g), dtype="str", name=m.person))
    reliability: dict[str, float] = {}
    warnings: list[str] = []
    made: list[str] = []

    for k, x in enumerate(m.level1):
        pm = frame[x].groupby(g, sort=False).mean()
        person_means[x] = pm
        within = frame[x] - g.map(pm)
        slope = trend(within, repr(x))
        if t_c is not None:
            within = within - slope * t_c
        s_w = (
            _sd(within, f"the within-person part of {x!r}", reference=frame[x])
            if standardize
            else 1.0
        )
        c_b = float(pm.mean())
        s_b = _sd(pm, f"the person means of {x!r}") if standardize else 1.0
        cw, pmc = f"{x}_cw", f"{x}_pm"
        frame[cw] = within / s_w
        frame[pmc] = (g.map(pm) - c_b) / s_b
        transforms[cw] = Transform(cw, x, "within_centred", 0.0, s_w, slope)
        transforms[pmc] = Transform(pmc, x, "person_mean", c_b, s_b)
        roles[f"x{k}_within"], roles[f"x{k}_between"] = cw, pmc
        made.append(
            f"{cw!r} ({x} minus the person's own mean"
            + (", detrended" if detrend else "")
            + ")"
            + f", {pmc!r} (the person mean of {x} centred at the mean over persons, {c_b:.4g})"
        )
        rel = person_mean_reliability(frame[x], g)
        reliability[x] = rel["reliability"]
        note, warning = _reliability_message(x, rel)
        notes.append(note)
        if warning:
            warnings.append(warning)
    roles["x_within"], roles["x_between"] = roles["x0_within"], roles["x0_between"]
    warning = _few_varying_persons(frame[m.outcome], g, m.outcome)
    if warning:
        warnings.append(warning)

    stats = []
    for k, w in enumerate(m.level2):
        per_person = frame[w].groupby(g, sort=False).first()
        centre = float(per_person.mean())
        sd = _std(per_person)
        scale = _sd(per_person, f"the moderator {w!r} over persons") if standardize else 1.0
        col = f"{w}_c"
        frame[col] = (frame[w] - centre) / scale
        transforms[col] = Transform(col, w, "grand_centred", centre, scale)
        roles[f"w{k}"] = col
        stats.append({"mean_over_persons": centre, "sd_over_persons": sd})
        made.append(f"{col!r} ({w} centred at its mean over persons, {centre:.4g})")
    if m.level2:
        roles["w"] = roles["w0"]
    moderator_stats = pd.DataFrame(
        stats,
        index=pd.Index(list(m.level2), dtype="str"),
        columns=["mean_over_persons", "sd_over_persons"],
    )

    yv = frame[m.outcome]
    y_slope = 0.0
    if t_c is not None:
        y_slope = trend(
            yv - yv.groupby(g, sort=False).transform("mean"), f"the outcome {m.outcome!r}"
        )
        yv = yv - y_slope * t_c
    y_centre, y_scale = (
        (float(yv.mean()), _sd(yv, f"the outcome {m.outcome!r}", reference=frame[m.outcome]))
        if standardize
        else (0.0, 1.0)
    )
    if y_col != m.outcome:
        frame[y_col] = (yv - y_centre) / y_scale
        made.append(
            f"{y_col!r} (the outcome"
            + (", detrended within person" if detrend else "")
            + (", standardised over rows" if standardize else "")
            + ")"
        )
    transforms[y_col] = Transform(y_col, m.outcome, "outcome", y_centre, y_scale, y_slope)

    for k, (c, col) in enumerate(zip(m.controls, control_cols, strict=True)):
        centre, scale = (
            (float(frame[c].mean()), _sd(frame[c], f"the control {c!r}"))
            if standardize
            else (0.0, 1.0)
        )
        if col != c:
            frame[col] = (frame[c] - centre) / scale
        transforms[col] = Transform(col, c, "control", centre, scale)
        roles[f"c{k}"] = col

    if detrend:
        slopes = ", ".join(
            f"{t.source}: {t.detrend_slope:.4g}"
            for t in transforms.values()
            if t.kind in ("within_centred", "outcome")
        )
        notes.append(f"A pooled linear trend per occasion was removed within persons ({slopes}).")
    if standardize:
        notes.append(
            "Standardised: the outcome, controls and within-person parts by their SD over rows; "
            "person means and moderators by their SD over persons."
        )
    notes.append("Created columns: " + "; ".join(made) + ".")
    if len(frame) < n_before:
        counts = g.value_counts()
        n_single = int((counts == 1).sum())
        if n_single:
            notes.append(
                f"In the rows used, {n_single} person(s) have a single diary; they are kept "
                "(they inform the between-person part and the intercept variance, not the "
                "within-person slope)."
            )

    return PreparedData(
        frame=frame,
        mapping=m,
        roles=roles,
        transforms=transforms,
        person_means=person_means,
        moderator_stats=moderator_stats,
        notes=tuple(notes),
        warnings=tuple(warnings),
        occasion_means=occasion_means,
        person_mean_reliability=reliability,
        detrend=detrend,
        standardize=standardize,
    )


def _reliability_message(x: str, rel: dict[str, float]) -> tuple[str, str | None]:
    """A note on the reliability of x's person means, and a warning when it is low."""
    lam = rel["reliability"]
    if math.isnan(lam):
        note = (
            f"The reliability of the person means of {x!r} could not be estimated (it needs at "
            "least two persons and some person with more than one diary)."
        )
        return note, None
    note = (
        f"Reliability of the observed person means of {x!r}: lambda = {lam:.2f} "
        f"(ICC(1) = {rel['icc']:.2f}, {rel['n_bar']:.1f} diaries per person on average)."
    )
    threshold = constants.PERSON_MEAN_RELIABILITY_MIN
    if lam >= threshold:
        return note, None
    return note, (
        f"The observed person means of {x!r} are unreliable (lambda = {lam:.2f} < {threshold:.2f}; "
        f"ICC(1) = {rel['icc']:.2f} with {rel['n_bar']:.1f} diaries per person on average). "
        f"The between-person effect of {x!r} and the contextual effect are biased (the "
        "between-person slope is pulled toward the within-person slope) and their uncertainty "
        "is understated. The within-person effect and the cross-level interaction are not "
        "affected. To fix it: collect more diaries per person, or use latent person-mean "
        "centring (as in Mplus) for the between-person part."
    )
