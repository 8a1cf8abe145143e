r"""How much the prior shapes the posterior: log prior, contraction, power-scaling.

Three views of one question, all computed from posterior draws without refitting:

*Prior-to-posterior contraction* of a parameter :math:`\theta`,

.. math::

    c = 1 - \frac{\operatorname{Var}(\theta \mid y)}{\operatorname{Var}(\theta)},

near 1 when the data pinned the parameter down, near 0 when the posterior is still the
prior (negative when the data pull it into the prior's tail). The prior variance is exact
(:func:`prior_variance`); an infinite prior variance gives :math:`c = 1`.

*Power-scaling sensitivity* (Kallioinen et al., 2024): the posterior is importance-weighted
as if the prior (or the likelihood) were raised to a power :math:`\alpha` near 1,
:math:`p_\alpha(\theta \mid y) \propto p(\theta)^\alpha p(y \mid \theta)`, and the change of
each parameter's distribution is measured (``arviz_stats.psense``). Sensitivity to the
prior above 0.05 together with sensitivity to the likelihood above 0.05 points to a
*prior-data conflict*; sensitivity to the prior alone to a *weak likelihood* (the prior
dominates); otherwise the prior is *fine*.

The log prior that is power-scaled is the sum of the priors the user writes, evaluated at
the reported parameters (:func:`log_prior_dataset`): each fixed effect's prior, each
person-effect SD's prior, the LKJ density of the person-effect correlation matrix, the
residual SD's prior. The standard-normal person-effect offsets are part of the hierarchical
model and are not power-scaled (as in ``priorsense`` for brms), and no Jacobian of the
sampler's internal parameterisation is involved: power-scaling changes the prior densities
as written, on the parameters as reported. This is why the log prior is computed here from
the visible posterior rather than with ``pm.compute_log_prior``, which would need the
internal ``_``-variables that a fit drops and would power-scale the offsets too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy import special, stats

from ambidex_bayes.errors import ModelError
from ambidex_bayes.spec import PriorSpec

__all__ = [
    "prior_logpdf",
    "prior_variance",
    "lkj_logpdf",
    "correlation_terms",
    "log_prior_dataset",
    "add_log_prior",
    "contraction",
    "power_scaling",
    "VERDICTS",
    "PSENSE_THRESHOLD",
]

#: Sensitivity above which the prior or likelihood counts as influential (Kallioinen et al.).
PSENSE_THRESHOLD: float = 0.05

#: The verdicts :func:`power_scaling` gives, in words.
VERDICTS = {
    "conflict": "prior-data conflict",
    "weak": "weak likelihood",
    "fine": "fine",
}


def prior_logpdf(prior: PriorSpec, values: Any) -> np.ndarray:
    """Log density of a scalar prior at ``values`` (numpy broadcasting; -inf off support)."""
    x = np.asarray(values, dtype=float)
    p = prior.params
    dist = prior.dist
    if dist == "Normal":
        return stats.norm.logpdf(x, p["mu"], p["sigma"])
    if dist == "StudentT":
        return stats.t.logpdf(x, p["nu"], p["mu"], p["sigma"])
    if dist == "HalfNormal":
        return stats.halfnorm.logpdf(x, scale=p["sigma"])
    if dist == "HalfStudentT":
        out = math.log(2.0) + stats.t.logpdf(x, p["nu"], 0.0, p["sigma"])
        return np.where(x >= 0, out, -np.inf)
    if dist == "HalfCauchy":
        return stats.halfcauchy.logpdf(x, scale=p["beta"])
    if dist == "Exponential":
        return stats.expon.logpdf(x, scale=1.0 / p["lam"])
    if dist == "Gamma":
        return stats.gamma.logpdf(x, p["alpha"], scale=1.0 / p["beta"])
    raise ModelError(f"no scalar log density for a {dist} prior.")


def _half_t_mean(nu: float, sigma: float) -> float:
    log_ratio = special.gammaln((nu + 1) / 2) - special.gammaln(nu / 2)
    return 2.0 * sigma * math.sqrt(nu / math.pi) * math.exp(log_ratio) / (nu - 1)


def prior_variance(prior: PriorSpec, *, dimension: int = 2) -> float:
    r"""Exact variance of a prior (``inf`` where it does not exist).

    For ``LKJ`` it is the variance of one correlation of a ``dimension`` x ``dimension``
    correlation matrix, whose marginal is Beta(:math:`a, a`) on (-1, 1) with
    :math:`a = \eta - 1 + d/2`: :math:`1/(2a + 1)`. HalfStudentT(:math:`\nu, \sigma`) has
    :math:`E X^2 = \sigma^2 \nu/(\nu - 2)` and
    :math:`E X = 2\sigma\sqrt{\nu/\pi}\,\Gamma(\tfrac{\nu+1}{2}) / (\Gamma(\tfrac{\nu}{2})(\nu-1))`.
    """
    p = prior.params
    dist = prior.dist
    if dist == "Normal":
        return p["sigma"] ** 2
    if dist == "StudentT":
        nu = p["nu"]
        return p["sigma"] ** 2 * nu / (nu - 2) if nu > 2 else math.inf
    if dist == "HalfNormal":
        return p["sigma"] ** 2 * (1.0 - 2.0 / math.pi)
    if dist == "HalfStudentT":
        nu, sigma = p["nu"], p["sigma"]
        if nu <= 2:
            return math.inf
        return sigma**2 * nu / (nu - 2) - _half_t_mean(nu, sigma) ** 2
    if dist == "HalfCauchy":
        return math.inf
    if dist == "Exponential":
        return 1.0 / p["lam"] ** 2
    if dist == "Gamma":
        return p["alpha"] / p["beta"] ** 2
    if dist == "LKJ":
        a = p["eta"] - 1.0 + dimension / 2.0
        return 1.0 / (2.0 * a + 1.0)
    raise ModelError(f"no variance known for a {dist} prior.")


def lkj_logpdf(corr: np.ndarray, eta: float) -> np.ndarray:
    r"""LKJ log density of correlation matrices ``corr`` (shape ``(..., d, d)``).

    .. math::

        \log p(R) = (\eta - 1)\log\det R - \log c_d(\eta), \quad
        c_d(\eta) = \prod_{k=1}^{d-1} \left[2^{2\eta - 2 + d - k}\,
            B\!\left(\eta + \tfrac{d-k-1}{2}, \eta + \tfrac{d-k-1}{2}\right)\right]^{d-k}

    (Lewandowski, Kurowicka and Joe, 2009). For :math:`d = 2` this is the Beta(:math:`\eta,
    \eta`) density of the correlation on (-1, 1).
    """
    corr = np.asarray(corr, dtype=float)
    d = corr.shape[-1]
    sign, logdet = np.linalg.slogdet(corr)
    log_c = 0.0
    for k in range(1, d):
        b = eta + (d - k - 1) / 2.0
        log_c += (d - k) * ((2 * eta - 2 + d - k) * math.log(2.0) + special.betaln(b, b))
    out = (eta - 1.0) * logdet - log_c
    return np.where(sign > 0, out, -np.inf)


def correlation_terms(posterior: xr.Dataset, factor: str) -> tuple[list[str], dict]:
    """Person-effect terms of ``factor`` and the posterior variable of each correlation.

    Correlations are named ``corr(a|factor,b|factor)``. Returns the terms in order of first
    appearance and a dict ``(i, j) -> variable name``.
    """
    suffix = f"|{factor})"
    terms: list[str] = []
    pairs: dict[tuple[int, int], str] = {}
    for name in map(str, posterior.data_vars):
        if not (name.startswith("corr(") and name.endswith(suffix)):
            continue
        inner = name[len("corr(") : -1]
        first, sep, second = inner.partition(f"|{factor},")
        if not sep:
            continue
        a, b = f"{first}|{factor}", second
        for term in (a, b):
            if term not in terms:
                terms.append(term)
        pairs[(terms.index(a), terms.index(b))] = name
    return terms, pairs


def _corr_log_prior(posterior: xr.Dataset, name: str, prior: PriorSpec) -> xr.DataArray | None:
    factor = name[len("corr(") : -1]
    terms, pairs = correlation_terms(posterior, factor)
    if not pairs:
        return None
    d = len(terms)
    first = posterior[next(iter(pairs.values()))]
    shape = first.shape
    matrix = np.broadcast_to(np.eye(d), (*shape, d, d)).copy()
    for (i, j), var in pairs.items():
        values = posterior[var].transpose(*first.dims).values
        matrix[..., i, j] = values
        matrix[..., j, i] = values
    logp = lkj_logpdf(matrix, prior.params["eta"])
    return xr.DataArray(logp, dims=first.dims, coords=first.coords)


def log_prior_dataset(posterior: xr.Dataset, priors: Mapping[str, PriorSpec]) -> xr.Dataset:
    """Log prior density of each parameter at each posterior draw.

    Parameters
    ----------
    posterior : xarray.Dataset
        Draws with dims ``(chain, draw)`` named as the model names them.
    priors : mapping
        Rendered parameter name (``"Intercept"``, ``"1|person_sigma"``,
        ``"corr(person)"``, ``"sigma"``, ...) -> its prior with numbers (e.g. from
        :func:`ambidex_bayes.priors.compare.model_priors`).

    Returns
    -------
    xarray.Dataset
        One variable per prior (``corr(<factor>)`` for the LKJ density of that factor's
        correlation matrix), dims ``(chain, draw)``.
    """
    out: dict[str, xr.DataArray] = {}
    for name, prior in priors.items():
        if prior.dist == "LKJ":
            value = _corr_log_prior(posterior, name, prior)
            if value is not None:
                out[name] = value
            continue
        if name not in posterior.data_vars:
            raise ModelError(
                f"the posterior has no variable {name!r} to evaluate its prior at; "
                "pass the priors of this fit's model."
            )
        da = posterior[name]
        out[name] = xr.apply_ufunc(lambda v, pr=prior: prior_logpdf(pr, v), da)
    return xr.Dataset(out)


def add_log_prior(idata: xr.DataTree, priors: Mapping[str, PriorSpec]) -> xr.DataTree:
    """Return ``idata`` with a ``log_prior`` group from :func:`log_prior_dataset`."""
    tree = idata.copy()
    posterior = tree["posterior"].to_dataset()
    tree["log_prior"] = xr.DataTree(log_prior_dataset(posterior, priors))
    return tree


def _draws(posterior: xr.Dataset, name: str) -> np.ndarray:
    return np.asarray(posterior[name].values, dtype=float).reshape(-1)


def contraction(
    posterior: xr.Dataset,
    priors: Mapping[str, PriorSpec],
    *,
    names: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Prior-to-posterior contraction of each parameter (see the module notes).

    Returns
    -------
    pandas.DataFrame
        Columns ``parameter, prior, prior_sd, posterior_sd, contraction``; correlations get
        one row per pair, with the LKJ prior's marginal variance.
    """
    rows = []
    for name, prior in priors.items():
        if prior.dist == "LKJ":
            terms, pairs = correlation_terms(posterior, name[len("corr(") : -1])
            entries = [(var, prior_variance(prior, dimension=len(terms))) for var in pairs.values()]
        else:
            if name not in posterior.data_vars:
                continue
            entries = [(name, prior_variance(prior))]
        for var, prior_var in entries:
            if names is not None and var not in names:
                continue
            post_var = float(np.var(_draws(posterior, var), ddof=1))
            value = 1.0 if math.isinf(prior_var) else 1.0 - post_var / prior_var
            rows.append(
                {
                    "parameter": var,
                    "prior": str(prior),
                    "prior_sd": math.sqrt(prior_var),
                    "posterior_sd": math.sqrt(post_var),
                    "contraction": value,
                }
            )
    return pd.DataFrame(
        rows, columns=["parameter", "prior", "prior_sd", "posterior_sd", "contraction"]
    )


def _verdict(prior: float, likelihood: float, threshold: float) -> str:
    if prior >= threshold and likelihood >= threshold:
        return VERDICTS["conflict"]
    if prior >= threshold > likelihood:
        return VERDICTS["weak"]
    return VERDICTS["fine"]


def power_scaling(
    idata: xr.DataTree,
    *,
    var_names: Sequence[str] | None = None,
    threshold: float = PSENSE_THRESHOLD,
) -> pd.DataFrame:
    """Power-scaling sensitivity to prior and likelihood, with a verdict per parameter.

    Calls ``arviz_stats.psense`` once with ``group="prior"`` and once with
    ``group="likelihood"`` (the same computation as ``arviz_stats.psense_summary``, without
    its logged message) and classifies each parameter (see the module notes).

    Parameters
    ----------
    idata : xarray.DataTree
        With ``posterior``, ``log_likelihood`` and ``log_prior`` groups (see
        :func:`add_log_prior`).
    var_names : sequence of str, optional
        Parameters to assess (default: every variable of the ``log_prior`` group that is
        also in the posterior, plus the correlations).
    threshold : float
        Sensitivity above which prior or likelihood counts as influential.

    Returns
    -------
    pandas.DataFrame
        Columns ``parameter, prior_sensitivity, likelihood_sensitivity, verdict``.
    """
    import arviz_stats as azs

    for group in ("posterior", "log_likelihood", "log_prior"):
        if group not in idata.children:
            raise ModelError(
                f"power-scaling needs a {group!r} group; the fit has "
                f"{', '.join(sorted(idata.children))}. Add the log prior with add_log_prior()."
            )
    posterior = idata["posterior"].to_dataset()
    if var_names is None:
        names = [n for n in map(str, idata["log_prior"].to_dataset().data_vars)]
        var_names = [n for n in names if n in posterior.data_vars]
        var_names += [str(n) for n in posterior.data_vars if str(n).startswith("corr(")]
    var_names = list(dict.fromkeys(var_names))
    prior = azs.psense(idata, var_names=var_names, group="prior")
    likelihood = azs.psense(idata, var_names=var_names, group="likelihood")
    rows = []
    for name in var_names:
        p = float(prior[name])
        lik = float(likelihood[name])
        rows.append(
            {
                "parameter": name,
                "prior_sensitivity": p,
                "likelihood_sensitivity": lik,
                "verdict": _verdict(p, lik, threshold),
            }
        )
    table = pd.DataFrame(
        rows, columns=["parameter", "prior_sensitivity", "likelihood_sensitivity", "verdict"]
    )
    table.attrs["threshold"] = threshold
    return table
