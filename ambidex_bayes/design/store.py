"""An append-only folder of results that survives interruption.

Layout of a store folder::

    run.json            what the run is (kind and configuration), written once
    part-000001.parquet results of some tasks (one row each, keyed by ``task_id``)
    part-000002.parquet ...

Every file is written to a temporary name in the same folder and renamed into place, so a
run killed at any moment leaves only complete files behind (a rename is atomic on the same
file system). Results arrive in batches; a batch that was not yet written when the run was
killed is simply run again on resume, because the tasks still missing are recomputed from
the configuration and the ids already stored.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ambidex_bayes.errors import AmbidexError
from ambidex_bayes.store import atomic_write

__all__ = ["ResultStore", "StoreError", "DamagedPartWarning"]

_PART = re.compile(r"^part-(\d{6})\.parquet$")
_RUN_FILE = "run.json"


class StoreError(AmbidexError):
    """A result folder that cannot be used for this run."""


class DamagedPartWarning(UserWarning):
    """A part file of a result folder cannot be read; its results are left out."""


def _normalise(config: Mapping[str, Any]) -> Any:
    """The configuration as JSON would give it back (tuples become lists, and so on)."""
    return json.loads(json.dumps(config, sort_keys=True, default=str))


class ResultStore:
    """Results of one run, kept in a folder, readable at any time.

    Parameters
    ----------
    folder : path
        Created if missing.
    kind : str
        What the run is (``"power"``, ``"sbc"``); a folder of another kind is refused.
    config : mapping
        JSON-serialisable configuration of the run. An existing folder with a different
        configuration is refused (resuming it would mix two runs); pass ``restart=True`` to
        discard its results.
    restart : bool
        Delete the stored results of an existing run in ``folder`` and start afresh.
    """

    def __init__(
        self,
        folder: str | os.PathLike,
        *,
        kind: str,
        config: Mapping[str, Any],
        restart: bool = False,
    ) -> None:
        self.folder = Path(folder)
        self.kind = kind
        self.config = _normalise(config)
        if self.folder.exists() and not self.folder.is_dir():
            raise StoreError(f"{self.folder} is a file; give a folder for the results.")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StoreError(
                f"{self.folder}: the result folder cannot be created ({err.strerror or err}). "
                "Give a folder you can write to."
            ) from None
        run_file = self.folder / _RUN_FILE
        if run_file.exists() and not restart:
            self._check_same_run(run_file)
        else:
            if restart and run_file.exists():
                self._clear()
            elif any(self.folder.iterdir()):  # --restart too: only a result folder is cleared
                raise StoreError(
                    f"{self.folder} is not empty and holds no run.json: it is not a result "
                    "folder of ambidex-bayes. Choose an empty or new folder."
                )
            payload = {"kind": kind, "config": self.config}
            atomic_write(run_file, lambda p: p.write_text(json.dumps(payload, indent=2)))
        self._next_part = 1 + max((int(m.group(1)) for m in self._parts()), default=0)

    def _check_same_run(self, run_file: Path) -> None:
        try:
            stored = json.loads(run_file.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise StoreError(
                f"{run_file} cannot be read ({err}). Move the folder away or pass restart."
            ) from None
        if not isinstance(stored, dict) or not isinstance(stored.get("config", {}), dict):
            raise StoreError(
                f"{run_file} is damaged (it does not describe a run). Move the folder away or "
                "pass restart."
            )
        if stored.get("kind") != self.kind:
            raise StoreError(
                f"{self.folder} holds a {stored.get('kind')!r} run, not a {self.kind!r} run. "
                "Choose another folder."
            )
        if stored.get("config") != self.config:
            old, new = stored.get("config", {}), self.config
            changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            raise StoreError(
                f"{self.folder} holds a run with other settings (differing: "
                f"{', '.join(changed)}). Resume it with the same settings, choose another "
                "folder, or start it again with --restart (its results are deleted)."
            )

    def _parts(self) -> list[re.Match]:
        matches = (_PART.match(p.name) for p in self.folder.iterdir())
        return sorted((m for m in matches if m), key=lambda m: int(m.group(1)))

    def _clear(self) -> None:
        for m in self._parts():
            (self.folder / m.group(0)).unlink()
        (self.folder / _RUN_FILE).unlink(missing_ok=True)
        for stray in self.folder.glob(".*.tmp"):
            stray.unlink()

    def append(self, rows: Iterable[Mapping[str, Any]]) -> Path | None:
        """Write a batch of result rows as one new part file (atomically).

        Each row needs a ``task_id``. Returns the part's path, or None for an empty batch.
        """
        frame = pd.DataFrame(list(rows))
        if frame.empty:
            return None
        if "task_id" not in frame:
            raise StoreError("every result row needs a 'task_id'.")
        path = self.folder / f"part-{self._next_part:06d}.parquet"
        atomic_write(path, lambda p: frame.to_parquet(p, index=False))
        self._next_part += 1
        return path

    def read(self) -> pd.DataFrame:
        """Every stored row, sorted by ``task_id`` (a task stored twice counts once)."""
        frames = [self._read_part(self.folder / m.group(0)) for m in self._parts()]
        frames = [f for f in frames if f is not None and not f.empty]
        if not frames:
            return pd.DataFrame({"task_id": pd.Series(dtype=str)})
        table = pd.concat(frames, ignore_index=True)
        table = table.drop_duplicates("task_id", keep="first")
        return table.sort_values("task_id", kind="stable").reset_index(drop=True)

    def _read_part(self, part: Path) -> pd.DataFrame | None:
        """One part file's rows, or None (with a warning) when it is damaged.

        A damaged part is left out rather than stopping the run: its tasks count as not
        done, so running the same command again computes them afresh.
        """
        import pyarrow as pa

        try:
            frame = pd.read_parquet(part)
        except (pa.ArrowException, OSError, ValueError) as err:
            reason = f"it cannot be read as Parquet: {str(err)[:200]}"
        else:
            if "task_id" in frame.columns:
                return frame
            reason = "it has no 'task_id' column"
        warnings.warn(
            f"{part}: this result file is damaged ({reason}); its results are left out, so "
            "the results are partial. Run the same command again to redo its simulations "
            "(or delete the file).",
            DamagedPartWarning,
            stacklevel=3,
        )
        return None

    def done_ids(self) -> set[str]:
        """Ids of the tasks whose results are stored."""
        return set(self.read()["task_id"].astype(str))
