"""Property tests of reading files: odd bytes, headers, encodings, delimiters.

Whatever a file holds, ``read_table`` returns a table or raises a DataError naming the file
-- never another exception type, never a warning -- and what it returns is what the file
says: duplicated header names are reported instead of renamed, a BOM never sticks to the
first name, a UTF-8 character cut by the sniffing window is not garbled, and cells keep their
text.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, event, given
from hypothesis import strategies as st
from hypothesis_support import COLUMN_NAMES, counted, examples

from ambidex_bayes.data import read_table
from ambidex_bayes.errors import DataError


def _read(path: Path, *, record: bool = True, **kwargs) -> pd.DataFrame | DataError:
    """read_table's table or its DataError; anything else (or a warning) fails the test."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out: pd.DataFrame | DataError = read_table(path, **kwargs)
        except DataError as exc:
            out = exc
            assert str(path) in str(exc), f"the message does not name the file: {exc}"
        except Exception as exc:  # noqa: BLE001 - any other type is the bug looked for
            raise AssertionError(
                f"{type(exc).__name__}: {exc}\nfile bytes: {path.read_bytes()[:300]!r}"
            ) from exc
    assert not caught, [str(w.message) for w in caught]
    if record:
        event("table" if isinstance(out, pd.DataFrame) else "DataError")
    return out


@examples(150)
@given(
    content=st.one_of(
        st.binary(max_size=300),
        st.text(alphabet=st.sampled_from('ab1.,;\t|" \n\r-é\ufeff'), max_size=200),
        st.text(max_size=100),
    ),
    ext=st.sampled_from([".csv", ".tsv", ".txt", ".parquet", ".xlsx", ".sav"]),
)
@counted
def test_any_bytes_give_a_table_or_a_data_error(content, ext):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"data{ext}"
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8", newline="")
        else:
            path.write_bytes(content)
        out = _read(path)
        if isinstance(out, pd.DataFrame):
            assert len(out) > 0 and len(out.columns) > 0
            assert len(set(out.columns)) == len(out.columns)
            assert all(isinstance(c, str) and c == c.strip() for c in out.columns)
            assert isinstance(out.index, pd.RangeIndex)


_CELL_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=5
)
TABLE = st.lists(
    st.lists(
        st.one_of(st.integers(-5, 5), st.floats(allow_nan=False, width=32), _CELL_TEXT),
        min_size=3,
        max_size=3,
    ),
    min_size=1,
    max_size=4,
)


@examples(80)
@given(
    names=st.lists(COLUMN_NAMES, min_size=3, max_size=3, unique=True),
    rows=TABLE,
    which=st.tuples(st.integers(0, 2), st.integers(0, 2)).filter(lambda t: t[0] != t[1]),
    spaces=st.sampled_from(["", " ", "  "]),
    fmt=st.sampled_from(["csv", "csv_bom", "semicolon", "xlsx"]),
)
@counted
def test_duplicated_header_names_are_reported_not_renamed(names, rows, which, spaces, fmt):
    header = list(names)
    header[which[1]] = header[which[0]] + spaces  # the same name twice (maybe with a space)
    with tempfile.TemporaryDirectory() as tmp:
        if fmt == "xlsx":
            path = Path(tmp) / "dup.xlsx"
            pd.DataFrame(rows, columns=range(3)).to_excel(path, index=False, header=header)
        else:
            path = Path(tmp) / "dup.csv"
            sep = ";" if fmt == "semicolon" else ","
            body = pd.DataFrame(rows).to_csv(index=False, header=header, sep=sep)
            path.write_text(body, encoding="utf-8-sig" if fmt == "csv_bom" else "utf-8")
        out = _read(path)
    assert isinstance(out, DataError), f"read {list(out.columns)} from header {header}"
    assert repr(names[which[0]]) in str(out) and "more than once" in str(out), str(out)


@examples(80)
@given(
    names=st.lists(COLUMN_NAMES, min_size=1, max_size=4, unique=True),
    data=st.data(),
    sep=st.sampled_from([",", ";", "\t", "|"]),
    bom=st.booleans(),
)
@counted
def test_header_names_and_text_cells_come_back_as_written(names, data, sep, bom):
    n_rows = data.draw(st.integers(1, 4))
    text = st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc", "Zl", "Zp"]),
        min_size=1,
        max_size=8,
    ).filter(
        lambda s: (
            s == s.strip()
            and s
            not in ("NA", "NULL", "nan", "null", "None", "N/A", "n/a", "NaN", "#N/A", "<NA>", "#NA")
        )
    )
    cells = {n: data.draw(st.lists(text, min_size=n_rows, max_size=n_rows)) for n in names}
    # One column whose cells hold a delimiter is ambiguous: "0," may be "0" and an empty field.
    assume(len(names) > 1 or not any(d in c for c in cells[names[0]] for d in ",;|"))
    df = pd.DataFrame(cells)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("data.tsv" if sep == "\t" else "data.csv")
        df.to_csv(path, index=False, sep=sep, encoding="utf-8-sig" if bom else "utf-8")
        out = _read(path, text_columns=names)
    assert isinstance(out, pd.DataFrame), f"{out}\n{df!r}"
    assert list(out.columns) == names
    for n in names:
        assert out[n].tolist() == cells[n], n


@pytest.mark.parametrize("width", [2, 3, 4])
@examples(20)
@given(shift=st.integers(0, 8), rows=st.integers(1, 3))
@counted
def test_a_character_cut_by_the_sniffing_window_is_not_garbled(width, shift, rows):
    char = {2: "é", 3: "日", 4: "😀"}[width]
    head = "pid,y,t\n1,2,"
    # put the multi-byte character across byte 65536, where the sniffing sample ends
    filler = "a" * (65536 - len(head.encode()) - 1 - shift % width)
    text = head + filler + char * 3 + "\n" + "".join(f"{k},3,x\n" for k in range(2, rows + 2))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long.csv"
        path.write_text(text, encoding="utf-8")
        out = _read(path)
    assert isinstance(out, pd.DataFrame)
    assert out["t"].iloc[0] == filler + char * 3


@examples(60)
@given(
    extra=st.integers(1, 3),
    n_rows=st.integers(1, 4),
    sep=st.sampled_from([",", ";"]),
)
@counted
def test_rows_longer_than_the_header_are_an_error_not_a_shift(extra, n_rows, sep):
    rows = [sep.join(str(k * 10 + j) for j in range(2 + extra)) for k in range(n_rows)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ragged.csv"
        path.write_text(f"a{sep}b\n" + "\n".join(rows) + "\n")
        out = _read(path)
    if isinstance(out, pd.DataFrame):  # never values moved into the wrong column
        assert out["a"].tolist() == [k * 10 for k in range(n_rows)]
    else:
        assert "more fields than the header" in str(out) or "Expected" in str(out)


@examples(40)
@given(blank=st.sampled_from(["\n", "\n\n", " \n", "\r\n"]), sep=st.sampled_from([",", ";"]))
@counted
def test_blank_lines_above_the_header_are_reported(blank, sep):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "blank.csv"
        path.write_text(blank + f"pid{sep}y\n1{sep}2\n2{sep}3\n")
        out = _read(path)
    if isinstance(out, pd.DataFrame):
        assert list(out.columns) == ["pid", "y"] and out["y"].tolist() == [2, 3]
    else:
        assert "first line" in str(out), str(out)


def test_nan_only_and_header_only_files():
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "d.csv"
        path.write_text("pid,y\n,\n,\n")
        assert "only empty rows" in str(_read(path, record=False))
        path.write_text("pid,y\n")
        assert "no data rows" in str(_read(path, record=False))
        pd.DataFrame({"pid": [np.nan, np.nan], "y": [np.nan, np.nan]}).to_parquet(
            Path(tmp) / "d.parquet"
        )
        assert "only empty rows" in str(_read(Path(tmp) / "d.parquet", record=False))
