"""Products of created columns in a spec formula: a level-1 x level-1 interaction and a
moderator of the between-person effect fit, are recovered and are named by what they are."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import ambidex_bayes as ab
from ambidex_bayes.diagnostics import ConvergenceWarning

pytestmark = pytest.mark.fit

FORMULA = (
    "{y} ~ 1 + {x0_within} + {x1_within} + {x0_within}:{x1_within} + {x0_between} + {w}"
    " + {x0_between}:{w} + ({x0_within} | {person})"
)


def _study(seed: int = 1) -> pd.DataFrame:
    """150 persons x 6 days; within x within interaction 0.25, person mean x w 0.3."""
    rng = np.random.default_rng(seed)
    rows = []
    for j in range(150):
        w, mean_x = rng.normal(), rng.normal(0, 0.7)
        u0, u1 = rng.normal(0, 0.4), rng.normal(0, 0.15)
        for day in range(6):
            x1, x2 = mean_x + rng.normal(), rng.normal()
            d1 = x1 - mean_x
            y = (
                0.3 * d1
                + 0.2 * x2
                + 0.25 * d1 * x2
                + 0.5 * mean_x
                + 0.2 * w
                + 0.3 * mean_x * w
                + u0
                + u1 * d1
                + rng.normal(0, 0.5)
            )
            rows.append({"pid": j, "day": day, "y": y, "x1": x1, "x2": x2, "w": w})
    return pd.DataFrame(rows)


def test_within_by_within_and_between_by_moderator_terms_fit_and_are_named():
    mapping = {"person": "pid", "occasion": "day", "outcome": "y", "level1": ["x1", "x2"]}
    data = ab.prepare(ab.load_diary(_study(), {**mapping, "level2": ["w"]}))
    spec = ab.ModelSpec(name="products", title="products of created columns", formula=FORMULA)
    settings = ab.SamplerSettings(draws=300, tune=300, chains=2, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 600 draws: ESS limits not met
        fit = ab.fit(spec, data, settings=settings, cache_dir=False, progressbar=False)
    table = ab.summary(fit).set_index("parameter")
    within = table.loc["x1_cw:x2_cw"]
    assert within["role"] == "interaction of the within-person parts of x1 and x2"
    assert within["ci_lower"] < 0.25 < within["ci_upper"]
    between = table.loc["x1_pm:w_c"]
    assert between["role"] == "moderation of the between-person effect of x1 by w"
    # observed person means of x1 are measured with error (reliability about 0.75 with six
    # days), which pulls this product toward 0; its sign and size are still clear
    assert 0.05 < between["ci_lower"] and between["mean"] < 0.35
