"""Building PyMC models from specs and prepared data (Bambi design, correlated person effects)."""

from ambidex_bayes.model.build import BuiltModel, build_model, check_initial_point

__all__ = ["BuiltModel", "build_model", "check_initial_point"]
