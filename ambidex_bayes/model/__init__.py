"""Building PyMC models from specs and prepared data (Bambi design, correlated person effects).

The package's names load on first use (:pep:`562`): reading a saved fit needs only
:mod:`.formula`'s check of the stored formula, which must not import PyMC, Bambi or
PyTensor. :mod:`.build` gives PyTensor its BLAS flags when it is imported
(:mod:`.pytensor_blas`: searched once per environment, an empty result explained once), so
no model compiled here repeats PyTensor's search or its warning.
"""

from __future__ import annotations

from ambidex_bayes.lazy_face import lazy_names

__all__ = ["BuiltModel", "build_model", "check_initial_point", "configure_blas"]

_EXPORTS = {
    "BuiltModel": "ambidex_bayes.model.build",
    "build_model": "ambidex_bayes.model.build",
    "check_initial_point": "ambidex_bayes.model.build",
    "configure_blas": "ambidex_bayes.model.pytensor_blas",
}


__getattr__, __dir__ = lazy_names(globals(), _EXPORTS)
