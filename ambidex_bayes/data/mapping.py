"""Which column of a diary file plays which role: the column mapping.

A :class:`ColumnMapping` says which column holds the person id, the occasion (day), the
outcome, the level-1 (day-level) predictors, the level-2 (person-level) moderators and the
controls, which response range each column has, and which item columns are averaged into a
scale score (:class:`ScaleSpec`). It is written by hand as a small TOML file::

    person = "pid"
    occasion = "day"
    outcome = "innovation"
    level1 = ["uncertainty"]
    level2 = ["support"]
    [ranges]
    innovation = [1, 5]
    [scales.support]
    items = ["sup1", "sup2", "sup3"]
    reverse = ["sup3"]
    range = [1, 5]
    [factors.sector]
    reference = "Public"
    contrast = "treatment"

Factors: a level-2 moderator or a control whose cells are text (or a pandas categorical)
is a factor without being declared; ``[factors.<column>]`` chooses its reference level or
sum contrasts, or declares a numeric column (codes 1, 2, 3) a factor. A level-1 predictor
cannot be a factor (a factor has no within- and between-person parts); give it as a
control. The occasion may also be a level-1 predictor (the day number as a time trend).

``split_controls = ["stress"]`` (or ``true`` for every numeric control) splits controls into
within- and between-person parts like the level-1 predictors. ``derive = ["weekday"]`` or
``derive = ["weekend"]`` adds, from a date occasion, the control ``weekday`` (a factor
Mon ... Sun, Monday the reference) or ``weekend`` (1 on Saturday and Sunday, else 0); not
both, as they are collinear.

Unknown keys are errors with a "did you mean ...?" hint, so a typo never passes silently.
How single fields are read and checked (names, ranges, keys, the hint) is
:mod:`ambidex_bayes.data.mapping_fields`; ``ROW_COLUMN`` and ``did_you_mean`` are
re-exported here.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ambidex_bayes.data.mapping_fields import (
    ROW_COLUMN,
    check_keys,
    column_names,
    did_you_mean,
    duplicates,
    show_value,
    value_range,
)
from ambidex_bayes.errors import SpecError
from ambidex_bayes.factor_coding import CONTRASTS, level_name

__all__ = ["ScaleSpec", "FactorSpec", "ColumnMapping", "did_you_mean", "ROW_COLUMN", "DERIVABLE"]

_MAPPING_KEYS = (
    "person",
    "occasion",
    "outcome",
    "level1",
    "level2",
    "controls",
    "ranges",
    "scales",
    "factors",
    "split_controls",
    "derive",
)
_REQUIRED_KEYS = ("person", "outcome", "level1")
_SCALE_KEYS = ("items", "reverse", "range")
_FACTOR_KEYS = ("reference", "contrast")
#: Columns that can be derived from a date occasion (``derive`` in a mapping).
DERIVABLE = ("weekday", "weekend")


def _check_outcome_not_predictor(
    outcome: str,
    level1: tuple[str, ...],
    level2: tuple[str, ...],
    controls: tuple[str, ...],
    scales: Mapping[str, Any],
) -> None:
    """Refuse a mapping in which the outcome predicts itself (directly or through a scale)."""
    roles = {
        **{c: ("a control", "controls") for c in controls},
        **{c: ("a level-2 moderator", "level2") for c in level2},
        **{c: ("a level-1 predictor", "level1") for c in level1},
    }
    if outcome in roles:
        role, key = roles[outcome]
        raise SpecError(
            f"the outcome {outcome!r} is also listed as {role} ({key!r}): a variable cannot "
            "predict itself (the model would explain it perfectly, with a residual SD of 0 and "
            f"meaningless slopes). Remove {outcome!r} from {key!r}, or choose another outcome."
        )
    for name, scale in scales.items():
        if name in roles and outcome in scale.items:
            role, key = roles[name]
            raise SpecError(
                f"the scale {name!r}, {role}, averages the outcome {outcome!r} among its items: "
                "the outcome would partly predict itself. Remove the outcome from the scale's "
                "items, or choose another outcome."
            )
        if name == outcome:
            shared = [i for i in scale.items if i in roles]
            if shared:
                role, key = roles[shared[0]]
                raise SpecError(
                    f"the outcome scale {outcome!r} averages {shared[0]!r}, which is also "
                    f"{role}: the outcome would partly predict itself. Remove it from the "
                    "scale's items or from the predictors."
                )


@dataclass(frozen=True)
class ScaleSpec:
    """Items averaged into one scale score.

    Parameters
    ----------
    items
        Item columns averaged into the score.
    reverse
        The items (a subset of ``items``) that are reverse-keyed: scored as ``lo + hi - value``.
    range
        The items' response range ``(lo, hi)``, e.g. ``(1, 5)``. Needed to reverse-key; when
        given, item values outside it are reported as errors.
    """

    items: tuple[str, ...]
    reverse: tuple[str, ...] = ()
    range: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        items = column_names(self.items, "scale items")
        reverse = column_names(self.reverse, "reverse-keyed items")
        if not items:
            raise SpecError("a scale needs at least one item")
        dup = duplicates(items)
        if dup:
            raise SpecError(f"scale items are listed twice: {', '.join(dup)}")
        stray = [r for r in reverse if r not in items]
        if stray:
            raise SpecError(
                f"reverse-keyed item(s) {', '.join(map(repr, stray))} are not among the scale's "
                f"items {list(items)}; add them to items or fix the name"
            )
        rng = None if self.range is None else value_range(self.range, "scale range")
        object.__setattr__(self, "items", items)
        object.__setattr__(self, "reverse", reverse)
        object.__setattr__(self, "range", rng)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, where: str = "scale") -> ScaleSpec:
        """Build from ``{"items": [...], "reverse": [...], "range": [lo, hi]}``."""
        if not isinstance(d, Mapping):
            raise SpecError(f"{where} must be a table with keys {', '.join(_SCALE_KEYS)}")
        check_keys(d, _SCALE_KEYS, where)
        if "items" not in d:
            raise SpecError(f"{where}: the required key 'items' is missing")
        try:
            return cls(items=d["items"], reverse=d.get("reverse", ()), range=d.get("range"))
        except SpecError as exc:
            raise SpecError(f"{where}: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form, the inverse of :meth:`from_dict`."""
        return {
            "items": list(self.items),
            "reverse": list(self.reverse),
            "range": None if self.range is None else list(self.range),
        }


@dataclass(frozen=True)
class FactorSpec:
    """How a factor column is coded (``[factors.<column>]`` in a mapping file).

    Parameters
    ----------
    reference
        The reference level of treatment coding, as the level is written in the data
        (a number is read as its level name: ``2`` and ``2.0`` are the level ``"2"``);
        default: the first level (category order for a categorical, else sorted).
    contrast
        ``"treatment"`` (default) or ``"sum"`` (:mod:`ambidex_bayes.factor_coding`).
    """

    reference: str | None = None
    contrast: str = "treatment"

    def __post_init__(self) -> None:
        if self.contrast not in CONTRASTS:
            raise SpecError(
                f"contrast must be {' or '.join(map(repr, CONTRASTS))}; got {show_value(self.contrast)}"
                f"{did_you_mean(str(self.contrast), CONTRASTS)}"
            )
        ref = self.reference
        if ref is not None:
            if isinstance(ref, bool) or not isinstance(ref, str | numbers.Real):
                raise SpecError(f"reference must be a level name; got {show_value(ref)}")
            name = level_name(ref)
            if name is None:
                raise SpecError(f"reference must be a level name; got {show_value(ref)}")
            if self.contrast == "sum":
                raise SpecError(
                    f"sum contrasts have no reference level; remove reference = {show_value(ref)} "
                    "or use contrast = 'treatment'"
                )
            object.__setattr__(self, "reference", name)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, where: str = "factor") -> FactorSpec:
        """Build from ``{"reference": ..., "contrast": ...}`` (both optional)."""
        if not isinstance(d, Mapping):
            raise SpecError(f"{where} must be a table with keys {', '.join(_FACTOR_KEYS)}")
        check_keys(d, _FACTOR_KEYS, where)
        try:
            return cls(reference=d.get("reference"), contrast=d.get("contrast", "treatment"))
        except SpecError as exc:
            raise SpecError(f"{where}: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form, the inverse of :meth:`from_dict`."""
        return {"reference": self.reference, "contrast": self.contrast}


@dataclass(frozen=True)
class ColumnMapping:
    """The role of each column of a diary data set.

    Parameters
    ----------
    person
        Person id column.
    outcome
        Outcome column (day level).
    level1
        Level-1 predictors (vary within person); at least one.
    occasion
        Occasion column (day number or date), optional.
    level2
        Level-2 moderators (constant within person).
    controls
        Numeric day-level controls used as they are.
    ranges
        Declared range ``(lo, hi)`` per column; values outside are validation errors.
    scales
        Scale name -> :class:`ScaleSpec`. Scores are computed before validation, in a column
        named after the scale, so a scale name can be used as outcome, predictor or moderator.
    factors
        Column -> :class:`FactorSpec` for level-2 or control columns coded as factors (text
        and categorical columns are factors without being listed here).
    split_controls
        Controls split into within- and between-person parts (``{c}_cw``, ``{c}_pm``), or
        True for every numeric control.
    derive
        Columns derived from a date occasion (:data:`DERIVABLE`); they are added to the
        controls (listed there or not).
    """

    person: str
    outcome: str
    level1: tuple[str, ...]
    occasion: str | None = None
    level2: tuple[str, ...] = ()
    controls: tuple[str, ...] = ()
    ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict, hash=False)
    scales: Mapping[str, ScaleSpec] = field(default_factory=dict, hash=False)
    factors: Mapping[str, FactorSpec] = field(default_factory=dict, hash=False)
    split_controls: tuple[str, ...] | bool = ()
    derive: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for key in ("person", "outcome"):
            value = getattr(self, key)
            if not isinstance(value, str) or not value:
                raise SpecError(
                    f"{key!r} must be a column name (a non-empty string); got {show_value(value)}"
                )
        if self.occasion is not None and (not isinstance(self.occasion, str) or not self.occasion):
            raise SpecError(
                f"'occasion' must be a column name or absent; got {show_value(self.occasion)}"
            )
        for key in ("person", "outcome", "occasion"):
            if getattr(self, key) == ROW_COLUMN:
                raise SpecError(
                    f"{key!r}: the name {ROW_COLUMN!r} is reserved for the source row numbers; "
                    "rename that column in the data and the mapping"
                )
        level1 = column_names(self.level1, "'level1'")
        if not level1:
            raise SpecError("'level1' must name at least one level-1 predictor")
        level2 = column_names(self.level2, "'level2'")
        derive = column_names(self.derive, "'derive'")
        unknown = [d for d in derive if d not in DERIVABLE]
        if unknown:
            raise SpecError(
                f"'derive': cannot derive {', '.join(map(repr, unknown))}"
                f"{did_you_mean(unknown[0], DERIVABLE)}; derivable: {', '.join(DERIVABLE)}"
            )
        if derive and self.occasion is None:
            raise SpecError(
                "'derive' needs a date occasion: add occasion = '<date column>' to the mapping"
            )
        derive = tuple(dict.fromkeys(derive))
        if set(derive) == {"weekday", "weekend"}:
            raise SpecError(
                "'derive': weekday and weekend together are collinear controls (weekend is the "
                "sum of the Sat and Sun columns of weekday); derive one of them"
            )
        controls = column_names(self.controls, "'controls'")
        controls = (*controls, *(d for d in derive if d not in controls))
        object.__setattr__(self, "derive", derive)
        object.__setattr__(self, "level1", level1)
        object.__setattr__(self, "level2", level2)
        object.__setattr__(self, "controls", controls)

        _check_outcome_not_predictor(self.outcome, level1, level2, controls, {})
        occ = (self.occasion,) if self.occasion is not None else ()
        # The occasion may also be a level-1 predictor (a time trend): that pair is allowed.
        used = (self.person, *occ, self.outcome, *level1, *level2, *controls)
        dup = [c for c in duplicates(used) if not (c in occ and used.count(c) == 2 and c in level1)]
        if dup:
            raise SpecError(
                f"column(s) {', '.join(map(repr, dup))} are given more than one role; each column "
                "may be the person id, occasion, outcome, a level-1, level-2 or control variable "
                "once (only the occasion may also be a level-1 predictor)"
            )
        used = self.model_columns

        if not isinstance(self.scales, Mapping):
            raise SpecError("'scales' must be a table of scale name -> items")
        scales: dict[str, ScaleSpec] = {}
        for name, spec in self.scales.items():
            if not isinstance(name, str) or not name:
                raise SpecError(f"scale names must be non-empty strings; got {name!r}")
            if not isinstance(spec, ScaleSpec):
                spec = ScaleSpec.from_dict(spec, where=f"scale {name!r}")
            if name in spec.items:
                raise SpecError(
                    f"scale {name!r} lists itself among its items; give it another name"
                )
            scales[name] = spec
        _check_outcome_not_predictor(self.outcome, level1, level2, controls, scales)
        object.__setattr__(self, "scales", scales)

        if not isinstance(self.ranges, Mapping):
            raise SpecError("'ranges' must be a table of column -> [lowest, highest]")
        known = set(used) | {i for s in scales.values() for i in s.items} | set(scales)
        ranges: dict[str, tuple[float, float]] = {}
        for col, rng in self.ranges.items():
            if col not in known:
                raise SpecError(
                    f"a range is declared for {col!r}, which is neither a model column nor a scale "
                    f"item{did_you_mean(col, sorted(known))}; fix the name or remove the range"
                )
            ranges[col] = value_range(rng, f"range of {col!r}")
        object.__setattr__(self, "ranges", ranges)
        self._check_factors(level1, level2, controls, scales, ranges)
        split = self.split_controls
        if not isinstance(split, bool):
            split = column_names(split, "'split_controls'")
            stray = [c for c in split if c not in controls]
            if stray:
                raise SpecError(
                    f"'split_controls': {', '.join(map(repr, stray))} "
                    f"{'is' if len(stray) == 1 else 'are'} not among the controls"
                    f"{did_you_mean(stray[0], controls)}; add to 'controls' or fix the name"
                )
            declared = [c for c in split if c in self.factors]
            if declared:
                raise SpecError(
                    f"'split_controls': {declared[0]!r} is a factor; a factor cannot be split "
                    "into within- and between-person parts"
                )
            object.__setattr__(self, "split_controls", tuple(dict.fromkeys(split)))

    def _check_factors(
        self,
        level1: tuple[str, ...],
        level2: tuple[str, ...],
        controls: tuple[str, ...],
        scales: Mapping[str, ScaleSpec],
        ranges: Mapping[str, tuple[float, float]],
    ) -> None:
        """Check the ``factors`` table: only level-2 and control columns, no ranges."""
        if not isinstance(self.factors, Mapping):
            raise SpecError("'factors' must be a table of column -> { reference, contrast }")
        factors: dict[str, FactorSpec] = {}
        for col, spec in self.factors.items():
            if not isinstance(spec, FactorSpec):
                spec = FactorSpec.from_dict(spec, where=f"factor {col!r}")
            if col in level1:
                raise SpecError(
                    f"factor {col!r}: a level-1 (daily) predictor cannot be a factor (within- and "
                    "between-person parts of a factor are not offered); give it as a control "
                    f"(controls = [{col!r}]) to use it as a factor"
                )
            if col not in (*level2, *controls):
                raise SpecError(
                    f"a factor is declared for {col!r}, which is neither a level-2 moderator nor "
                    f"a control{did_you_mean(col, (*level2, *controls))}; add it to 'level2' or "
                    "'controls', or fix the name"
                )
            if col in ranges:
                raise SpecError(
                    f"a range is declared for {col!r}, which is a factor; a factor's levels "
                    "have no range, so remove the range"
                )
            if col in scales:
                raise SpecError(
                    f"{col!r} is a scale score (a mean of items), so it cannot be a factor"
                )
            factors[col] = spec
        object.__setattr__(self, "factors", factors)

    @property
    def model_columns(self) -> tuple[str, ...]:
        """Person, occasion (if any), outcome, level-1, level-2 and control columns, in order."""
        occ = (self.occasion,) if self.occasion is not None else ()
        cols = (self.person, *occ, self.outcome, *self.level1, *self.level2, *self.controls)
        return tuple(dict.fromkeys(cols))

    @property
    def numeric_columns(self) -> tuple[str, ...]:
        """The outcome, level-1, level-2 and control columns: numeric unless a level-2 or
        control column is a factor (declared in ``factors``, or text in the data)."""
        return (self.outcome, *self.level1, *self.level2, *self.controls)

    def role_of(self, column: str) -> str:
        """Describe the role of ``column`` in words (for messages)."""
        roles = {self.person: "person id", self.outcome: "outcome"}
        if self.occasion is not None:
            roles[self.occasion] = "occasion"
        roles.update({c: "level-1 predictor" for c in self.level1})
        roles.update({c: "level-2 moderator" for c in self.level2})
        roles.update({c: "control" for c in self.controls})
        return roles.get(column, "scale item")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, source: str = "<mapping>") -> ColumnMapping:
        """Build a mapping from a dict (as read from TOML or JSON).

        Parameters
        ----------
        d
            Keys: ``person``, ``outcome``, ``level1`` (required), ``occasion``, ``level2``,
            ``controls``, ``ranges``, ``scales``, ``factors``. Optional keys may be None (JSON ``null``)
            for "none"; lists of names must be lists, not sets (their order numbers the roles).
        source
            Name used in error messages (the file name).

        Raises
        ------
        SpecError
            Unknown keys (with a "did you mean" hint), missing required keys, wrong types.
        """
        if not isinstance(d, Mapping):
            raise SpecError(f"{source}: a column mapping must be a table of keys; got {type(d)}")
        check_keys(d, _MAPPING_KEYS, source)
        missing = [k for k in _REQUIRED_KEYS if k not in d]
        if missing:
            raise SpecError(
                f"{source}: the required key(s) {', '.join(map(repr, missing))} are missing; "
                "a mapping needs at least person, outcome and level1"
            )
        for key in ("ranges", "scales", "factors"):
            if d.get(key) is not None and not isinstance(d[key], Mapping):
                what = {
                    "ranges": "column -> [lowest, highest]",
                    "scales": "scale name -> items",
                    "factors": "column -> { reference, contrast }",
                }[key]
                raise SpecError(
                    f"{source}: {key!r} must be a table of {what}; got {show_value(d[key])}"
                )
        scales = d.get("scales") or {}
        try:
            return cls(
                person=d["person"],
                outcome=d["outcome"],
                level1=d["level1"],
                occasion=d.get("occasion"),
                level2=() if d.get("level2") is None else d["level2"],
                controls=() if d.get("controls") is None else d["controls"],
                ranges=d.get("ranges") or {},
                scales={
                    name: ScaleSpec.from_dict(spec, where=f"{source}: scale {name!r}")
                    for name, spec in scales.items()
                },
                factors={
                    col: FactorSpec.from_dict(spec, where=f"{source}: factor {col!r}")
                    for col, spec in (d.get("factors") or {}).items()
                },
                split_controls=(() if d.get("split_controls") is None else d["split_controls"]),
                derive=() if d.get("derive") is None else d["derive"],
            )
        except SpecError as exc:
            msg = str(exc)
            raise SpecError(msg if msg.startswith(source) else f"{source}: {msg}") from None

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> ColumnMapping:
        """Read a mapping from a TOML file; every error names the file."""
        from ambidex_bayes.toml_text import read_toml_file

        p = Path(path)
        d = read_toml_file(p, what="mapping")  # UTF-8 with or without a byte-order mark, UTF-16
        return cls.from_dict(d, source=str(p))

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict; ``ColumnMapping.from_dict(m.to_dict()) == m``."""
        d: dict[str, Any] = {
            "person": self.person,
            "occasion": self.occasion,
            "outcome": self.outcome,
            "level1": list(self.level1),
            "level2": list(self.level2),
            "controls": list(self.controls),
            "ranges": {k: list(v) for k, v in self.ranges.items()},
            "scales": {k: v.to_dict() for k, v in self.scales.items()},
        }
        # the newer keys only when used, so that the dict of other mappings is as before
        if self.factors:
            d["factors"] = {k: v.to_dict() for k, v in self.factors.items()}
        if self.split_controls:
            split = self.split_controls
            d["split_controls"] = split if isinstance(split, bool) else list(split)
        if self.derive:
            d["derive"] = list(self.derive)
        return d

    def splits(self, control: str, *, factor: bool = False) -> bool:
        """Whether ``control`` is split into within- and between-person parts (a factor
        control is not, under ``split_controls = true``)."""
        if self.split_controls is True:
            return control in self.controls and not factor
        return isinstance(self.split_controls, tuple) and control in self.split_controls
