"""Priors a model spec may name: the distributions, their parameters, and :class:`PriorSpec`.

A prior is written in a spec or a prior set as a TOML table such as
``{ dist = "Normal", mu = 0, sigma = 1 }``: a PyMC distribution of :data:`DISTRIBUTIONS`
and its parameters, each checked on load (unknown names get a "did you mean" hint, scale
parameters must be positive). :data:`POSITIVE_DISTRIBUTIONS` are those valid for SDs.
:func:`did_you_mean` (the hint, which also serves the other names of a spec) knows the
parameter names users often write (``sd`` for ``sigma``). :mod:`ambidex_bayes.spec`
re-exports the distributions and :class:`PriorSpec`.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ambidex_bayes.errors import SpecError

__all__ = ["DISTRIBUTIONS", "POSITIVE_DISTRIBUTIONS", "PriorSpec", "did_you_mean"]


#: Prior distributions a spec may name, with their parameters (required, optional).
DISTRIBUTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "Normal": (("mu", "sigma"), ()),
    "StudentT": (("nu", "mu", "sigma"), ()),
    "HalfNormal": (("sigma",), ()),
    "HalfStudentT": (("nu", "sigma"), ()),
    "HalfCauchy": (("beta",), ()),
    "Exponential": (("lam",), ()),
    "Gamma": (("alpha", "beta"), ()),
    "LKJ": (("eta",), ()),
}

#: Positive distributions (valid for SDs).
POSITIVE_DISTRIBUTIONS = frozenset(
    {"HalfNormal", "HalfStudentT", "HalfCauchy", "Exponential", "Gamma"}
)

#: Names users often write for a distribution's parameters (brms/Stan/scipy habits).
_SYNONYMS = {
    "sd": "sigma",
    "scale": "sigma",
    "loc": "mu",
    "mean": "mu",
    "df": "nu",
    "lambda": "lam",
    "rate": "lam",
    "shape": "alpha",
}


def did_you_mean(word: str, choices: list[str] | set[str] | tuple[str, ...]) -> str:
    """The hint " Did you mean '<choice>'?" naming the usual synonym of ``word`` or the
    closest of ``choices`` to it; empty when none is close."""
    if _SYNONYMS.get(word) in choices:
        return f" Did you mean {_SYNONYMS[word]!r}?"
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.5)
    return f" Did you mean {close[0]!r}?" if close else ""


@dataclass(frozen=True)
class PriorSpec:
    """A prior distribution named by its PyMC name and parameters.

    Parameters
    ----------
    dist : str
        One of :data:`DISTRIBUTIONS`.
    params : mapping of str to float
        The distribution's parameters, e.g. ``{"mu": 0.0, "sigma": 1.0}``.
    """

    dist: str
    params: Mapping[str, float]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, where: str) -> PriorSpec:
        """Build from ``{"dist": "Normal", "mu": 0, "sigma": 1}``, checking every name."""
        if not isinstance(d, Mapping):
            raise SpecError(
                f"{where}: a prior must be a table like {{ dist = 'Normal', mu = 0, sigma = 1 }}."
            )
        if "dist" not in d:
            raise SpecError(
                f"{where}: the prior has no 'dist' (one of {', '.join(DISTRIBUTIONS)})."
            )
        dist = str(d["dist"])
        if dist not in DISTRIBUTIONS:
            raise SpecError(
                f"{where}: unknown distribution {dist!r}.{did_you_mean(dist, list(DISTRIBUTIONS))} "
                f"Known: {', '.join(DISTRIBUTIONS)}."
            )
        required, optional = DISTRIBUTIONS[dist]
        params: dict[str, float] = {}
        for key, value in d.items():
            if key == "dist":
                continue
            if key not in required + optional:
                raise SpecError(
                    f"{where}: {dist} has no parameter {key!r}.{did_you_mean(key, required + optional)} "
                    f"Its parameters are {', '.join(required + optional)}."
                )
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise SpecError(f"{where}: parameter {key!r} must be a number, got {value!r}.")
            params[key] = float(value)
        missing = [p for p in required if p not in params]
        if missing:
            raise SpecError(f"{where}: {dist} needs {', '.join(missing)}.")
        for key in ("sigma", "beta", "lam", "nu", "eta", "alpha"):
            if key in params and params[key] <= 0:
                raise SpecError(
                    f"{where}: parameter {key!r} of {dist} must be > 0, got {params[key]}."
                )
        return cls(dist=dist, params=params)

    def to_dict(self) -> dict[str, Any]:
        """The TOML/JSON form ``{"dist": ..., **params}``."""
        return {"dist": self.dist, **self.params}

    def __str__(self) -> str:
        args = ", ".join(f"{k}={v:g}" for k, v in self.params.items())
        return f"{self.dist}({args})"
