r"""Explained variance: Bayesian R², a between/within variance decomposition, and the share of
random-slope variance the moderator explains.

Bayesian R² (Gelman, Goodrich, Gabry & Vehtari 2019)
----------------------------------------------------
Per posterior draw :math:`s`, with :math:`\mu^{(s)}_i` the model's mean for row :math:`i`
and :math:`V_i` the sample variance over rows (``ddof=1``, as ``arviz_stats.bayesian_r2``),

.. math::

    R^{2(s)} = \frac{V_i\,\mu^{(s)}_i}{V_i\,\mu^{(s)}_i + \mathrm{var}^{(s)}_{\mathrm{res}}},

a posterior distribution of the share of the outcome's variance that the predictor
explains, always in [0, 1]. Two versions (Nakagawa & Schielzeth 2013 in Bayesian form):

- **conditional**: :math:`\mu` includes the person effects,
  :math:`\mathrm{var}_{\mathrm{res}} = \sigma^2` -- what fixed effects *and* the
  persons' own intercepts and slopes explain;
- **marginal**: :math:`\mu` is the fixed part :math:`x_i'\beta` only, and the person effects
  count as unexplained:
  :math:`\mathrm{var}_{\mathrm{res}} = \sigma^2 + \overline{z_i'\Sigma z_i}`, with
  :math:`\overline{z_i'\Sigma z_i} = \tau_0^2 + 2\rho\tau_0\tau_1\overline{x} +
  \tau_1^2\overline{x^2}` the model's person-effect variance averaged over the observed
  rows (:math:`x` the within-person centred predictor). With a random slope this variance
  depends on the predictor's values (pitfall 9), so the marginal R² is conditional on the
  observed spread of daily deviations.

For the Student-t family the residual variance is :math:`\sigma^2\nu/(\nu-2)`, undefined
(NaN draws, reported) when :math:`\nu \le 2`.

Variance decomposition
----------------------
Per draw, on the outcome's original scale, the model's variance splits into parts that
vary between persons and parts that vary within persons (variances over rows, ``ddof=0``,
so that the fixed parts add up exactly):

- *fixed, between*: variance of the person means of :math:`x_i'\beta` (intercept,
  moderator, person means of predictors);
- *fixed, within*: variance of :math:`x_i'\beta` minus its person mean (within-person
  slope and the cross-level interaction);
- *person intercepts* (between): :math:`\tau_0^2`;
- *person slopes* (within): :math:`\tau_1^2\,\overline{x^2}` (the slope multiplies a
  within-person centred predictor, whose person means are 0; so does the intercept-slope
  covariance, which therefore adds nothing);
- *residual* (within): :math:`\sigma^2`.

Each is reported with its share of the total; the between-person share is the conditional
analogue of the ICC for a model with predictors.

Slope variance explained by the moderator
-----------------------------------------
The share of the random-slope variance of a model without the cross-level interaction
(M2) that the moderator explains in a model with it (M3),
:math:`1 - \tau_1^2(M3)/\tau_1^2(M2)` (the level-2 "pseudo R²" of Raudenbush & Bryk).
The two posteriors are independent, so its posterior is taken over randomly paired
draws; it can be negative when M3's slope SD is not smaller.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr

from ambidex_bayes import constants
from ambidex_bayes.checks.indexed_predictor import (
    CHUNK_NUMBERS,
    predictor_chunks,
    predictor_design,
)
from ambidex_bayes.checks.latent_predictor import (
    is_latent,
    latent_design,
    latent_person_parameters,
    latent_within_moments,
)
from ambidex_bayes.checks.person_groups import PersonGroups
from ambidex_bayes.checks.predictive import MAX_DRAWS, outcome_transform, thinning_step
from ambidex_bayes.errors import AmbidexError, ModelError
from ambidex_bayes.posterior import (
    describe_draws,
    get_scalar,
    posterior_dataset,
    resolve_prob,
)

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from ambidex_bayes.fit import FitResult

__all__ = [
    "r2_draws",
    "r2_from_variance",
    "predictor_variance",
    "residual_variance",
    "person_effect_variance",
    "explained_variance",
    "r2_table",
    "variance_decomposition",
    "slope_variance_explained",
    "slope_models",
]


def r2_draws(mu: np.ndarray, residual_var: np.ndarray) -> np.ndarray:
    r"""Bayesian R² per draw: :math:`V(\mu)/(V(\mu) + \mathrm{var}_{res})`.

    Parameters
    ----------
    mu : array, shape ``(draws, rows)``
        Predicted means.
    residual_var : array, shape ``(draws,)``
        Residual variance per draw (NaN allowed: gives NaN).

    Returns
    -------
    numpy.ndarray, shape ``(draws,)``

    Notes
    -----
    Computed by ``arviz_stats.bayesian_r2(..., scale_kind="var")``.
    """
    import arviz_stats as azs

    mu = np.asarray(mu, dtype=float)
    res = np.asarray(residual_var, dtype=float)
    if mu.ndim != 2 or res.shape != (mu.shape[0],):
        raise AmbidexError(
            f"r2_draws needs mu of shape (draws, rows) and residual_var of shape (draws,); "
            f"got {mu.shape} and {res.shape}."
        )
    if np.any(res[np.isfinite(res)] < 0):
        raise AmbidexError("residual_var must be non-negative.")
    tree = xr.DataTree.from_dict(
        {
            "posterior": xr.Dataset(
                {
                    "mu": (("chain", "draw", "obs"), mu[None]),
                    "res_var": (("chain", "draw"), res[None]),
                }
            )
        }
    )
    out = azs.bayesian_r2(tree, pred_mean="mu", scale="res_var", scale_kind="var", summary=False)
    return np.asarray(out, dtype=float).reshape(-1)


def r2_from_variance(mu_variance: np.ndarray, residual_var: np.ndarray) -> np.ndarray:
    r"""Bayesian R² per draw from the variance of the predicted means over rows:
    :math:`V/(V + \mathrm{var}_{res})`, as :func:`r2_draws` (NaN residual variance gives NaN).

    Parameters
    ----------
    mu_variance : array, shape ``(draws,)``
        :math:`V_i\,\mu^{(s)}_i` (``ddof=1``) per draw.
    residual_var : array, shape ``(draws,)``
    """
    var = np.asarray(mu_variance, dtype=float)
    res = np.asarray(residual_var, dtype=float)
    if var.shape != res.shape:
        raise AmbidexError(
            f"r2_from_variance needs arrays of one shape; got {var.shape} and {res.shape}."
        )
    if np.any(res[np.isfinite(res)] < 0):
        raise AmbidexError("residual_var must be non-negative.")
    return var / (var + res)


def predictor_variance(fit: FitResult, posterior: xr.Dataset, group_specific: bool) -> np.ndarray:
    r"""Variance over the fitted rows (``ddof=1``) of the linear predictor, per draw.

    Computed over blocks of draws
    (:func:`~ambidex_bayes.checks.indexed_predictor.predictor_chunks`), so that no draws x
    rows array is held.

    Returns
    -------
    numpy.ndarray, shape ``(chain * draw,)``
    """
    design = predictor_design(fit, posterior, group_specific=group_specific)
    out = np.empty(posterior.sizes["chain"] * posterior.sizes["draw"])
    for block, mu in predictor_chunks(design, posterior, name=fit.spec.name):
        out[block] = np.var(mu, axis=1, ddof=1)
    return out


def residual_variance(fit: FitResult, posterior: xr.Dataset) -> np.ndarray:
    r"""Residual variance per draw on the modelled scale, shape ``(chain, draw)``.

    :math:`\sigma^2` (Gaussian) or :math:`\sigma^2\nu/(\nu-2)` (Student-t; NaN if
    :math:`\nu \le 2`).
    """
    sigma = get_scalar(posterior, fit.terms.sigma, "residual SD").values
    if fit.spec.family == "gaussian":
        return sigma**2
    if fit.spec.family == "t":
        nu = get_scalar(posterior, "nu", "degrees of freedom").values
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(nu > 2, sigma**2 * nu / (nu - 2), np.nan)
    raise ModelError(f"{fit.spec.name}: no residual variance for family {fit.spec.family!r}.")


def _slope_column(fit: FitResult) -> np.ndarray | None:
    terms = fit.terms
    if terms.group_slope is None:
        return None
    column = terms.x_column
    if column is None or column not in fit.prepared.frame.columns:
        raise ModelError(
            f"{fit.spec.name}: the person slopes belong to column {column!r}, which the "
            "prepared data lack."
        )
    return fit.prepared.frame[column].to_numpy(dtype=float)


def _check_person_terms(fit: FitResult, posterior: xr.Dataset) -> None:
    """Refuse person effects other than the intercept and the level-1 slope."""
    known = {fit.terms.group_intercept, fit.terms.group_slope} | latent_person_parameters(fit)
    other = [
        str(v)
        for v in posterior.data_vars
        if fit.terms.person_dim in posterior[v].dims and str(v) not in known
    ]
    if other:
        raise ModelError(
            f"{fit.spec.name}: person effects {other} are not handled here; only a person "
            "intercept and a person slope of the level-1 predictor are."
        )


def _slope_moments(
    fit: FitResult, posterior: xr.Dataset
) -> tuple[float | np.ndarray, float | np.ndarray] | None:
    r"""Mean over the rows of the person slopes' predictor and of its square (None without
    person slopes).

    Constants for an observed fit (the within-person centred column); per draw, shape
    ``(chain, draw)``, for a latent-centred fit, whose predictor :math:`x - \mu_j` moves
    with the draws of the latent person means
    (:func:`~ambidex_bayes.checks.latent_predictor.latent_within_moments`).
    """
    if not is_latent(fit):
        x = _slope_column(fit)
        return None if x is None else (float(np.mean(x)), float(np.mean(x**2)))
    if fit.terms.group_slope is None:
        return None
    design = latent_design(fit, posterior, group_specific=False)
    mean, square = latent_within_moments(design, posterior, name=fit.spec.name)
    shape = (posterior.sizes["chain"], posterior.sizes["draw"])
    return mean.reshape(shape), square.reshape(shape)


def person_effect_variance(fit: FitResult, posterior: xr.Dataset) -> np.ndarray:
    r"""The model's person-effect variance averaged over rows, shape ``(chain, draw)``.

    :math:`\tau_0^2 + 2\rho\tau_0\tau_1\overline{x} + \tau_1^2\overline{x^2}` on the
    modelled scale (0 for a model without person effects); for a latent-centred fit
    :math:`x` is the within part :math:`x - \mu_j` of each draw.
    """
    terms = fit.terms
    _check_person_terms(fit, posterior)
    shape = (posterior.sizes["chain"], posterior.sizes["draw"])
    total = np.zeros(shape)
    tau0 = None
    if terms.group_intercept_sd is not None:
        tau0 = get_scalar(posterior, terms.group_intercept_sd, "SD of person intercepts").values
        total = total + tau0**2
    moments = _slope_moments(fit, posterior)
    if moments is not None:
        mean_x, mean_x2 = moments
        tau1 = get_scalar(posterior, terms.group_slope_sd, "SD of person slopes").values
        total = total + tau1**2 * mean_x2
        if terms.correlation is not None and tau0 is not None:
            rho = get_scalar(posterior, terms.correlation, "intercept-slope correlation").values
            total = total + 2 * rho * tau0 * tau1 * mean_x
    return total


def _thinned(fit: FitResult, max_draws: int | None) -> xr.Dataset:
    post = posterior_dataset(fit.idata)
    step = thinning_step(post, MAX_DRAWS if max_draws is None else max_draws)
    return post.isel(draw=slice(None, None, step))


def _flat(values: ArrayLike) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    return arr.reshape(arr.shape[0] * arr.shape[1], *arr.shape[2:])


def _summary_row(values: np.ndarray, prob: float) -> dict[str, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return {
            "mean": np.nan,
            "sd": np.nan,
            "median": np.nan,
            "ci_lower": np.nan,
            "ci_upper": np.nan,
        }
    return describe_draws(finite, prob)


def explained_variance(
    fit: FitResult, *, prob: float | None = None, max_draws: int | None = None
) -> pd.DataFrame:
    """Marginal and conditional Bayesian R² of one fit.

    Parameters
    ----------
    fit : FitResult
        A fresh or loaded fit.
    prob : float, optional
        Probability of the credible interval (default ``constants.CI_PROB``).
    max_draws : int, optional
        Use at most this many posterior draws, evenly thinned within each chain (default
        :data:`MAX_DRAWS`).

    Returns
    -------
    pandas.DataFrame
        Rows ``marginal`` and ``conditional``; columns ``model, r2, mean, sd, median,
        ci_lower, ci_upper, undefined_draws`` (draws where the residual variance is not
        finite, Student-t with nu <= 2).

    Examples
    --------
    >>> table = ab.r2(m3)
    >>> list(table.columns)
    ['model', 'r2', 'mean', 'sd', 'median', 'ci_lower', 'ci_upper', 'undefined_draws']
    >>> table[["model", "r2"]].values.tolist()
    [['M3', 'marginal'], ['M3', 'conditional']]
    >>> bool((table["mean"] > 0).all() and (table["mean"] < 1).all())
    True
    """
    prob = resolve_prob(prob)
    post = _thinned(fit, max_draws)
    res = residual_variance(fit, post)
    u_var = person_effect_variance(fit, post)
    rows = []
    for kind, group_specific, res_var in (
        ("marginal", False, res + u_var),
        ("conditional", True, res),
    ):
        draws = r2_from_variance(predictor_variance(fit, post, group_specific), _flat(res_var))
        rows.append(
            {
                "model": fit.spec.name,
                "r2": kind,
                **_summary_row(draws, prob),
                "undefined_draws": int(np.sum(~np.isfinite(draws))),
            }
        )
    table = pd.DataFrame(rows)
    table.attrs["ci_prob"] = prob
    return table


def r2_table(
    fits: Mapping[str, FitResult], *, prob: float | None = None, max_draws: int | None = None
) -> pd.DataFrame:
    """:func:`explained_variance` of several fits, one block of rows per model."""
    if not fits:
        raise AmbidexError("r2_table needs at least one fit.")
    frames = [explained_variance(f, prob=prob, max_draws=max_draws) for f in fits.values()]
    for name, frame in zip(fits, frames, strict=True):
        frame["model"] = name
    table = pd.concat(frames, ignore_index=True)
    table.attrs["ci_prob"] = resolve_prob(prob)
    return table


#: Components of :func:`variance_decomposition` and the level each varies at.
COMPONENTS: dict[str, str] = {
    "fixed_between": "between",
    "fixed_within": "within",
    "person_intercepts": "between",
    "person_slopes": "within",
    "residual": "within",
}


def variance_decomposition(
    fit: FitResult, *, prob: float | None = None, max_draws: int | None = None
) -> pd.DataFrame:
    """Split the model's variance into between- and within-person parts (original scale).

    Returns
    -------
    pandas.DataFrame
        One row per component of :data:`COMPONENTS`, then ``between`` and ``within`` sums
        and ``total``: ``component, level, mean, ci_lower, ci_upper, share_mean,
        share_lower, share_upper``. Variances are in squared outcome units.
    """
    prob = resolve_prob(prob)
    post = _thinned(fit, max_draws)
    _, scale = outcome_transform(fit)
    terms = fit.terms
    groups = PersonGroups.from_ids(fit.prepared.frame[fit.prepared.mapping.person].astype(str))
    n_rows = len(fit.prepared.frame)
    codes = np.empty(n_rows, dtype=int)
    codes[groups.order] = np.repeat(np.arange(len(groups.counts)), groups.counts)
    n_draws = post.sizes["chain"] * post.sizes["draw"]
    fixed_between, fixed_within = np.empty(n_draws), np.empty(n_draws)
    design = predictor_design(fit, post, group_specific=False)
    # Blocks of draws: a few arrays of the block's size, never draws x rows.
    for block, mu_f in predictor_chunks(design, post, name=fit.spec.name, numbers=CHUNK_NUMBERS):
        between_part = groups.means(mu_f)[:, codes]
        fixed_between[block] = np.var(between_part, axis=1)
        fixed_within[block] = np.var(mu_f - between_part, axis=1)
    parts: dict[str, np.ndarray] = {
        "fixed_between": fixed_between,
        "fixed_within": fixed_within,
    }
    _check_person_terms(fit, post)
    zeros = np.zeros(n_draws)
    parts["person_intercepts"] = (
        _flat(get_scalar(post, terms.group_intercept_sd, "SD of person intercepts").values) ** 2
        if terms.group_intercept_sd is not None
        else zeros
    )
    moments = _slope_moments(fit, post)
    parts["person_slopes"] = (
        _flat(get_scalar(post, terms.group_slope_sd, "SD of person slopes").values) ** 2
        * np.reshape(moments[1], -1)
        if moments is not None
        else zeros
    )
    parts["residual"] = _flat(residual_variance(fit, post))
    parts = {k: v * scale**2 for k, v in parts.items()}
    parts["between"] = sum(v for k, v in parts.items() if COMPONENTS.get(k) == "between")
    parts["within"] = sum(v for k, v in parts.items() if COMPONENTS.get(k) == "within")
    parts["total"] = parts["between"] + parts["within"]
    rows = []
    for name, values in parts.items():
        summary = _summary_row(values, prob)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = values / parts["total"]
        share_summary = _summary_row(share, prob)
        rows.append(
            {
                "component": name,
                "level": COMPONENTS.get(name, name if name != "total" else "both"),
                "mean": summary["mean"],
                "ci_lower": summary["ci_lower"],
                "ci_upper": summary["ci_upper"],
                "share_mean": share_summary["mean"],
                "share_lower": share_summary["ci_lower"],
                "share_upper": share_summary["ci_upper"],
            }
        )
    table = pd.DataFrame(rows)
    table.attrs.update(ci_prob=prob, model=fit.spec.name)
    return table


def slope_models(fits: Mapping[str, FitResult]) -> tuple[str, str] | None:
    """Names of (model with a random slope but no interaction, model with both), if present.

    The last fit of each kind in the mapping's order is taken.
    """
    without = [
        n
        for n, f in fits.items()
        if f.terms.group_slope_sd is not None and f.terms.interaction is None
    ]
    with_ = [
        n
        for n, f in fits.items()
        if f.terms.group_slope_sd is not None and f.terms.interaction is not None
    ]
    if not without or not with_:
        return None
    return without[-1], with_[-1]


def slope_variance_explained(
    without: FitResult,
    with_interaction: FitResult,
    *,
    prob: float | None = None,
    seed: int | None = None,
) -> pd.DataFrame:
    r"""Share of the random-slope variance explained by the moderator:
    :math:`1 - \tau_1^2(\text{with})/\tau_1^2(\text{without})`.

    Parameters
    ----------
    without : FitResult
        Model with a random slope and no cross-level interaction (M2).
    with_interaction : FitResult
        The same model plus the interaction (M3), on the same data.
    prob : float, optional
    seed : int, optional
        Seed of the random pairing of the two posteriors' draws.

    Returns
    -------
    pandas.DataFrame
        One row: ``without, with, tau1_sq_without, tau1_sq_with, ratio_of_means`` (one minus
        the ratio of the posterior means of the two variances), and ``mean, median,
        ci_lower, ci_upper, p_positive`` over paired draws.
    """
    prob = resolve_prob(prob)
    for f, role in ((without, "without"), (with_interaction, "with_interaction")):
        if f.terms.group_slope_sd is None:
            raise ModelError(f"{f.spec.name} ({role}) has no random slope; its SD is needed.")
    if with_interaction.terms.interaction is None:
        raise ModelError(
            f"{with_interaction.spec.name} has no cross-level interaction; pass the model "
            "with the interaction as with_interaction."
        )
    if without.meta.get("data_hash") != with_interaction.meta.get("data_hash"):
        raise ModelError(
            f"{without.spec.name} and {with_interaction.spec.name} were fitted on different "
            "data (their data hashes differ); the share is defined for one data set."
        )

    def tau1_sq(f: FitResult) -> np.ndarray:
        post = posterior_dataset(f.idata)
        return _flat(get_scalar(post, f.terms.group_slope_sd, "SD of person slopes").values) ** 2

    a, b = tau1_sq(without), tau1_sq(with_interaction)
    rng = np.random.default_rng(constants.SEED if seed is None else seed)
    n = min(a.size, b.size)
    paired = 1.0 - rng.permutation(b)[:n] / rng.permutation(a)[:n]
    summary = describe_draws(paired, prob)
    row = {
        "without": without.spec.name,
        "with": with_interaction.spec.name,
        "tau1_sq_without": float(a.mean()),
        "tau1_sq_with": float(b.mean()),
        "ratio_of_means": 1.0 - float(b.mean()) / float(a.mean()),
        "mean": summary["mean"],
        "median": summary["median"],
        "ci_lower": summary["ci_lower"],
        "ci_upper": summary["ci_upper"],
        "p_positive": float(np.mean(paired > 0)),
    }
    table = pd.DataFrame([row])
    table.attrs["ci_prob"] = prob
    return table
