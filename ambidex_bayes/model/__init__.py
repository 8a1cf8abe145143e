"""Building PyMC models from specs and prepared data (Bambi design, correlated person effects).

The package's names load on first use (:pep:`562`): reading a saved fit needs only
:mod:`.formula`'s check of the stored formula, which must not import PyMC, Bambi or
PyTensor. :mod:`.build` gives PyTensor its BLAS flags when it is imported
(:mod:`.pytensor_blas`: searched once per environment, an empty result explained once), so
no model compiled here repeats PyTensor's search or its warning.
"""

from __future__ import annotations

import importlib

__all__ = ["BuiltModel", "build_model", "check_initial_point", "configure_blas"]

_EXPORTS = {
    "BuiltModel": "ambidex_bayes.model.build",
    "build_model": "ambidex_bayes.model.build",
    "check_initial_point": "ambidex_bayes.model.build",
    "configure_blas": "ambidex_bayes.model.pytensor_blas",
}


def __getattr__(name: str) -> object:
    """Import the module behind ``name`` on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
