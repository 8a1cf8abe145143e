"""Rows that only latent centring can use: a missing level-1 predictor or a missing outcome.

:func:`ambidex_bayes.prepare.prepare` leaves out every row with a missing model value, so
the observed split of the predictor (and every observed-centred fit) sees complete rows only.
Latent person-mean centring (:mod:`ambidex_bayes.model.latent_data`) can use two kinds of
incomplete rows as well:

- the predictor is missing but the outcome is there: the model imputes the predictor;
- the predictor is there but the outcome is missing: the day informs the person's latent
  mean only.

:func:`partial_mask` finds these rows among the ones left out (every other model value
present, and the outcome or some level-1 predictor present), :func:`partial_frame` gives
them the prepared data's created columns where these can be computed (the moderator centred
with the same centre, the person means of the persons seen), :func:`partial_note` counts
them in words, and :func:`latent_rows` puts the prepared rows and these rows together for a
latent fit. The prepared rows themselves, and therefore every observed-centred fit and its
cache key, do not depend on them. A saved fit keeps them (see
:func:`ambidex_bayes.store.partial_rows_parts`); :func:`unsaved_partial_rows_note` says what
a latent fit loaded from a file saved before then lacks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from ambidex_bayes import constants
from ambidex_bayes.errors import DataError

if TYPE_CHECKING:
    from ambidex_bayes.data.mapping import ColumnMapping
    from ambidex_bayes.prepared_data import PreparedData

__all__ = [
    "partial_mask",
    "partial_frame",
    "partial_note",
    "latent_rows",
    "unsaved_partial_rows_note",
]


def partial_mask(frame: pd.DataFrame, model: list[str], m: ColumnMapping) -> pd.Series:
    """Rows whose only missing model values are the outcome or level-1 predictors.

    Parameters
    ----------
    frame : DataFrame
        The rows before incomplete ones are left out.
    model : list of str
        The model columns.
    m : ColumnMapping

    Returns
    -------
    Series of bool
        True for a row with a missing outcome or level-1 predictor, every other model value
        present, and the outcome or at least one level-1 predictor present.
    """
    either = [m.outcome, *m.level1]
    rest = [c for c in model if c not in either]
    values = frame[either]
    return values.isna().any(axis=1) & values.notna().any(axis=1) & frame[rest].notna().all(axis=1)


def partial_frame(prepared: PreparedData, rows: pd.DataFrame) -> pd.DataFrame:
    """The partial rows with the prepared data's created columns where they can be computed.

    The created columns come from :meth:`PreparedData.apply` (the same centres and scales;
    the stored person means for persons of the prepared rows, the mean of their own observed
    values for the others; NaN where the predictor or outcome is missing). When the rows
    cannot be transformed so (e.g. a factor level the prepared rows lack), they are kept
    with their own columns only.

    Parameters
    ----------
    prepared : PreparedData
    rows : DataFrame
        Rows selected by :func:`partial_mask` (person ids as strings, model values as
        floats, source row numbers in ``__row__``).

    Returns
    -------
    DataFrame
        With a fresh ``RangeIndex``.
    """
    rows = rows.reset_index(drop=True)
    try:
        return prepared.apply(rows).reset_index(drop=True)
    except DataError:
        return rows


def partial_note(m: ColumnMapping, rows: pd.DataFrame) -> str:
    """What the partial rows are and that latent centring (only) uses them, in words."""
    y_missing = rows[m.outcome].isna()
    x_missing = rows[list(m.level1)].isna().any(axis=1)
    n_x, n_y = int((x_missing & ~y_missing).sum()), int(y_missing.sum())
    x_names = ", ".join(repr(x) for x in m.level1)
    what = [f"{n_x} miss only the level-1 predictor ({x_names})"] if n_x else []
    what += [f"{n_y} miss only the outcome ({m.outcome!r})"] if n_y else []
    uses = ["imputes the missing predictor on days with an outcome"] if n_x else []
    uses += ["lets the days without an outcome inform the person means"] if n_y else []
    return (
        f"Of the rows left out, {' and '.join(what)}: observed centring cannot use them; "
        f"latent person-mean centring {' and '.join(uses)} (the bundled M1-M3 take it by "
        f"themselves below reliability {constants.PERSON_MEAN_RELIABILITY_MIN:g}; otherwise "
        'fit --centring latent, or centring="latent").'
    )


def latent_rows(prepared: PreparedData) -> pd.DataFrame:
    """The rows of a latent fit: the prepared rows, then the partial rows (if any).

    Parameters
    ----------
    prepared : PreparedData

    Returns
    -------
    DataFrame
        ``prepared.frame`` itself when there are no partial rows, else the two stacked with
        a fresh ``RangeIndex``.
    """
    extra = prepared.partial_rows
    if extra is None or extra.empty:
        return prepared.frame
    columns = [c for c in prepared.frame.columns if c in extra.columns]
    return pd.concat([prepared.frame, extra[columns]], ignore_index=True)


def unsaved_partial_rows_note(meta: Mapping[str, Any]) -> str | None:
    """The note on a latent fit loaded from a file that did not keep its partial rows.

    Fit files written before the partial rows were saved with the fit hold the rows of the
    outcome model only (imputed predictors included), not the days with a predictor but no
    outcome that informed the latent person means. The posterior holds what they taught;
    what rebuilds the latent model's rows from the loaded fit's prepared data lacks them.

    Parameters
    ----------
    meta : mapping
        The loaded fit's ``meta``; ``meta["imputed"]["x_only"]`` counts those days, when
        the record has numbers (see :func:`ambidex_bayes.centring_record.imputed_record`).

    Returns
    -------
    str or None
        None for an observed-centred fit and for a latent fit that used no such day.
    """
    if meta.get("centring") != "latent":
        return None
    imputed = meta.get("imputed")
    n = imputed.get("x_only") if isinstance(imputed, Mapping) else None
    known = isinstance(n, int) and not isinstance(n, bool)
    if known and n == 0:
        return None
    days = f"{n} day(s)" if known else "the days"
    return (
        f"The partial rows are unavailable: this fit file was saved without them ({days} with "
        "a predictor but no outcome, which informed the latent person means). The posterior "
        "is unchanged, but whatever rebuilds the latent model's rows from this fit's data "
        "lacks them; fit the model again to keep them with the fit."
    )
