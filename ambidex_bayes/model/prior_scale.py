r"""Priors that leave the sampler nowhere to go: checked against the data before sampling.

A prior can be valid and still make sampling hopeless. Two kinds are refused here, each
with a message naming the prior and saying what to do:

* an SD prior (residual SD ``sigma``, a person-effect SD ``..._sigma``) whose scale is
  below :data:`MIN_SD_RATIO` times the SD the data give that parameter: it pins the SD at
  practically zero, where the likelihood of any varying data is astronomically small
  (e.g. ``sigma = HalfNormal(sigma=1e-12)``);
* a location prior (``Normal``, ``StudentT``) on the intercept or a coefficient whose
  centre lies more than :data:`MAX_PRIOR_SDS` of its own SDs outside every value the data
  allow (e.g. ``Intercept = Normal(mu=1e6, sigma=1e-6)`` for an outcome on a 1-5 scale).

"The data allow" is deliberately generous. For the intercept it is the outcome's observed
range widened by :data:`PLAUSIBLE_SDS` outcome SDs on both sides; for the coefficient of a
term :math:`t` it is :math:`|b| \le` :data:`PLAUSIBLE_SDS` :math:`\cdot s_y / s_t` (a
one-SD change of the term moving the outcome by that many SDs). Only priors set in the spec
or a prior set are checked; the data-scaled defaults are fine by construction.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ambidex_bayes.errors import ModelError

if TYPE_CHECKING:
    from ambidex_bayes.prepared_data import PreparedData
    from ambidex_bayes.spec import ModelSpec

__all__ = ["check_prior_scales", "prior_scale_problems"]

#: An SD prior whose scale is below this fraction of the data's SD is refused.
MIN_SD_RATIO = 1e-6
#: A location prior centred more than this many of its SDs outside the plausible values is
#: refused.
MAX_PRIOR_SDS = 1000.0
#: Width of the plausible values, in SDs of the outcome (see the module docstring).
PLAUSIBLE_SDS = 100.0

_SD_SCALE = {
    "HalfNormal": lambda p: p["sigma"],
    "HalfStudentT": lambda p: p["sigma"],
    "HalfCauchy": lambda p: p["beta"],
    "Exponential": lambda p: 1.0 / p["lam"],
    "Gamma": lambda p: p["alpha"] / p["beta"],
}


def _sd(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(np.std(values, ddof=1)) if values.size > 1 else math.nan


def _term_values(frame: Any, term: str) -> np.ndarray | None:
    """Values of a fixed-effect term (a column or a product ``a:b``), or None if unknown."""
    product = None
    for column in term.split(":"):
        if column not in frame.columns:
            return None
        values = np.asarray(frame[column], dtype=float)
        product = values if product is None else product * values
    return product


def prior_scale_problems(spec: ModelSpec, prepared: PreparedData) -> list[str]:
    """What is wrong with each prior of ``spec`` that leaves the sampler nowhere to go."""
    fields = prepared.formula_fields()
    frame = prepared.frame
    y_name = fields.get("y")
    if y_name is None or y_name not in frame.columns:
        return []
    y = np.asarray(frame[y_name], dtype=float)
    y = y[np.isfinite(y)]
    sd_y = _sd(y)
    if not (math.isfinite(sd_y) and sd_y > 0):
        return []
    person = fields.get("person")
    problems = []
    for name, prior in spec.render_priors(fields).items():
        params = {k: float(v) for k, v in prior.params.items()}
        if name == "sigma" or name.endswith("_sigma"):
            scale_of = _SD_SCALE.get(prior.dist)
            if scale_of is None:
                continue
            reference, what = sd_y, f"the SD of the outcome {y_name!r}"
            slope_of = name[: -len(f"|{person}_sigma")] if person else None
            if slope_of and name.endswith(f"|{person}_sigma") and slope_of != "1":
                values = _term_values(frame, slope_of)
                sd_t = _sd(values) if values is not None else math.nan
                if math.isfinite(sd_t) and sd_t > 0:
                    reference = sd_y / sd_t
                    what = f"SD({y_name}) / SD({slope_of})"
            scale = scale_of(params)
            if scale < MIN_SD_RATIO * reference:
                problems.append(
                    f"the prior on {name!r}, {prior}, holds this SD near {scale:.3g}, "
                    f"{scale / reference:.1g} times {what} ({reference:.3g}): the SD is pinned "
                    "at practically zero and the sampler cannot move from its start. Widen it "
                    f"(e.g. {prior.dist} with a scale near {reference:.3g}) or leave the "
                    "parameter out of the prior set to use the data-scaled default."
                )
            continue
        if prior.dist not in ("Normal", "StudentT"):
            continue
        mu, width = params["mu"], params["sigma"]
        if name == "Intercept":
            low = float(y.min()) - PLAUSIBLE_SDS * sd_y
            high = float(y.max()) + PLAUSIBLE_SDS * sd_y
            allowed = (
                f"the outcome {y_name!r} is observed from {y.min():.4g} to {y.max():.4g} "
                f"(mean {y.mean():.4g}, SD {sd_y:.3g})"
            )
            advice = f"centre it near the outcome's mean ({y.mean():.4g}) and widen it"
        else:
            values = _term_values(frame, name)
            sd_t = _sd(values) if values is not None else math.nan
            if not (math.isfinite(sd_t) and sd_t > 0):
                continue
            high = PLAUSIBLE_SDS * sd_y / sd_t
            low = -high
            allowed = (
                f"a coefficient beyond +-{high:.3g} would move the outcome {y_name!r} by more "
                f"than {PLAUSIBLE_SDS:g} of its SDs per SD of {name!r}"
            )
            advice = "centre it at 0 and widen it"
        distance = max(low - mu, mu - high, 0.0)
        if width > 0 and distance / width > MAX_PRIOR_SDS:
            problems.append(
                f"the prior on {name!r}, {prior}, lies {distance / width:.3g} of its own SDs "
                f"away from every plausible value ({allowed}): prior and data contradict each "
                f"other so strongly that the sampler cannot start. {advice[0].upper()}"
                f"{advice[1:]}, or leave it out of the prior set to use the data-scaled "
                "default."
            )
    return problems


def check_prior_scales(spec: ModelSpec, prepared: PreparedData) -> None:
    """Raise a :class:`ModelError` naming every prior that leaves the sampler nowhere to go.

    See the module docstring for the two rules. Run before any model is built or sampled.
    """
    problems = prior_scale_problems(spec, prepared)
    if problems:
        raise ModelError(
            f"{spec.source}: {len(problems)} prior(s) of {spec.name} cannot be sampled with "
            "these data:\n" + "\n".join(f"  - {p}" for p in problems)
        )
