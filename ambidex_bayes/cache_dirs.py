"""Where compiled programs are kept between runs, per user."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["user_cache_dir"]


def user_cache_dir(name: str, variable: str) -> Path:
    """``$variable`` if set, else ``$XDG_CACHE_HOME/ambidex_bayes/name``.

    ``XDG_CACHE_HOME`` defaults to ``~/.cache``.
    """
    explicit = os.environ.get(variable)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ambidex_bayes" / name
