"""Property tests of scale scoring: random items, missing cells, extreme values, bad text.

``score_scales`` returns the exact mean of the keyed items present (missing when more than half
are missing) and reliabilities that are NaN or proper numbers (alpha at most 1, omega in
[0, 1]) -- or an AmbidexError naming the scale or item. Never another exception type, never a
warning (an overflow in a covariance, say), and the caller's frame is untouched.
"""

from __future__ import annotations

import math
import warnings
from fractions import Fraction

import numpy as np
import pandas as pd
from hypothesis import event, given
from hypothesis import strategies as st
from hypothesis_support import EXTREME, EXTREME_OK, MODERATE, SMALL_INT, TINY, counted, examples

from ambidex_bayes.data import ScaleSpec, score_scales
from ambidex_bayes.errors import AmbidexError

VALUES = st.one_of(SMALL_INT, MODERATE, EXTREME_OK, TINY, EXTREME)


@st.composite
def scales(draw):
    n_items = draw(st.integers(1, 4))
    items = [f"i{k}" for k in range(n_items)]
    n = draw(st.integers(1, 8))
    kind = draw(st.sampled_from(["likert", "any"]))
    cell = st.integers(1, 5).map(float) if kind == "likert" else VALUES
    data: dict[str, list] = {
        "pid": draw(st.lists(st.sampled_from(["a", "b", "c", 7]), min_size=n, max_size=n))
    }
    for item in items:
        col = draw(st.lists(st.one_of(cell, cell, cell, st.none()), min_size=n, max_size=n))
        data[item] = [np.nan if v is None else v for v in col]
    df = pd.DataFrame(data)
    if draw(st.integers(0, 7)) == 0:  # text in an item
        item = draw(st.sampled_from(items))
        df[item] = df[item].astype(object)
        df.loc[draw(st.integers(0, n - 1)), item] = draw(st.sampled_from(["abc", "3,5", "x" * 500]))
    reverse = draw(st.lists(st.sampled_from(items), unique=True, max_size=n_items))
    rng = (1.0, 5.0) if kind == "likert" or draw(st.booleans()) else None
    if rng is None and reverse and draw(st.booleans()):
        reverse = []
    spec = ScaleSpec(items=tuple(items), reverse=tuple(reverse), range=rng)
    return df, spec


@examples(150)
@given(case=scales())
@counted
def test_scores_are_exact_means_or_the_scale_is_refused_readably(case):
    df, spec = case
    original = df.copy(deep=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            scored, table = score_scales(df, {"s": spec}, person="pid")
        except AmbidexError as exc:
            msg = str(exc)
            assert "'s'" in msg, msg
            assert len(msg) < 2500, len(msg)
            event(type(exc).__name__)
            return
        except Exception as exc:  # noqa: BLE001 - any other type is the bug looked for
            raise AssertionError(f"{type(exc).__name__}: {exc}\n{df!r}\n{spec!r}") from exc
    event("scored")
    assert not caught, [str(w.message) for w in caught]
    pd.testing.assert_frame_equal(df, original)
    k = len(spec.items)
    for i in range(len(df)):
        keyed = []
        for item in spec.items:
            v = float(df[item].iloc[i])
            if math.isnan(v):
                continue
            if item in spec.reverse:
                v = spec.range[0] + spec.range[1] - v
            keyed.append(Fraction(v))
        got = scored["s"].iloc[i]
        if k - len(keyed) > k / 2:
            assert math.isnan(got), (i, got)
        else:
            want = float(sum(keyed, Fraction(0)) / len(keyed))
            assert abs(got - want) <= 1e-12 * max(abs(float(x)) for x in keyed) + 1e-300, (
                i,
                got,
                want,
            )
    row = table.iloc[0]
    for col in ("alpha_within", "alpha_between"):
        assert math.isnan(row[col]) or row[col] <= 1 + 1e-9, row
    for col in ("omega_within", "omega_between"):
        assert math.isnan(row[col]) or -1e-9 <= row[col] <= 1 + 1e-9, row
