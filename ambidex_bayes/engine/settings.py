"""How to sample: the sampler settings, the default backend and its packages.

The lowest module of the engine: everything that samples (:mod:`ambidex_bayes.fit`,
:mod:`ambidex_bayes.engine.sampling`, :mod:`ambidex_bayes.engine.reuse`, power and SBC runs)
takes a :class:`SamplerSettings`. Its ``None`` fields take their defaults from
:mod:`ambidex_bayes.constants` at call time; their allowed ranges live in
:mod:`ambidex_bayes.engine.limits`.
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from dataclasses import dataclass
from typing import Any

from ambidex_bayes import constants
from ambidex_bayes.engine.limits import BACKENDS, check_sampler_fields
from ambidex_bayes.errors import BackendUnavailableError

__all__ = ["SamplerSettings", "default_backend", "require_backend", "BACKENDS"]

#: The install extra that brings each optional backend's packages.
_EXTRAS = {"nutpie": "nutpie", "numpyro": "jax"}


@dataclass(frozen=True)
class SamplerSettings:
    """How to sample. ``None`` fields take their default from :mod:`constants` at call time."""

    backend: str | None = None
    draws: int | None = None
    tune: int | None = None
    chains: int | None = None
    seed: int | None = None
    target_accept: float | None = None
    fast_path: bool = True
    #: Chains run in parallel (default: one per chain, at most one per CPU core). The draws do
    #: not depend on it, so it is not part of a fit's identity (see :meth:`to_dict`).
    cores: int | None = None

    def __post_init__(self) -> None:
        # every caller gets the same clear error for a setting outside its range
        for name, value in check_sampler_fields(self.__dict__).items():
            object.__setattr__(self, name, value)

    def resolved(self) -> SamplerSettings:
        """A copy with every default filled in."""
        return SamplerSettings(
            backend=self.backend or default_backend(),
            draws=self.draws if self.draws is not None else constants.DRAWS,
            tune=self.tune if self.tune is not None else constants.TUNE,
            chains=self.chains if self.chains is not None else constants.CHAINS,
            seed=self.seed if self.seed is not None else constants.SEED,
            target_accept=(
                self.target_accept if self.target_accept is not None else constants.TARGET_ACCEPT
            ),
            fast_path=self.fast_path,
            cores=self.cores,
        )

    @property
    def parallel_chains(self) -> int:
        """Chains run at the same time: ``cores``, or one per chain up to the CPU count."""
        if self.cores is not None:
            return max(1, int(self.cores))
        return max(1, min(self.chains or constants.CHAINS, os.cpu_count() or 1))

    def to_dict(self) -> dict[str, Any]:
        """JSON form of what determines the draws (``cores`` does not)."""
        return {k: v for k, v in self.__dict__.items() if k != "cores"}


def default_backend() -> str:
    """:data:`constants.BACKEND` when its packages are installed, else the fallback.

    The fallback (:data:`constants.FALLBACK_BACKEND`, PyMC's own NUTS) gives the same
    posterior more slowly; a warning says so and how to install the default's packages.
    """
    backend = constants.BACKEND
    missing = [pkg for pkg in BACKENDS.get(backend, ()) if importlib.util.find_spec(pkg) is None]
    if not missing:
        return backend
    warnings.warn(
        f"The default backend {backend!r} needs {', '.join(missing)}, which is not installed; "
        f"sampling with {constants.FALLBACK_BACKEND!r} instead (same posterior, slower). "
        f"Install it with: pip install 'ambidex_bayes[{_EXTRAS[backend]}]'",
        UserWarning,
        stacklevel=3,
    )
    return constants.FALLBACK_BACKEND


def require_backend(backend: str) -> None:
    """Raise a clear error when ``backend`` is unknown or its packages are missing."""
    if backend not in BACKENDS:
        raise BackendUnavailableError(
            f"Unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}."
        )
    missing = [pkg for pkg in BACKENDS[backend] if importlib.util.find_spec(pkg) is None]
    if missing:
        raise BackendUnavailableError(
            f"The {backend!r} backend needs {', '.join(missing)}, which is not installed. "
            f"Install it with: pip install 'ambidex_bayes[{_EXTRAS[backend]}]'"
        )
