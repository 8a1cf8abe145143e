"""Read a hand-written TOML file whatever common editor saved it.

``tomllib`` wants UTF-8 without a byte-order mark. Windows editors often write one
(Notepad's "UTF-8 with BOM", Excel's and many IDEs' defaults), and Windows Notepad's
"Unicode" is UTF-16. :func:`read_toml_file` reads UTF-8 with or without a byte-order mark
and UTF-16 with one, and refuses any other encoding with a message saying how to save the
file.
"""

from __future__ import annotations

import codecs
import tomllib
from pathlib import Path
from typing import Any

from ambidex_bayes.errors import SpecError

__all__ = ["decode_toml_bytes", "read_toml_file"]

_SAVE_AS_UTF8 = "Save it again as UTF-8 (in Notepad: File > Save as > Encoding: UTF-8)."


def decode_toml_bytes(raw: bytes, path: str | Path) -> str:
    """The text of a TOML file's bytes: UTF-8 (byte-order mark optional) or UTF-16 with a
    byte-order mark.

    Raises
    ------
    SpecError
        Naming the file and saying how to save it, for any other encoding.
    """
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    elif raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as err:
            raise SpecError(
                f"{path}: the file says it is UTF-16 but is not ({err.reason} at byte "
                f"{err.start}). {_SAVE_AS_UTF8}"
            ) from None
    elif b"\x00" in raw[:200]:
        raise SpecError(
            f"{path}: the file holds zero bytes, as UTF-16 or UTF-32 text without a byte-order "
            f"mark (or a binary file) does; it is not a TOML text file. {_SAVE_AS_UTF8}"
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise SpecError(
            f"{path}: line {line} is not UTF-8 text (byte {raw[err.start]:#04x}); the file was "
            f"probably saved as Windows-1252 ('ANSI'). {_SAVE_AS_UTF8}"
        ) from None


def read_toml_file(path: str | Path, *, what: str = "TOML") -> dict[str, Any]:
    """Parse the TOML file ``path`` (see :func:`decode_toml_bytes` for the encodings read).

    Parameters
    ----------
    path : path
    what : str
        What the file is, for messages ("spec", "mapping", "prior-set").

    Raises
    ------
    SpecError
        The file is missing or unreadable, in another encoding, or not valid TOML.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise SpecError(f"{p}: no such {what} file.") from None
    except OSError as err:
        raise SpecError(f"{p}: cannot read the {what} file ({err.strerror or err}).") from None
    try:
        return tomllib.loads(decode_toml_bytes(raw, p))
    except tomllib.TOMLDecodeError as err:
        raise SpecError(f"{p}: not valid TOML ({err}).") from None
