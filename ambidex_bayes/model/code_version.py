"""The version of the model code, part of every fit's cache key.

Kept apart from :mod:`ambidex_bayes.model.build` so that looking a fit up in the cache
imports neither PyMC nor Bambi: a re-used fit then costs only reading its file.
"""

from __future__ import annotations

__all__ = ["MODEL_CODE_VERSION"]

#: Version of the model code's parameterisation, part of every fit's cache key: raise it
#: whenever a change to how models are built changes the draws of a fit with the same
#: spec, data and settings, so that fits saved by the earlier code are not re-used.
#: 2: SDs and the correlation's Cholesky factor sampled apart (was a packed Cholesky
#: factor of the covariance). 3: the fast path's algebra for three to six person effects
#: written out entry by entry (was batched Cholesky factorisations).
MODEL_CODE_VERSION: int = 3
