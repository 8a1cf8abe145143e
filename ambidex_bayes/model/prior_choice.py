"""The priors of a model as they are chosen: the spec's own, or Bambi's and the toolkit's
defaults, each recorded with its source.

:class:`PriorChoices` hands out the prior of every parameter as the model is built and
records which one was used (:func:`prior_table` shows them as brms' ``prior_summary``
does); a prior of the spec that matches no parameter is refused with a "did you mean"
hint. :func:`prior_variable` makes the PyMC random variable of a prior, with its
parameters held in ``pm.Data`` variables named by :func:`prior_data_name` when one compiled
model is to serve several prior sets.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from ambidex_bayes import constants
from ambidex_bayes.errors import SpecError
from ambidex_bayes.spec import POSITIVE_DISTRIBUTIONS, PriorSpec

if TYPE_CHECKING:
    import bambi as bmb

__all__ = [
    "PRIOR_DATA_PREFIX",
    "BAMBI_DEFAULT",
    "prior_data_name",
    "prior_table",
    "bambi_prior_spec",
    "prior_variable",
    "check_sd_priors",
    "PriorChoices",
]

#: Prefix of the ``pm.Data`` variables holding prior parameters (``prior_data=True``).
PRIOR_DATA_PREFIX = "_prior["

#: Source of a prior taken from Bambi's defaults, which Bambi scales to the data.
BAMBI_DEFAULT = "bambi default (scaled to data)"


def prior_data_name(parameter: str, param: str) -> str:
    """Name of the ``pm.Data`` variable holding ``param`` of the prior of ``parameter``.

    Used by ``build_model(..., prior_data=True)``; e.g. ``"_prior[Intercept].mu"``,
    ``"_prior[1|person_sigma].sigma"``, ``"_prior[corr(person)].eta"``.
    """
    return f"{PRIOR_DATA_PREFIX}{parameter}].{param}"


def prior_table(priors: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Tidy table of priors: ``parameter, prior, source``."""
    rows = [
        {"parameter": name, "prior": info["prior"], "source": info["source"]}
        for name, info in priors.items()
    ]
    return pd.DataFrame(rows, columns=["parameter", "prior", "source"])


def bambi_prior_spec(prior: bmb.Prior) -> PriorSpec:
    """Convert a Bambi ``Prior`` with numeric arguments to a :class:`PriorSpec`."""
    params = {k: float(np.asarray(v)) for k, v in prior.args.items()}
    return PriorSpec(dist=prior.name, params=params)


def prior_variable(
    name: str, prior: PriorSpec, *, prior_data: bool = False, **kwargs: Any
) -> pt.TensorVariable:
    """The random variable ``name`` with the distribution of ``prior`` (in a model context).

    With ``prior_data`` the prior's parameters are ``pm.Data`` variables named by
    :func:`prior_data_name`; ``kwargs`` go to the distribution (e.g. ``dims``).
    """
    dist = getattr(pm, prior.dist)
    params: dict[str, Any] = dict(prior.params)
    if prior_data:
        params = {k: pm.Data(prior_data_name(name, k), float(v)) for k, v in params.items()}
    return dist(name, **params, **kwargs)


def check_sd_priors(priors: list[PriorSpec], where: str) -> None:
    """The SDs of correlated person effects need priors on the positive half-line."""
    for prior in priors:
        if prior.dist not in POSITIVE_DISTRIBUTIONS:
            raise SpecError(
                f"{where}: an SD prior must be positive (HalfNormal, Exponential, ...), "
                f"got {prior.dist}."
            )


class PriorChoices:
    """The prior of each parameter, chosen as the model is built, and the record of them.

    Parameters
    ----------
    overrides : mapping of str to PriorSpec
        The spec's priors, by parameter name (``"corr"`` for the correlation's LKJ prior).
    source : str
        Named in error messages (the spec file).

    Attributes
    ----------
    priors : dict
        Parameter -> ``{"prior": text, "source": where it came from}``, in the order the
        parameters were asked for.
    """

    def __init__(self, overrides: Mapping[str, PriorSpec], source: str) -> None:
        self.overrides = overrides
        self.source = source
        self.priors: dict[str, dict[str, Any]] = {}
        self._used: set[str] = set()

    def resolve(self, name: str, default: PriorSpec, default_source: str) -> PriorSpec:
        """The spec's prior for ``name`` if it has one, else ``default``; recorded."""
        if name in self.overrides:
            self._used.add(name)
            self.priors[name] = {"prior": str(self.overrides[name]), "source": "spec"}
            return self.overrides[name]
        self.priors[name] = {"prior": str(default), "source": default_source}
        return default

    def correlation(self, factor: str) -> PriorSpec:
        """The LKJ prior of the correlation of ``factor``'s person effects; recorded.

        The spec's ``"corr"`` prior, else ``LKJ(eta=constants.LKJ_ETA)``.
        """
        given = "corr" in self.overrides
        eta = self.overrides.get("corr", PriorSpec("LKJ", {"eta": constants.LKJ_ETA}))
        if given:
            self._used.add("corr")
        self.priors[f"corr({factor})"] = {
            "prior": str(eta),
            "source": "spec" if given else "toolkit default",
        }
        return eta

    def check_all_used(self, formula: str) -> None:
        """Refuse a prior of the spec that matches no parameter of the model.

        Raises
        ------
        SpecError
            Naming the first such prior, the closest parameter name and every parameter.
        """
        unused = sorted(set(self.overrides) - self._used)
        if not unused:
            return
        key = unused[0]
        has_corr = any(name.startswith("corr(") for name in self.priors)
        candidates = [n for n in [*self.priors, *(["corr"] if has_corr else [])] if n != key]
        close = difflib.get_close_matches(key, candidates, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise SpecError(
            f"{self.source}: the prior for {key!r} matches no parameter of {formula!r}.{hint} "
            f"Parameters: {', '.join(self.priors)}."
        )
