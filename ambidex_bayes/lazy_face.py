"""Package faces whose names load on first use (:pep:`562`).

A package face re-exports names from its modules; importing them all at once would load
what the light paths (reading a saved fit, summarising it) never use, such as PyMC,
PyTensor or matplotlib. :func:`lazy_names` gives a face the module-level ``__getattr__`` and
``__dir__`` that import a name's module when the name is first asked for. A leaf module.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_names"]


def lazy_names(
    namespace: dict[str, Any], exports: Mapping[str, str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for a package face.

    Parameters
    ----------
    namespace : dict
        The face's ``globals()``; a loaded name is kept there, so it is imported once.
    exports : mapping of str to str
        Public name -> the module that defines it (under the same name).

    Returns
    -------
    __getattr__, __dir__
        To assign at the face's module level.
    """
    package = namespace["__name__"]

    def __getattr__(name: str) -> object:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *exports})

    return __getattr__, __dir__
