"""Allowed ranges of the sampler settings, checked before anything is built or sampled.

:class:`ambidex_bayes.engine.settings.SamplerSettings` checks its fields here when it is made, so every
caller (the command line, notebooks, power and SBC runs, prior comparisons) gets the same
message: the setting, its command-line option, the allowed range and the value given.
The limits live in :mod:`ambidex_bayes.constants`; the backends, and the optional packages each
needs, in :data:`BACKENDS`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

from ambidex_bayes import constants
from ambidex_bayes.errors import SettingsError

__all__ = [
    "BACKENDS",
    "whole_number_problem",
    "sampler_problems",
    "check_sampler_fields",
    "check_seed",
    "check_workers",
]

#: Sampling backends and the optional packages each needs.
BACKENDS: dict[str, tuple[str, ...]] = {
    "pymc": (),
    "nutpie": ("nutpie",),
    "numpyro": ("jax", "numpyro"),
}

#: The command-line option of each setting, named in messages.
OPTIONS: dict[str, str] = {
    "draws": "--draws",
    "tune": "--tune",
    "chains": "--chains",
    "seed": "--seed",
    "target_accept": "--target-accept",
    "cores": "--cores",
    "backend": "--backend",
    "fast_path": "fast_path",
    "n_workers": "--workers",
}


def _named(name: str) -> str:
    option = OPTIONS.get(name, name)
    return name if option == name else f"{name} ({option})"


def _as_whole(value: Any) -> int | None:
    """``value`` as an int when it is a whole number (not a bool), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real) and math.isfinite(float(value)):
        if float(value).is_integer():
            return int(value)
    return None


def whole_number_problem(name: str, value: Any, low: int, high: int) -> str | None:
    """Why ``value`` is not a whole number from ``low`` to ``high``, or None when it is."""
    number = _as_whole(value)
    if number is not None and low <= number <= high:
        return None
    return f"{_named(name)} must be a whole number from {low:,} to {high:,}; got {value!r}." + (
        f" {_HINTS[name]}" if name in _HINTS else ""
    )


_HINTS = {
    "draws": "Typical: 1000 draws per chain.",
    "tune": "Typical: 1000 tuning steps per chain; 0 skips tuning (not advised).",
    "chains": "Typical: 4 chains (at least 2 are needed to compute R-hat).",
    "seed": "Any whole number in this range gives reproducible draws.",
    "cores": "Leave it unset to run one chain per CPU core.",
    "n_workers": "Leave it unset to start one worker per CPU core.",
}


def sampler_problems(fields: Mapping[str, Any]) -> list[str]:
    """Every setting of ``fields`` outside its allowed range, in words (empty: all fine).

    ``fields`` maps setting names (``draws, tune, chains, seed, target_accept, cores,
    backend, fast_path``) to values; ``None`` means "use the default" and is always fine.
    """
    limits = {
        "draws": (1, constants.MAX_DRAWS),
        "tune": (0, constants.MAX_TUNE),
        "chains": (1, constants.MAX_CHAINS),
        "seed": (0, constants.MAX_SEED),
        "cores": (1, constants.MAX_CORES),
    }
    problems = []
    for name, (low, high) in limits.items():
        value = fields.get(name)
        if value is not None and (problem := whole_number_problem(name, value, low, high)):
            problems.append(problem)
    accept = fields.get("target_accept")
    if accept is not None:
        ok = (
            isinstance(accept, numbers.Real)
            and not isinstance(accept, bool)
            and math.isfinite(float(accept))
            and 0.0 < float(accept) < 1.0
        )
        if not ok:
            problems.append(
                f"{_named('target_accept')} must be a number strictly between 0 and 1; got "
                f"{accept!r}. Typical: 0.9; raise it toward 0.99 when there are divergences."
            )
    backend = fields.get("backend")
    if backend is not None and backend not in BACKENDS:
        problems.append(
            f"{_named('backend')} must be one of {', '.join(BACKENDS)}; got {backend!r}."
        )
    fast_path = fields.get("fast_path", True)
    if not isinstance(fast_path, bool):
        problems.append(f"fast_path must be True or False; got {fast_path!r}.")
    return problems


def check_sampler_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """``fields`` with whole numbers as ``int`` and ``target_accept`` as ``float``.

    Raises
    ------
    SettingsError
        Listing every setting outside its allowed range.
    """
    problems = sampler_problems(fields)
    if problems:
        raise SettingsError(
            "Invalid sampler settings:\n"
            + "\n".join(f"  - {p}" for p in problems)
            + "\nFix the named option(s) and run again."
        )
    out = dict(fields)
    for name in ("draws", "tune", "chains", "seed", "cores"):
        if out.get(name) is not None:
            out[name] = _as_whole(out[name])
    if out.get("target_accept") is not None:
        out["target_accept"] = float(out["target_accept"])
    return out


def check_seed(seed: Any, name: str = "seed", *, high: int | None = None) -> int:
    """``seed`` as an int when it is a whole number from 0 to ``high``.

    ``high`` defaults to ``constants.MAX_SEED`` (what every sampling backend accepts);
    numpy's generators alone accept larger seeds.

    Raises
    ------
    SettingsError
        Naming the option and the allowed range.
    """
    high = constants.MAX_SEED if high is None else high
    problem = whole_number_problem(name, seed, 0, high)
    if problem is not None:
        raise SettingsError(problem)
    return int(seed)


def check_workers(n_workers: Any) -> int:
    """The number of workers of a local cluster, a whole number from 1 to MAX_CORES."""
    problem = whole_number_problem("n_workers", n_workers, 1, constants.MAX_CORES)
    if problem is not None:
        raise SettingsError(problem)
    return int(n_workers)
