"""Read a diary table from CSV, Parquet, Excel or SPSS into a DataFrame.

One function, :func:`read_table`, picks the reader from the file extension. Every failure
(missing file, unknown extension, empty or corrupt file) becomes a :class:`DataError` that
names the file and says what went wrong; a raw pandas traceback never reaches the user.

The returned frame has a plain 0-based ``RangeIndex`` in file order, so data row ``i`` of the
frame is row ``i + 2`` of the file when the header is row 1 (blank lines in text files and
blank rows in spreadsheets are kept as empty rows to keep that true).

Column names are checked as written in the file: pandas would silently rename a second
``y`` to ``y.1``; here two columns with one name are an error. A text file whose data rows
all have one field more than its header (pandas would quietly turn the first field into the
index) is an error too.
"""

from __future__ import annotations

import codecs
import csv
import importlib.util
import io
import os
import re
import warnings
import zipfile
from collections import Counter
from collections.abc import Collection, Iterable
from pathlib import Path

import pandas as pd

from ambidex_bayes.errors import DataError
from ambidex_bayes.memory import (
    BYTES_PER_NUMBER_CELL,
    check_memory,
    format_bytes,
    text_table_bytes,
)

#: Peak bytes per cell of an .xlsx workbook while openpyxl and pandas read it.
XLSX_BYTES_PER_CELL = 400

__all__ = ["read_table", "SUPPORTED_EXTENSIONS", "MissingCodeWarning"]

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
#: A number written with a decimal comma: "3,5", ",5", "-2", "1,5e-07", "inf".
_DECIMAL_COMMA = re.compile(
    r"^[+-]?(\d+(,\d*)?|,\d+)([eE][+-]?\d+)?$|^[+-]?(inf|infinity)$", re.IGNORECASE
)


def read_table(
    path: str | os.PathLike[str],
    *,
    sheet: str | int | None = None,
    text_columns: Collection[str] = (),
) -> pd.DataFrame:
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
    text_columns
        Text files only: columns read as text, exactly as written (no conversion to
        numbers), e.g. person ids, so that ``007`` and ``7`` stay two ids. Names not in the
        file are ignored.

    Returns
    -------
    pandas.DataFrame
        Column names as stripped strings, a ``RangeIndex`` in file order. In text files whose
        delimiter is not a comma, text columns holding only decimal-comma numbers (``3,5``)
        are read as numbers.

    Raises
    ------
    DataError
        File not found, unsupported extension, empty file or no data rows, a blank first line,
        two columns with the same name, data rows longer than the header, a sheet that does
        not exist, or a file the reader cannot parse (the reason is given).
    ResourceError
        Reading the file clearly needs more memory than is available (estimated before
        reading from its size and first lines or its metadata; see
        :mod:`ambidex_bayes.memory`).

    Warns
    -----
    MissingCodeWarning
        SPSS values labelled as missing-data codes (``-99 = "no answer"``) were set to
        missing.
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

    if kind != "text":  # text files are checked once their delimiter is known
        _check_memory(p, *_binary_table_size(p, kind))
    if kind == "text":
        df = _read_text(p, set(text_columns))
    elif kind == "parquet":
        df = _read_parquet(p)
    elif kind == "excel":
        df = _read_excel(p, sheet)
    else:
        df = _read_spss(p)
    return _tidy(df, p)


def _encoding(p: Path, raw: bytes) -> tuple[str, str]:
    """The text encoding of a file from its first bytes, and those bytes decoded."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Excel's "Unicode text" export.
        return "utf-16", raw.decode("utf-16", errors="replace")
    if b"\x00" in raw:
        raise DataError(
            f"cannot read {p} as a text file: it holds binary data. If it is an Excel, SPSS or "
            "Parquet file, give it its proper extension (.xlsx, .sav, .parquet)"
        )
    # Incremental decoding: the sample may end in the middle of a multi-byte character.
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        return "utf-8-sig", decoder.decode(raw, final=False)
    except UnicodeDecodeError:
        if raw.startswith(codecs.BOM_UTF8):
            # The file says it is UTF-8; keep that and replace the bytes that are not.
            return "utf-8-sig", raw.decode("utf-8-sig", errors="replace")
        # Files written by Excel or SPSS on Windows are often cp1252, not UTF-8.
        return "cp1252", raw.decode("cp1252", errors="replace")


def _field_counts(sample: str, sep: str, truncated: bool) -> list[int]:
    """Fields per non-blank line of ``sample`` split by ``sep`` (quotes respected; an empty
    field after a trailing delimiter on a data line is not counted); the last, possibly
    cut-off line of a truncated sample is left out."""
    counts: list[int] = []
    try:
        for row in csv.reader(io.StringIO(sample, newline=""), delimiter=sep):
            trailing = bool(counts) and len(row) > 1 and row[-1] == ""
            counts.append(len(row) - trailing)
    except csv.Error:
        pass
    if truncated and counts:
        counts.pop()
    return [c for c in counts if c > 0]


def _delimiter(sample: str, *, truncated: bool, default: str) -> str:
    """The delimiter of a text file, from its first bytes.

    A candidate (comma, semicolon, tab, bar) must split the header line into at least two
    fields. Preferred, in this order: no data line with more fields than the header; more
    data lines with exactly the header's fields; more columns; ``default``; the order above.
    This is what a file's layout says, whatever its text cells hold: a semicolon file whose
    numbers have decimal commas, or a comma file with semicolons inside its text, is split
    correctly. When no candidate fits, Python's ``csv.Sniffer`` decides, else ``default``.
    """
    order = [default] + [d for d in (",", ";", "\t", "|") if d != default]
    best: tuple[int, int, int, int] | None = None
    chosen = None
    for rank, sep in enumerate(order):
        counts = _field_counts(sample, sep, truncated)
        if not counts or counts[0] < 2:
            continue
        fits = all(c <= counts[0] for c in counts[1:])
        score = (fits, sum(c == counts[0] for c in counts[1:]), counts[0], -rank)
        if best is None or score > best:
            best, chosen = score, sep
    if chosen is not None:
        return chosen
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return default


def _header(p: Path, sep: str, encoding: str) -> list[str]:
    """The names on the header line as written (before pandas renames duplicates)."""
    try:
        first = pd.read_csv(
            p,
            sep=sep,
            encoding=encoding,
            encoding_errors="replace",
            header=None,
            nrows=1,
            dtype=str,
            na_filter=False,
            skip_blank_lines=False,
        )
    except pd.errors.EmptyDataError:
        # The file is not blank (checked before), so its first line is.
        raise DataError(
            f"{p}: the first line holds no column names; the header must be the first line "
            "of the file (delete blank lines above it)"
        ) from None
    except (pd.errors.ParserError, ValueError, OSError) as exc:
        raise DataError(f"cannot read {p} as a {sep!r}-delimited text file: {exc}") from None
    return [str(v) for v in first.iloc[0]] if len(first) else []


def _check_header(p: Path, names: Iterable[object]) -> None:
    """Raise if the header has no names or repeats a name (after stripping spaces)."""
    stripped = [str(n).strip() for n in names if not pd.isna(n)]
    if not any(stripped):
        raise DataError(
            f"{p}: the first line holds no column names; the header must be the first line "
            "of the file (delete blank lines above it)"
        )
    dup = sorted(n for n, k in Counter(x for x in stripped if x).items() if k > 1)
    if dup:
        raise DataError(
            f"{p}: column name(s) {', '.join(map(repr, dup))} occur more than once (after "
            "removing surrounding spaces); give every column a distinct name"
        )


def _read_text(p: Path, text_columns: set[str]) -> pd.DataFrame:
    with p.open("rb") as fh:
        raw = fh.read(_SNIFF_BYTES)
    encoding, sample = _encoding(p, raw)
    if not sample.strip():
        raise DataError(f"{p} holds only blank lines; export the data again")
    default = "\t" if p.suffix.lower() == ".tsv" else ","
    sep = _delimiter(sample, truncated=len(raw) == _SNIFF_BYTES, default=default)
    _check_memory(p, *text_table_bytes(p, sample, sep, truncated=len(raw) == _SNIFF_BYTES))
    names = _header(p, sep, encoding)
    _check_header(p, names)
    as_text = {n: "str" for n in names if n.strip() in text_columns}
    try:
        with warnings.catch_warnings():
            # pandas warns, and drops the extra fields, when rows are longer than the header.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            df = pd.read_csv(
                p,
                sep=sep,
                encoding=encoding,
                encoding_errors="replace",
                skip_blank_lines=False,
                index_col=False,
                dtype=as_text or None,
            )
    except pd.errors.ParserWarning:
        raise DataError(
            f"cannot read {p}: its data rows have more fields than the header line "
            f"({len(names)} names, {sep!r}-delimited); every column needs a name (or remove "
            "the stray delimiters at the ends of the rows)"
        ) from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{p} has no header line and no data; export the data again") from None
    except (pd.errors.ParserError, ValueError, OSError) as exc:
        raise DataError(f"cannot read {p} as a {sep!r}-delimited text file: {exc}") from None
    if sep != ",":
        df = _decimal_commas(df, keep={str(n).strip() for n in as_text})
    return df


def _decimal_commas(df: pd.DataFrame, keep: Collection[str] = ()) -> pd.DataFrame:
    """Convert text columns (except those in ``keep``) holding only decimal-comma numbers."""
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if pd.api.types.is_numeric_dtype(s) or str(col).strip() in keep:
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
            head = pd.read_excel(book, sheet_name=chosen, header=None, nrows=1)
            if len(head):
                _check_header(p, head.iloc[0])
            return pd.read_excel(book, sheet_name=chosen)
    except DataError:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError) as exc:
        reason = str(exc) or type(exc).__name__
        raise DataError(
            f"cannot read {p} as an Excel workbook (is it corrupt or another format?): {reason}"
        ) from None


def _binary_table_size(p: Path, kind: str) -> tuple[int, int, int]:
    """Estimated peak bytes, rows and columns of reading a Parquet, Excel or SPSS file,
    from its metadata; zeros when the metadata cannot be read (the reader then says why)."""
    rows = columns = 0
    per_cell = BYTES_PER_NUMBER_CELL
    if kind == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            meta = pq.ParquetFile(p).metadata
            rows, columns = int(meta.num_rows), int(meta.num_columns)
        except (pa.ArrowException, OSError, ValueError):
            pass
    elif kind == "spss":
        import pyreadstat

        try:
            _, meta = pyreadstat.read_sav(str(p), metadataonly=True)
            rows, columns = int(meta.number_rows or 0), int(meta.number_columns or 0)
        except (pyreadstat.ReadstatError, pyreadstat.PyreadstatError, OSError, ValueError):
            pass
    elif p.suffix.lower() == ".xlsx":
        # a cell takes about 30 bytes of the workbook's XML, and a few hundred in memory
        try:
            with zipfile.ZipFile(p) as book:
                xml = sum(i.file_size for i in book.infolist() if i.filename.startswith("xl/"))
        except (zipfile.BadZipFile, OSError):
            xml = 0
        rows, columns, per_cell = xml // 30, 1, XLSX_BYTES_PER_CELL
    return rows * columns * per_cell, rows, columns


def _check_memory(p: Path, needed: int, rows: int, columns: int) -> None:
    """Refuse a file whose reading clearly needs more memory than is available."""
    if rows <= 0:
        return
    shape = f"about {rows:,} rows x {columns} columns, " if columns > 1 else ""
    check_memory(
        needed,
        what=f"{p}: reading this file ({shape}{format_bytes(p.stat().st_size)} on disk)",
        advice="Save a copy holding only the columns the model uses (person, occasion, "
        "outcome, predictors, moderators, controls), or use a machine with more memory.",
    )


def _read_spss(p: Path) -> pd.DataFrame:
    import pyreadstat

    try:
        df, meta = pyreadstat.read_sav(str(p), apply_value_formats=False)
    except (pyreadstat.ReadstatError, pyreadstat.PyreadstatError, OSError, ValueError) as exc:
        raise DataError(f"cannot read {p} as an SPSS .sav file (is it corrupt?): {exc}") from None
    return _labelled_missing_codes(df, meta.variable_value_labels or {}, p)


class MissingCodeWarning(UserWarning):
    """Values of an SPSS file labelled as missing-data codes were set to missing."""


#: Value labels that mark a missing-data code rather than an answer (lower case, matched as
#: words): "no answer", "don't know", "refused", "not applicable", "missing", and the same
#: in German, French, Dutch and Spanish.
_MISSING_LABEL = re.compile(
    r"\b(missing|no answer|not answered|no response|non-?response|don'?t know|do not know|"
    r"dk|refused|refusal|not applicable|n/?a|not asked|skipped|system missing|"
    r"keine angabe|wei(ß|ss) nicht|fehlend|verweigert|trifft nicht zu|"
    r"ne sait pas|sans r[ée]ponse|manquant|refus|weet niet|geen antwoord|ontbrekend|"
    r"no sabe|no contesta|sin respuesta|ns/?nc)\b",
    re.IGNORECASE,
)


def _labelled_missing_codes(
    df: pd.DataFrame, labels: dict[str, dict[object, str]], p: Path
) -> pd.DataFrame:
    """Set values whose SPSS value label marks a missing-data code (``-99 = "no answer"``)
    to missing, with one warning that lists column, value, label and count.

    Codes declared as user-missing in SPSS are already missing when read; this catches the
    codes that were only labelled, which would otherwise enter the model as numbers.
    """
    found = []
    out = df
    for column, value_labels in labels.items():
        if column not in df.columns or not pd.api.types.is_numeric_dtype(df[column]):
            continue
        for value, label in value_labels.items():
            if not isinstance(value, int | float) or not _MISSING_LABEL.search(str(label)):
                continue
            hit = df[column] == value
            count = int(hit.sum())
            if count:
                if out is df:
                    out = df.copy()
                out.loc[hit, column] = float("nan")
                found.append(f"{column} = {value:g} ({label!r}): {count} row(s)")
    if found:
        warnings.warn(
            f"{p}: values labelled as missing-data codes were set to missing:\n  "
            + "\n  ".join(found)
            + "\nDeclare them as missing values in SPSS (Variable View > Missing) to make this "
            "explicit; if one of them is a real answer, change its value label.",
            MissingCodeWarning,
            stacklevel=4,
        )
    return out


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
