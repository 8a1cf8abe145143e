"""The catalogue of bad inputs tried on the data layer, and what each one now gets.

Each entry builds one input (a DataFrame, a file, or a mapping), runs it through
``load_diary`` and ``prepare`` and reports ``prepared`` or the start of the error message.
``docs/bad_inputs.md`` holds the table this renders; ``test_bad_inputs_doc.py`` checks that
every row there is still true. After changing a message, regenerate the table with::

    .venv/bin/python tests/property/bad_inputs.py
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ambidex_bayes.data import load_diary
from ambidex_bayes.errors import AmbidexError, ValidationError
from ambidex_bayes.prepare import prepare

MAPPING = {"person": "pid", "occasion": "day", "outcome": "y", "level1": ["x"], "level2": ["w"]}
NO_OCCASION = {k: v for k, v in MAPPING.items() if k != "occasion"}
_START = 110


def base() -> pd.DataFrame:
    """Three persons with two or three diaries each; prepares cleanly."""
    return pd.DataFrame(
        {
            "pid": [1, 1, 1, 2, 2, 3, 3],
            "day": [1, 2, 3, 1, 2, 1, 2],
            "y": [2.0, 3.0, 5.0, 1.0, 2.5, 4.0, 3.0],
            "x": [1.0, 2.0, 4.0, 3.0, 3.5, 2.0, 1.0],
            "w": [0.5, 0.5, 0.5, 1.5, 1.5, -1.0, -1.0],
        }
    )


def with_col(col: str, values: list[Any], dtype: Any = None) -> Callable[[], pd.DataFrame]:
    def build() -> pd.DataFrame:
        df = base()
        df[col] = pd.Series(values, dtype=dtype)
        return df

    return build


def text_file(name: str, content: bytes | str) -> Callable[[Path], Path]:
    def write(tmp: Path) -> Path:
        path = tmp / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    return write


def frame_file(name: str, build: Callable[[], pd.DataFrame], **to_csv: Any) -> Callable:
    def write(tmp: Path) -> Path:
        path = tmp / name
        if name.endswith(".parquet"):
            build().to_parquet(path, index=False)
        else:
            build().to_csv(path, index=False, **to_csv)
        return path

    return write


_CSV = "pid,day,y,x,w\n1,1,2,1,0.5\n1,2,3,2,0.5\n2,1,1,3,1.5\n2,2,2.5,3.5,1.5\n3,1,4,2,-1\n3,2,3,1,-1\n"


@dataclass(frozen=True)
class Entry:
    """One bad input: what it is, how to build it, and the options used."""

    what: str
    source: Callable[..., Any]
    mapping: Any = None
    detrend: bool = False
    standardize: bool = False
    is_file: bool = False


def _ids(values: list[Any]) -> Callable[[], pd.DataFrame]:
    return with_col("pid", values, dtype=object)


ENTRIES: list[Entry] = [
    # ---- column types
    Entry(
        "boolean predictor column (True/False)",
        with_col("x", [True, False, True, False, True, True, False]),
    ),
    Entry(
        "True/False/None cells in a text predictor column",
        with_col("x", [True, False, None, False, True, True, False], object),
    ),
    Entry(
        "complex predictor with zero imaginary parts",
        with_col("x", [1 + 0j, 2, 4, 3, 3.5, 2, 1], complex),
    ),
    Entry(
        "complex predictor with a non-zero imaginary part",
        with_col("x", [1 + 2j, 2, 4, 3, 3.5, 2, 1], complex),
    ),
    Entry(
        "timedelta column as predictor",
        with_col("x", pd.to_timedelta([1, 2, 4, 3, 3, 2, 1], unit="D")),
    ),
    Entry("datetime column as predictor", with_col("x", pd.date_range("2024-01-01", periods=7))),
    Entry(
        "bytes in a predictor cell", with_col("x", [b"\x80", 2.0, 4.0, 3.0, 3.5, 2.0, 1.0], object)
    ),
    Entry(
        "nullable Int64 / Arrow float / sparse predictor",
        with_col("x", [1, 2, 4, 3, None, 2, 1], "float64[pyarrow]"),
    ),
    Entry(
        "categorical predictor of numbers", with_col("x", pd.Categorical([1.0, 2, 4, 3, 3.5, 2, 1]))
    ),
    Entry(
        "text that is not a number in the outcome",
        with_col("y", [2.0, "abc", 5.0, 1.0, 2.5, 4.0, 3.0], object),
    ),
    Entry(
        'decimal comma ("2,5") in a DataFrame\'s outcome',
        with_col("y", [2.0, "2,5", 5.0, 1.0, 2.5, 4.0, 3.0], object),
    ),
    Entry(
        "very long string (70,000 chars) in a numeric column",
        with_col("y", [2.0, "é" * 70000, 5.0, 1.0, 2.5, 4.0, 3.0], object),
    ),
    Entry(
        'whitespace around numbers (" 3.5 ", "\\t4")',
        with_col("y", [" 2 ", "\t3", "5\u00a0", 1.0, "2.5", 4, 3], object),
    ),
    Entry(
        '"nan" / "NA" text in a DataFrame\'s numeric column',
        with_col("y", [2.0, "NA", 5.0, 1.0, 2.5, 4.0, 3.0], object),
    ),
    # ---- missing values
    Entry(
        'missing cells of every kind (NaN, None, "", "  ", NA) in the predictor',
        with_col("x", [1.0, None, 4.0, "", "  ", 2.0, pd.NA], object),
    ),
    Entry("NaN-only outcome column", with_col("y", [np.nan] * 7)),
    Entry("NaN-only predictor column", with_col("x", [np.nan] * 7)),
    Entry("NaN-only moderator column", with_col("w", [np.nan] * 7)),
    Entry("NaN-only occasion column", with_col("day", [np.nan] * 7)),
    Entry("missing person id on a row", _ids([1, 1, None, 2, 2, 3, 3])),
    Entry(
        "completely empty row",
        lambda: pd.concat([base(), pd.DataFrame({c: [None] for c in base()})], ignore_index=True),
    ),
    Entry(
        "incomplete rows leave a constant outcome",
        lambda: base().assign(x=[1.0, 2, 4, 3, 3.5, None, None], y=[2.0, 2, 2, 2, 2, 9, 9]),
    ),
    # ---- person ids
    Entry("unicode person ids", _ids(["ψ", "ψ", "ψ", "日記", "日記", "é", "é"])),
    Entry(
        "very long person ids (3,000 chars)",
        _ids(["a" * 3000] * 3 + ["b" * 3000] * 2 + ["c" * 3000] * 2),
    ),
    Entry(
        'mixed-type person ids (1, "1", " 1 ", 1.0, "1.0", "+1")',
        _ids([1, "1", " 1 ", 2.0, "2.0", "+3", 3]),
    ),
    Entry(
        "boolean person ids",
        lambda: base().assign(
            pid=[True] * 3 + [False] * 4, day=[1, 2, 3, 1, 2, 3, 4], w=[0.5] * 3 + [1.5] * 4
        ),
    ),
    Entry("float person ids with one NaN", _ids([1.0, 1.0, 1.0, 2.0, 2.0, np.nan, 3.0])),
    # ---- constants and tiny designs
    Entry("constant predictor", with_col("x", [2.0] * 7)),
    Entry(
        "predictor constant within every person", with_col("x", [1.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0])
    ),
    Entry("constant outcome", with_col("y", [3.0] * 7)),
    Entry(
        "outcome constant within every person", with_col("y", [2.0, 2.0, 2.0, 1.0, 1.0, 4.0, 4.0])
    ),
    Entry(
        "incomplete rows leave an outcome constant within every person",
        lambda: base().assign(
            y=[2.0, 2.0, 5.0, 1.0, 1.0, 4.0, 4.0], x=[1.0, 2.0, np.nan, 3.0, 3.5, 2.0, 1.0]
        ),
    ),
    Entry("constant moderator (same value for every person)", with_col("w", [1.0] * 7)),
    Entry(
        "moderator that varies within a person",
        with_col("w", [0.5, 0.7, 0.5, 1.5, 1.5, -1.0, -1.0]),
    ),
    Entry("duplicated person-occasion", with_col("day", [1, 1, 3, 1, 2, 1, 2])),
    Entry("a single person (no moderator)", lambda: base().iloc[:3], {**MAPPING, "level2": []}),
    Entry("a single person with a moderator", lambda: base().iloc[:3]),
    Entry("one diary per person", lambda: base().drop_duplicates("pid")),
    Entry(
        "predictor varying within one person only",
        with_col("x", [1.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.1]),
    ),
    Entry(
        "predictor varying within one person only",
        with_col("x", [1.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.1]),
        standardize=True,
    ),
    Entry("detrend=True without an occasion in the mapping", base, NO_OCCASION, detrend=True),
    # ---- extreme values
    Entry("1e300 in the predictor", with_col("x", [1e300, 2.0, 4.0, 3.0, 3.5, 2.0, 1.0])),
    Entry(
        "1e100 (the largest accepted magnitude)",
        with_col("x", [1e100, 2.0, 4.0, 3.0, 3.5, 2.0, 1.0]),
    ),
    Entry("inf / -inf in the outcome", with_col("y", [np.inf, 3.0, 5.0, 1.0, -np.inf, 4.0, 3.0])),
    Entry(
        '"inf" and "1e400" as text',
        with_col("y", ["inf", 3.0, "1e400", 1.0, 2.5, 4.0, 3.0], object),
    ),
    Entry("-0.0 and 0.0 mixed", with_col("x", [-0.0, 0.0, 4.0, -0.0, 3.5, 0.0, 1.0])),
    Entry(
        "subnormal values (5e-324 ...)",
        with_col("x", [5e-324, 1e-323, 2e-323, 5e-324, 1.5e-323, 1e-323, 5e-324]),
        standardize=True,
    ),
    Entry(
        "moderator values that differ only by rounding (0.1+0.2 vs 0.3)",
        with_col("w", [0.1 + 0.2] * 3 + [0.3] * 4),
        standardize=True,
    ),
    # ---- occasions
    Entry(
        "ISO dates with different UTC offsets as occasion",
        with_col(
            "day",
            [
                "2024-03-04T00:00+01:00",
                "2024-03-05T00:00+02:00",
                "2024-03-06",
                "2024-03-04",
                "2024-03-05",
                "2024-03-04",
                "2024-03-05",
            ],
            object,
        ),
    ),
    Entry(
        "numbers and text mixed in the occasion",
        with_col("day", [1, 2, "third", 1, 2, 1, 2], object),
    ),
    # ---- column names
    Entry(
        "duplicated column names in a DataFrame",
        lambda: base().set_axis(["pid", "day", "y", "x", "x"], axis=1),
        {**MAPPING, "level2": []},
    ),
    Entry(
        'column names 1 and "1" in a DataFrame',
        lambda: base().assign(**{"1": 0}).rename(columns={"w": 1}),
    ),
    Entry(
        "multi-level column header",
        lambda: base().set_axis(pd.MultiIndex.from_product([["a"], list(base())]), axis=1),
    ),
    Entry(
        "a column named like a made column (x_cw)",
        lambda: base().assign(x_cw=1.0),
        {**MAPPING, "controls": ["x_cw"]},
    ),
    # ---- files
    Entry("empty file (0 bytes)", text_file("empty.csv", b""), is_file=True),
    Entry("blank lines only", text_file("blank.csv", "\n \n\n"), is_file=True),
    Entry("header only", text_file("header.csv", "pid,day,y,x,w\n"), is_file=True),
    Entry("blank first line above the header", text_file("late.csv", "\n" + _CSV), is_file=True),
    Entry(
        "duplicated column names in a CSV",
        text_file("dup.csv", _CSV.replace("w\n", "x\n", 1)),
        is_file=True,
    ),
    Entry(
        "BOM-prefixed CSV header",
        text_file("bom.csv", b"\xef\xbb\xbf" + _CSV.encode()),
        is_file=True,
    ),
    Entry(
        "BOM-prefixed header, cp1252 bytes after it",
        text_file(
            "bom1252.csv", b"\xef\xbb\xbf" + _CSV.replace("w\n", "w\xe9\n", 1).encode("cp1252")
        ),
        {**MAPPING, "level2": ["w\ufffd"]},
        is_file=True,
    ),
    Entry(
        "rows with more fields than the header",
        text_file("ragged.csv", _CSV.replace("\n1,", "\n9,1,")),
        is_file=True,
    ),
    Entry(
        "semicolon CSV with decimal commas and exponents",
        text_file(
            "nl.csv",
            _CSV.replace(",", ";")
            .replace("0.5", "5e-01")
            .replace("2.5", "2,5")
            .replace("3.5", "3,5")
            .replace("1.5", "1,5"),
        ),
        is_file=True,
    ),
    Entry(
        '"007" and "7" as person ids in a CSV (two persons)',
        text_file(
            "pad.csv",
            _CSV.replace("\n1,1,", "\n007,1,")
            .replace("\n1,2,", "\n007,2,")
            .replace("\n3,", "\n7,"),
        ),
        is_file=True,
    ),
    Entry(
        "whitespace around numbers in a CSV",
        text_file("ws.csv", _CSV.replace(",2,", ", 2 ,")),
        is_file=True,
    ),
    Entry(
        "NA / null / N/A tokens in a CSV",
        text_file("na.csv", _CSV.replace("2.5", "NA").replace(",3,1,", ",null,1,")),
        is_file=True,
    ),
    Entry("inf in a CSV", text_file("inf.csv", _CSV.replace("2.5", "inf")), is_file=True),
    Entry(
        "UTF-8 character cut by the 64 KiB sniffing window",
        text_file(
            "long.csv",
            "pid,day,y,x,w,t\n"
            + "\n".join(
                f"{r.rstrip()},{'a' * 65536 + 'é' if k == 0 else 't'}"
                for k, r in enumerate(_CSV.splitlines()[1:])
            )
            + "\n",
        ),
        is_file=True,
    ),
    Entry("Parquet round trip", frame_file("d.parquet", base), is_file=True),
    Entry(
        "random bytes with a .parquet extension",
        text_file("bad.parquet", b"PAR1\x00\x01garbage"),
        is_file=True,
    ),
    # ---- mappings
    Entry(
        "mapping: level1 given as a set",
        with_col("x", [1.0, 2, 4, 3, 3.5, 2, 1]),
        {**MAPPING, "level1": {"x"}},
    ),
    Entry(
        "mapping: range with a number too large for a float",
        base,
        {**MAPPING, "ranges": {"y": [0, 10**400]}},
    ),
    Entry("mapping: ranges = 0 (not a table)", base, {**MAPPING, "ranges": 0}),
    Entry("mapping: a role named __row__", base, {**MAPPING, "level1": ["__row__"]}),
    Entry("mapping: unknown key", base, {**MAPPING, "levl2": ["w"]}),
    Entry("mapping: not a table", base, ["pid", "y"]),
]


def outcome(entry: Entry) -> str:
    """``prepared`` or ``ErrorType: start of the message`` (first problem for validation)."""
    with tempfile.TemporaryDirectory() as tmp:
        source = entry.source(Path(tmp)) if entry.is_file else entry.source()
        mapping = MAPPING if entry.mapping is None else entry.mapping
        try:
            prepare(
                load_diary(source, mapping), detrend=entry.detrend, standardize=entry.standardize
            )
        except AmbidexError as exc:
            text = exc.problems[0] if isinstance(exc, ValidationError) else str(exc)
            text = text.replace(f"{tmp}/", "").replace("\n", " ")
            return f"{type(exc).__name__}: {text[:_START]}"
    return "prepared"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_row(entry: Entry) -> str:
    """The table row of one entry."""
    option = " (standardize=True)" if entry.standardize else ""
    return f"| {_cell(entry.what)}{option} | {_cell(outcome(entry))} |"


if __name__ == "__main__":
    print("| input | what it gets now |")
    print("|---|---|")
    print("\n".join(render_row(e) for e in ENTRIES))
