"""Stub fits whose linear predictor is known: fake draws, a formula, and the hand computation.

:func:`predictor_fit` puts known draws of the moderation model (:mod:`fake_posterior`, one
person effect per person of the small prepared diary) together with the formula the draws
belong to, as the checks take a fit; :func:`hand_linear_predictor` computes its linear
predictor row by row, draw by draw, in plain loops, as the reference the vectorised route
must reproduce.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import xarray as xr
from fake_posterior import PERSON_DIM, make_prepared, make_terms, moderation_draws

__all__ = ["predictor_fit", "hand_linear_predictor"]


def predictor_fit(
    *,
    seed: int = 0,
    standardize: bool = False,
    family: str = "gaussian",
    interaction: bool = True,
    random_slope: bool = True,
    chains: int = 2,
    draws: int = 50,
    name: str = "stub",
    data_hash: str = "h",
) -> SimpleNamespace:
    """A fit of the moderation model on the small prepared diary, from known draws."""
    prepared = make_prepared(standardize=standardize)
    terms = make_terms(
        y_column=prepared.roles["y"], interaction=interaction, random_slope=random_slope
    )
    persons = sorted(prepared.frame["pid"].astype(str).unique())
    tree, _ = moderation_draws(
        seed, n_persons=len(persons), terms=terms, chains=chains, draws=draws
    )
    post = tree["posterior"].to_dataset().assign_coords({PERSON_DIM: persons})
    fixed = ["1", terms.x_column, terms.between, terms.moderator]
    if terms.interaction:
        fixed.append(terms.interaction)
    group = terms.x_column if random_slope else "1"
    formula = f"{terms.y_column} ~ {' + '.join(fixed)} + ({group} | pid)"
    return SimpleNamespace(
        spec=SimpleNamespace(name=name, family=family),
        terms=terms,
        prepared=prepared,
        idata=xr.DataTree.from_dict({"posterior": post}),
        formula=formula,
        meta={"data_hash": data_hash},
    )


def hand_linear_predictor(
    fit: SimpleNamespace, *, group_specific: bool = True, posterior: xr.Dataset | None = None
) -> np.ndarray:
    """The linear predictor ``(chain, draw, rows)``, one row and draw at a time."""
    post = posterior if posterior is not None else fit.idata["posterior"].to_dataset()
    terms = fit.terms
    frame = fit.prepared.frame.reset_index(drop=True)
    labels = [str(v) for v in post[PERSON_DIM].values]
    n_chain, n_draw = post.sizes["chain"], post.sizes["draw"]
    out = np.zeros((n_chain, n_draw, len(frame)))
    for c in range(n_chain):
        for d in range(n_draw):

            def value(name: str, c: int = c, d: int = d) -> float:
                return float(post[name].values[c, d])

            for i, row in frame.iterrows():
                mu = value(terms.intercept)
                x = float(row[terms.x_column])
                mu += value(terms.slope) * x
                mu += value(terms.between) * float(row[terms.between])
                mu += value(terms.moderator) * float(row[terms.moderator])
                if terms.interaction:
                    mu += value(terms.interaction) * x * float(row[terms.moderator])
                if group_specific:
                    j = labels.index(str(row["pid"]))
                    mu += float(post[terms.group_intercept].values[c, d, j])
                    if terms.group_slope:
                        mu += float(post[terms.group_slope].values[c, d, j]) * x
                out[c, d, i] = mu
    return out
