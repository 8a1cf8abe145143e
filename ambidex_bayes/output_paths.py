"""Where a command may write: the rules, checked before any work is done.

Three kinds of output, each with its own rule:

Output file (``fit --out``, ``--csv``, ``simulate --out``)
    Written atomically (a temporary file renamed over the target). It must not be one of the
    command's input files, must not be a folder, and an existing file is replaced only when
    it has the output's own suffix (``.nc`` for a fit, ``.csv`` for a table): a data file, a
    mapping or anything else already there is left alone and the command refuses. Missing
    parent folders are created; the nearest existing one must be a folder the user can
    write in.

Output folder of named files
    For ``--out`` of ``ppc``, ``moderation``, ``compare``, ``compare-priors``,
    ``prior-check``, ``power`` and ``sbc``. The command adds its files (fixed names) to the
    folder, creating it if missing, and replaces only files of those names; nothing else in
    the folder is touched, nothing is deleted. A symbolic link to a folder is written
    through.

Report folder (``report --out``, ``run --out``)
    Replaced as a whole, atomically, so it must be a folder this toolkit owns: a new path,
    an empty folder, or a report folder written earlier (it holds the marker file
    :data:`REPORT_MARKER` and nothing but a report's files). Anything else is refused: a
    symbolic link (never followed into a deletion), the current folder or one above it, a
    folder holding an input of the command (data, mapping, fit files, the fit cache), and a
    folder with any other content.

A finished fit is never lost to an output problem: :func:`save_fit_or_warn` keeps it in
memory and warns in words when it cannot be written.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

from ambidex_bayes.errors import OutputError
from ambidex_bayes.store import atomic_write


class SavableFit(Protocol):
    """What :func:`save_fit_or_warn` needs of a fit: ``save(path)`` (a ``FitResult`` has it).

    A protocol rather than ``FitResult`` itself, so this module (which the engine uses to
    save fits) does not import the engine back.
    """

    def save(self, path: str | os.PathLike) -> Path: ...


__all__ = [
    "REPORT_MARKER",
    "OutputWarning",
    "OutputFolder",
    "check_output_file",
    "check_report_folder",
    "replace_folder",
    "save_fit_or_warn",
    "write_file",
]

#: File that marks a folder as a report written by :func:`ambidex_bayes.report.write_report`;
#: only such a folder (or an empty one) is replaced by a new report.
REPORT_MARKER = ".ambidex-report"
#: What a report folder holds: top-level entries, and the suffixes of the files in its
#: subfolders.
_REPORT_FILES = frozenset({"report.md", "report.html", "methods.txt", REPORT_MARKER})
_REPORT_SUBFOLDERS = {
    "figures": frozenset({".png"}),
    # tables as CSV; the tables for publication also as LaTeX and Word files
    "tables": frozenset({".csv", ".tex", ".docx"}),
}
#: Files that file managers leave in any folder they show; a report folder may hold them.
_OS_LITTER = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})


class OutputWarning(UserWarning):
    """An output could not be written; the command went on without it."""


def _paths(inputs: Iterable[str | os.PathLike | None]) -> list[Path]:
    return [Path(p) for p in inputs if p is not None and str(p) != ""]


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (or cannot be looked at)
        return a.resolve() == b.resolve()


def _absolute(path: str | os.PathLike) -> Path:
    """``path`` made absolute with its folders resolved but its last part not followed."""
    p = Path(path)
    if p.name in ("", ".", ".."):
        return p.resolve()
    return p.parent.resolve() / p.name


def _reason(err: OSError) -> str:
    return err.strerror or type(err).__name__


def _check_can_create(target: Path, what: str) -> None:
    """The nearest existing folder above ``target`` is a folder the user may write in."""
    folder = target.parent
    while not folder.exists() and not folder.is_symlink() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise OutputError(
            f"{target}: cannot write the {what} there, because {folder} is not a folder. "
            "Name a path inside a folder."
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(
            f"{target}: cannot write the {what}, because the folder {folder} is not writable "
            "(permission denied). Name a folder you can write to."
        )


def check_output_file(
    path: str | os.PathLike,
    *,
    kind: str,
    suffixes: Iterable[str],
    inputs: Iterable[str | os.PathLike | None] = (),
) -> Path:
    """Check that ``path`` may receive an output file; raise :class:`OutputError` if not.

    Parameters
    ----------
    path : path
        The file the user named.
    kind : str
        What is written, in words ("fit file", "CSV table").
    suffixes : iterable of str
        Suffixes of this kind of file; an existing file with another suffix is not replaced.
    inputs : iterable of path
        The command's input files (and folders); the output may be none of them.

    Returns
    -------
    Path
    """
    out = Path(path)
    allowed = tuple(s.lower() for s in suffixes)
    for source in _paths(inputs):
        if _same_file(out, source):
            raise OutputError(
                f"{out}: this is an input of the command ({source}); writing the {kind} "
                "there would replace it. Name a new file for the output."
            )
    if out.is_dir():
        raise OutputError(
            f"{out} is a folder; name a file for the {kind}, e.g. {out / ('output' + allowed[0])}."
        )
    if (out.exists() or out.is_symlink()) and out.suffix.lower() not in allowed:
        raise OutputError(
            f"{out} exists and is not a {kind} (a {' or '.join(allowed)} file), so it is left "
            f"alone. Name a new file, or an existing {allowed[0]} file to replace it."
        )
    _check_can_create(out, kind)
    return out


def write_file(path: str | os.PathLike, write: Callable[[Path], None], *, what: str) -> Path:
    """Write ``path`` atomically with ``write(tmp_path)``; a failure is an :class:`OutputError`.

    The previous file, if any, stays as it was when writing fails.
    """
    path = Path(path)
    try:
        return atomic_write(path, write)
    except OSError as err:
        raise OutputError(
            f"{path}: the {what} could not be written ({_reason(err)}). Name a folder you can "
            "write to, with enough free space."
        ) from None


class OutputFolder:
    """A folder a command adds named files to; nothing else in it is touched.

    Checked when created (before the command computes anything); each file is written
    atomically, is never one of the command's inputs, and a failed write is an
    :class:`OutputError` naming the file.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        inputs: Iterable[str | os.PathLike | None] = (),
        what: str = "output folder",
    ) -> None:
        self.path = Path(path)
        self.inputs = _paths(inputs)
        self.what = what
        self.written: list[Path] = []
        if self.path.exists() and not self.path.is_dir():
            raise OutputError(
                f"{self.path} is a file; name a folder for the {what} (it is created if missing)."
            )
        if self.path.is_dir():
            if not os.access(self.path, os.W_OK | os.X_OK):
                raise OutputError(
                    f"{self.path}: the {what} is not writable (permission denied). Name a "
                    "folder you can write to."
                )
        else:
            _check_can_create(self.path, what)

    def target(self, name: str) -> Path:
        """The path of file ``name`` in the folder, once checked."""
        path = self.path / name
        for source in self.inputs:
            if _same_file(path, source):
                raise OutputError(
                    f"{path} is an input of the command ({source}); it is not replaced. "
                    f"Name another {self.what}."
                )
        if path.is_dir():
            raise OutputError(f"{path} is a folder; move it away or name another {self.what}.")
        return path

    def write(self, name: str, write: Callable[[Path], None]) -> Path:
        """Write file ``name`` atomically with ``write(tmp_path)``."""
        path = self.target(name)
        written = write_file(path, write, what=f"file {name!r} of the {self.what}")
        self.written.append(written)
        return written

    def table(self, name: str, frame: Any) -> Path:
        """Write a DataFrame as CSV file ``name`` (without its index)."""
        return self.write(name, lambda tmp: frame.to_csv(tmp, index=False))

    def figure(self, name: str, fig: Any, **savefig: Any) -> Path:
        """Write a Matplotlib figure as PNG file ``name`` and close it."""
        import matplotlib.pyplot as plt

        kwargs = {"dpi": 120, **savefig, "format": "png"}
        try:
            return self.write(name, lambda tmp: fig.savefig(tmp, **kwargs))
        finally:
            plt.close(fig)

    def text(self, name: str, body: str) -> Path:
        """Write a text file ``name``."""
        return self.write(name, lambda tmp: tmp.write_text(body, encoding="utf-8"))


def _report_problems(folder: Path) -> list[str]:
    """Why ``folder`` (an existing, non-empty folder) is not a report folder of this toolkit."""
    if not (folder / REPORT_MARKER).is_file() or (folder / REPORT_MARKER).is_symlink():
        earlier = (
            " (a report written by an earlier version has none either: delete it yourself "
            "to write the new one there)"
            if (folder / "report.md").is_file()
            else ""
        )
        return [f"it has no {REPORT_MARKER} file, so it was not written by ambidex-bayes{earlier}"]
    foreign = []
    for entry in sorted(folder.iterdir()):
        name = entry.name
        if entry.is_symlink():
            foreign.append(name)
        elif name in _REPORT_SUBFOLDERS and entry.is_dir():
            allowed = _REPORT_SUBFOLDERS[name]
            for inner in sorted(entry.iterdir()):
                expected = inner.name in _OS_LITTER or inner.suffix.lower() in allowed
                if inner.is_symlink() or not inner.is_file() or not expected:
                    foreign.append(f"{name}/{inner.name}")
        elif not (entry.is_file() and (name in _REPORT_FILES or name in _OS_LITTER)):
            foreign.append(name)
    if foreign:
        shown = ", ".join(foreign[:5]) + (
            f" and {len(foreign) - 5} more" if len(foreign) > 5 else ""
        )
        return [f"it holds files that are not part of a report ({shown})"]
    return []


def check_report_folder(
    path: str | os.PathLike, *, inputs: Iterable[str | os.PathLike | None] = ()
) -> Path:
    """Check that a report may be written to folder ``path``, replacing it as a whole.

    Allowed: a path that does not exist (it is created), an empty folder, or a report folder
    written earlier by :func:`ambidex_bayes.report.write_report`. Refused with an
    :class:`OutputError`: a symbolic link, a file, the current folder or a folder above it, a
    folder that holds (at any depth) one of ``inputs``, and any other non-empty folder.

    Returns
    -------
    Path
        The folder as an absolute path (its last part not followed).
    """
    given = Path(path)
    out = _absolute(path)
    if out.is_symlink():
        raise OutputError(
            f"{given} is a symbolic link; a report folder is replaced as a whole, so it must be "
            "a real folder. Name a new or empty folder (or the link's target, if it holds only "
            "an earlier report)."
        )
    if out.exists() and not out.is_dir():
        raise OutputError(f"{given} is a file; name a new or empty folder for the report.")
    cwd = Path.cwd().resolve()
    if out == cwd or out in cwd.parents:
        raise OutputError(
            f"{given} is the current folder{'' if out == cwd else ' or one above it'}; a "
            "report folder is replaced as a whole, which would delete its files. Name a new "
            "or empty folder, e.g. report/."
        )
    for source in _paths(inputs):
        source = source.resolve()
        if source == out or out in source.parents:
            raise OutputError(
                f"{given} holds an input of the command ({source}); a report folder is "
                "replaced as a whole, which would delete it. Name a new or empty folder."
            )
    if out.is_dir() and any(out.iterdir()):
        problems = _report_problems(out)
        if problems:
            raise OutputError(
                f"{given} is not empty and {problems[0]}; a report folder is replaced as a "
                "whole, which would delete them. Name a new or empty folder, or move the "
                "files away."
            )
    _check_can_create(out, "report folder")
    return out


def new_folder_beside(out: Path) -> Path:
    """A new empty folder next to ``out`` (same file system), with a folder's usual mode."""
    from ambidex_bayes.store import current_umask

    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    except OSError as err:
        raise OutputError(
            f"{out}: the report folder cannot be created ({_reason(err)}). Name a folder you "
            "can write to."
        ) from None
    tmp.chmod(0o777 & ~current_umask())  # a folder's usual permissions, not a temporary one's
    return tmp


def replace_folder(
    tmp: Path, out: Path, *, inputs: Iterable[str | os.PathLike | None] = ()
) -> None:
    """Move the complete folder ``tmp`` to ``out``, replacing an earlier report there.

    ``out`` is checked again with :func:`check_report_folder` just before. The earlier
    folder is first renamed to a fresh hidden name beside it (never an existing one) and
    deleted only after the new one is in place; :func:`shutil.rmtree` is only called on that
    renamed real folder, never on a path reached through a link.
    """
    check_report_folder(out, inputs=inputs)
    backup = None
    try:
        if out.exists():
            # a fresh unused name (never an existing folder such as .report.old)
            backup = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
            backup.rmdir()
            os.replace(out, backup)
        os.replace(tmp, out)
    except OSError as err:
        if backup is not None and not out.exists():
            with contextlib.suppress(OSError):
                os.replace(backup, out)
        raise OutputError(
            f"{out}: the report folder could not be put in place ({_reason(err)})."
        ) from None
    if backup is not None:
        if backup.is_symlink():  # never the case after a rename of a real folder
            backup.unlink()
        else:
            shutil.rmtree(backup, ignore_errors=True)


def save_fit_or_warn(result: SavableFit, path: str | os.PathLike, *, where: str) -> Path | None:
    """Save a fit with ``result.save(path)``; when that fails, warn and keep it in memory.

    Returns the saved path, or None when the fit could not be written (the result object is
    unchanged and still usable).
    """
    try:
        return result.save(path)
    except OSError as err:
        name = getattr(getattr(result, "spec", None), "name", "the model")
        warnings.warn(
            f"{name}: the finished fit could not be saved in {where} ({path}: {_reason(err)}). "
            "It is kept in memory and this command goes on with it, but it will be gone when "
            "the command ends; to keep fits, give a folder you can write to (--cache-dir, "
            "--out).",
            OutputWarning,
            stacklevel=3,
        )
        return None
