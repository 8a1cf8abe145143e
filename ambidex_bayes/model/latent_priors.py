r"""The priors of a latent-centred model: its data-scaled defaults, or a spec's or prior set's.

The latent model (:mod:`ambidex_bayes.model.latent_centring`) names its parameters as the
observed model does where the role is the same (``Intercept``, ``{x}_cw``, ``{x}_pm``, the
moderator's and the controls' effects, ``{x}_cw:{w}``, ``1|person_sigma``,
``{x}_cw|person_sigma``, ``sigma``, and the correlation, ``corr`` in a spec), so the priors of
a spec or a prior set (:mod:`ambidex_bayes.priors.sets`), rendered with the prepared data's
roles (:meth:`~ambidex_bayes.spec.ModelSpec.render_priors`), name its parameters directly.
The predictor model's own parameters (``{x}_mu_mean``, ``{x}_mu_sd``, ``{x}_within_sd``,
``{x}_mu:{w}``) keep their defaults unless a prior names them (by these names, e.g.
``"x_mu_sd"``).

Defaults are weakly informative and scaled by the data, as Bambi's:
:math:`N(\bar y, (2.5 s_y)^2)` for the intercept, :math:`N(0, (2.5 s_y / s_v)^2)` for an
effect of :math:`v`, half-normal with the outcome's (or predictor's) SD as scale for the
SDs, :math:`\mathrm{LKJ}(2)` for the correlation. Every parameter of a prior is a
``pm.Data`` variable ``_prior_<parameter>_<name>`` (so one compiled model serves data sets
with other scales, and other values of the same distributions); the LKJ shape :math:`\eta`
is a constant, part of :attr:`LatentPriors.structure`.

:class:`LatentPriors` hands out each parameter's prior as the model is built, records it
(``{"prior": text, "source": ...}``, as :class:`~ambidex_bayes.model.prior_choice.
PriorChoices` records the observed model's) and refuses, once the model is built, a given
prior that names no parameter of it (:meth:`LatentPriors.check_all_used`).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from ambidex_bayes import constants
from ambidex_bayes.errors import SpecError
from ambidex_bayes.prior_spec import POSITIVE_DISTRIBUTIONS, PriorSpec

__all__ = ["LatentPriors"]

#: The source recorded for a default prior, scaled by the data.
DATA_SOURCE = "data"
#: The source recorded for a prior of the spec (its own or a prior set's).
SPEC_SOURCE = "spec"


class LatentPriors:
    """The prior of each parameter of a latent-centred model, chosen as it is built.

    Parameters
    ----------
    overrides : mapping of str to PriorSpec, optional
        Priors by parameter name (the observed model's names, see the module docstring;
        ``"corr"`` for the correlation's LKJ prior). None or empty: the defaults.
    source : str
        Named in messages (the spec file, or the prior set it carries).

    Attributes
    ----------
    record : dict
        Parameter -> ``{"prior": text, "source": "data" | "spec" | "default"}``, in the
        order the parameters were asked for.
    """

    def __init__(
        self, overrides: Mapping[str, PriorSpec] | None = None, *, source: str = "<spec>"
    ) -> None:
        self.overrides = dict(overrides or {})
        self.source = source
        self.record: dict[str, dict[str, str]] = {}
        self._used: dict[str, str] = {}  # override key -> parameter it served

    @staticmethod
    def _value(name: str, what: str, value: float) -> pt.TensorVariable:
        return pm.Data(f"_prior_{name}_{what}", np.asarray(value, dtype=float))

    def _given(self, name: str, *, positive: bool) -> pt.TensorVariable | None:
        """The variable ``name`` with its given prior (None when none is given)."""
        prior = self.overrides.get(name)
        if prior is None:
            return None
        if positive and prior.dist not in POSITIVE_DISTRIBUTIONS:
            raise SpecError(
                f"{self.source}: the prior for {name!r} is {prior}, but {name!r} is a standard "
                "deviation of the latent-centred model and needs a positive distribution "
                f"({', '.join(sorted(POSITIVE_DISTRIBUTIONS))})."
            )
        if prior.dist == "LKJ":
            raise SpecError(
                f"{self.source}: the prior for {name!r} is {prior}; LKJ is the prior of the "
                "correlation only (key 'corr')."
            )
        self._used[name] = name
        self.record[name] = {"prior": str(prior), "source": SPEC_SOURCE}
        params = {k: self._value(name, k, v) for k, v in prior.params.items()}
        return getattr(pm, prior.dist)(name, **params)

    def normal(self, name: str, mu: float, sd: float) -> pt.TensorVariable:
        """An effect or mean: its given prior, else :math:`N(\\mu, \\mathrm{sd}^2)`."""
        given = self._given(name, positive=False)
        if given is not None:
            return given
        self.record[name] = {
            "prior": f"Normal(mu: {mu:.4g}, sigma: {sd:.4g})",
            "source": DATA_SOURCE,
        }
        return pm.Normal(name, mu=self._value(name, "mu", mu), sigma=self._value(name, "sigma", sd))

    def half_normal(self, name: str, sd: float) -> pt.TensorVariable:
        """A standard deviation: its given (positive) prior, else half-normal with scale
        ``sd``."""
        given = self._given(name, positive=True)
        if given is not None:
            return given
        self.record[name] = {"prior": f"HalfNormal(sigma: {sd:.4g})", "source": DATA_SOURCE}
        return pm.HalfNormal(name, sigma=self._value(name, "sigma", sd))

    def correlation_eta(self, name: str) -> float:
        """The LKJ shape :math:`\\eta` of the correlation ``name`` (recorded): the given
        ``"corr"`` prior's, else ``constants.LKJ_ETA``."""
        prior = self.overrides.get("corr")
        if prior is None:
            eta = float(constants.LKJ_ETA)
            self.record[name] = {"prior": f"LKJ(eta: {eta:g})", "source": "default"}
            return eta
        self._used["corr"] = name
        self.record[name] = {"prior": str(prior), "source": SPEC_SOURCE}
        return float(prior.params["eta"])

    @property
    def structure(self) -> tuple[tuple[str, str, float | None], ...]:
        """What the compiled model depends on besides its ``pm.Data`` values: the given
        priors' distributions (and the LKJ shape), by parameter; empty with the defaults."""
        out = []
        for key, name in sorted(self._used.items()):
            prior = self.overrides[key]
            eta = float(prior.params["eta"]) if prior.dist == "LKJ" else None
            out.append((name, prior.dist, eta))
        return tuple(out)

    def check_all_used(self, model: str) -> None:
        """Refuse a given prior that names no parameter of the built model.

        Parameters
        ----------
        model : str
            The model, for the message (e.g. ``"M3"``).

        Raises
        ------
        SpecError
            Naming the first such prior, the closest parameter and every parameter.
        """
        unused = sorted(set(self.overrides) - set(self._used))
        if not unused:
            return
        key = unused[0]
        names = [
            *self.record,
            *(["corr"] if any(n.startswith("corr(") for n in self.record) else []),
        ]
        close = difflib.get_close_matches(key, names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise SpecError(
            f"{self.source}: the prior for {key!r} has no counterpart in the latent-centred "
            f"{model} (latent centring fits the parameters of the observed model it shares, "
            f"and its predictor model's own).{hint} Its parameters: {', '.join(names)}. "
            "Leave that prior out, or fit with centring='observed'."
        )
