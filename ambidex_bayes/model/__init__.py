"""Building PyMC models from specs and prepared data (Bambi design, correlated person effects).

Importing the package gives PyTensor its BLAS flags first (:mod:`.pytensor_blas`: searched
once per environment, an empty result explained once), so no model compiled here repeats
PyTensor's search or its warning.
"""

from ambidex_bayes.model.pytensor_blas import configure_blas

configure_blas()

from ambidex_bayes.model.build import BuiltModel, build_model, check_initial_point  # noqa: E402

__all__ = ["BuiltModel", "build_model", "check_initial_point", "configure_blas"]
