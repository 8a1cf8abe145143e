"""Prepared diary data: the rows the model uses and every transform that made them.

:class:`PreparedData` is what :func:`ambidex_bayes.prepare.prepare` returns. It can redo the
transforms on new rows (:meth:`PreparedData.apply`), undo them on results
(:meth:`PreparedData.to_original`, :meth:`PreparedData.slope_to_original`) and travel in a
fit file as JSON (:meth:`PreparedData.to_dict`, :meth:`PreparedData.from_dict`; the tables'
JSON form is in :mod:`ambidex_bayes.prepared_json`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ambidex_bayes.data.mapping import ColumnMapping, did_you_mean
from ambidex_bayes.data.validate import (
    MAX_ABS_VALUE,
    derive_columns,
    describe_bad_values,
    person_id_strings,
    row_numbers,
    to_float,
    too_large,
)
from ambidex_bayes.errors import DataError
from ambidex_bayes.factor_coding import FactorCoding
from ambidex_bayes.prepared_json import (
    PREPARED_FORMAT,
    PREPARED_VERSION,
    floats_from_json,
    floats_to_json,
    series_from_json,
    series_to_json,
    table_from_json,
    table_to_json,
)
from ambidex_bayes.transforms import Transform

__all__ = ["PreparedData"]


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
        ``c{k}`` per control (0-based; a split control also has ``c{k}_within`` and
        ``c{k}_between``). A level-1 predictor whose person means are the same
        for everyone has no ``x{k}_between`` (nor ``x_between`` for the first); a factor
        moderator or control's role is its source column (see ``factor_codings``).
    transforms
        Created (or kept) column -> :class:`Transform`.
    person_means
        Index: person id (str); one column per level-1 predictor and split control: its
        observed person mean on the raw scale, computed after leaving out incomplete rows.
    moderator_stats
        Index: the numeric level-2 names (not factors); columns ``mean_over_persons``,
        ``sd_over_persons`` (raw scale).
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
    factor_codings
        Source column -> :class:`~ambidex_bayes.factor_coding.FactorCoding`, for every
        factor (text or categorical, or declared in the mapping) among the moderators and
        controls. The role of a factor (``w<k>``, ``w``, ``c<k>``) holds the source column;
        its contrast columns are in the frame (:meth:`role_columns`).
    partial_rows
        The rows left out only because the outcome or a level-1 predictor is missing (every
        other model value present; see :mod:`ambidex_bayes.partial_rows`), with the created
        columns where they can be computed; None when there are none. Observed centring
        never uses them (they are no part of ``frame``); latent centring imputes their
        predictor or lets them inform the person means. Saved with a fit apart from
        :meth:`to_dict` (see :func:`ambidex_bayes.store.partial_rows_parts`).
        ``dataclasses.replace(prepared, frame=...)`` keeps them: pass ``partial_rows=None``
        too when the new frame holds other data (other persons, simulated outcomes).
    partial_rows_note
        The note on ``partial_rows`` (also among ``notes``, but not in :meth:`to_dict`, which
        describes what a fit file keeps).
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
    factor_codings: Mapping[str, FactorCoding] = field(default_factory=dict)
    partial_rows: pd.DataFrame | None = None
    partial_rows_note: str | None = None

    def role_columns(self, role: str) -> tuple[str, ...]:
        """The frame's column(s) of a role: the one column of a numeric role, the contrast
        columns of a factor role (``w<k>``, ``w``, ``c<k>`` of a factor).

        Raises
        ------
        DataError
            The data have no such role.
        """
        try:
            column = self.roles[role]
        except KeyError:
            raise DataError(
                f"the prepared data have no role {role!r}{did_you_mean(role, self.roles)}; "
                f"roles: {', '.join(self.roles)}"
            ) from None
        coding = self.factor_codings.get(column)
        if coding is not None:
            return coding.columns
        if f"{role}_within" in self.roles and re.fullmatch(r"c\d+", role):
            parts = (f"{role}_within", f"{role}_between")
            return tuple(self.roles[r] for r in parts if r in self.roles)
        return (column,)

    def factor_columns(self) -> dict[str, tuple[str, ...]]:
        """Source column -> contrast columns of every factor."""
        return {c: f.columns for c, f in self.factor_codings.items()}

    def formula_columns(self) -> dict[str, tuple[str, ...]]:
        """Source column -> the columns it enters a formula as, for every column that is not
        one column of the frame: a factor's contrast columns, a split control's within and
        between parts (for ``ModelSpec.render(..., factors=...)``)."""
        out = self.factor_columns()
        for k, c in enumerate(self.mapping.controls):
            if f"c{k}_within" in self.roles:
                out[c] = self.role_columns(f"c{k}")
        return out

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
        transformed when present (derived controls, such as ``weekday``, are derived from a
        date occasion when absent). Factor columns get their contrast columns; a level the
        prepared data do not have is a DataError naming the column and its levels. Returns a copy of ``new`` with the created columns added
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
        if m.derive and m.occasion in out.columns and not set(m.derive) <= set(out.columns):
            out, problem = derive_columns(out, m)
            if problem:
                raise DataError(f"apply(): {problem}")
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
            within = vals - pm
            if t_c is not None:
                within = within - tw.detrend_slope * t_c
            out[tw.column] = within / tw.scale
            between = self.roles.get(f"x{k}_between")
            if between is not None:  # none when the person means did not vary
                tb = self._transform(between)
                out[tb.column] = (pm - tb.centre) / tb.scale
        for w in (*m.level2, *m.controls):
            coding = self.factor_codings.get(w)
            if coding is not None and w in out.columns:
                coded = coding.code(out[w], what="apply()")
                for name in coding.columns:
                    out[name] = coded[name]
        for k, w in enumerate(m.level2):
            if w in self.factor_codings:
                continue
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
            within = self.roles.get(f"c{k}_within")
            if within is not None and c in out.columns:  # a split control
                vals = numbers(c)
                pm = person_level(vals, self.person_means[c])
                tw = self._transform(within)
                out[tw.column] = (vals - pm) / tw.scale
                between = self.roles.get(f"c{k}_between")
                if between is not None:
                    tb = self._transform(between)
                    out[tb.column] = (pm - tb.centre) / tb.scale
                continue
            if c in self.factor_codings:
                continue
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
        """Everything but the frame's rows, JSON-serialisable (NaN becomes None).

        The partial rows and their note are left out: a fit file keeps the prepared rows,
        and the record (part of every fit's cache key) does not depend on the partial rows.
        """
        return {
            "format": PREPARED_FORMAT,
            "version": PREPARED_VERSION,
            "mapping": self.mapping.to_dict(),
            "roles": dict(self.roles),
            "transforms": {k: asdict(t) for k, t in self.transforms.items()},
            "person_means": table_to_json(self.person_means),
            "occasion_means": series_to_json(self.occasion_means),
            "moderator_stats": table_to_json(self.moderator_stats),
            "person_mean_reliability": floats_to_json(self.person_mean_reliability),
            "notes": [n for n in self.notes if n != self.partial_rows_note],
            "warnings": list(self.warnings),
            "detrend": self.detrend,
            "standardize": self.standardize,
            "factor_codings": {k: f.to_dict() for k, f in self.factor_codings.items()},
            "columns": [str(c) for c in self.frame.columns],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, frame: pd.DataFrame | None = None) -> PreparedData:
        """Rebuild from :meth:`to_dict`. Without ``frame`` the frame is empty (0 rows) with
        the stored column names; pass the prepared rows to get them back."""
        if not isinstance(d, Mapping) or d.get("format") != PREPARED_FORMAT:
            raise DataError("not a saved PreparedData (the 'format' entry is missing or wrong)")
        if d.get("version") != PREPARED_VERSION:
            raise DataError(
                f"saved PreparedData has version {d.get('version')!r}; this version of "
                f"ambidex_bayes reads version {PREPARED_VERSION}"
            )
        try:
            mapping = ColumnMapping.from_dict(d["mapping"], source="saved prepared data")
            person_means = table_from_json(d["person_means"], index_name=mapping.person)
            moderator_stats = table_from_json(
                d["moderator_stats"], columns_if_none=["mean_over_persons", "sd_over_persons"]
            )
            occasion_means = series_from_json(d["occasion_means"], index_name=mapping.person)
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
                person_mean_reliability=floats_from_json(d["person_mean_reliability"]),
                detrend=bool(d["detrend"]),
                standardize=bool(d["standardize"]),
                factor_codings={
                    str(k): FactorCoding.from_dict(f)
                    for k, f in (d.get("factor_codings") or {}).items()
                },
            )
        except (KeyError, TypeError) as exc:
            raise DataError(f"saved PreparedData is incomplete or malformed: {exc!r}") from None
