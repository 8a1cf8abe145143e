"""Helpers for result tests: fake posteriors from known draws, and small prepared data.

The posterior is an :class:`xarray.DataTree` with a ``posterior`` group named as a Bambi fit
names it (``"Intercept"``, ``"unc_cw"``, ``"unc_cw:sup_c"``, ``"1|pid"``, ``"unc_cw|pid"``,
``"1|pid_sigma"``, ...), so the result functions can be checked against hand computations
on the very same draws, without any sampling.

The prepared data come from the package's own ``validate`` and ``prepare`` run on a small
hand-made diary table (6 persons, 3-5 days each), plain or standardised. :func:`as_fit` puts
draws, terms and prepared data together as the one object every analysis takes first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd
import xarray as xr

from ambidex_bayes.data.mapping import ColumnMapping
from ambidex_bayes.data.validate import validate
from ambidex_bayes.posterior import PosteriorDraws
from ambidex_bayes.prepare import PreparedData, prepare
from ambidex_bayes.terms import ModerationTerms

__all__ = [
    "CHAINS",
    "DRAWS",
    "PERSON_DIM",
    "as_fit",
    "make_prepared",
    "make_terms",
    "moderation_draws",
    "null_model_draws",
    "posterior_tree",
    "raw_diary",
    "terms_for",
    "with_transform",
]

CHAINS = 4
DRAWS = 500
PERSON = "pid"
PERSON_DIM = f"{PERSON}__factor_dim"

X_CW = "unc_cw"
XBAR_C = "unc_pm"
W_C = "sup_c"
Y = "inno"


def make_terms(
    *,
    interaction: bool = True,
    between: bool = True,
    moderator: bool = True,
    random_slope: bool = True,
    slope: bool = True,
    y_column: str = Y,
) -> ModerationTerms:
    """Terms of the fake model; switch parts off to mimic M1/M2 or a model without a slope."""
    return ModerationTerms(
        person_dim=PERSON_DIM,
        x_column=X_CW,
        w_column=W_C,
        y_column=y_column,
        slope=X_CW if slope else None,
        moderator=W_C if moderator else None,
        interaction=f"{X_CW}:{W_C}" if interaction and slope else None,
        between=XBAR_C if between else None,
        group_intercept=f"1|{PERSON}",
        group_slope=f"{X_CW}|{PERSON}" if random_slope else None,
        group_intercept_sd=f"1|{PERSON}_sigma",
        group_slope_sd=f"{X_CW}|{PERSON}_sigma" if random_slope else None,
        correlation=f"corr(1|{PERSON},{X_CW}|{PERSON})" if random_slope else None,
        sigma="sigma",
    )


def posterior_tree(
    variables: Mapping[str, np.ndarray],
    *,
    persons: Sequence[str] | None = None,
    person_dim: str = PERSON_DIM,
) -> xr.DataTree:
    """Wrap arrays of shape ``(chain, draw)`` or ``(chain, draw, person)`` in a DataTree."""
    data_vars = {}
    for name, values in variables.items():
        values = np.asarray(values, dtype=float)
        dims = ("chain", "draw") if values.ndim == 2 else ("chain", "draw", person_dim)
        data_vars[name] = (dims, values)
    first = np.asarray(next(iter(variables.values())))
    coords: dict[str, object] = {
        "chain": np.arange(first.shape[0]),
        "draw": np.arange(first.shape[1]),
    }
    if persons is not None:
        coords[person_dim] = list(persons)
    return xr.DataTree.from_dict({"posterior": xr.Dataset(data_vars, coords=coords)})


def moderation_draws(
    seed: int = 0,
    *,
    n_persons: int = 8,
    chains: int = CHAINS,
    draws: int = DRAWS,
    terms: ModerationTerms | None = None,
    u1_shift: float = 0.0,
) -> tuple[xr.DataTree, dict[str, np.ndarray]]:
    """Known draws of the moderation model, as a DataTree and as the plain arrays.

    g00 ~ N(3, 0.1), g10 ~ N(0.2, 0.05), g11 ~ N(0.3, 0.05), g01 ~ N(0.1, 0.05),
    g02 ~ N(0.4, 0.1); SDs are absolute normals; person slope effects are
    N(u1_shift, tau1) so that their mean over persons is not zero when asked.
    Only the variables present in ``terms`` are included.
    """
    terms = terms if terms is not None else make_terms()
    rng = np.random.default_rng(seed)
    shape = (chains, draws)
    tau0 = np.abs(rng.normal(0.5, 0.05, shape))
    tau1 = np.abs(rng.normal(0.25, 0.03, shape))
    candidates: dict[str | None, np.ndarray] = {
        terms.intercept: rng.normal(3.0, 0.1, shape),
        terms.slope: rng.normal(0.2, 0.05, shape),
        terms.interaction: rng.normal(0.3, 0.05, shape),
        terms.moderator: rng.normal(0.1, 0.05, shape),
        terms.between: rng.normal(0.4, 0.1, shape),
        terms.group_intercept_sd: tau0,
        terms.group_slope_sd: tau1,
        terms.correlation: rng.uniform(-0.5, 0.5, shape),
        terms.sigma: np.abs(rng.normal(0.8, 0.05, shape)),
        terms.group_intercept: rng.normal(0.0, 1.0, (*shape, n_persons)) * tau0[..., None],
        terms.group_slope: u1_shift + rng.normal(0.0, 1.0, (*shape, n_persons)) * tau1[..., None],
    }
    arrays = {name: values for name, values in candidates.items() if name is not None}
    persons = [f"p{k}" for k in range(n_persons)]
    return posterior_tree(arrays, persons=persons, person_dim=terms.person_dim), arrays


def null_model_draws(seed: int = 0) -> tuple[xr.DataTree, ModerationTerms, dict[str, np.ndarray]]:
    """Known draws of the intercept-only model M0 and its terms."""
    terms = ModerationTerms(
        person_dim=PERSON_DIM,
        y_column=Y,
        group_intercept=f"1|{PERSON}",
        group_intercept_sd=f"1|{PERSON}_sigma",
    )
    tree, arrays = moderation_draws(seed, terms=terms)
    return tree, terms, arrays


#: Raw diary values: 6 persons with 3-5 days each.
_RAW_X = {
    "a": [2.0, 3.0, 4.0],
    "b": [1.5, 2.5, 2.0, 3.0],
    "c": [3.5, 4.5, 4.0, 4.0, 3.0],
    "d": [2.0, 2.0, 3.0],
    "e": [4.0, 5.0, 4.5, 3.5],
    "f": [1.0, 2.0, 1.5],
}
_RAW_W = {"a": 3.0, "b": 4.0, "c": 2.5, "d": 4.5, "e": 3.5, "f": 2.0}


def raw_diary() -> pd.DataFrame:
    """The small raw diary table: person ``pid``, ``day``, ``unc`` (x), ``sup`` (W),
    ``inno`` (y)."""
    rows = []
    for pid, xs in _RAW_X.items():
        for day, x in enumerate(xs):
            inno = 1.0 + 1.5 * x + 0.3 * day + 0.6 * _RAW_W[pid]
            rows.append({"pid": pid, "day": day, "unc": x, "sup": _RAW_W[pid], "inno": inno})
    return pd.DataFrame(rows)


def make_prepared(
    *, standardize: bool = False, x_range: tuple[float, float] | None = None
) -> PreparedData:
    """Run :func:`ambidex_bayes.prepare.prepare` on :func:`raw_diary`.

    Columns: ``unc_cw`` (x within person), ``unc_pm`` (person mean centred over persons),
    ``sup_c`` (moderator centred over persons) and the outcome ``inno`` (``inno_z`` when
    standardised). ``x_range`` declares a range of ``unc`` in the mapping.
    """
    mapping = ColumnMapping(
        person="pid",
        occasion="day",
        outcome="inno",
        level1=("unc",),
        level2=("sup",),
        ranges={} if x_range is None else {"unc": x_range},
    )
    return prepare(validate(raw_diary(), mapping, source="<test diary>"), standardize=standardize)


def terms_for(prepared: PreparedData, **switches: bool) -> ModerationTerms:
    """:func:`make_terms` with the outcome column of ``prepared``."""
    return make_terms(y_column=prepared.roles["y"], **switches)


def with_transform(prepared: PreparedData, column: str, **changes: float) -> PreparedData:
    """Copy of ``prepared`` with one transform's fields changed."""
    transforms = dict(prepared.transforms)
    transforms[column] = replace(transforms[column], **changes)
    return replace(prepared, transforms=transforms)


def as_fit(
    tree: xr.DataTree, terms: ModerationTerms, prepared: PreparedData | None = None
) -> PosteriorDraws:
    """Fake draws as the object the analyses take first; ``prepared`` defaults to
    :func:`make_prepared` (for analyses that read only the posterior and the terms)."""
    return PosteriorDraws(
        idata=tree, terms=terms, prepared=make_prepared() if prepared is None else prepared
    )
