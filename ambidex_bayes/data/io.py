"""Read a diary table from CSV, Parquet, Excel or SPSS into a DataFrame.

One function, :func:`read_table`, picks the reader from the file extension. Every failure
(missing file, unknown extension, empty or corrupt file) becomes a :class:`DataError` that
names the file and says what went wrong; a raw pandas traceback never reaches the user.

The returned frame has a plain 0-based ``RangeIndex`` in file order, so data row ``i`` of the
frame is row ``i + 2`` of the file when the header is row 1 (blank lines in text files and
blank rows in spreadsheets are kept as empty rows to keep that true).
"""

from __future__ import annotations

import codecs
import csv
import importlib.util
import os
import re
import zipfile
from collections import Counter
from pathlib import Path

import pandas as pd

from ambidex_bayes.errors import DataError

__all__ = ["read_table", "SUPPORTED_EXTENSIONS"]

#: Extension -> kind of reader.
SUPPORTED_EXTENSIONS: dict[str, str] = {
    ".csv": "text",
    ".tsv": "text",
    ".txt": "text",
    ".parquet": "parquet",
    ".xlsx": "excel",
    ".xls": "excel",
    ".sav": "spss",
}

_SNIFF_BYTES = 65536
_DECIMAL_COMMA = re.compile(r"^[+-]?\d*,\d+$|^[+-]?\d+$")


def read_table(path: str | os.PathLike[str], *, sheet: str | int | None = None) -> pd.DataFrame:
    """Read a data file into a DataFrame.

    Parameters
    ----------
    path
        A ``.csv``, ``.tsv`` or ``.txt`` text file (the delimiter is sniffed from the first
        lines: comma, semicolon, tab or bar), a ``.parquet`` file, an Excel workbook (``.xlsx``
        via openpyxl; legacy ``.xls`` needs the optional ``xlrd`` package) or an SPSS ``.sav``
        file (numeric codes are kept, value labels are not applied; user-missing codes become
        missing).
    sheet
        Excel only: sheet name or 0-based position; the first sheet when omitted.

    Returns
    -------
    pandas.DataFrame
        Column names as stripped strings, a ``RangeIndex`` in file order. In text files whose
        delimiter is not a comma, text columns holding only decimal-comma numbers (``3,5``)
        are read as numbers.

    Raises
    ------
    DataError
        File not found, unsupported extension, empty file or no data rows, a sheet that does
        not exist, or a file the reader cannot parse (the reason is given).
    """
    p = Path(path)
    if not p.exists():
        raise DataError(f"data file not found: {p} (looked in {Path.cwd()}); check the path")
    if p.is_dir():
        raise DataError(f"{p} is a folder, not a data file; give the path of the file itself")
    ext = p.suffix.lower()
    kind = SUPPORTED_EXTENSIONS.get(ext)
    if kind is None:
        supported = ", ".join(SUPPORTED_EXTENSIONS)
        raise DataError(
            f"{p}: the extension {ext or '(none)'!r} is not supported; supported extensions: "
            f"{supported}. Save the data in one of these formats."
        )
    if sheet is not None and kind != "excel":
        raise DataError(f"{p}: sheet={sheet!r} was given but only Excel files have sheets")
    if p.stat().st_size == 0:
        raise DataError(f"{p} is empty (0 bytes); export the data again")

    if kind == "text":
        df = _read_text(p)
    elif kind == "parquet":
        df = _read_parquet(p)
    elif kind == "excel":
        df = _read_excel(p, sheet)
    else:
        df = _read_spss(p)
    return _tidy(df, p)


def _read_text(p: Path) -> pd.DataFrame:
    encoding = "utf-8-sig"
    with p.open("rb") as fh:
        raw = fh.read(_SNIFF_BYTES)
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Excel's "Unicode text" export.
        encoding = "utf-16"
        sample = raw.decode(encoding, errors="replace")
    elif b"\x00" in raw:
        raise DataError(
            f"cannot read {p} as a text file: it holds binary data. If it is an Excel, SPSS or "
            "Parquet file, give it its proper extension (.xlsx, .sav, .parquet)"
        )
    else:
        try:
            sample = raw.decode(encoding)
        except UnicodeDecodeError:
            # Files written by Excel or SPSS on Windows are often cp1252, not UTF-8.
            encoding = "cp1252"
            sample = raw.decode(encoding, errors="replace")
    if not sample.strip():
        raise DataError(f"{p} holds only blank lines; export the data again")
    try:
        sep = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        sep = "\t" if p.suffix.lower() == ".tsv" else ","
    try:
        df = pd.read_csv(
            p, sep=sep, encoding=encoding, encoding_errors="replace", skip_blank_lines=False
        )
    except pd.errors.EmptyDataError:
        raise DataError(f"{p} has no header line and no data; export the data again") from None
    except (pd.errors.ParserError, ValueError, OSError) as exc:
        raise DataError(f"cannot read {p} as a {sep!r}-delimited text file: {exc}") from None
    if sep != ",":
        df = _decimal_commas(df)
    return df


def _decimal_commas(df: pd.DataFrame) -> pd.DataFrame:
    """Convert text columns holding only numbers written with a decimal comma."""
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if pd.api.types.is_numeric_dtype(s):
            continue
        vals = s.dropna().astype(str).str.strip()
        vals = vals[vals != ""]
        if len(vals) and vals.str.contains(",").any() and vals.str.match(_DECIMAL_COMMA).all():
            text = s.astype(str).str.strip().str.replace(",", ".", regex=False)
            out[col] = pd.to_numeric(text.where(s.notna() & (text != "")), errors="coerce")
    return out


def _read_parquet(p: Path) -> pd.DataFrame:
    import pyarrow as pa

    try:
        return pd.read_parquet(p)
    except (pa.ArrowException, ValueError, OSError) as exc:
        raise DataError(
            f"cannot read {p} as Parquet (is it corrupt or not Parquet?): {exc}"
        ) from None


def _read_excel(p: Path, sheet: str | int | None) -> pd.DataFrame:
    if p.suffix.lower() == ".xls":
        if importlib.util.find_spec("xlrd") is None:
            raise DataError(
                f"{p}: reading legacy .xls workbooks needs the optional package xlrd "
                "(pip install xlrd); or open the file in Excel and save it as .xlsx"
            )
        engine = "xlrd"
    else:
        engine = "openpyxl"
    try:
        with pd.ExcelFile(p, engine=engine) as book:
            names = list(book.sheet_names)
            if sheet is None:
                chosen: str | int = 0
            elif isinstance(sheet, int) and not isinstance(sheet, bool):
                if not 0 <= sheet < len(names):
                    raise DataError(
                        f"{p}: there is no sheet number {sheet} (0-based); the workbook has "
                        f"{len(names)} sheet(s): {', '.join(map(repr, names))}"
                    )
                chosen = sheet
            else:
                if sheet not in names:
                    raise DataError(
                        f"{p}: there is no sheet named {sheet!r}; the sheets are "
                        f"{', '.join(map(repr, names))}"
                    )
                chosen = sheet
            return pd.read_excel(book, sheet_name=chosen)
    except DataError:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError) as exc:
        reason = str(exc) or type(exc).__name__
        raise DataError(
            f"cannot read {p} as an Excel workbook (is it corrupt or another format?): {reason}"
        ) from None


def _read_spss(p: Path) -> pd.DataFrame:
    import pyreadstat

    try:
        df, _meta = pyreadstat.read_sav(str(p), apply_value_formats=False)
    except (pyreadstat.ReadstatError, pyreadstat.PyreadstatError, OSError, ValueError) as exc:
        raise DataError(f"cannot read {p} as an SPSS .sav file (is it corrupt?): {exc}") from None
    return df


def _tidy(df: pd.DataFrame, p: Path) -> pd.DataFrame:
    """Strip column names, drop trailing blank rows, reject tables without data."""
    names = [str(c).strip() for c in df.columns]
    dup = sorted(n for n, k in Counter(names).items() if k > 1)
    if dup:
        raise DataError(
            f"{p}: column name(s) {', '.join(map(repr, dup))} occur more than once (after "
            "removing surrounding spaces); give every column a distinct name"
        )
    out = df.copy()
    out.columns = names
    filled = out.notna().any(axis=1).to_numpy()
    if not filled.any():
        what = "no data rows" if len(out) == 0 else "only empty rows"
        raise DataError(f"{p} has a header but {what}; export the data again")
    last = int(filled.nonzero()[0][-1])
    return out.iloc[: last + 1].reset_index(drop=True)
