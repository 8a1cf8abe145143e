r"""Savage–Dickey Bayes factors for a fixed effect, and their sensitivity to the prior's width.

For a point hypothesis :math:`H_0: \theta = \theta_0` nested in :math:`H_1` (the model with
:math:`\theta` free, prior :math:`p(\theta)`), the Savage–Dickey density ratio gives

.. math::

    BF_{01} = \frac{p(\theta_0 \mid y, H_1)}{p(\theta_0 \mid H_1)}, \qquad
    BF_{10} = 1 / BF_{01},

when the prior of the other parameters under :math:`H_0` is their conditional prior under
:math:`H_1` at :math:`\theta_0` (true here: the priors are independent). The prior density
is exact; the posterior density at :math:`\theta_0` is a kernel density estimate from the
draws (``arviz_stats``' KDE), or a normal approximation of the draws when
:math:`\theta_0` lies in their far tail (:func:`posterior_density_at`). The Bayes factor depends on the prior's width, so it is only
meaningful for a *proper prior fixed before seeing the data*: Bambi's default priors are
scaled to the data, and the Bayes factor is refused for them (:class:`BayesFactorRefused`).

Sensitivity to the prior's width without refitting
--------------------------------------------------
Let the draws come from the posterior under the prior :math:`p_0` (width :math:`s_0`) and
let :math:`p_s` be the same family with width :math:`s` (same location). Reweighting the
draws by :math:`w_i = p_s(\theta_i)/p_0(\theta_i)` turns them into draws of the posterior
under :math:`p_s` (importance sampling; every other prior is unchanged), and

.. math::

    p_s(\theta_0 \mid y) = p_0(\theta_0 \mid y)\,\frac{p_s(\theta_0)}{p_0(\theta_0)}\,
        \frac{1}{Z_s}, \quad Z_s = E_{0}\!\left[\frac{p_s(\theta)}{p_0(\theta)}\right]
        \approx \frac{1}{S}\sum_i w_i,

so that :math:`BF_{10}(s) = BF_{10}(s_0)\, Z_s`: the Bayes factor under another width is
the fitted one times the posterior mean of the prior ratio (which is also the ratio of the
two models' marginal likelihoods). The estimate is good while the weights are not dominated
by a few draws: each row reports the importance-sampling effective sample size
:math:`(\sum w)^2/\sum w^2` and, where the weights are unbounded (a Normal prior made
wider, :math:`w \propto \exp(\theta^2 (1/s_0^2 - 1/s^2)/2)`), the Pareto :math:`\hat k`
of the weights (PSIS, ``arviz_stats``). A narrower prior, or any StudentT width, gives
bounded weights with finite variance (:math:`\hat k` is then not needed and reported as
NaN). :math:`\hat k > 0.7` or an ESS under 100 marks widths to refit instead.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ambidex_bayes import constants
from ambidex_bayes.errors import ModelError
from ambidex_bayes.priors.sensitivity import prior_logpdf
from ambidex_bayes.spec import PriorSpec

__all__ = [
    "BayesFactorRefused",
    "BayesFactorWarning",
    "SavageDickey",
    "savage_dickey",
    "check_bayes_factor_prior",
    "bf_width_sensitivity",
    "posterior_density_at",
    "DATA_SCALED_SOURCE",
]

#: Source recorded by ``build_model`` for Bambi's data-scaled default priors.
DATA_SCALED_SOURCE = "bambi default (scaled to data)"

_LOCATION_SCALE = ("Normal", "StudentT")

#: Importance-sampling effective sample size below which a reweighted width is unreliable.
MIN_IS_ESS: float = 100.0

#: Draws within one KDE bandwidth of the reference value below which the density is rough.
MIN_NEAR_DRAWS: int = 50


class BayesFactorRefused(ModelError):
    """A Savage–Dickey Bayes factor was asked for where it has no meaning; says why."""


class BayesFactorWarning(UserWarning):
    """A Bayes factor rests on a density estimate in the tail of the draws."""


@dataclass(frozen=True)
class SavageDickey:
    """A Savage–Dickey Bayes factor.

    Attributes
    ----------
    bf10, bf01 : float
        Evidence for the effect against :math:`\\theta = \\theta_0`, and its inverse.
    prior_density, posterior_density : float
        Densities at :math:`\\theta_0`.
    ref : float
        :math:`\\theta_0`.
    note : str
        Empty, or why the estimate should be read with care.
    """

    bf10: float
    bf01: float
    prior_density: float
    posterior_density: float
    ref: float = 0.0
    note: str = ""


def check_bayes_factor_prior(
    name: str, prior: PriorSpec | None, record: Mapping[str, Any] | None = None
) -> PriorSpec:
    """Refuse a Bayes factor whose prior is data-scaled, improper or not location-scale.

    Parameters
    ----------
    name : str
        The parameter.
    prior : PriorSpec or None
        Its prior with numbers.
    record : mapping, optional
        Its entry of the fit's prior record (``{"prior": ..., "source": ...}``); a source of
        ``"bambi default (scaled to data)"`` is refused.

    Raises
    ------
    BayesFactorRefused
        With the reason and what to do.
    """
    if record is not None and record.get("source") == DATA_SCALED_SOURCE:
        raise BayesFactorRefused(
            f"no Savage-Dickey Bayes factor for {name!r}: its prior {record.get('prior')} is "
            "Bambi's default, scaled to the data. A Bayes factor weighs the data against the "
            "prior, so a prior set from the same data uses them twice and its width (which "
            "drives the Bayes factor) is arbitrary. Give the effect an explicit prior fixed "
            "before seeing the data (e.g. the weakly_informative or sceptical prior set)."
        )
    if prior is None:
        raise BayesFactorRefused(f"no prior is known for {name!r}; cannot compute a Bayes factor.")
    if prior.dist not in _LOCATION_SCALE:
        raise BayesFactorRefused(
            f"no Savage-Dickey Bayes factor for {name!r}: its prior is {prior}, but the test "
            "of an effect against 0 needs a prior on the whole real line (Normal or StudentT)."
        )
    return prior


def posterior_density_at(draws: Any, ref: float = 0.0) -> tuple[float, str]:
    r"""Posterior density at ``ref`` from draws, and a note on how it was estimated.

    A kernel density estimate (``arviz_stats``' linear KDE with its default bandwidth)
    where at least :data:`MIN_NEAR_DRAWS` draws lie within one bandwidth of ``ref``.
    Further out in the tail a KDE has nothing to go on (it reads 0 beyond the draws), so
    the density of a normal distribution with the draws' mean :math:`m` and SD :math:`s`
    is used instead, :math:`\phi((\text{ref} - m)/s)/s`, and the note says so: fine for
    the near-normal posterior of a regression coefficient, a rough guide otherwise.
    """
    from arviz_stats.base import array_stats
    from scipy import stats

    values = np.asarray(draws, dtype=float).reshape(-1)
    values = values[np.isfinite(values)]
    if values.size < 2:
        raise ModelError("a posterior density needs at least two finite draws.")
    grid, pdf, bandwidth = array_stats.kde(values, grid_len=1024)
    near = int(np.sum(np.abs(values - ref) <= float(bandwidth)))
    if near >= MIN_NEAR_DRAWS:
        return float(np.interp(ref, grid, pdf)), ""
    mean, sd = float(np.mean(values)), float(np.std(values, ddof=1))
    z = (ref - mean) / sd
    note = (
        f"only {near} draws lie within one KDE bandwidth of {ref:g} ({z:+.1f} posterior SDs "
        "from the mean), so the posterior density there comes from a normal approximation "
        "of the draws; the Bayes factor is of the right size but not precise."
    )
    return float(stats.norm.pdf(ref, mean, sd)), note


def savage_dickey(
    draws: Any,
    prior: PriorSpec,
    *,
    ref: float = 0.0,
    name: str = "parameter",
    record: Mapping[str, Any] | None = None,
    warn: bool = True,
) -> SavageDickey:
    r"""Savage–Dickey Bayes factor of :math:`\theta = \theta_0` (``ref``) for posterior draws.

    Parameters
    ----------
    draws : array-like
        Posterior draws of :math:`\theta` under ``prior``.
    prior : PriorSpec
        Its (proper, location-scale) prior.
    ref : float
        :math:`\theta_0`.
    name : str
        For messages.
    record : mapping, optional
        The fit's prior record of the parameter; a data-scaled prior is refused.
    warn : bool
        Warn (:class:`BayesFactorWarning`) when the estimate rests on the draws' tail.

    Returns
    -------
    SavageDickey
    """
    check_bayes_factor_prior(name, prior, record)
    prior_density = float(np.exp(prior_logpdf(prior, ref)))
    posterior_density, note = posterior_density_at(draws, ref)
    bf10 = math.inf if posterior_density == 0.0 else prior_density / posterior_density
    bf01 = 0.0 if math.isinf(bf10) else 1.0 / bf10
    if note and warn:
        warnings.warn(f"Bayes factor of {name!r}: {note}", BayesFactorWarning, stacklevel=2)
    return SavageDickey(
        bf10=bf10,
        bf01=bf01,
        prior_density=prior_density,
        posterior_density=posterior_density,
        ref=ref,
        note=note,
    )


def _with_width(prior: PriorSpec, width: float) -> PriorSpec:
    return PriorSpec(dist=prior.dist, params={**prior.params, "sigma": float(width)})


def _default_widths(prior: PriorSpec) -> list[float]:
    s0 = prior.params["sigma"]
    return [float(s0 * f) for f in (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)]


def bf_width_sensitivity(
    draws: Any,
    prior: PriorSpec,
    *,
    widths: Sequence[float] | None = None,
    ref: float = 0.0,
    name: str = "parameter",
    record: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    r"""Savage–Dickey :math:`BF_{10}` as a function of the prior's width (see the module notes).

    Parameters
    ----------
    draws : array-like
        Posterior draws under ``prior`` (all chains).
    prior : PriorSpec
        The Normal or StudentT prior the draws were obtained with; its ``sigma`` is the
        width :math:`s_0`.
    widths : sequence of float, optional
        Prior SDs (``sigma``) to evaluate; default :math:`s_0` times 1/8 ... 8.
    ref : float
        :math:`\theta_0`.

    Returns
    -------
    pandas.DataFrame
        Columns ``prior_sd, bf10, bf01, log10_bf10, ess, pareto_k, reliable, fitted``
        (``fitted`` marks :math:`s_0`). ``attrs`` holds ``parameter``, ``prior`` and ``ref``.
    """
    from arviz_stats.base import array_stats

    check_bayes_factor_prior(name, prior, record)
    theta = np.asarray(draws, dtype=float).reshape(-1)
    base = savage_dickey(theta, prior, ref=ref, name=name, warn=False)
    widths = list(widths) if widths is not None else _default_widths(prior)
    s0 = prior.params["sigma"]
    if s0 not in widths:
        widths.append(s0)
    rows = []
    for width in sorted(set(widths)):
        if not (math.isfinite(width) and width > 0):
            raise ModelError(f"prior widths must be positive numbers, got {width!r}.")
        new = _with_width(prior, width)
        log_w = prior_logpdf(new, theta) - prior_logpdf(prior, theta)
        shift = float(np.max(log_w))
        w = np.exp(log_w - shift)
        z = float(np.mean(w)) * math.exp(shift)
        ess = float(w.sum() ** 2 / np.sum(w**2))
        bounded = width <= s0 or prior.dist == "StudentT"
        khat = math.nan if bounded else float(array_stats.psislw(log_w)[1])
        bf10 = base.bf10 * z
        rows.append(
            {
                "prior_sd": float(width),
                "bf10": bf10,
                "bf01": 0.0 if math.isinf(bf10) else 1.0 / bf10,
                "log10_bf10": math.log10(bf10) if bf10 > 0 else -math.inf,
                "ess": ess,
                "pareto_k": khat,
                "reliable": bool(ess >= MIN_IS_ESS and not khat > constants.PARETO_K_MAX),
                "fitted": bool(math.isclose(width, s0)),
            }
        )
    table = pd.DataFrame(rows)
    table.attrs.update({"parameter": name, "prior": str(prior), "ref": ref, "note": base.note})
    return table
