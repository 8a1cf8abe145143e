"""Posterior summary of the moderation model's parameters, one row per parameter.

Every number here is computed from the posterior draws of one fit: means, medians, SDs and
equal-tailed credible intervals with numpy, the convergence diagnostics (rank-normalised
split R-hat, bulk and tail ESS) with ``arviz_stats``. Reading the posterior out of a fit and
describing a vector of draws are :mod:`ambidex_bayes.posterior`'s job. A model with several
level-1 predictors or moderators names the role of each one's terms (its slope, person-mean
effect, effect on the intercept, every cross-level interaction, the SD of its person slopes)
and lists every person-effect SD and correlation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from ambidex_bayes.posterior import (
    SAMPLE_DIMS,
    Fitted,
    describe_draws,
    elements,
    fitted_parts,
    get_variable,
    posterior_dataset,
    resolve_prob,
)
from ambidex_bayes.rank_diagnostics import convergence_arrays
from ambidex_bayes.terms import ModerationTerms

if TYPE_CHECKING:
    from ambidex_bayes.transforms import Transform

__all__ = ["posterior_summary", "parameter_roles", "summary_roles"]

#: Columns of :func:`posterior_summary`, in order.
SUMMARY_COLUMNS: tuple[str, ...] = (
    "parameter",
    "role",
    "mean",
    "sd",
    "median",
    "ci_lower",
    "ci_upper",
    "p_positive",
    "rhat",
    "ess_bulk",
    "ess_tail",
)


def parameter_roles(terms: ModerationTerms) -> dict[str, str]:
    """Map each posterior variable of the model to its role, in plain words.

    Parameters
    ----------
    terms : ModerationTerms
        Which posterior variable plays which role.

    Returns
    -------
    dict of str to str
        Variable name to role, in the order of the summary table: fixed effects
        (``terms.fixed``), SDs of the person effects, their correlation, the residual SD.
    """
    roles: dict[str, str] = {}
    named = (
        (terms.intercept, "intercept"),
        (terms.slope, "within-person slope"),
        (
            terms.between,
            "between-person effect of the person mean (minus the within slope: contextual)",
        ),
        (terms.moderator, "moderator effect on the intercept"),
        (terms.interaction, "cross-level interaction"),
    )
    for name, role in named:
        if name is not None:
            roles[name] = role
    for name in terms.moderator_terms:
        roles.setdefault(name, f"moderator effect on the intercept ({terms.w_column} contrast)")
    for name in terms.interaction_terms:
        roles.setdefault(name, f"cross-level interaction ({terms.w_column} contrast)")
    for name in terms.other_fixed:
        roles.setdefault(name, "other fixed effect")
    for name, role in (
        (terms.group_intercept_sd, "SD of person intercepts"),
        (terms.group_slope_sd, "SD of person slopes"),
        (terms.correlation, "correlation of person intercepts and slopes"),
        (terms.sigma, "residual SD"),
    ):
        if name is not None:
            roles[name] = role
    return roles


def _count(roles: Mapping[str, str], pattern: str) -> int:
    k = 0
    while pattern.format(k) in roles:
        k += 1
    return k


#: What a product of two created columns is, by the kinds of its factors (transform kinds).
_PRODUCT_ROLES = {
    ("within_centred", "within_centred"): "interaction of the within-person parts of {a} and {b}",
    ("person_mean", "grand_centred"): "moderation of the between-person effect of {a} by {b}",
    ("person_mean", "person_mean"): "interaction of the person means of {a} and {b}",
}


def _product_roles(roles: dict[str, str], transforms: Mapping[str, Transform]) -> dict[str, str]:
    """Roles of the products among the other fixed effects whose two factors are created
    columns: within x within (a level-1 interaction), person mean x moderator (the between
    effect moderated) and person mean x person mean."""
    out = {}
    for name, role in roles.items():
        parts = name.split(":")
        if role != "other fixed effect" or len(parts) != 2:
            continue
        found = [transforms.get(part) for part in parts]
        if any(t is None for t in found):
            continue
        for first, second in (found, found[::-1]):
            template = _PRODUCT_ROLES.get((first.kind, second.kind))
            if template is not None:
                out[name] = template.format(a=first.source, b=second.source)
                break
    return out


def _every_pair_roles(fit: Fitted, roles: dict[str, str], posterior: xr.Dataset) -> dict[str, str]:
    """``roles`` with the terms of every further predictor and moderator named, and every
    person-effect SD and correlation listed (before the residual SD).

    A model with one level-1 predictor and one numeric moderator keeps ``roles`` as they are.
    """
    prepared = fit.prepared
    fields = prepared.formula_fields()
    n_x, n_w = _count(fields, "x{}_within"), _count(fields, "w{}")
    factors = getattr(prepared, "factor_codings", None) or {}
    products = _product_roles(roles, prepared.transforms)
    if n_x <= 1 and n_w <= 1 and not any(fields[f"w{m}"] in factors for m in range(n_w)):
        return {name: products.get(name, role) for name, role in roles.items()}
    from ambidex_bayes.model.moderation_roles import terms_for

    def source(column: str) -> str:
        transform = prepared.transforms.get(column)
        return transform.source if transform is not None else column

    xs = [source(fields[f"x{k}_within"]) for k in range(n_x)]
    ws = [source(fields[f"w{m}"]) for m in range(n_w)] or [None]
    named: dict[str, str] = {}
    for x in xs:
        for w in ws:
            t = terms_for(fit, x, w)
            for name, role in (
                (t.slope, f"within-person slope of {x}"),
                (t.between, f"between-person effect of {x} (person mean)"),
                (t.moderator, f"effect of {w} on the intercept"),
                (t.interaction, f"cross-level interaction {x} × {w}"),
                (t.group_slope_sd, f"SD of person slopes of {x}"),
                (t.correlation, f"correlation of person intercepts and slopes of {x}"),
                *((n, f"effect of {w} on the intercept (contrast)") for n in t.moderator_terms),
                *(
                    (n, f"cross-level interaction {x} × {w} (contrast)")
                    for n in t.interaction_terms
                ),
            ):
                if name is not None:
                    named.setdefault(name, role)
    named.update(products)
    out = {
        name: (named.get(name, role) if role == "other fixed effect" else role)
        for name, role in roles.items()
    }
    residual = {k: v for k, v in out.items() if v == "residual SD"}
    out = {k: v for k, v in out.items() if k not in residual}
    for name in map(str, posterior.data_vars):
        if name in out:
            continue
        if name.endswith("_sigma") and "|" in name:
            out[name] = named.get(name, "SD of person effects")
        elif name.startswith("corr("):
            out[name] = named.get(name, "correlation of person effects")
    out.update(residual)
    return out


def summary_roles(fit: Fitted) -> dict[str, str]:
    """Every parameter the summary shows, with its role, in the summary's order.

    :func:`parameter_roles` of the fit's terms, with the terms of every further level-1
    predictor and moderator named by their pair and every person-effect SD and correlation
    listed (for a model with one predictor and one numeric moderator, the same).

    Parameters
    ----------
    fit : Fitted
        The fit.

    Returns
    -------
    dict of str to str
        Variable name to role.
    """
    idata, terms, _ = fitted_parts(fit, "summary_roles")
    return _every_pair_roles(fit, parameter_roles(terms), posterior_dataset(idata))


def _element_draws(da: xr.DataArray, selection: dict[str, int]) -> np.ndarray:
    """``da.isel(selection).values`` with numpy indexing (indexing a coordinate through
    xarray imports dask when it is installed, which the ``summary`` command avoids)."""
    key = tuple(selection.get(str(d), slice(None)) for d in da.dims)
    return np.asarray(da.values)[key]


def _diagnostic(values: np.ndarray, da: xr.DataArray, selection: dict[str, int]) -> float:
    """One element of a diagnostic array over ``da``'s non-sample dims (in ``da``'s order)."""
    others = [str(d) for d in da.dims if str(d) not in SAMPLE_DIMS]
    return float(values[tuple(selection[d] for d in others)])


def posterior_summary(fit: Fitted, *, prob: float | None = None) -> pd.DataFrame:
    r"""Summarise the posterior of every fixed effect, person-effect SD, correlation and sigma.

    For a parameter with posterior draws :math:`\theta^{(s)}`, :math:`s = 1..S` (all chains
    pooled), the table reports the mean, SD and median of the draws, the equal-tailed
    credible interval :math:`[q_{(1-p)/2}, q_{(1+p)/2}]` of width ``prob`` = :math:`p`, and
    for fixed effects the posterior probability that the effect is positive,
    :math:`P(\theta > 0) \approx \frac{1}{S}\sum_s [\theta^{(s)} > 0]`. Convergence is
    reported by the rank-normalised split R-hat and the bulk and tail effective sample
    sizes, computed by :mod:`ambidex_bayes.rank_diagnostics` (equal to ``arviz_stats.rhat``
    and ``arviz_stats.ess`` to the last bit, without importing arviz-stats and scipy.stats,
    which would take longer than the rest of the ``summary`` command).

    Values are on the scale the model was fitted on (the prepared, possibly standardised
    columns); :func:`ambidex_bayes.results.simple_slopes` reports slopes in original units.

    Parameters
    ----------
    fit : Fitted
        The fit (:class:`~ambidex_bayes.fit.FitResult`, or
        :class:`~ambidex_bayes.posterior.PosteriorDraws`): its posterior, with a
        ``posterior`` group of dims ``(chain, draw)``, and its terms (which posterior
        variable plays which role).
    prob : float, optional
        Width of the credible intervals, in (0, 1). Defaults to ``constants.CI_PROB``,
        read at call time.

    Returns
    -------
    pandas.DataFrame
        One row per parameter (a vector-valued fixed effect, e.g. a categorical control,
        gives one row per level, named ``"name[level]"``), with columns ``parameter, role,
        mean, sd, median, ci_lower, ci_upper, p_positive, rhat, ess_bulk, ess_tail``.
        ``p_positive`` is NaN for SDs, the correlation and sigma. ``attrs["ci_prob"]``
        holds the interval width.

    Raises
    ------
    ModelError
        If ``fit.terms`` names a variable the posterior does not have.
    AmbidexError
        If ``fit`` is not a fit (see :func:`ambidex_bayes.posterior.fitted_parts`).

    Examples
    --------
    ``m3`` is model M3 fitted to the example (``ab.fit(ab.load_spec("M3"), data)``):

    >>> table = ab.summary(m3)
    >>> list(table.columns)
    ['parameter', 'role', 'mean', 'sd', 'median', 'ci_lower', 'ci_upper', 'p_positive',
     'rhat', 'ess_bulk', 'ess_tail']
    >>> table.set_index("role").loc["cross-level interaction", "parameter"]
    'uncertainty_cw:leader_support_c'
    >>> ab.summary(m3, prob=0.9).attrs["ci_prob"]
    0.9
    """
    idata, terms, _ = fitted_parts(fit, "posterior_summary")
    prob = resolve_prob(prob)
    posterior = posterior_dataset(idata)
    fixed = set(terms.fixed)
    rows: list[dict[str, Any]] = []
    for name, role in _every_pair_roles(fit, parameter_roles(terms), posterior).items():
        da = get_variable(posterior, name, role)
        # constant draws give NaN here (0/0); the convergence report says so in words
        with np.errstate(invalid="ignore", divide="ignore"):
            rhat, ess_bulk, ess_tail = convergence_arrays(da)
        for label, selection in elements(da):
            values = _element_draws(da, selection).reshape(-1)
            row: dict[str, Any] = {"parameter": label, "role": role}
            row.update(describe_draws(values, prob))
            row["p_positive"] = float(np.mean(values > 0)) if name in fixed else math.nan
            row["rhat"] = _diagnostic(rhat, da, selection)
            row["ess_bulk"] = _diagnostic(ess_bulk, da, selection)
            row["ess_tail"] = _diagnostic(ess_tail, da, selection)
            rows.append(row)
    table = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    table.attrs["ci_prob"] = prob
    return table
