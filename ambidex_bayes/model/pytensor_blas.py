"""PyTensor's BLAS flags: found once per machine, explained once when there is none.

PyTensor links the C code it compiles (full NUTS with the PyMC backend, the initial-point
check, the pointwise log-likelihood) against a BLAS library. When it first needs the flags
it searches the system by compiling small test programs; when it finds none (usual for a
pip installation on a machine without a system OpenBLAS, e.g. ``libopenblas-dev``) it warns,
in every new process that compiles, "PyTensor could not link to a BLAS installation".

What that means here: no result changes. Matrix products inside PyTensor's C code then go
through NumPy's own BLAS (which pip's NumPy carries), so only PyMC-backend fits of large
models are somewhat slower. nutpie's compiled models (the default) and JAX do not use these
flags at all. pip offers no BLAS that PyTensor can link without a compiler flag per BLAS
routine (the OpenBLAS wheels rename their symbols), so the cause cannot be removed from
within the package.

:func:`configure_blas` therefore does the search once per machine (per Python environment
and PyTensor version), keeps its result in ``blas.json`` in the user cache folder, gives it to
PyTensor in later processes (so they neither search again nor warn), and says once, in plain
words, what an empty result means. Flags the user gave PyTensor (``PYTENSOR_FLAGS`` or
``~/.pytensorrc``) are left alone.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path

from ambidex_bayes.cache_dirs import user_cache_dir

__all__ = ["configure_blas", "blas_record_path", "NO_BLAS_NOTE"]

#: Said once per machine when PyTensor finds no BLAS library.
NO_BLAS_NOTE = (
    "Note (shown once): PyTensor found no BLAS library to link its compiled C code with "
    "(usual for a pip installation without a system OpenBLAS). Results are not affected: "
    "matrix products fall back to NumPy's own BLAS, so only PyMC-backend fits of large models "
    "are somewhat slower; nutpie (the default) and JAX do not use it. To link one, install "
    "your system's OpenBLAS development package (e.g. apt install libopenblas-dev) and delete "
    "{record}."
)

_configured = False


def blas_record_path() -> Path:
    """``blas.json`` in ``$AMBIDEX_PYTENSOR_CACHE_DIR``, else the user cache folder."""
    return user_cache_dir("pytensor", "AMBIDEX_PYTENSOR_CACHE_DIR") / "blas.json"


def _record_key() -> str:
    """Which environment a stored result belongs to: the interpreter and PyTensor's version."""
    import pytensor

    return f"{sys.prefix}|{sys.version_info[:2]}|pytensor {pytensor.__version__}"


def _read_record(path: Path, key: str) -> str | None:
    """The stored flags for ``key``, or ``None`` when there are none (or the file is unusable)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("key") != key:
        return None
    flags = record.get("ldflags")
    return flags if isinstance(flags, str) else None


def _write_record(path: Path, key: str, flags: str) -> None:
    """Store the flags atomically; a folder that cannot be written only costs a new search."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        partial.write_text(json.dumps({"key": key, "ldflags": flags}), encoding="utf-8")
        os.replace(partial, path)
    except OSError:
        pass


def configure_blas() -> str:
    """Give PyTensor its BLAS flags without a search or a warning in every process.

    Call before PyTensor compiles anything. The first call on a machine searches (PyTensor's
    own search, its warning replaced by :data:`NO_BLAS_NOTE` printed once to standard error)
    and stores the result; later processes read it. Flags set by the user are kept.

    Returns
    -------
    str
        The flags PyTensor uses (empty when it found no BLAS library).
    """
    global _configured
    from pytensor import config

    if _configured:
        return config.blas__ldflags
    _configured = True
    # PyTensor reads flags the user gave at start-up; a value already set is theirs (or was
    # searched earlier in this process): keep it
    if hasattr(type(config).__dict__["blas__ldflags"], "val"):
        return config.blas__ldflags
    path = blas_record_path()
    key = _record_key()
    stored = _read_record(path, key)
    if stored is not None:
        config.blas__ldflags = stored
        return stored
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")
        flags = config.blas__ldflags
    _write_record(path, key, flags)
    if not flags:
        print(NO_BLAS_NOTE.format(record=path), file=sys.stderr)
    return flags
