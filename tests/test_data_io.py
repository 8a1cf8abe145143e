"""Reading diary tables from CSV, text, Parquet, Excel and SPSS files."""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from ambidex_bayes.data import SUPPORTED_EXTENSIONS, read_table
from ambidex_bayes.errors import DataError


@pytest.fixture
def table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "pid": ["p1", "p1", "p2", "p10"],
            "day": [1.0, 2.0, 1.0, 1.0],
            "innovation": [2.5, np.nan, 4.0, 3.25],
            "uncertainty": [1.0, 5.0, 3.5, 2.0],
        }
    )


def _as_float(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in ("day", "innovation", "uncertainty"):
        out[c] = out[c].astype("float64")
    out["pid"] = out["pid"].astype("str")
    return out


def _write(df: pd.DataFrame, path) -> None:
    ext = path.suffix
    if ext == ".csv":
        df.to_csv(path, index=False)
    elif ext == ".parquet":
        df.to_parquet(path, index=False)
    elif ext == ".xlsx":
        df.to_excel(path, index=False)
    elif ext == ".sav":
        pyreadstat.write_sav(df, str(path))
    else:  # pragma: no cover - test helper
        raise AssertionError(ext)


@pytest.mark.parametrize("ext", [".csv", ".parquet", ".xlsx", ".sav"])
def test_round_trip_gives_the_same_table(tmp_path, table, ext):
    path = tmp_path / f"diary{ext}"
    _write(table, path)
    got = read_table(path)
    assert list(got.columns) == list(table.columns)
    pd.testing.assert_frame_equal(_as_float(got), _as_float(table))


def test_sav_keeps_numeric_codes_not_value_labels(tmp_path):
    df = pd.DataFrame({"pid": [1.0, 2.0, 3.0], "gender": [1.0, 2.0, 1.0]})
    path = tmp_path / "labelled.sav"
    pyreadstat.write_sav(df, str(path), variable_value_labels={"gender": {1: "woman", 2: "man"}})
    got = read_table(path)
    assert got["gender"].tolist() == [1.0, 2.0, 1.0]


def test_text_delimiters_are_sniffed(tmp_path):
    (tmp_path / "tabs.txt").write_text("pid\tday\ty\n1\t1\t2.5\n1\t2\t3\n")
    got = read_table(tmp_path / "tabs.txt")
    assert list(got.columns) == ["pid", "day", "y"]
    assert got["y"].tolist() == [2.5, 3.0]
    (tmp_path / "tabs.tsv").write_text("pid\tday\n1\t1\n")
    assert list(read_table(tmp_path / "tabs.tsv").columns) == ["pid", "day"]


def test_semicolon_csv_with_decimal_commas_is_read_as_numbers(tmp_path):
    path = tmp_path / "dutch.csv"
    path.write_text("pid;y;label\n1;3,5;a,b\n2;4;c\n3;;d\n")
    got = read_table(path)
    assert got["y"].tolist()[:2] == [3.5, 4.0]
    assert np.isnan(got["y"].iloc[2])
    # text with commas that is not a number stays text
    assert got["label"].tolist() == ["a,b", "c", "d"]


def test_windows_encoded_csv_is_read(tmp_path):
    path = tmp_path / "cp1252.csv"
    path.write_bytes("pid,ervaring é\n1,2\n".encode("cp1252"))
    assert list(read_table(path).columns) == ["pid", "ervaring é"]


def test_column_names_are_stripped_and_blank_lines_kept_in_place(tmp_path):
    path = tmp_path / "blank.csv"
    path.write_text(" pid ,y\n1,2\n\n2,3\n\n")
    got = read_table(path)
    assert list(got.columns) == ["pid", "y"]
    # the blank line stays as an empty row (so row numbers match the file); trailing blanks go
    assert len(got) == 3
    assert got["y"].isna().tolist() == [False, True, False]


def test_excel_sheet_by_name_and_position(tmp_path, table):
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"a": [1]}).to_excel(writer, sheet_name="readme", index=False)
        table.to_excel(writer, sheet_name="diaries", index=False)
    assert list(read_table(path).columns) == ["a"]
    assert read_table(path, sheet="diaries")["pid"].tolist() == ["p1", "p1", "p2", "p10"]
    assert read_table(path, sheet=1)["pid"].tolist() == ["p1", "p1", "p2", "p10"]
    with pytest.raises(DataError, match=r"no sheet named 'diary'.*'readme', 'diaries'"):
        read_table(path, sheet="diary")
    with pytest.raises(DataError, match=r"no sheet number 5"):
        read_table(path, sheet=5)


def test_sheet_for_a_csv_is_an_error(tmp_path, table):
    path = tmp_path / "d.csv"
    table.to_csv(path, index=False)
    with pytest.raises(DataError, match="only Excel files have sheets"):
        read_table(path, sheet="x")


def test_missing_file_is_named(tmp_path):
    with pytest.raises(DataError, match=r"data file not found: .*nope\.csv"):
        read_table(tmp_path / "nope.csv")


def test_unknown_extension_lists_the_supported_ones(tmp_path):
    path = tmp_path / "diary.json"
    path.write_text("{}")
    with pytest.raises(DataError) as err:
        read_table(path)
    msg = str(err.value)
    assert "'.json' is not supported" in msg
    for ext in SUPPORTED_EXTENSIONS:
        assert ext in msg


@pytest.mark.parametrize("ext", [".csv", ".xlsx", ".sav", ".parquet"])
def test_empty_file_is_an_error(tmp_path, ext):
    path = tmp_path / f"empty{ext}"
    path.write_bytes(b"")
    with pytest.raises(DataError, match=r"empty\..* is empty \(0 bytes\)"):
        read_table(path)


def test_header_only_file_has_no_rows(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("pid,day,y\n")
    with pytest.raises(DataError, match=r"header\.csv has a header but no data rows"):
        read_table(path)


def test_blank_only_text_file_is_an_error(tmp_path):
    path = tmp_path / "blank.csv"
    path.write_text("\n\n  \n")
    with pytest.raises(DataError, match="only blank lines"):
        read_table(path)


@pytest.mark.parametrize(
    ("ext", "what"),
    [(".xlsx", "Excel workbook"), (".sav", "SPSS .sav file"), (".parquet", "Parquet")],
)
def test_corrupt_file_names_file_and_reason(tmp_path, ext, what):
    path = tmp_path / f"broken{ext}"
    path.write_bytes(b"this is not what the extension promises\x00\x01\x02")
    with pytest.raises(DataError) as err:
        read_table(path)
    msg = str(err.value)
    assert f"cannot read {path} as" in msg
    assert what in msg
    assert msg.rstrip().split(":")[-1].strip()  # a reason follows the colon


def test_binary_file_with_a_text_extension_is_reported(tmp_path, table):
    xlsx = tmp_path / "real.xlsx"
    table.to_excel(xlsx, index=False)
    renamed = tmp_path / "renamed.csv"
    renamed.write_bytes(xlsx.read_bytes())
    with pytest.raises(DataError, match=r"renamed\.csv as a text file: it holds binary data"):
        read_table(renamed)


def test_utf16_text_export_is_read(tmp_path):
    path = tmp_path / "unicode.txt"
    path.write_bytes("pid\ty\n1\t2.5\n".encode("utf-16"))
    got = read_table(path)
    assert list(got.columns) == ["pid", "y"] and got["y"].tolist() == [2.5]


def test_truncated_xlsx_is_reported(tmp_path, table):
    good = tmp_path / "good.xlsx"
    table.to_excel(good, index=False)
    data = good.read_bytes()
    bad = tmp_path / "truncated.xlsx"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"truncated\.xlsx as an Excel workbook"):
        read_table(bad)


def test_duplicate_column_names_after_stripping(tmp_path):
    path = tmp_path / "dup.xlsx"
    pd.DataFrame([[1, 2]], columns=["y", "y "]).to_excel(path, index=False)
    with pytest.raises(DataError, match=r"'y' occur more than once"):
        read_table(path)


@pytest.mark.skipif(importlib.util.find_spec("xlrd") is not None, reason="xlrd is installed")
def test_xls_without_xlrd_says_what_to_do(tmp_path):
    path = tmp_path / "old.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0 not really")
    with pytest.raises(DataError, match=r"xlrd.*save it as \.xlsx"):
        read_table(path)
