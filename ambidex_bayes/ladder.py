"""The model ladder M0 -> M3: its spec files, and how its models meet the data.

:func:`ladder_specs` reads the files ``m0_*.toml`` ... ``m3_*.toml`` of a folder (default the
bundled specs, :func:`~ambidex_bayes.spec.models_dir`) and, given the prepared data's roles,
leaves out a model that needs a role the data lack and does not mark optional (M3 without a
moderator). :func:`ladder_notes` says in plain words which models were left out and which
terms of the others were dropped for lack of an optional role
(:meth:`~ambidex_bayes.spec.ModelSpec.adaptation_note`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from ambidex_bayes.errors import SpecError
from ambidex_bayes.spec import ModelSpec, load_spec, models_dir

__all__ = ["ladder_specs", "ladder_notes"]


def ladder_specs(
    directory: str | Path | None = None, *, roles: Mapping[str, str] | None = None
) -> list[ModelSpec]:
    """The ladder M0 -> M3 from ``directory``, default the bundled specs
    (:func:`~ambidex_bayes.spec.models_dir`).

    The files are ``m0_*.toml`` ... ``m3_*.toml``. With ``roles`` (the prepared data's
    ``formula_fields()``), a spec whose formula uses a role the data lack and the spec
    does not mark optional is left out (M3 without a moderator); :func:`ladder_notes` says
    what was left out or adapted.
    """
    directory = Path(directory) if directory is not None else models_dir()
    if not directory.is_dir():
        raise SpecError(
            f"{directory}: "
            + ("is a file, not a folder" if directory.exists() else "no such folder")
            + "; give the folder holding the ladder spec files (m0_*.toml ... m3_*.toml)."
        )
    files = sorted(p for p in directory.glob("m[0-9]_*.toml"))
    if not files:
        raise SpecError(f"{directory}: no ladder spec files (m0_*.toml ... m3_*.toml) found.")
    specs = [load_spec(p) for p in files]
    seen: dict[str, ModelSpec] = {}
    for spec in specs:
        other = seen.get(spec.name.lower())
        if other is not None:
            raise SpecError(
                f"{other.source} and {spec.source} both name their model {spec.name!r}; every "
                "model of the ladder needs its own name (it names its fit, tables and figures)."
            )
        seen[spec.name.lower()] = spec
    if roles is not None:
        specs = [spec for spec in specs if not spec.missing_roles(roles)[0]]
    return specs


def ladder_notes(specs: list[ModelSpec], roles: Mapping[str, str]) -> list[str]:
    """Plain notes on how the ladder ``specs`` meet data with ``roles``: terms left out
    for lack of an optional role, and models left out for lack of a role they need.

    Parameters
    ----------
    specs : list of ModelSpec
        The full ladder (:func:`ladder_specs` without ``roles``).
    roles : mapping of str to str
        The prepared data's roles (``PreparedData.formula_fields()``).

    Returns
    -------
    list of str
    """
    notes = []
    for spec in specs:
        required, _ = spec.missing_roles(roles)
        if required:
            wanted = ", ".join("{" + r + "}" for r in required)
            why = (
                " (the column mapping declares no level-2 moderator)"
                if any(re.fullmatch(r"w\d*", r) for r in required)
                else ""
            )
            notes.append(
                f"{spec.name} ({spec.title or spec.formula}) is skipped: it needs {wanted}, "
                f"which the data do not have{why}."
            )
            continue
        note = spec.adaptation_note(roles)
        if note:
            notes.append(note)
    return notes
