r"""The data of a latent-centred model: outcome, raw daily predictor, persons, moderator.

Latent person-mean centring (as in Mplus) models the daily predictor itself,
:math:`x_{ij} = \mu_j + e_{ij}`, so it needs the raw predictor with its missing values, not
the observed split into ``{x}_cw`` and ``{x}_pm``. :func:`latent_data` gathers it from a
data frame; rows are kept as follows:

- outcome and predictor observed: the row enters both the outcome and the predictor model;
- predictor observed, outcome missing: the row informs the person mean :math:`\mu_j` only;
- outcome observed, predictor missing: the predictor is imputed by the model
  (:math:`x_{ij} \sim N(\mu_j, \sigma_x^2)`, a parameter of its own) and the row enters the
  outcome model;
- both missing: the row is left out.

With several level-1 predictors (``others``) each is modelled so, with its own person means:
a row is kept when it has the outcome or any predictor, each predictor missing on a row with
an outcome is imputed, and each observed predictor informs its own person means.

Persons with a missing moderator are left out (the moderator is a person-level value), and
so are rows with a missing control (numeric day- or person-level columns that enter the
outcome model as fixed effects, as in the observed model).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ambidex_bayes.errors import DataError

__all__ = ["LatentNames", "LatentData", "latent_data", "with_padding_persons"]


@dataclass(frozen=True)
class LatentNames:
    """Posterior names of a latent-centred model (the observed model's names where the role
    is the same).

    Attributes
    ----------
    x : str
        The raw daily predictor's column.
    y : str
        The outcome's column (the observed variable).
    person : str
        The person column (grouping factor).
    w : str or None
        The centred moderator's column.
    controls : tuple of str
        The controls' columns, which are also their fixed effects' names (as in the observed
        model).
    others : tuple of str
        The other level-1 predictors' raw columns (after ``x``, the first), each with names
        of its own (:meth:`of`).
    """

    x: str
    y: str
    person: str
    w: str | None = None
    controls: tuple[str, ...] = ()
    others: tuple[str, ...] = ()

    @property
    def predictors(self) -> tuple[str, ...]:
        """Every level-1 predictor's raw column, ``x`` first."""
        return (self.x, *self.others)

    def of(self, column: str) -> LatentNames:
        """The names of the level-1 predictor ``column`` (``{column}_cw``, ``{column}_mu``,
        ...), the other roles unchanged."""
        return dataclasses.replace(self, x=column, others=())

    @property
    def within(self) -> str:
        """Fixed within-person slope (the observed model's ``{x}_cw``)."""
        return f"{self.x}_cw"

    @property
    def between(self) -> str:
        """Effect of the centred latent person mean (the observed model's ``{x}_pm``)."""
        return f"{self.x}_pm"

    @property
    def interaction(self) -> str | None:
        """Cross-level interaction ``{x}_cw:{w}``."""
        return None if self.w is None else f"{self.within}:{self.w}"

    @property
    def person_dim(self) -> str:
        """Dimension of the person effects and person means."""
        return f"{self.person}__factor_dim"

    @property
    def intercept_effect(self) -> str:
        """Person intercepts ``1|person``."""
        return f"1|{self.person}"

    @property
    def slope_effect(self) -> str:
        """Person slopes ``{x}_cw|person``."""
        return f"{self.within}|{self.person}"

    @property
    def correlation(self) -> str:
        """Correlation of person intercepts and slopes."""
        return f"corr({self.intercept_effect},{self.slope_effect})"

    @property
    def mu(self) -> str:
        """Latent person means of x (one per person)."""
        return f"{self.x}_mu"

    @property
    def mu_mean(self) -> str:
        r"""Mean of the latent person means :math:`\mu_0`."""
        return f"{self.x}_mu_mean"

    @property
    def mu_sd(self) -> str:
        r"""SD of the latent person means :math:`\tau_x`."""
        return f"{self.x}_mu_sd"

    @property
    def mu_moderator(self) -> str | None:
        r"""Effect of the moderator on the latent person means :math:`\gamma`."""
        return None if self.w is None else f"{self.x}_mu:{self.w}"

    @property
    def within_sd(self) -> str:
        r"""Within-person SD of x around the person mean :math:`\sigma_x`."""
        return f"{self.x}_within_sd"

    @property
    def imputed(self) -> str:
        """Imputed values of x on rows with an outcome but no x."""
        return f"{self.x}_imputed"

    @property
    def imputed_dim(self) -> str:
        """Dimension of the imputed values."""
        return f"{self.x}_imputed__dim"


@dataclass(frozen=True)
class LatentData:
    """Rows and persons of a latent-centred model.

    Attributes
    ----------
    names : LatentNames
    levels : list of str
        Person ids, in the order of the person dimension.
    y : ndarray (n,)
        Outcome of the outcome rows (every row with an observed outcome).
    x : ndarray (n,)
        Predictor of the outcome rows, NaN where it is imputed.
    person : ndarray (n,) of int
        Person index of the outcome rows.
    x_only : ndarray (m,)
        Predictor of the rows without an outcome.
    x_only_person : ndarray (m,) of int
    w : ndarray (J,) or None
        Moderator per person (as given, centred over persons by the caller).
    source_rows : ndarray (n,) of int
        Row numbers (in the input frame) of the outcome rows.
    imputed_source_rows : ndarray (k,) of int
        Row numbers of the rows whose x is imputed.
    x_only_source_rows : ndarray (m,) of int
        Row numbers of the rows without an outcome (x only).
    controls : ndarray (n, K)
        The controls of the outcome rows (K = 0 without controls), in the order of
        ``names.controls``.
    others : ndarray (n, P - 1) or None
        The other level-1 predictors (``names.others``) on the outcome rows, NaN where
        imputed; None with one predictor.
    others_only : ndarray (m, P - 1) or None
        The other predictors on the rows without an outcome (NaN where not observed).
    """

    names: LatentNames
    levels: list[str]
    y: np.ndarray
    x: np.ndarray
    person: np.ndarray
    x_only: np.ndarray
    x_only_person: np.ndarray
    w: np.ndarray | None
    source_rows: np.ndarray
    imputed_source_rows: np.ndarray
    x_only_source_rows: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=int))
    controls: np.ndarray | None = None
    others: np.ndarray | None = None
    others_only: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.controls is None:
            object.__setattr__(self, "controls", np.empty((len(self.y), 0)))

    @property
    def n_predictors(self) -> int:
        """P, the number of level-1 predictors."""
        return 1 if self.others is None else 1 + int(self.others.shape[1])

    @property
    def xs(self) -> np.ndarray:
        """Every predictor on the outcome rows, shape (n, P), NaN where imputed."""
        return self.x[:, None] if self.others is None else np.column_stack([self.x, self.others])

    def predictor(self, p: int) -> LatentData:
        """The data of predictor ``p`` alone (0: ``x`` itself), with its own names, imputed
        rows and rows without an outcome where it is observed; the controls are kept."""
        if p == 0 and self.others is None:
            return self
        x = self.x if p == 0 else self.others[:, p - 1]
        x_only = self.x_only if p == 0 else self.others_only[:, p - 1]
        seen = ~np.isnan(x_only)
        return dataclasses.replace(
            self,
            names=self.names.of(self.names.predictors[p]),
            x=x,
            x_only=x_only[seen],
            x_only_person=self.x_only_person[seen],
            imputed_source_rows=self.source_rows[np.isnan(x)],
            x_only_source_rows=self.x_only_source_rows[seen],
            others=None,
            others_only=None,
        )

    @property
    def n_controls(self) -> int:
        """K, the number of controls."""
        return int(self.controls.shape[1])

    @property
    def n_persons(self) -> int:
        """J."""
        return len(self.levels)

    @property
    def missing(self) -> np.ndarray:
        """Boolean mask of the outcome rows whose x is imputed."""
        return np.isnan(self.x)

    @property
    def n_imputed(self) -> int:
        """Number of imputed daily values of x."""
        return int(self.missing.sum())

    def all_x(self) -> tuple[np.ndarray, np.ndarray]:
        """Every observed x and its person index (outcome rows and x-only rows)."""
        seen = ~self.missing
        return (
            np.concatenate([self.x[seen], self.x_only]),
            np.concatenate([self.person[seen], self.x_only_person]),
        )

    def imputation_note(self) -> str:
        """What the model imputed, in words (per predictor)."""
        if self.n_predictors > 1:
            return " ".join(self.predictor(p).imputation_note() for p in range(self.n_predictors))
        n_x_only = len(self.x_only)
        return (
            f"Latent centring of {self.names.x!r}: {self.n_imputed} missing daily value(s) of "
            f"{self.names.x!r} on days with an outcome were imputed by the model; "
            f"{n_x_only} day(s) with {self.names.x!r} but no outcome informed the person means "
            "only."
        )


def latent_data(
    frame: pd.DataFrame,
    *,
    y: str,
    x: str,
    person: str,
    w: str | None = None,
    controls: tuple[str, ...] = (),
    others: tuple[str, ...] = (),
) -> LatentData:
    """Gather the rows of a latent-centred model from a data frame.

    Parameters
    ----------
    frame : DataFrame
        One row per person and day; ``y`` and ``x`` may have missing values.
    y, x, person : str
        Outcome, raw daily predictor and person columns.
    w : str, optional
        A numeric person-level moderator (centred over persons by the caller); persons
        without it are left out.
    controls : tuple of str
        Numeric control columns (entering the outcome model as fixed effects); rows with a
        missing control are left out.
    others : tuple of str
        Other level-1 predictors' raw columns, modelled as ``x`` is (each imputed where
        missing on a row with an outcome).

    Returns
    -------
    LatentData

    Raises
    ------
    DataError
        A missing column, no row with both outcome and predictor, a moderator that varies
        within a person, or a control that is not numeric.
    """
    controls, others = tuple(controls), tuple(others)
    needed = [c for c in (y, x, person, w, *controls, *others) if c is not None]
    missing_cols = [c for c in needed if c not in frame.columns]
    if missing_cols:
        raise DataError(f"latent centring: no column(s) {missing_cols} in the data.")
    frame = frame.reset_index(drop=True)
    keep = frame[person].notna() & (frame[y].notna() | frame[[x, *others]].notna().any(axis=1))
    if w is not None:
        keep &= frame[w].notna()
    for c in controls:
        if not pd.api.types.is_numeric_dtype(frame[c]):
            raise DataError(f"latent centring: the control {c!r} is not numeric.")
        keep &= frame[c].notna()
    rows = frame.index[keep].to_numpy()
    data = frame.loc[keep]
    ids = data[person].astype(str)
    levels = list(pd.unique(ids))
    index = pd.Series(np.arange(len(levels)), index=levels)
    pidx = index.loc[ids].to_numpy()
    yv = data[y].to_numpy(dtype=float)
    xv = data[x].to_numpy(dtype=float)
    has_y = ~np.isnan(yv)
    for column in (x, *others):
        if not np.any(has_y & data[column].notna().to_numpy()):
            raise DataError(f"latent centring: no row has both {y!r} and {column!r}.")
    ov = data[list(others)].to_numpy(dtype=float) if others else None
    w_person = None
    if w is not None:
        per = data.groupby(pidx)[w].agg(["min", "max"])
        if np.any(per["max"] - per["min"] > 1e-9 * (1.0 + per["max"].abs())):
            raise DataError(f"latent centring: the moderator {w!r} varies within a person.")
        w_person = per["min"].to_numpy(dtype=float)
    return LatentData(
        names=LatentNames(x=x, y=y, person=person, w=w, controls=controls, others=others),
        levels=levels,
        y=yv[has_y],
        x=xv[has_y],
        person=pidx[has_y],
        x_only=xv[~has_y],
        x_only_person=pidx[~has_y],
        w=w_person,
        source_rows=rows[has_y],
        imputed_source_rows=rows[has_y][np.isnan(xv[has_y])],
        x_only_source_rows=rows[~has_y],
        controls=data[list(controls)].to_numpy(dtype=float)[has_y],
        others=None if ov is None else ov[has_y],
        others_only=None if ov is None else ov[~has_y],
    )


def with_padding_persons(data: LatentData, total: int) -> LatentData:
    """``data`` with persons added after its own, up to ``total`` persons, who have no rows.

    A padding person has no outcome and no predictor value and a moderator of 0, so every
    per-person sum of theirs is 0 and they add nothing to the likelihood: in the fast path
    (:mod:`ambidex_bayes.model.latent_fast_path`) a person without rows contributes
    nothing, and their latent means follow the prior alone, independently of everything
    else. They let one compiled model serve studies of nearby sizes (see
    :func:`ambidex_bayes.engine.latent_sampling.model_persons`); the posterior is cut back
    to the real persons after sampling. Their labels differ from every real person's.

    Parameters
    ----------
    data : LatentData
    total : int
        Persons wanted, at least ``data.n_persons``.

    Returns
    -------
    LatentData
        ``data`` itself when ``total`` equals its persons.
    """
    extra = total - data.n_persons
    if extra < 0:
        raise ValueError(f"cannot pad {data.n_persons} persons down to {total}")
    if extra == 0:
        return data
    taken = set(data.levels)
    labels: list[str] = []
    k = 0
    while len(labels) < extra:
        label = f"_padding_{k}"
        if label not in taken:
            labels.append(label)
        k += 1
    w = None if data.w is None else np.concatenate([data.w, np.zeros(extra)])
    return dataclasses.replace(data, levels=[*data.levels, *labels], w=w)
