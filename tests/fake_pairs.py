"""A fake fit with two level-1 predictors and two moderators, and one with a factor moderator.

Two level-1 predictors (``unc``, ``str``) and two moderators (``sup``, ``cli``) prepared by
the package's own ``validate`` and ``prepare``; fake draws where every coefficient has its
own known distribution (:data:`MEANS`), named as a Bambi fit names them. :func:`pair_fit`
gives the fit with the terms of its first pair, as the model builder does;
:func:`factor_fit` replaces the second moderator with a factor ``sector`` (levels A, B, C)
coded by hand (:func:`ambidex_bayes.factor_coding.factor_coding`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
from fake_posterior import CHAINS, DRAWS, PERSON_DIM, as_fit, posterior_tree

from ambidex_bayes.data.mapping import ColumnMapping
from ambidex_bayes.data.validate import validate
from ambidex_bayes.factor_coding import FactorCoding, factor_coding
from ambidex_bayes.posterior import PosteriorDraws
from ambidex_bayes.prepare import prepare
from ambidex_bayes.prepared_data import PreparedData
from ambidex_bayes.terms import ModerationTerms

PERSONS = ["a", "b", "c", "d", "e", "f"]
_X = {
    "a": [2.0, 3.0, 4.0],
    "b": [1.5, 2.5, 2.0, 3.0],
    "c": [3.5, 4.5, 4.0, 4.0, 3.0],
    "d": [2.0, 2.0, 3.0],
    "e": [4.0, 5.0, 4.5, 3.5],
    "f": [1.0, 2.0, 1.5],
}
SUP = {"a": 3.0, "b": 4.0, "c": 2.5, "d": 4.5, "e": 3.5, "f": 2.0}
CLI = {"a": 10.0, "b": 30.0, "c": 20.0, "d": 50.0, "e": 40.0, "f": 25.0}
SECTOR = {"a": "A", "b": "B", "c": "C", "d": "A", "e": "B", "f": "C"}

#: Known means of every fixed effect: each pair has its own interaction.
MEANS = {
    "Intercept": 3.0,
    "unc_cw": 0.2,
    "str_cw": -0.5,
    "unc_pm": 0.4,
    "str_pm": 0.7,
    "sup_c": 0.1,
    "cli_c": -0.05,
    "unc_cw:sup_c": 0.3,
    "unc_cw:cli_c": 0.02,
    "str_cw:sup_c": -0.25,
    "str_cw:cli_c": 0.04,
}


def raw_pairs() -> pd.DataFrame:
    rows = []
    for pid, xs in _X.items():
        for day, x in enumerate(xs):
            rows.append(
                {
                    "pid": pid,
                    "day": day,
                    "unc": x,
                    "str": 6.0 - x + 0.5 * (day % 2),
                    "sup": SUP[pid],
                    "cli": CLI[pid],
                    "inno": 1.0 + 1.5 * x + 0.3 * day + 0.6 * SUP[pid],
                    "sector": SECTOR[pid],
                }
            )
    return pd.DataFrame(rows)


def prepared_pairs(*, standardize: bool = False) -> PreparedData:
    mapping = ColumnMapping(
        person="pid",
        occasion="day",
        outcome="inno",
        level1=("unc", "str"),
        level2=("sup", "cli"),
    )
    raw = raw_pairs().drop(columns=["sector"])
    return prepare(validate(raw, mapping, source="<pairs diary>"), standardize=standardize)


def pair_draws(means: dict[str, float], seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    shape = (CHAINS, DRAWS)
    arrays = {name: rng.normal(mean, 0.05, shape) for name, mean in means.items()}
    tau = {
        f"{e}|pid_sigma": np.abs(rng.normal(s, 0.03, shape))
        for e, s in (("1", 0.5), ("unc_cw", 0.25), ("str_cw", 0.15))
    }
    arrays.update(tau)
    arrays["sigma"] = np.abs(rng.normal(0.8, 0.05, shape))
    for expr in ("1", "unc_cw", "str_cw"):
        scale = tau[f"{expr}|pid_sigma"][..., None]
        arrays[f"{expr}|pid"] = rng.normal(0.0, 1.0, (*shape, len(PERSONS))) * scale
    arrays["corr(1|pid,unc_cw|pid)"] = rng.uniform(-0.5, 0.5, shape)
    arrays["corr(1|pid,str_cw|pid)"] = rng.uniform(-0.5, 0.5, shape)
    arrays["corr(unc_cw|pid,str_cw|pid)"] = rng.uniform(-0.5, 0.5, shape)
    return arrays


def first_pair_terms(fixed: list[str]) -> ModerationTerms:
    """The terms a model builder gives the fit: its first predictor and moderator."""
    return ModerationTerms(
        person_dim=PERSON_DIM,
        x_column="unc_cw",
        w_column="sup_c",
        y_column="inno",
        slope="unc_cw",
        moderator="sup_c",
        interaction="unc_cw:sup_c",
        between="unc_pm",
        group_intercept="1|pid",
        group_slope="unc_cw|pid",
        group_intercept_sd="1|pid_sigma",
        group_slope_sd="unc_cw|pid_sigma",
        correlation="corr(1|pid,unc_cw|pid)",
        other_fixed=tuple(
            n for n in fixed if n not in {"Intercept", "unc_cw", "unc_pm", "sup_c", "unc_cw:sup_c"}
        ),
    )


def pair_fit() -> tuple[PosteriorDraws, dict[str, np.ndarray]]:
    """The two-predictor, two-moderator fit and its draws by variable name."""
    arrays = pair_draws(MEANS)
    tree = posterior_tree(arrays, persons=PERSONS)
    return as_fit(tree, first_pair_terms(list(MEANS)), prepared_pairs()), arrays


def factor_fit(contrast: str) -> tuple[PosteriorDraws, dict[str, np.ndarray], FactorCoding]:
    """Moderator ``sector`` (levels A, B, C) coded ``contrast`` as the second moderator."""
    numeric = prepared_pairs()
    coding = factor_coding("sector", ["A", "B", "C"], contrast=contrast)
    frame = numeric.frame.copy()
    frame["sector"] = frame["pid"].map(SECTOR)
    coded = coding.code(frame["sector"])
    for name in coding.columns:
        frame[name] = coded[name]
    roles = {**numeric.roles, "w1": "sector"}
    prepared = replace(numeric, frame=frame, roles=roles, factor_codings={"sector": coding})
    c1, c2 = coding.columns
    means = {
        "Intercept": 3.0,
        "unc_cw": 0.2,
        "str_cw": -0.5,
        "unc_pm": 0.4,
        "str_pm": 0.7,
        "sup_c": 0.1,
        c1: 0.3,
        c2: -0.2,
        "unc_cw:sup_c": 0.3,
        f"unc_cw:{c1}": 0.15,
        f"{c2}:unc_cw": -0.4,  # a formula may write the interaction either way round
    }
    arrays = pair_draws(means, seed=3)
    tree = posterior_tree(arrays, persons=PERSONS)
    return as_fit(tree, first_pair_terms(list(means)), prepared), arrays, coding
