"""Simulation tasks and their seeds.

A study-design run (power analysis, simulation-based calibration) is a list of independent
tasks: simulate a data set, fit it, keep a row of numbers. Each task carries its own seed,
derived from the run's seed and the task's *identity* (its cell of the grid and its
replicate number), never from its position in a queue. So a task gives the same result
whichever worker runs it, in whichever order, on however many workers, and a resumed run
re-creates exactly the tasks that are still missing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ambidex_bayes.engine.result import FitResult
    from ambidex_bayes.prepared_data import PreparedData
    from ambidex_bayes.spec import ModelSpec

__all__ = [
    "Task",
    "task_seed",
    "RunConfig",
    "default_backend",
    "design_problem",
    "every_predictor_problems",
    "fit_simulated",
]


def task_seed(base_seed: int, *identity: Any) -> int:
    """A seed for one task from the run's seed and the task's identity.

    The identity (for example ``("power", 97, 4.2, 0.25, 12)``) is hashed with SHA-256 and
    the digest, together with ``base_seed``, is the entropy of a
    :class:`numpy.random.SeedSequence`; its first 63 bits are the seed. Different
    identities give statistically independent streams; the same identity always gives the
    same seed, on every machine and Python version (no use of Python's salted ``hash``).

    Parameters
    ----------
    base_seed : int
        The run's seed (non-negative).
    *identity
        Values that name the task; their ``repr`` is hashed, so use plain numbers and strings.

    Returns
    -------
    int
        A seed in ``[0, 2**63)``.
    """
    text = repr(tuple(identity)).encode()
    digest = int.from_bytes(hashlib.sha256(text).digest()[:16], "little")
    sequence = np.random.SeedSequence([int(base_seed), digest])
    low, high = sequence.generate_state(2, dtype=np.uint32)
    return int((int(high) << 32 | int(low)) >> 1)


@dataclass(frozen=True)
class Task:
    """One simulation: an id, a seed and the values that define it.

    Attributes
    ----------
    task_id : str
        Unique within a run and stable across runs (the store keys results by it).
    seed : int
        The task's own seed (see :func:`task_seed`).
    params : dict
        What the task's work function needs besides the run's configuration
        (for example ``n_persons``, ``diaries_mean``, ``effect``, ``replicate``).
    """

    task_id: str
    seed: int
    params: Mapping[str, Any] = field(default_factory=dict)


def design_problem(overrides: Mapping[str, Any]) -> str | None:
    """Why the reference design with ``overrides`` is invalid, or None when it is valid."""
    from ambidex_bayes.simulate import DesignError, reference_design

    try:
        reference_design(**overrides)
    except DesignError as err:
        return str(err).replace("\n", " ")
    return None


def every_predictor_problems(overrides: Mapping[str, Any]) -> list[str]:
    """Why ``every_predictor`` does not apply to the reference design with ``overrides``
    (a valid design): it needs further level-1 predictors."""
    from ambidex_bayes.simulate import reference_design

    if len(reference_design(**overrides).predictor_names) < 2:
        return [
            "every_predictor adds the design's further level-1 predictors to the model, but "
            'the design has none (design={"predictors": [{"name": ...}]})'
        ]
    return []


def default_backend() -> str:
    """The default backend of every fit (:func:`ambidex_bayes.engine.settings.default_backend`)."""
    from ambidex_bayes.engine.settings import default_backend as fit_default_backend

    return fit_default_backend()


class RunConfig:
    """JSON round trip of a run's frozen configuration dataclass (what its store records)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Any:
        """Inverse of :meth:`to_dict`."""
        return cls(**dict(values))


def fit_simulated(
    spec: ModelSpec,
    prepared: PreparedData,
    config: Any,
    seed: int,
    *,
    fast_path: bool = True,
    centring: str | None = None,
) -> FitResult:
    """Fit one simulated data set quietly: one core, no saved fit, no log-likelihood.

    ``config`` supplies ``backend, draws, tune, chains``; ``seed`` is the task's seed;
    ``centring`` (``"observed"``, ``"latent"``, ``"auto"``, or None for the spec's own) is
    passed to :func:`ambidex_bayes.fit.fit` (a latent fit's ``meta["centring"]`` says so).
    """
    from ambidex_bayes.fit import SamplerSettings, fit

    settings = SamplerSettings(
        backend=config.backend,
        draws=config.draws,
        tune=config.tune,
        chains=config.chains,
        seed=seed % 2**32,
        fast_path=fast_path,
        cores=1,
    )
    return fit(
        spec,
        prepared,
        settings=settings,
        cache_dir=False,
        progressbar=False,
        verbose=False,
        log_likelihood=False,
        centring=centring,
    )
