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

A moderator or control that is a factor (text, categorical, or declared in the mapping) is
coded as numeric contrast columns (:mod:`ambidex_bayes.factor_coding`), one per coded level,
from the levels present in the rows used; its role keeps the source column and
:attr:`PreparedData.factor_codings` tells how it is coded (a note states the reference level
and how to choose another).

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

Reliability of person means
---------------------------
Each level-1 predictor's observed person means get the reliability :math:`\lambda` of
Lüdtke et al. (2008) in a note, and a warning when it is below
``constants.PERSON_MEAN_RELIABILITY_MIN`` (:mod:`ambidex_bayes.reliability`). These person
means use the complete rows only. Rows left out only because the outcome or a level-1
predictor is missing are kept aside in :attr:`PreparedData.partial_rows`, with a note:
latent person-mean centring uses them (imputing the predictor, or letting a day without an
outcome inform the person mean; see :mod:`ambidex_bayes.partial_rows`), observed centring
never does, so the prepared rows and every observed-centred fit are the same with or
without them.

:class:`PreparedData` lives in :mod:`ambidex_bayes.prepared_data`, :class:`Transform` and
the SDs used to standardise in :mod:`ambidex_bayes.transforms`; this module re-exports them.
The split of level-1 predictors and controls into ``{x}_cw`` and ``{x}_pm``, with the
reliability of person means and the occasion trend removed by ``detrend``, lives in
:mod:`ambidex_bayes.person_mean_split`; this module checks the input, drops incomplete rows,
codes factors, centres moderators, transforms the outcome and controls, and writes the notes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import pandas as pd

from ambidex_bayes.data.load import DiaryData
from ambidex_bayes.data.mapping import ColumnMapping
from ambidex_bayes.data.validate import (
    ROW_COLUMN,
    ValidatedData,
    format_rows,
    level_sort_key,
    outcome_never_varies,
    person_id_strings,
    row_numbers,
)
from ambidex_bayes.errors import DataError, SpecError
from ambidex_bayes.factor_coding import FactorCoding, factor_coding
from ambidex_bayes.formula_guard import column_name_problem
from ambidex_bayes.partial_rows import partial_frame, partial_mask, partial_note
from ambidex_bayes.person_mean_split import (
    Created,
    OccasionTrend,
    decompose_level1,
    split_controls,
)
from ambidex_bayes.prepared_data import PreparedData
from ambidex_bayes.reliability import person_mean_reliability
from ambidex_bayes.transforms import (
    TRANSFORM_KINDS,
    Transform,
    robust_sd,
    standardising_sd,
)

__all__ = [
    "Transform",
    "PreparedData",
    "prepare",
    "person_mean_reliability",
    "TRANSFORM_KINDS",
]


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
    frame: pd.DataFrame,
    m: ColumnMapping,
    y_col: str,
    control_cols: list[str],
    codings: dict[str, FactorCoding],
    split: list[str],
) -> None:
    """Raise if a column that prepare creates already exists or would be made twice."""
    created = [
        *(n for x in m.level1 for n in (f"{x}_cw", f"{x}_pm")),
        *(f"{w}_c" for w in m.level2 if w not in codings),
        *([y_col] if y_col != m.outcome else []),
        *(n for n, c in zip(control_cols, m.controls, strict=True) if n != c),
        *(n for f in codings.values() for n in f.columns),
        *(n for c in split for n in (f"{c}_cw", f"{c}_pm")),
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

    Examples
    --------
    The daily predictor is split into its within-person part (``_cw``) and the person mean
    (``_pm``); the moderator is centred over persons (``_c``):

    >>> data = ab.prepare(diary)
    >>> data.frame.shape
    (397, 9)
    >>> [c for c in data.frame.columns if c.endswith(("_cw", "_pm", "_c"))]
    ['uncertainty_cw', 'uncertainty_pm', 'leader_support_c']
    """
    m, model = _check_input(data, detrend=detrend)
    notes = list(data.notes)
    frame, dropped, partial = _model_rows(data, model)
    notes.extend(dropped)
    n_before = len(data.frame)
    codings = _factor_codings(frame, m, data.factor_levels, notes)
    split = _controls_to_split(m, codings)
    y_col = f"{m.outcome}_z" if standardize else (f"{m.outcome}_dt" if detrend else m.outcome)
    control_cols = [
        f"{c}_z" if standardize and c not in codings and c not in split else c for c in m.controls
    ]
    _check_new_names(frame, m, y_col, control_cols, codings, split)

    g = frame[m.person]
    trend = OccasionTrend.of(frame, m) if detrend else OccasionTrend.none(m)
    created = Created(notes=notes, roles={"y": y_col, "person": m.person})
    _add_contrast_columns(frame, codings, created)
    if m.occasion is not None:
        created.roles["occasion"] = m.occasion
    person_means, reliability = decompose_level1(
        frame, m, g, trend, created, standardize=standardize
    )
    split_controls(frame, m, g, split, person_means, created, standardize=standardize)
    warning = _few_varying_persons(frame[m.outcome], g, m.outcome)
    if warning:
        created.warnings.append(warning)
    moderator_stats = _centre_moderators(
        frame, m, g, created, codings=codings, standardize=standardize
    )
    _transform_outcome(frame, m, g, y_col, trend, created, standardize=standardize, detrend=detrend)
    _transform_controls(
        frame, m, control_cols, created, skip=(*codings, *split), standardize=standardize
    )
    _closing_notes(
        created, g, detrend=detrend, standardize=standardize, rows_left_out=len(frame) < n_before
    )

    prepared = PreparedData(
        frame=frame,
        mapping=m,
        roles=created.roles,
        transforms=created.transforms,
        person_means=person_means,
        moderator_stats=moderator_stats,
        notes=tuple(created.notes),
        warnings=tuple(created.warnings),
        occasion_means=trend.occasion_means,
        person_mean_reliability=reliability,
        detrend=detrend,
        standardize=standardize,
        factor_codings=codings,
    )
    return _with_partial_rows(prepared, partial, at=len(data.notes) + len(dropped))


def _with_partial_rows(prepared: PreparedData, partial: pd.DataFrame, *, at: int) -> PreparedData:
    """``prepared`` with the rows only latent centring can use (see
    :mod:`ambidex_bayes.partial_rows`) and a note on them at position ``at`` of the notes
    (after the notes on the rows left out); ``prepared`` itself when there are none."""
    if partial.empty:
        return prepared
    note = partial_note(prepared.mapping, partial)
    notes = list(prepared.notes)
    notes.insert(at, note)
    return dataclasses.replace(
        prepared,
        notes=tuple(notes),
        partial_rows=partial_frame(prepared, partial),
        partial_rows_note=note,
    )


def _factor_codings(
    frame: pd.DataFrame,
    m: ColumnMapping,
    factor_levels: Mapping[str, tuple[str, ...]],
    notes: list[str],
) -> dict[str, FactorCoding]:
    """The coding of every factor from the levels present in the rows used; notes say how
    each is coded, which levels are left out and how to choose the reference level."""
    codings: dict[str, FactorCoding] = {}
    for col, all_levels in factor_levels.items():
        present = set(frame[col].dropna())
        levels = tuple(level for level in all_levels if level in present)
        unused = [level for level in all_levels if level not in present]
        declared = m.factors.get(col)
        reference = declared.reference if declared is not None else None
        contrast = declared.contrast if declared is not None else "treatment"
        what = "level-2 moderator" if col in m.level2 else "control"
        if reference is not None and reference not in levels:
            raise DataError(
                f"the reference level {reference!r} of the factor {col!r} ({what}) is not "
                f"among the levels in the rows used ({', '.join(map(repr, levels))}); choose "
                f"one of them in [factors.{col}] of the mapping"
            )
        if len(levels) < 2:
            raise DataError(
                f"the factor {col!r} ({what}) has {len(levels)} level(s) in the rows used "
                f"({', '.join(map(repr, levels)) or 'none'}); a factor needs at least two. "
                "Fill in the missing values or check the data."
            )
        coding = factor_coding(col, levels, reference=reference, contrast=contrast)
        codings[col] = coding
        note = coding.describe()[0].upper() + coding.describe()[1:] + "."
        if contrast == "treatment" and reference is None:
            order = "category order" if _is_categorical_order(all_levels) else "sorted order"
            note += (
                f" The reference level is the first level in {order}; to choose another, "
                f'write [factors.{col}] reference = "<level>" in the mapping (or '
                'contrast = "sum" for sum contrasts).'
            )
        notes.append(note)
        if unused:
            notes.append(
                f"Level(s) {', '.join(map(repr, unused))} of the factor {col!r} occur in no "
                "row used, so they get no contrast column."
            )
    return codings


def _controls_to_split(m: ColumnMapping, codings: Mapping[str, FactorCoding]) -> list[str]:
    """The controls to split within/between; a factor named in ``split_controls`` is a
    DataError."""
    split = [c for c in m.controls if m.splits(c, factor=c in codings)]
    factors = [c for c in split if c in codings]
    if factors:
        raise DataError(
            f"the control {factors[0]!r} is a factor (it holds text), so it cannot be split into "
            "within- and between-person parts; take it out of 'split_controls'"
        )
    return split


def _is_categorical_order(levels: tuple[str, ...]) -> bool:
    """Whether ``levels`` is not in the sorted order validation gives text levels."""
    return list(levels) != sorted(levels, key=level_sort_key)


def _add_contrast_columns(
    frame: pd.DataFrame, codings: dict[str, FactorCoding], created: Created
) -> None:
    """Add every factor's contrast columns to ``frame``, each with its transform."""
    for col, coding in codings.items():
        coded = coding.code(frame[col])
        for name in coding.columns:
            frame[name] = coded[name]
            created.transforms[name] = Transform(name, col, "factor_contrast", 0.0, 1.0)
        created.made.append(
            f"{', '.join(map(repr, coding.columns))} (contrast columns of the factor {col})"
        )


def _check_input(
    data: DiaryData | ValidatedData, *, detrend: bool
) -> tuple[ColumnMapping, list[str]]:
    """The mapping and the model columns, after checking that ``data`` can be prepared."""
    if not isinstance(data, DiaryData | ValidatedData):
        raise DataError(
            f"prepare() needs the result of load_diary() or validate(), got {type(data).__name__}"
        )
    m = data.mapping
    if detrend and m.occasion is None:
        raise SpecError(
            "detrend=True needs an occasion column: add occasion = '<column>' to the mapping"
        )
    if detrend and m.occasion in m.level1:
        raise SpecError(
            f"detrend=True removes the trend over the occasion {m.occasion!r}, which is also a "
            "level-1 predictor (a time trend in the model): its within-person part would be "
            "removed entirely. Either model the trend (keep it in level1, no detrend) or "
            "remove it (detrend, and take it out of level1)."
        )
    model = list(m.model_columns)
    for column in model:
        problem = column_name_problem(column)
        if problem:
            raise DataError(f"{data.source}: {problem}.")
    absent = [c for c in model if c not in data.frame.columns]
    if absent:
        raise DataError(f"prepare(): the data lack the model column(s) {absent}; validate first")
    return m, model


def _model_rows(
    data: DiaryData | ValidatedData, model: list[str]
) -> tuple[pd.DataFrame, list[str], pd.DataFrame]:
    """A copy of the rows with every model value present (person ids as strings, model
    values as floats, source row numbers kept), notes on the rows left out, and the rows
    left out only for a missing outcome or level-1 predictor
    (:func:`~ambidex_bayes.partial_rows.partial_mask`, prepared the same way)."""
    m = data.mapping
    frame = data.frame.copy()
    if ROW_COLUMN not in frame.columns:
        frame[ROW_COLUMN] = row_numbers(frame)
    frame[m.person] = person_id_strings(frame[m.person])
    for col in model:
        if col != m.person and col not in data.factor_levels:
            frame[col] = frame[col].astype("float64")
    n_before = len(frame)
    partial = frame[partial_mask(frame, model, m)].reset_index(drop=True)
    frame, dropped = _drop_incomplete(frame, model, m.person)
    _check_rows_used(frame, m, n_before - len(frame))
    return frame, dropped, partial


def _centre_moderators(
    frame: pd.DataFrame,
    m: ColumnMapping,
    g: pd.Series,
    created: Created,
    *,
    codings: Mapping[str, FactorCoding],
    standardize: bool,
) -> pd.DataFrame:
    """Centre each numeric level-2 moderator at its mean over persons as ``{w}_c`` (added
    to ``frame``); returns its mean and SD over persons (raw scale), one row per numeric
    moderator. The role of a factor moderator is its source column (its contrast columns
    are made by :func:`_add_contrast_columns`)."""
    stats = []
    numeric = []
    for k, w in enumerate(m.level2):
        if w in codings:
            created.roles[f"w{k}"] = w
            continue
        numeric.append(w)
        per_person = frame[w].groupby(g, sort=False).first()
        centre = float(per_person.mean())
        sd = robust_sd(per_person)
        scale = (
            standardising_sd(per_person, f"the moderator {w!r} over persons")
            if standardize
            else 1.0
        )
        col = f"{w}_c"
        frame[col] = (frame[w] - centre) / scale
        created.transforms[col] = Transform(col, w, "grand_centred", centre, scale)
        created.roles[f"w{k}"] = col
        stats.append({"mean_over_persons": centre, "sd_over_persons": sd})
        created.made.append(f"{col!r} ({w} centred at its mean over persons, {centre:.4g})")
    if m.level2:
        created.roles["w"] = created.roles["w0"]
    return pd.DataFrame(
        stats,
        index=pd.Index(numeric, dtype="str"),
        columns=["mean_over_persons", "sd_over_persons"],
    )


def _transform_outcome(
    frame: pd.DataFrame,
    m: ColumnMapping,
    g: pd.Series,
    y_col: str,
    trend: OccasionTrend,
    created: Created,
    *,
    standardize: bool,
    detrend: bool,
) -> None:
    """Detrend and standardise the outcome as ``y_col`` (added to ``frame`` when it is not
    the outcome itself)."""
    yv = frame[m.outcome]
    y_slope = 0.0
    if trend.centred is not None:
        y_slope = trend.slope(
            yv - yv.groupby(g, sort=False).transform("mean"), f"the outcome {m.outcome!r}"
        )
        yv = yv - y_slope * trend.centred
    y_centre, y_scale = (
        (
            float(yv.mean()),
            standardising_sd(yv, f"the outcome {m.outcome!r}", reference=frame[m.outcome]),
        )
        if standardize
        else (0.0, 1.0)
    )
    if y_col != m.outcome:
        frame[y_col] = (yv - y_centre) / y_scale
        created.made.append(
            f"{y_col!r} (the outcome"
            + (", detrended within person" if detrend else "")
            + (", standardised over rows" if standardize else "")
            + ")"
        )
    created.transforms[y_col] = Transform(y_col, m.outcome, "outcome", y_centre, y_scale, y_slope)


def _transform_controls(
    frame: pd.DataFrame,
    m: ColumnMapping,
    control_cols: list[str],
    created: Created,
    *,
    skip: tuple[str, ...],
    standardize: bool,
) -> None:
    """Standardise the numeric controls over rows as ``{c}_z`` (or keep them as they are);
    the controls in ``skip`` (factors, split controls) keep their source column as role."""
    for k, (c, col) in enumerate(zip(m.controls, control_cols, strict=True)):
        if c in skip:
            created.roles[f"c{k}"] = c
            continue
        centre, scale = (
            (float(frame[c].mean()), standardising_sd(frame[c], f"the control {c!r}"))
            if standardize
            else (0.0, 1.0)
        )
        if col != c:
            frame[col] = (frame[c] - centre) / scale
        created.transforms[col] = Transform(col, c, "control", centre, scale)
        created.roles[f"c{k}"] = col


def _closing_notes(
    created: Created,
    g: pd.Series,
    *,
    detrend: bool,
    standardize: bool,
    rows_left_out: bool,
) -> None:
    """Notes on the trends removed, the standardisation, the created columns and the
    persons left with a single diary."""
    if detrend:
        slopes = ", ".join(
            f"{t.source}: {t.detrend_slope:.4g}"
            for t in created.transforms.values()
            if t.kind in ("within_centred", "outcome")
        )
        created.notes.append(
            f"A pooled linear trend per occasion was removed within persons ({slopes})."
        )
    if standardize:
        created.notes.append(
            "Standardised: the outcome, controls and within-person parts by their SD over rows; "
            "person means and moderators by their SD over persons."
        )
    created.notes.append("Created columns: " + "; ".join(created.made) + ".")
    if "w" not in created.roles:
        created.notes.append(
            "No level-2 moderator is mapped: models that use one leave its terms out where "
            "their spec allows (the bundled M1 and M2) or are skipped (the bundled M3, whose "
            "cross-level interaction needs a moderator); M2 is then the random-slope model."
        )
    if rows_left_out:
        counts = g.value_counts()
        n_single = int((counts == 1).sum())
        if n_single:
            created.notes.append(
                f"In the rows used, {n_single} person(s) have a single diary; they are kept "
                "(they inform the between-person part and the intercept variance, not the "
                "within-person slope)."
            )
