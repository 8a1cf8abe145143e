"""Errors raised by ambidex_bayes.

Every error a user can trigger with their own data or spec files is a subclass of
:class:`AmbidexError`, carries a message that names the file, column or row involved and
says what to do, and is shown by the CLI without a traceback.
"""

from __future__ import annotations

__all__ = [
    "AmbidexError",
    "DataError",
    "ValidationError",
    "SpecError",
    "ModelError",
    "BackendUnavailableError",
    "ResourceError",
    "FitFileError",
    "OutputError",
    "SettingsError",
]


class AmbidexError(Exception):
    """Base class of every user-facing error of ambidex_bayes."""


class DataError(AmbidexError):
    """A data file cannot be read or does not have the expected shape."""


class ValidationError(DataError):
    """The data were read but break one or more rules (listed in ``problems``)."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = list(problems or [])
        if self.problems:
            message = message + "\n" + "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(message)


class SpecError(AmbidexError):
    """A model spec or prior-set file is invalid."""


class SettingsError(SpecError):
    """A sampler or run setting is outside its allowed range (checked before any work)."""


class ModelError(AmbidexError):
    """The model cannot be built or sampled as specified (checked before sampling)."""


class ResourceError(AmbidexError):
    """A data set or a run clearly needs more memory than the machine has (checked first)."""


class BackendUnavailableError(AmbidexError):
    """A sampling backend was requested whose optional packages are not installed."""


class FitFileError(AmbidexError):
    """A saved fit file is missing, truncated, corrupt or from an incompatible version."""


class OutputError(AmbidexError):
    """An output path cannot or must not be written (an input, a user's folder, no access)."""
