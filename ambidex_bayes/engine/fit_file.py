"""Structural checks of a saved fit file's records, before a fit is rebuilt from them.

A fit file (see :mod:`ambidex_bayes.store`) holds groups (posterior, sample statistics,
prepared rows, person means, and the partial rows where there are any) and root attributes holding JSON records (spec, formula,
priors, terms, sampler settings, prepared-data description). A file damaged on disk, edited
by hand or written by another version can hold records of the wrong shape; rebuilding a fit
from them would fail deep inside pandas or a dataclass, or worse, succeed with nonsense.
:func:`check_fit_records` checks every record first and raises one
:class:`~ambidex_bayes.errors.FitFileError` that names the file and the damaged record.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

import xarray as xr

from ambidex_bayes.errors import AmbidexError, FitFileError

__all__ = ["REQUIRED_GROUPS", "REQUIRED_RECORDS", "check_fit_records"]

#: Groups every fit file has.
REQUIRED_GROUPS = ("posterior", "sample_stats", "prepared_data", "person_means")
#: Root records every fit file has, with the JSON type each must decode to.
REQUIRED_RECORDS: dict[str, type] = {
    "spec": dict,
    "formula": str,
    "priors": dict,
    "terms": dict,
    "meta": dict,
    "prepared": dict,
}
#: Sampler settings stored in ``meta["settings"]`` and the types each may have.
_SETTING_TYPES: dict[str, tuple[type, ...]] = {
    "backend": (str,),
    "draws": (int,),
    "tune": (int,),
    "chains": (int,),
    "seed": (int,),
    "target_accept": (int, float),
    "fast_path": (bool,),
}


_KIND_NAMES = {dict: "a table", list: "a list", str: "text", int: "a number", float: "a number"}


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    return _KIND_NAMES.get(type(value), type(value).__name__)


def _damaged(path: Path, what: str) -> FitFileError:
    return FitFileError(
        f"{path}: the fit file is damaged or was written by another version of ambidex_bayes: "
        f"{what}. Delete it and fit the model again."
    )


def _decoded(path: Path, tree: xr.DataTree, key: str, kind: type) -> Any:
    raw = tree.attrs.get(key)
    if raw is None:
        raise _damaged(path, f"it lacks its {key!r} record")
    if not isinstance(raw, str):
        raise _damaged(path, f"its {key!r} record is {_kind(raw)}, not JSON text")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as err:
        raise _damaged(path, f"its {key!r} record is not valid JSON ({err})") from None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _damaged(path, f"its {key!r} record is {_kind(value)}, expected {_KIND_NAMES[kind]}")
    return value


def _known_distribution(name: str) -> bool:
    from ambidex_bayes.spec import DISTRIBUTIONS

    if name in DISTRIBUTIONS:
        return True
    import pymc as pm

    dist = getattr(pm, name, None)
    return isinstance(dist, type) and issubclass(dist, pm.Distribution)


def _check_priors(path: Path, priors: Mapping[str, Any]) -> None:
    for name, entry in priors.items():
        if not isinstance(entry, Mapping) or not isinstance(entry.get("prior"), str):
            raise _damaged(path, f"the prior of {name!r} is not a table with a 'prior' text")
        dist = entry["prior"].split("(", 1)[0].strip()
        if not _known_distribution(dist):
            raise _damaged(path, f"the prior of {name!r} names an unknown distribution {dist!r}")


def _check_settings(path: Path, meta: Mapping[str, Any]) -> None:
    settings = meta.get("settings")
    if not isinstance(settings, Mapping):
        raise _damaged(path, f"its sampler settings are {_kind(settings)}, expected a table")
    for key, kinds in _SETTING_TYPES.items():
        if key not in settings:
            raise _damaged(path, f"its sampler settings lack {key!r}")
        value = settings[key]
        if not isinstance(value, kinds) or (bool not in kinds and isinstance(value, bool)):
            raise _damaged(
                path,
                f"the sampler setting {key!r} is {value!r}, expected "
                + " or ".join(sorted({_KIND_NAMES.get(k, "true/false") for k in kinds})),
            )
    from ambidex_bayes.engine.limits import sampler_problems

    out_of_range = sampler_problems(settings)
    if out_of_range:
        raise _damaged(path, f"its sampler settings are out of range: {out_of_range[0]}")
    for key in ("versions",):
        if key in meta and not isinstance(meta[key], Mapping):
            raise _damaged(path, f"its {key!r} entry is {_kind(meta[key])}, expected a table")


#: Single-text terms that name a dimension or prepared columns, not posterior variables.
_TERM_COLUMNS = ("person_dim", "x_column", "w_column", "y_column")
#: Terms holding a list of posterior variable names.
_TERM_NAME_LISTS = ("other_fixed", "moderator_terms", "interaction_terms")
#: Contrast kinds a factor moderator may be coded with.
_CONTRASTS = ("treatment", "sum")


def _is_number(value: Any) -> bool:
    import math

    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_text_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _check_term_types(path: Path, terms: Mapping[str, Any]) -> None:
    """Every term is null or of its field's JSON type: a name, a list of names, a list of
    level labels, or (``moderator_coding``) a list of rows of finite numbers."""
    for key, value in terms.items():
        if value is None:
            continue
        if key in (*_TERM_NAME_LISTS, "moderator_levels"):
            ok, expected = _is_text_list(value), "a list of names"
        elif key == "moderator_coding":
            ok = isinstance(value, list) and all(
                isinstance(row, list) and all(_is_number(v) for v in row) for row in value
            )
            expected = "a list of rows of numbers"
        else:
            ok, expected = isinstance(value, str), "a name"
        if not ok:
            raise _damaged(path, f"the term {key!r} is {value!r}, not {expected}")


def _check_factor_terms(path: Path, terms: Mapping[str, Any]) -> None:
    r"""The factor fields of a factor moderator agree with each other.

    Levels :math:`K \geq 2`, distinct; the reference is one of them; the contrast kind is
    known; the coding matrix has one row per level and as many columns in every row, at
    least as many as the contrast terms; the interactions are none or one per contrast term.
    """
    present = [k for k in terms if k.startswith(("moderator_", "interaction_terms"))]
    if not present:
        return
    levels = terms.get("moderator_levels") or []
    if len(levels) < 2 or len(set(levels)) != len(levels):
        raise _damaged(
            path, f"the term 'moderator_levels' is {levels!r}, not 2 or more distinct levels"
        )
    reference = terms.get("moderator_reference")
    if reference not in levels:
        raise _damaged(
            path, f"the term 'moderator_reference' is {reference!r}, not one of the levels"
        )
    contrast = terms.get("moderator_contrast")
    if contrast not in _CONTRASTS:
        raise _damaged(
            path, f"the term 'moderator_contrast' is {contrast!r}, not 'treatment' or 'sum'"
        )
    coding = terms.get("moderator_coding") or []
    contrast_terms = terms.get("moderator_terms") or []
    interactions = terms.get("interaction_terms") or []
    widths = {len(row) for row in coding}
    if len(coding) != len(levels) or len(widths) != 1 or widths.pop() < len(contrast_terms):
        raise _damaged(
            path,
            "the term 'moderator_coding' is not a matrix with one row per level and a column "
            "per contrast term",
        )
    if interactions and len(interactions) != len(contrast_terms):
        raise _damaged(path, "the term 'interaction_terms' has not one name per contrast term")


def _check_terms(path: Path, terms: Mapping[str, Any], posterior: xr.DataTree) -> None:
    from ambidex_bayes.terms import ModerationTerms

    known = {f.name for f in fields(ModerationTerms)}
    unknown = sorted(set(terms) - known)
    if unknown or "person_dim" not in terms:
        what = f"unknown entries {unknown}" if unknown else "no 'person_dim'"
        raise _damaged(path, f"its 'terms' record has {what}")
    _check_term_types(path, terms)
    _check_factor_terms(path, terms)
    variables = set(posterior.to_dataset().data_vars)
    skip = {*_TERM_COLUMNS, *_TERM_NAME_LISTS, "moderator_levels", "moderator_coding"}
    skip |= {"moderator_reference", "moderator_contrast"}
    named = [v for k, v in terms.items() if k not in skip and v is not None]
    for key in _TERM_NAME_LISTS:
        named += list(terms.get(key) or [])
    missing = [v for v in named if v not in variables]
    if missing:
        raise _damaged(path, f"its posterior lacks the variable(s) {', '.join(missing)}")


def _check_tables(path: Path, tree: xr.DataTree, prepared: Mapping[str, Any]) -> None:
    columns = prepared.get("columns")
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise _damaged(path, "its prepared-data record has no list of columns")
    stored = set(tree["prepared_data"].to_dataset().data_vars)
    missing = [c for c in columns if c not in stored]
    if missing:
        raise _damaged(path, f"its prepared data lack the column(s) {', '.join(missing)}")
    mapping = prepared.get("mapping")
    level1 = mapping.get("level1") if isinstance(mapping, Mapping) else None
    if not isinstance(level1, list):
        raise _damaged(path, "its prepared-data record has no column mapping")
    means = set(tree["person_means"].to_dataset().data_vars)
    missing = [str(c) for c in level1 if str(c) not in means]
    if missing:
        raise _damaged(path, f"its person means lack the column(s) {', '.join(missing)}")


def _check_draws(path: Path, tree: xr.DataTree, unread: Collection[str] = ()) -> None:
    """Posterior variables are numeric draws over (chain, draw) with finite values (the
    values of ``unread`` ones, left in the file, are not looked at); the sample statistics
    say which transitions diverged."""
    import numpy as np

    posterior = tree["posterior"].to_dataset()
    if not posterior.data_vars:
        raise _damaged(path, "its posterior holds no variables")
    for name, values in posterior.data_vars.items():
        if tuple(values.dims[:2]) != ("chain", "draw"):
            raise _damaged(
                path,
                f"the posterior variable {name!r} has dimensions {values.dims}, not "
                "(chain, draw, ...)",
            )
        if values.sizes["chain"] == 0 or values.sizes["draw"] == 0:
            raise _damaged(path, f"the posterior variable {name!r} holds no draws")
        if values.dtype.kind not in "biuf":
            raise _damaged(
                path, f"the posterior variable {name!r} holds {values.dtype} values, not numbers"
            )
        if name not in unread and not np.isfinite(np.asarray(values.values)).any():
            raise _damaged(path, f"the posterior variable {name!r} has no finite draw")
    stats = tree["sample_stats"].to_dataset()
    if "diverging" not in stats and "divergences" not in stats:
        raise _damaged(path, "its sample statistics do not say which transitions diverged")


def _check_rows(path: Path, tree: xr.DataTree, records: Mapping[str, Any]) -> None:
    """The prepared rows are the fitted rows, and the model's columns hold numbers."""
    frame = tree["prepared_data"].to_dataset()
    n_rows = frame.sizes.get("__prepared_row__", 0)
    stored = records["meta"].get("n_rows")
    if isinstance(stored, int) and stored != n_rows:
        raise _damaged(path, f"it holds {n_rows} prepared rows, but the fit used {stored}")
    if "observed_data" in tree.children:
        for name, values in tree["observed_data"].to_dataset().data_vars.items():
            if values.size != n_rows:
                raise _damaged(
                    path,
                    f"it holds {n_rows} prepared rows but {values.size} observed values of "
                    f"{name!r}",
                )
    _check_role_columns(path, frame, records["prepared"], "prepared")


def _check_role_columns(
    path: Path, frame: xr.Dataset, prepared: Mapping[str, Any], what: str
) -> None:
    """The columns of ``frame`` that hold a numeric role of the prepared data hold numbers."""
    roles = prepared.get("roles")
    if not isinstance(roles, Mapping):
        raise _damaged(path, "its prepared-data record has no roles")
    factors = prepared.get("factor_codings") or {}  # text columns, coded apart
    for role, column in roles.items():
        if role in {"person", "occasion"} or column not in frame or column in factors:
            continue
        if frame[column].dtype.kind not in "biuf":
            raise _damaged(path, f"its {what} column {column!r} ({role}) holds text, not numbers")


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_partial_rows(path: Path, tree: xr.DataTree, prepared: Mapping[str, Any]) -> None:
    """The partial rows (an optional group, see :func:`ambidex_bayes.store.partial_rows_parts`)
    agree with their record: as many rows, each variable one value per row, the person, outcome
    and level-1 columns present, numeric roles held as numbers; the note is text."""
    from ambidex_bayes.store import PARTIAL_ROWS_DIM, PARTIAL_ROWS_GROUP

    has_group = PARTIAL_ROWS_GROUP in tree.children
    if "partial_rows" not in tree.attrs:
        if has_group:
            raise _damaged(path, "it holds partial rows but no 'partial_rows' record")
        return  # a file saved before fit files kept the partial rows
    record = _decoded(path, tree, "partial_rows", dict)
    n_rows, note, note_at = record.get("rows"), record.get("note"), record.get("note_at")
    if not _is_count(n_rows):
        raise _damaged(path, f"its 'partial_rows' record counts {n_rows!r} rows, not a number")
    if not (note is None or isinstance(note, str)) or not (note_at is None or _is_count(note_at)):
        raise _damaged(path, "its 'partial_rows' record has a note that is not text")
    if not has_group:
        if n_rows:
            raise _damaged(path, f"it lacks its {PARTIAL_ROWS_GROUP!r} group")
        return
    rows = tree[PARTIAL_ROWS_GROUP].to_dataset()
    if set(rows.dims) - {PARTIAL_ROWS_DIM} or rows.sizes.get(PARTIAL_ROWS_DIM, 0) != n_rows:
        raise _damaged(
            path,
            f"its partial rows are not {n_rows} rows along {PARTIAL_ROWS_DIM!r} (dimensions "
            f"{dict(rows.sizes)})",
        )
    for name, values in rows.data_vars.items():
        if values.dims != (PARTIAL_ROWS_DIM,) or values.dtype.kind not in "biufU":
            raise _damaged(path, f"its partial-row column {name!r} is not one value per row")
    mapping = prepared.get("mapping")
    needed = [mapping.get("person"), mapping.get("outcome"), *(mapping.get("level1") or [])]
    missing = [str(c) for c in needed if str(c) not in rows.data_vars]
    if missing:
        raise _damaged(path, f"its partial rows lack the column(s) {', '.join(missing)}")
    _check_role_columns(path, rows, prepared, "partial-row")
    for column in needed[1:]:
        if rows[str(column)].dtype.kind not in "biuf":
            raise _damaged(path, f"its partial-row column {column!r} holds text, not numbers")


def check_fit_records(path: str | Path, tree: xr.DataTree, *, unread: Collection[str] = ()) -> None:
    """Check that a fit file's groups and records have the shape :meth:`FitResult.save`
    writes, and that a spec, prepared data and terms can be rebuilt from them.

    Parameters
    ----------
    path : path
        The file (for messages).
    tree : xarray.DataTree
        Its content, as read by :func:`ambidex_bayes.store.load_datatree`.
    unread : collection of str
        Posterior variables left in the file (read on first use): their names, dims and
        types are checked, their values are not read here.

    Raises
    ------
    FitFileError
        Naming the file and the first damaged group or record, and saying to fit again.
    """
    from ambidex_bayes.prepared_data import PreparedData
    from ambidex_bayes.spec import ModelSpec
    from ambidex_bayes.store import dataset_to_frame

    path = Path(path)
    for group in REQUIRED_GROUPS:
        if group not in tree.children:
            raise _damaged(path, f"it lacks its {group!r} group")
    records = {key: _decoded(path, tree, key, kind) for key, kind in REQUIRED_RECORDS.items()}
    if not records["formula"].strip():
        raise _damaged(path, "its formula is empty")
    _check_priors(path, records["priors"])
    _check_settings(path, records["meta"])
    _check_terms(path, records["terms"], tree["posterior"])
    _check_tables(path, tree, records["prepared"])
    _check_draws(path, tree, unread)
    _check_rows(path, tree, records)
    _check_partial_rows(path, tree, records["prepared"])
    try:
        ModelSpec.from_dict(records["spec"], source=f"{path} (stored spec)")
        frame = dataset_to_frame(tree["prepared_data"].to_dataset(), "__prepared_row__")
        prepared = dict(records["prepared"])
        prepared["person_means"] = {"index": [], "columns": {}}
        PreparedData.from_dict(prepared, frame=frame)
    except (AmbidexError, TypeError, ValueError, KeyError, AttributeError) as err:
        raise _damaged(path, f"{type(err).__name__}: {err}") from None
