"""Property tests of ColumnMapping.from_dict / from_toml with random and nearly valid input.

Any dict gives a mapping that survives ``to_dict`` -> JSON -> ``from_dict`` unchanged, or a
SpecError whose message starts with the source name -- never another exception type.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import event, given
from hypothesis import strategies as st
from hypothesis_support import check_message, counted, examples, run_pipeline

from ambidex_bayes.data import ColumnMapping
from ambidex_bayes.errors import SpecError

KNOWN = ["person", "occasion", "outcome", "level1", "level2", "controls", "ranges", "scales"]
NAMES = st.sampled_from(["pid", "day", "y", "x", "x2", "w", "c", "i1", "i2", "i3", "__row__", ""])
LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**400), 10**400),
    st.floats(),
    st.text(max_size=6),
    NAMES,
)
ANY = st.recursive(
    LEAF,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner, inner),
        st.frozensets(NAMES, max_size=3),
        st.dictionaries(st.one_of(NAMES, st.text(max_size=4)), inner, max_size=3),
    ),
    max_leaves=8,
)
JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), NAMES),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(NAMES, inner, max_size=3)),
    max_leaves=8,
)
KEYS = st.one_of(st.sampled_from([*KNOWN, "levl2", "Person", "scale", "range", ""]), st.integers())

VALID = {
    "person": "pid",
    "occasion": "day",
    "outcome": "y",
    "level1": ["x", "x2"],
    "level2": ["w"],
    "controls": ["c"],
    "ranges": {"y": [1, 5], "i1": [1, 5]},
    "scales": {"w": {"items": ["i1", "i2", "i3"], "reverse": ["i3"], "range": [1, 5]}},
}


def _check(d: object) -> ColumnMapping | None:
    try:
        m = ColumnMapping.from_dict(d, source="map.toml")
    except SpecError as exc:
        msg = str(exc)
        assert msg.startswith("map.toml"), msg
        assert len(msg) < 1500, f"unreadably long ({len(msg)} chars): {msg[:300]}"
        event("SpecError")
        return None
    except Exception as exc:  # noqa: BLE001 - any other type is the bug looked for
        raise AssertionError(f"{type(exc).__name__}: {exc}\ninput: {d!r}") from exc
    event("mapping")
    again = ColumnMapping.from_dict(json.loads(json.dumps(m.to_dict())))
    assert again == m and hash(again) == hash(m), d
    cols = m.model_columns
    assert len(set(cols)) == len(cols) and all(isinstance(c, str) and c for c in cols), d
    assert "__row__" not in cols, d
    return m


@examples(200)
@given(d=st.one_of(st.dictionaries(KEYS, ANY, max_size=6), ANY))
@counted
def test_random_dicts_give_a_mapping_or_a_spec_error(d):
    _check(d)


@st.composite
def nearly_valid(draw) -> dict:
    d = {k: v for k, v in VALID.items() if draw(st.integers(0, 5))}
    for key in draw(st.lists(st.sampled_from(KNOWN), max_size=2)):
        d[key] = draw(ANY)
    if draw(st.integers(0, 4)) == 0:
        d[draw(st.sampled_from(["levl2", "Level1", "ocasion"]))] = draw(ANY)
    return d


@examples(200)
@given(d=nearly_valid())
@counted
def test_nearly_valid_dicts_give_a_mapping_or_a_spec_error(d):
    _check(d)


@examples(60)
@given(text=st.one_of(st.text(max_size=80), st.builds(json.dumps, JSON)))
@counted
def test_random_toml_text_gives_a_mapping_or_a_spec_error(text):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "map.toml"
        path.write_text(text, encoding="utf-8")
        try:
            ColumnMapping.from_toml(path)
        except SpecError as exc:
            assert str(path) in str(exc), str(exc)
        except Exception as exc:  # noqa: BLE001
            raise AssertionError(f"{type(exc).__name__}: {exc}\ninput: {text!r}") from exc


DIARY = pd.DataFrame(
    {
        "pid": [1, 1, 2, 2, 3, 3],
        "day": [1, 2, 1, 2, 1, 2],
        "y": [1.0, 2.0, 4.0, 3.0, 5.0, 2.0],
        "x": [2.0, 3.0, 1.0, 4.0, 2.0, 5.0],
        "x2": [1.0, 0.0, 2.0, 1.0, 0.0, 3.0],
        "c": [0.0, 1.0, 1.0, 0.0, 1.0, 1.0],
        "i1": [1, 1, 3, 3, 5, 5],
        "i2": [2, 2, 3, 3, 4, 4],
        "i3": [5, 5, 3, 3, 2, 2],
    }
)


@examples(120)
@given(d=nearly_valid(), detrend=st.booleans(), standardize=st.booleans())
@counted
def test_load_diary_with_random_mappings_prepares_or_names_the_problem(d, detrend, standardize):
    show = f"mapping={d!r}"
    out = run_pipeline(DIARY, d, detrend=detrend, standardize=standardize, show=show)
    assert not out.warnings, out.warnings
    event("prepared" if out.error is None else type(out.error).__name__)
    if out.error is not None:
        names = [str(v) for v in VALID.values() if isinstance(v, str)]
        names += ["x", "x2", "w", "c", "i1", "i2", "i3", "pid", "day", "y", "<DataFrame>"]
        names += [str(k) for k in d] + [
            n for v in d.values() if isinstance(v, list) for n in map(str, v)
        ]
        names += [v for v in d.values() if isinstance(v, str)]  # e.g. a person column '0'
        check_message(out.error, names, "<mapping>", show)
        return
    assert len(out.prepared.frame) == len(DIARY)
