r"""Model comparison: PSIS-LOO with a remedy for high Pareto k, leave-persons-out K-fold
cross-validation, ELPD differences and stacking weights.

Which unit is left out?
-----------------------
Observation-level LOO scores :math:`\log p(y_{ij} \mid y_{-ij})`: how well the model predicts
*another day of a person it already knows* -- the person's own intercept and slope are
estimated from their other diaries. Leaving out *persons* scores
:math:`\log p(y_j \mid y_{-j})` for all diaries of a person at once, with the person's
effects drawn new from the population distribution: how well the model predicts *a new
person*. The two answer different questions and are not on the same scale (one term per
row against one per person), so they are never mixed in one comparison. A random slope,
for instance, mostly helps predict known persons; the moderator's cross-level
interaction also helps predict new ones.

PSIS-LOO and the remedy for high Pareto k
-----------------------------------------
:func:`psis_loo` calls ``arviz_stats.loo`` on the fit's pointwise log-likelihood. A Pareto
:math:`\hat k` above :math:`\min(0.7, 1 - 1/\log_{10} S)` (:math:`S` draws) means the
importance weights for that row are unreliable -- common in diary models, where each
person's effects rest on a handful of rows, so leaving one out moves them a lot.

The remedy used here needs no refit for the Gaussian family: **integrated importance
sampling**. The weights :math:`p(\theta \mid y_{-i}) / p(\theta \mid y)
\propto 1/p(y_i \mid y_{-i}, \theta)` are computed with the person's effects integrated out
analytically, so that :math:`\theta = (\beta, \Sigma, \sigma)` holds only population
parameters, which one row barely moves. For person :math:`j` with rows
:math:`y_j`, mean :math:`m_j = X_j\beta`, :math:`V_j = \sigma^2 I + Z_j\Sigma Z_j'` and
:math:`Q = V_j^{-1}`, :math:`r = y_j - m_j`,

.. math::

    \log p(y_i \mid y_{j,-i}, \theta) = -\tfrac12\log 2\pi + \tfrac12\log Q_{ii}
        - \tfrac12 (Qr)_i^2 / Q_{ii}

(other persons' rows are independent of :math:`y_i` given :math:`\theta`). PSIS is then
applied to these values; the target :math:`\log p(y_i \mid y_{-i})` is the same as
plain PSIS-LOO's, only the estimator is better, so the remedied rows stay comparable with
the others. Rows whose :math:`\hat k` stays high -- and every high-:math:`\hat k` row of a
Student-t model, where no closed form exists -- are then computed **exactly by refitting**
the model without the row (at most ``max_refits`` refits; beyond that they are left as
they are and reported). Moment matching (``arviz_stats.loo_moment_match``) is not used:
it needs the unconstrained draws of every parameter, including the internal offsets and
Cholesky factors that a saved fit does not keep.

Leave-persons-out K-fold
------------------------
:func:`kfold_by_person` splits the persons into :math:`K` folds, refits the model :math:`K`
times without one fold's persons (re-preparing the training data, so that centring uses
only the training persons, and transforming the held-out persons' rows with the training
centres), and scores each held-out person by

.. math::

    \log p(y_j \mid y_{-j}) \approx \log \frac1S \sum_s \int \prod_i
        p(y_{ij} \mid \beta^{(s)}, u, \sigma^{(s)})\, N(u \mid 0, \Sigma^{(s)})\, du .

For the Gaussian family the integral is exact, :math:`N(y_j \mid X_j\beta, V_j)`; for the
Student-t family it is a Monte Carlo average over :math:`M` new person effects
:math:`u^{(m)} \sim N(0, \Sigma^{(s)})` per draw. Scores are on the outcome's original
scale (a standardised outcome's log density gets :math:`-n_j\log s_y`), so that folds with
their own standardisation agree. ``arviz_stats.loo_kfold(group_by=...)`` is not used
because it scores each row separately (one person effect per row, not one per person) and
refits one fold at a time; here folds can run in parallel processes (``n_jobs``).

Comparison
----------
:func:`compare_models` hands the pointwise ELPDs to ``arviz_stats.compare``: ELPD
differences to the best model with their standard errors, and stacking weights.
"""

from __future__ import annotations

import dataclasses
import math
import multiprocessing
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy import special, stats

from ambidex_bayes import constants
from ambidex_bayes.checks.ppc import (
    MAX_DRAWS,
    _draw_step,
    linear_predictor,
    outcome_transform,
)
from ambidex_bayes.engine.limits import check_seed
from ambidex_bayes.errors import AmbidexError, ModelError
from ambidex_bayes.posterior import SAMPLE_DIMS, get_scalar, posterior_dataset

__all__ = [
    "LooResult",
    "KFoldResult",
    "Comparison",
    "REMEDIES",
    "MAX_REFITS",
    "KFOLD_FOLDS",
    "MC_DRAWS",
    "merged_settings",
    "psis_loo",
    "integrated_log_likelihood",
    "new_person_log_density",
    "person_folds",
    "fold_tasks",
    "kfold_by_person",
    "compare_models",
    "loo_table",
    "compare_fits",
]

#: Remedies for rows with high Pareto k: "auto" (integrated for Gaussian, then exact refits),
#: "integrated", "refit", "none".
REMEDIES: tuple[str, ...] = ("auto", "integrated", "refit", "none")

#: Most exact refits :func:`psis_loo` makes for rows whose Pareto k stays high.
MAX_REFITS: int = 10

#: Default number of person folds in :func:`kfold_by_person`.
KFOLD_FOLDS: int = 10

#: New person effects per posterior draw in the Monte Carlo integral (Student-t family).
MC_DRAWS: int = 200

_PARETO_WARNING = "Estimated shape parameter of Pareto distribution"


# ------------------------------------------------------------------ results
@dataclass(frozen=True, eq=False)
class LooResult:
    """PSIS-LOO of one fit, after the remedy for high Pareto k.

    Attributes
    ----------
    model : str
    elpd : arviz_stats ELPDDataLOO
        Pointwise result (``elpd_i``, ``pareto_k``) with the remedied rows replaced.
    pareto_k_before, pareto_k_after : numpy.ndarray
        Pareto k per row before and after the remedy (NaN after an exact refit).
    threshold : float
        Pareto k above which a row counts as unreliable.
    remedy : str
        What was done: ``"not needed"``, ``"integrated"``, ``"refit"``,
        ``"integrated + refit"`` or ``"none"``.
    remedied_rows, unresolved_rows : tuple of int
        Rows (0-based, in the fitted data) remedied, and rows still above the threshold.
    notes : tuple of str
        What happened, in plain words.
    """

    model: str
    elpd: Any
    pareto_k_before: np.ndarray
    pareto_k_after: np.ndarray
    threshold: float
    remedy: str
    remedied_rows: tuple[int, ...]
    unresolved_rows: tuple[int, ...]
    notes: tuple[str, ...]

    def summary(self) -> dict[str, Any]:
        """One row of :func:`loo_table`."""
        before = self.pareto_k_before
        return {
            "model": self.model,
            "elpd_loo": float(self.elpd.elpd),
            "se": float(self.elpd.se),
            "p_loo": float(self.elpd.p),
            "n_rows": int(before.size),
            "max_k": float(np.nanmax(before)),
            "n_high_k": int(np.sum(before > self.threshold)),
            "remedy": self.remedy,
            "n_remedied": len(self.remedied_rows),
            "n_high_k_after": len(self.unresolved_rows),
            "k_threshold": self.threshold,
        }


@dataclass(frozen=True, eq=False)
class KFoldResult:
    """Leave-persons-out K-fold cross-validation of one model.

    Attributes
    ----------
    model : str
    elpd : arviz_stats ELPDDataLOOKFold
        Pointwise over persons (dimension ``"person"``), on the original outcome scale.
    persons : pandas.DataFrame
        ``person, fold, n_rows, elpd, lpd_in_sample, p`` per person.
    method : str
        ``"exact"`` or ``"monte_carlo"`` integration over new person effects.
    notes : tuple of str
    """

    model: str
    elpd: Any
    persons: pd.DataFrame
    method: str
    notes: tuple[str, ...]

    def summary(self) -> dict[str, Any]:
        """One row of a K-fold table."""
        return {
            "model": self.model,
            "elpd_kfold": float(self.elpd.elpd),
            "se": float(self.elpd.se),
            "p_kfold": float(self.elpd.p),
            "n_persons": int(self.elpd.n_data_points),
            "n_folds": int(self.elpd.n_folds),
            "method": self.method,
        }


@dataclass(frozen=True, eq=False)
class Comparison:
    """Everything :func:`compare_fits` computed.

    Attributes
    ----------
    loo : dict of str to LooResult
    loo_table : DataFrame
        PSIS-LOO per model with its Pareto k diagnostics (:func:`loo_table`).
    loo_compare : DataFrame
        ELPD differences and stacking weights from PSIS-LOO (:func:`compare_models`).
    kfold : dict of str to KFoldResult or None
    kfold_compare : DataFrame or None
    notes : tuple of str
    """

    loo: dict[str, LooResult]
    loo_table: pd.DataFrame
    loo_compare: pd.DataFrame
    kfold: dict[str, KFoldResult] | None = None
    kfold_compare: pd.DataFrame | None = None
    notes: tuple[str, ...] = ()


# ------------------------------------------------------------------ helpers
def _log_likelihood(fit: Any) -> xr.DataArray:
    if "log_likelihood" not in fit.idata.children:
        raise ModelError(
            f"{fit.spec.name}: the fit has no log_likelihood group, which LOO needs; refit it "
            "with ambidex_bayes.fit.fit (it stores the pointwise log-likelihood)."
        )
    ds = fit.idata["log_likelihood"].to_dataset()
    if len(ds.data_vars) != 1:
        raise ModelError(
            f"{fit.spec.name}: expected one observed variable in log_likelihood, got "
            f"{list(ds.data_vars)}."
        )
    return ds[next(iter(ds.data_vars))].transpose(*SAMPLE_DIMS, "__obs__")


def _logmeanexp(values: np.ndarray, axis: int = 0) -> np.ndarray:
    n = values.shape[axis]
    return special.logsumexp(values, axis=axis) - math.log(n)


def _loo(tree: xr.DataTree) -> Any:
    import arviz_stats as azs

    with warnings.catch_warnings():
        # High Pareto k is reported by psis_loo in its own words, with what was done.
        warnings.filterwarnings("ignore", message=_PARETO_WARNING, category=UserWarning)
        # Said when the pointwise values sum to the total, i.e. for a single observation
        # (the remedy of one high-k row); the log-likelihood here is always pointwise.
        warnings.filterwarnings(
            "ignore", message="The point-wise LOO is the same", category=UserWarning
        )
        return azs.loo(tree, pointwise=True)


def _person_covariance(fit: Any, posterior: xr.Dataset) -> tuple[np.ndarray, list[str]]:
    """Covariance matrix of the person effects per draw, ``(draws, q, q)``, and the effects."""
    terms = fit.terms
    known = {terms.group_intercept, terms.group_slope}
    other = [
        str(v)
        for v in posterior.data_vars
        if terms.person_dim in posterior[v].dims and str(v) not in known
    ]
    if other:
        raise ModelError(
            f"{fit.spec.name}: person effects {other} are not handled here; only a person "
            "intercept and a person slope of the level-1 predictor are."
        )
    sds, names = [], []
    if terms.group_intercept_sd is not None:
        sds.append(get_scalar(posterior, terms.group_intercept_sd, "SD of person intercepts"))
        names.append("intercept")
    if terms.group_slope_sd is not None:
        sds.append(get_scalar(posterior, terms.group_slope_sd, "SD of person slopes"))
        names.append("slope")
    n = posterior.sizes["chain"] * posterior.sizes["draw"]
    q = len(sds)
    cov = np.zeros((n, q, q))
    flat = [np.asarray(s.values, dtype=float).reshape(-1) for s in sds]
    for a in range(q):
        cov[:, a, a] = flat[a] ** 2
    if q == 2 and terms.correlation is not None:
        rho = np.asarray(
            get_scalar(posterior, terms.correlation, "intercept-slope correlation").values
        ).reshape(-1)
        cov[:, 0, 1] = cov[:, 1, 0] = rho * flat[0] * flat[1]
    return cov, names


def _design_z(fit: Any, rows: pd.DataFrame, names: Sequence[str]) -> np.ndarray:
    cols = []
    for name in names:
        if name == "intercept":
            cols.append(np.ones(len(rows)))
        else:
            column = fit.terms.x_column
            if column not in rows.columns:
                raise ModelError(
                    f"{fit.spec.name}: the rows lack {column!r}, the predictor of the person "
                    "slopes."
                )
            cols.append(rows[column].to_numpy(dtype=float))
    return np.column_stack(cols) if cols else np.zeros((len(rows), 0))


def _person_index(rows: pd.DataFrame, person_col: str) -> dict[str, np.ndarray]:
    ids = rows[person_col].astype(str).to_numpy()
    return {p: np.flatnonzero(ids == p) for p in pd.unique(ids)}


def merged_settings(fit: Any, settings: Any = None) -> Any:
    """Sampler settings for refits of ``fit``: the fit's own, with the fields set in
    ``settings`` (those not ``None``) replacing them."""
    from ambidex_bayes.engine.settings import SamplerSettings

    own = dict(fit.meta.get("settings", {}))
    known = {f.name for f in dataclasses.fields(SamplerSettings)}
    base = SamplerSettings(**{k: v for k, v in own.items() if k in known})
    if settings is None:
        return base.resolved()
    changes = {k: v for k, v in settings.to_dict().items() if v is not None}
    return dataclasses.replace(base, **changes).resolved()


def _scalar_flat(posterior: xr.Dataset, name: str | None, role: str) -> np.ndarray:
    return np.asarray(get_scalar(posterior, name, role).values, dtype=float).reshape(-1)


# ------------------------------------------------------------------ integrated LOO
def integrated_log_likelihood(fit: Any, rows: Sequence[int] | None = None) -> xr.DataArray:
    r"""Log-likelihood of each row given the person's other rows, person effects integrated out.

    :math:`\log p(y_i \mid y_{j,-i}, \beta, \Sigma, \sigma)` per draw (Gaussian family), for
    the given rows (default all), on the modelled scale.

    Returns
    -------
    xarray.DataArray
        Dims ``(chain, draw, __obs__)`` with the rows' ``__obs__`` labels.
    """
    if fit.spec.family != "gaussian":
        raise ModelError(
            f"{fit.spec.name}: the person effects can be integrated out exactly only for the "
            f"Gaussian family, not {fit.spec.family!r}; use remedy='refit'."
        )
    post = posterior_dataset(fit.idata)
    frame = fit.prepared.frame
    n_rows = len(frame)
    wanted = np.arange(n_rows) if rows is None else np.unique(np.asarray(rows, dtype=int))
    if wanted.size and (wanted.min() < 0 or wanted.max() >= n_rows):
        raise AmbidexError(f"rows must lie in 0..{n_rows - 1}.")
    person_col = fit.prepared.mapping.person
    ids = frame[person_col].astype(str).to_numpy()
    mu = linear_predictor(fit, group_specific=False, posterior=post)
    n_chain, n_draw = mu.sizes["chain"], mu.sizes["draw"]
    mu_flat = mu.values.reshape(n_chain * n_draw, n_rows)
    sigma2 = _scalar_flat(post, fit.terms.sigma, "residual SD") ** 2
    cov, names = _person_covariance(fit, post)
    z_all = _design_z(fit, frame, names)
    y = frame[fit.terms.y_column].to_numpy(dtype=float)
    out = np.empty((mu_flat.shape[0], wanted.size))
    position = {int(r): k for k, r in enumerate(wanted)}
    for person in pd.unique(ids[wanted]):
        idx = np.flatnonzero(ids == person)
        z = z_all[idx]
        v = sigma2[:, None, None] * np.eye(idx.size) + z @ cov @ z.T
        q = np.linalg.inv(v)
        r = y[idx][None, :] - mu_flat[:, idx]
        qr = np.einsum("sab,sb->sa", q, r)
        qii = np.diagonal(q, axis1=1, axis2=2)
        ll = -0.5 * math.log(2 * math.pi) + 0.5 * np.log(qii) - 0.5 * qr**2 / qii
        for k, i in enumerate(idx):
            if int(i) in position:
                out[:, position[int(i)]] = ll[:, k]
    obs = (
        fit.idata["log_likelihood"]["__obs__"].values[wanted]
        if ("log_likelihood" in fit.idata.children)
        else wanted
    )
    return xr.DataArray(
        out.reshape(n_chain, n_draw, wanted.size),
        dims=(*SAMPLE_DIMS, "__obs__"),
        coords={"chain": mu["chain"].values, "draw": mu["draw"].values, "__obs__": obs},
        name="integrated_log_likelihood",
    )


def _refit_row_log_density(fit: Any, row: int, *, settings: Any, cache_dir: Any) -> float:
    """Exact :math:`\\log p(y_i \\mid y_{-i})` by refitting without row ``row``."""
    from ambidex_bayes.fit import fit as fit_model

    prepared = fit.prepared
    frame = prepared.frame
    kept = frame.drop(index=frame.index[row]).reset_index(drop=True)
    reduced = dataclasses.replace(prepared, frame=kept)
    refit = fit_model(
        fit.spec, reduced, settings=settings, cache_dir=cache_dir, progressbar=False, verbose=False
    )
    left_out = frame.iloc[[row]].reset_index(drop=True)
    person_col = prepared.mapping.person
    known = str(left_out[person_col].iloc[0]) in set(kept[person_col].astype(str))
    post = posterior_dataset(refit.idata)
    mu_da = linear_predictor(refit, group_specific=known, data=left_out, posterior=post)
    mu = np.asarray(mu_da.values, dtype=float).reshape(-1)
    y = float(left_out[fit.terms.y_column].iloc[0])
    if known:
        return float(_logmeanexp(_row_log_density(refit, post, y, mu)))
    # The person's only row: their effects are new, drawn from the population.
    return float(
        _logmeanexp(
            _new_person_scores(
                refit, post, left_out, mu[:, None], method=None, n_mc=MC_DRAWS, seed=constants.SEED
            )[str(left_out[person_col].iloc[0])]
        )
    )


def _row_log_density(fit: Any, post: xr.Dataset, y: float, mu: np.ndarray) -> np.ndarray:
    sigma = _scalar_flat(post, fit.terms.sigma, "residual SD")
    if fit.spec.family == "gaussian":
        return stats.norm.logpdf(y, loc=mu, scale=sigma)
    nu = _scalar_flat(post, "nu", "degrees of freedom")
    return stats.t.logpdf(y, df=nu, loc=mu, scale=sigma)


def psis_loo(
    fit: Any,
    *,
    remedy: str = "auto",
    max_refits: int | None = None,
    k_threshold: float | None = None,
    settings: Any = None,
    cache_dir: Any = None,
) -> LooResult:
    """PSIS-LOO of one fit with Pareto k diagnostics and a remedy for high k.

    Parameters
    ----------
    fit : FitResult
    remedy : {"auto", "integrated", "refit", "none"}
        ``"auto"``: integrated importance sampling for a Gaussian model with person
        effects, then exact refits for rows still above the threshold; exact refits only for
        other models. See the module docstring.
    max_refits : int, optional
        Most exact refits (default :data:`MAX_REFITS`); with more high-k rows than this none
        is refitted and they are reported. 0 switches refits off.
    k_threshold : float, optional
        Default :math:`\\min(0.7, 1 - 1/\\log_{10} S)` (``constants.PARETO_K_MAX`` caps it).
    settings : SamplerSettings, optional
        Sampler settings of the refits; fields left ``None`` keep the fit's own.
    cache_dir : path or False, optional
        Where refits are cached (passed to :func:`ambidex_bayes.fit.fit`).

    Returns
    -------
    LooResult
    """
    if remedy not in REMEDIES:
        raise AmbidexError(f"remedy must be one of {', '.join(REMEDIES)}; got {remedy!r}.")
    max_refits = MAX_REFITS if max_refits is None else int(max_refits)
    if max_refits < 0:
        raise AmbidexError(f"max_refits must be >= 0, got {max_refits}.")
    ll = _log_likelihood(fit)
    tree = xr.DataTree.from_dict(
        {
            "posterior": posterior_dataset(fit.idata),
            "log_likelihood": xr.Dataset({"y": ll}),
        }
    )
    base = _loo(tree)
    k_before = np.asarray(base.pareto_k.values, dtype=float).reshape(-1)
    threshold = float(
        k_threshold if k_threshold is not None else min(constants.PARETO_K_MAX, float(base.good_k))
    )
    elpd_i = np.asarray(base.elpd_i.values, dtype=float).reshape(-1).copy()
    k_after = k_before.copy()
    bad = np.flatnonzero(k_before > threshold)
    notes: list[str] = []
    done: list[str] = []
    remedied: set[int] = set()
    name = fit.spec.name
    has_person_effects = fit.terms.group_intercept_sd is not None or (
        fit.terms.group_slope_sd is not None
    )
    if bad.size == 0:
        notes.append(
            f"{name}: every Pareto k is at most {threshold:.2f}; PSIS-LOO is reliable as it is."
        )
        return _loo_result(
            fit, base, ll, elpd_i, k_before, k_after, threshold, "not needed", remedied, notes
        )
    notes.append(
        f"{name}: {bad.size} of {k_before.size} rows have Pareto k above {threshold:.2f} "
        f"(largest {np.max(k_before):.2f}): leaving such a row out changes the posterior too "
        "much for plain importance sampling."
    )
    use_integrated = remedy == "integrated" or (
        remedy == "auto" and fit.spec.family == "gaussian" and has_person_effects
    )
    if use_integrated:
        int_ll = integrated_log_likelihood(fit, rows=bad)
        int_tree = xr.DataTree.from_dict(
            {
                "posterior": posterior_dataset(fit.idata),
                "log_likelihood": xr.Dataset({"y": int_ll}),
            }
        )
        fixed = _loo(int_tree)
        elpd_i[bad] = np.asarray(fixed.elpd_i.values, dtype=float).reshape(-1)
        k_after[bad] = np.asarray(fixed.pareto_k.values, dtype=float).reshape(-1)
        remedied.update(int(i) for i in bad)
        still = int(np.sum(k_after[bad] > threshold))
        done.append("integrated")
        notes.append(
            f"{name}: for these rows the importance weights were recomputed with the person "
            f"effects integrated out (no refit); {bad.size - still} of them now have Pareto k "
            f"at most {threshold:.2f}."
        )
    bad_now = np.flatnonzero(k_after > threshold)
    if bad_now.size and remedy in ("auto", "refit"):
        if bad_now.size > max_refits:
            notes.append(
                f"{name}: {bad_now.size} rows still have high Pareto k, more than max_refits="
                f"{max_refits} exact refits; they are left as estimated. Raise max_refits, or "
                "use leave-persons-out K-fold cross-validation instead."
            )
        else:
            refit_settings = merged_settings(fit, settings)
            for row in bad_now:
                elpd_i[row] = _refit_row_log_density(
                    fit, int(row), settings=refit_settings, cache_dir=cache_dir
                )
                k_after[row] = np.nan
                remedied.add(int(row))
            done.append("refit")
            notes.append(
                f"{name}: {bad_now.size} row(s) were computed exactly by refitting the model "
                "without each of them."
            )
    if remedy == "none":
        notes.append(f"{name}: no remedy was asked for; the high-k rows are left as estimated.")
    label = " + ".join(done) if done else "none"
    return _loo_result(fit, base, ll, elpd_i, k_before, k_after, threshold, label, remedied, notes)


def _loo_result(
    fit: Any,
    base: Any,
    ll: xr.DataArray,
    elpd_i: np.ndarray,
    k_before: np.ndarray,
    k_after: np.ndarray,
    threshold: float,
    remedy: str,
    remedied: set[int],
    notes: list[str],
) -> LooResult:
    values = ll.values.reshape(-1, ll.sizes["__obs__"])
    lpd_i = _logmeanexp(values, axis=0)
    n = elpd_i.size
    unresolved = tuple(int(i) for i in np.flatnonzero(k_after > threshold))
    elpd_da = base.elpd_i.copy(data=elpd_i.reshape(base.elpd_i.shape))
    k_da = base.pareto_k.copy(data=k_after.reshape(base.pareto_k.shape))
    elpd = dataclasses.replace(
        base,
        elpd=float(elpd_i.sum()),
        se=float(np.sqrt(n * np.var(elpd_i))),
        p=float(np.sum(lpd_i - elpd_i)),
        elpd_i=elpd_da,
        pareto_k=k_da,
        warning=bool(unresolved),
        p_loo_i=base.elpd_i.copy(data=(lpd_i - elpd_i).reshape(base.elpd_i.shape)),
    )
    if unresolved:
        warnings.warn(
            f"{fit.spec.name}: {len(unresolved)} row(s) still have Pareto k above "
            f"{threshold:.2f} after the remedy; their LOO terms are unreliable (see the notes).",
            UserWarning,
            stacklevel=3,
        )
    return LooResult(
        model=fit.spec.name,
        elpd=elpd,
        pareto_k_before=k_before,
        pareto_k_after=k_after,
        threshold=threshold,
        remedy=remedy,
        remedied_rows=tuple(sorted(remedied)),
        unresolved_rows=unresolved,
        notes=tuple(notes),
    )


# ------------------------------------------------------------------ new persons
def _new_person_scores(
    fit: Any,
    post: xr.Dataset,
    rows: pd.DataFrame,
    mu: np.ndarray,
    *,
    method: str | None,
    n_mc: int,
    seed: int,
) -> dict[str, np.ndarray]:
    """Per person, ``log p(y_j | theta_s)`` per draw with new person effects integrated out.

    ``mu`` is the fixed part, shape ``(draws, rows)``, on the modelled scale.
    """
    method = _resolve_method(fit, method)
    sigma = _scalar_flat(post, fit.terms.sigma, "residual SD")
    cov, names = _person_covariance(fit, post)
    z_all = _design_z(fit, rows, names)
    y_all = rows[fit.terms.y_column].to_numpy(dtype=float)
    nu = _scalar_flat(post, "nu", "degrees of freedom") if fit.spec.family == "t" else None
    rng = np.random.default_rng(seed)
    q = len(names)
    if q and method == "monte_carlo":
        # Cholesky factors of Sigma per draw (jitter for draws at the boundary).
        chol = np.linalg.cholesky(cov + 1e-12 * np.eye(q))
    out: dict[str, np.ndarray] = {}
    for person, idx in _person_index(rows, fit.prepared.mapping.person).items():
        y = y_all[idx]
        m = mu[:, idx]
        z = z_all[idx]
        if method == "exact":
            v = sigma[:, None, None] ** 2 * np.eye(idx.size) + z @ cov @ z.T
            r = y[None, :] - m
            sign, logdet = np.linalg.slogdet(v)
            quad = np.einsum("sa,sa->s", r, np.linalg.solve(v, r[..., None])[..., 0])
            out[person] = -0.5 * (idx.size * math.log(2 * math.pi) + logdet + quad)
        else:
            if q:
                e = rng.standard_normal((mu.shape[0], n_mc, q))
                u = np.einsum("sab,smb->sma", chol, e)
                shift = np.einsum("ia,sma->smi", z, u)
            else:
                shift = np.zeros((mu.shape[0], 1, idx.size))
            loc = m[:, None, :] + shift
            if nu is None:
                lp = stats.norm.logpdf(y, loc=loc, scale=sigma[:, None, None])
            else:
                lp = stats.t.logpdf(y, df=nu[:, None, None], loc=loc, scale=sigma[:, None, None])
            out[person] = _logmeanexp(lp.sum(axis=-1), axis=1)
    return out


def _resolve_method(fit: Any, method: str | None) -> str:
    if method in (None, "auto"):
        return "exact" if fit.spec.family == "gaussian" else "monte_carlo"
    if method not in ("exact", "monte_carlo"):
        raise AmbidexError(f"method must be 'auto', 'exact' or 'monte_carlo'; got {method!r}.")
    if method == "exact" and fit.spec.family != "gaussian":
        raise ModelError(
            f"{fit.spec.name}: exact integration over new person effects needs the Gaussian "
            "family; use method='monte_carlo'."
        )
    return method


def new_person_log_density(
    fit: Any,
    rows: pd.DataFrame | None = None,
    *,
    method: str = "auto",
    n_mc: int | None = None,
    seed: int | None = None,
    max_draws: int | None = None,
    original_scale: bool = True,
) -> pd.DataFrame:
    r"""Log predictive density of whole persons as *new* persons, per posterior draw.

    :math:`\log \int \prod_i p(y_{ij} \mid \theta^{(s)}, u)\,N(u \mid 0, \Sigma^{(s)})\,du`
    for every person in ``rows``: exact for the Gaussian family (``method="exact"``), by
    Monte Carlo with ``n_mc`` new person effects per draw otherwise.

    Parameters
    ----------
    fit : FitResult
    rows : DataFrame, optional
        Rows with the fit's prepared columns (e.g. ``fit.prepared.apply(new)``); default the
        fitted rows (then the score is in-sample).
    method : {"auto", "exact", "monte_carlo"}
    n_mc : int, optional
        Default :data:`MC_DRAWS`.
    seed : int, optional
    max_draws : int, optional
        Thin the posterior to at most this many draws (default :data:`MAX_DRAWS`).
    original_scale : bool
        Add the log-Jacobian :math:`-n_j \log s_y` of a standardised outcome.

    Returns
    -------
    pandas.DataFrame
        Index: person; columns: draws (``0 .. S-1``).
    """
    post_all = posterior_dataset(fit.idata)
    post = post_all.isel(draw=slice(None, None, _draw_step(post_all, max_draws or MAX_DRAWS)))
    rows = fit.prepared.frame if rows is None else rows
    if fit.terms.y_column not in rows.columns:
        raise AmbidexError(
            f"the rows lack the outcome column {fit.terms.y_column!r}; transform new rows with "
            "fit.prepared.apply(...) first."
        )
    mu = linear_predictor(fit, group_specific=False, data=rows, posterior=post)
    mu_flat = np.asarray(mu.values, dtype=float).reshape(-1, len(rows))
    scores = _new_person_scores(
        fit,
        post,
        rows.reset_index(drop=True),
        mu_flat,
        method=method,
        n_mc=MC_DRAWS if n_mc is None else int(n_mc),
        seed=constants.SEED if seed is None else int(seed),
    )
    table = pd.DataFrame.from_dict(scores, orient="index")
    table.index.name = "person"
    if original_scale:
        _, scale = outcome_transform(fit)
        counts = rows[fit.prepared.mapping.person].astype(str).value_counts()
        table = table.sub(counts.reindex(table.index).to_numpy() * math.log(scale), axis=0)
    table.attrs["method"] = _resolve_method(fit, method)
    return table


# ------------------------------------------------------------------ K-fold by person
def person_folds(persons: Sequence[str], k: int, *, seed: int | None = None) -> pd.DataFrame:
    """Assign persons at random to ``k`` folds of (nearly) equal size.

    Returns
    -------
    pandas.DataFrame
        ``person, fold`` with folds numbered 1..k.
    """
    unique = list(dict.fromkeys(str(p) for p in persons))
    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise AmbidexError(f"k (the number of folds) must be a whole number >= 2; got {k!r}.")
    if k > len(unique):
        raise AmbidexError(
            f"k={k} folds need at least {k} persons, but the data have {len(unique)}."
        )
    rng = np.random.default_rng(constants.SEED if seed is None else check_seed(seed))
    shuffled = rng.permutation(len(unique))
    fold = np.empty(len(unique), dtype=int)
    for number, members in enumerate(np.array_split(shuffled, k), start=1):
        fold[members] = number
    return pd.DataFrame({"person": unique, "fold": fold})


def _run_fold(task: dict[str, Any]) -> dict[str, Any]:
    """Refit on the training persons and score the held-out persons (runs in a worker)."""
    from ambidex_bayes.fit import fit as fit_model
    from ambidex_bayes.prepare import prepare

    train = prepare(task["train"], detrend=task["detrend"], standardize=task["standardize"])
    fitted = fit_model(
        task["spec"],
        train,
        settings=task["settings"],
        cache_dir=task["cache_dir"],
        progressbar=False,
        verbose=False,
    )
    test = train.apply(task["test"])
    scores = new_person_log_density(
        fitted,
        test,
        method=task["method"],
        n_mc=task["n_mc"],
        seed=task["seed"],
        max_draws=task["max_draws"],
    )
    return {
        "fold": task["fold"],
        "scores": scores,
        "problems": tuple(fitted.convergence.problems),
    }


def fold_tasks(
    fit: Any,
    folds: pd.DataFrame,
    *,
    settings: Any,
    cache_dir: Any = None,
    method: str = "auto",
    n_mc: int | None = None,
    seed: int = 0,
    max_draws: int | None = None,
) -> list[dict[str, Any]]:
    """One picklable task per fold: the training persons' validated rows (to be prepared
    again), the held-out rows (raw columns) and everything the worker needs."""
    from ambidex_bayes.data.validate import ROW_COLUMN, ValidatedData

    prepared = fit.prepared
    mapping = prepared.mapping
    frame = prepared.frame
    persons = frame[mapping.person].astype(str)
    fold_of = dict(zip(folds["person"], folds["fold"], strict=True))
    row_fold = persons.map(fold_of).to_numpy()
    raw_cols = [c for c in (*mapping.model_columns, ROW_COLUMN) if c in frame.columns]
    tasks = []
    for number in sorted(folds["fold"].unique()):
        held = row_fold == number
        tasks.append(
            {
                "fold": int(number),
                "spec": fit.spec,
                "train": ValidatedData(
                    frame=frame.loc[~held, raw_cols].reset_index(drop=True),
                    mapping=mapping,
                    notes=(),
                    source=f"fold {number}: training persons",
                ),
                "test": frame.loc[held, raw_cols].reset_index(drop=True),
                "detrend": prepared.detrend,
                "standardize": prepared.standardize,
                "settings": settings,
                "cache_dir": cache_dir,
                "method": method,
                "n_mc": n_mc,
                "seed": seed + int(number),
                "max_draws": max_draws,
            }
        )
    return tasks


def kfold_by_person(
    fit: Any,
    *,
    k: int | None = None,
    settings: Any = None,
    n_jobs: int = 1,
    seed: int | None = None,
    method: str = "auto",
    n_mc: int | None = None,
    max_draws: int | None = None,
    cache_dir: Any = None,
) -> KFoldResult:
    """Leave-persons-out K-fold cross-validation: how well the model predicts new persons.

    Parameters
    ----------
    fit : FitResult
        The model fitted to all persons (its spec, data and settings are re-used).
    k : int, optional
        Number of folds (default :data:`KFOLD_FOLDS`, at most the number of persons).
    settings : SamplerSettings, optional
        Sampler settings of the fold fits; fields left ``None`` keep those of ``fit``.
        With ``n_jobs > 1``
        a single chain per fold (``chains=1``) keeps the cores for the folds.
    n_jobs : int
        Folds fitted at the same time, in separate processes (1: one after another here).
    seed : int, optional
        Seed of the fold assignment and of the Monte Carlo integral.
    method : {"auto", "exact", "monte_carlo"}
        Integration over new person effects (see :func:`new_person_log_density`).
    n_mc, max_draws : int, optional
    cache_dir : path or False, optional
        Where fold fits are cached (passed to :func:`ambidex_bayes.fit.fit`).

    Returns
    -------
    KFoldResult
    """
    _resolve_method(fit, method)
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
        raise AmbidexError(f"n_jobs must be a whole number >= 1; got {n_jobs!r}.")
    seed = constants.SEED if seed is None else int(seed)
    persons = fit.prepared.frame[fit.prepared.mapping.person].astype(str)
    folds = person_folds(persons, KFOLD_FOLDS if k is None else k, seed=seed)
    fold_of = dict(zip(folds["person"], folds["fold"], strict=True))
    tasks = fold_tasks(
        fit,
        folds,
        settings=merged_settings(fit, settings),
        cache_dir=cache_dir,
        method=method,
        n_mc=n_mc,
        seed=seed,
        max_draws=max_draws,
    )
    if n_jobs == 1:
        results = [_run_fold(task) for task in tasks]
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(n_jobs, len(tasks)), mp_context=context) as pool:
            results = list(pool.map(_run_fold, tasks))

    scores = pd.concat([r["scores"] for r in results])
    elpd = pd.Series(_logmeanexp(scores.to_numpy(dtype=float), axis=1), index=scores.index)
    in_sample = new_person_log_density(
        fit, method=method, n_mc=n_mc, seed=seed, max_draws=max_draws
    )
    lpd = pd.Series(_logmeanexp(in_sample.to_numpy(dtype=float), axis=1), index=in_sample.index)
    order = list(dict.fromkeys(persons))
    counts = persons.value_counts()
    table = pd.DataFrame(
        {
            "person": order,
            "fold": [fold_of[p] for p in order],
            "n_rows": [int(counts[p]) for p in order],
            "elpd": elpd.reindex(order).to_numpy(),
            "lpd_in_sample": lpd.reindex(order).to_numpy(),
        }
    )
    table["p"] = table["lpd_in_sample"] - table["elpd"]
    elpd_values = table["elpd"].to_numpy()
    n = len(table)
    from arviz_stats.utils import ELPDDataLOOKFold

    coords = {"person": order}
    result = ELPDDataLOOKFold(
        elpd=float(elpd_values.sum()),
        se=float(np.sqrt(n * np.var(elpd_values))),
        p=float(table["p"].sum()),
        n_samples=int(scores.shape[1]),
        n_data_points=n,
        scale="log",
        warning=False,
        good_k=None,
        elpd_i=xr.DataArray(elpd_values, dims=["person"], coords=coords),
        n_folds=len(tasks),
        p_kfold_i=xr.DataArray(table["p"].to_numpy(), dims=["person"], coords=coords),
    )
    notes = [
        f"{fit.spec.name}: {len(tasks)} folds over {n} persons; each held-out person's diaries "
        f"were scored together with new person effects ({_resolve_method(fit, method)} "
        "integration)."
    ]
    for r in results:
        for problem in r["problems"]:
            notes.append(f"{fit.spec.name}, fold {r['fold']}: {problem}")
    return KFoldResult(
        model=fit.spec.name,
        elpd=result,
        persons=table,
        method=_resolve_method(fit, method),
        notes=tuple(notes),
    )


# ------------------------------------------------------------------ comparison
def _elpd_of(value: Any) -> Any:
    from arviz_stats.utils import ELPDData

    if isinstance(value, LooResult | KFoldResult):
        return value.elpd
    if isinstance(value, ELPDData):
        return value
    raise AmbidexError(
        f"compare_models needs LooResult, KFoldResult or arviz_stats ELPDData values; got "
        f"{type(value).__name__}."
    )


def compare_models(results: Mapping[str, Any], *, method: str = "stacking") -> pd.DataFrame:
    """ELPD differences with standard errors and model weights (``arviz_stats.compare``).

    Parameters
    ----------
    results : mapping of str to LooResult, KFoldResult or ELPDData
        At least two models, all scored the same way (all PSIS-LOO over the same rows, or
        all leave-persons-out over the same persons).
    method : {"stacking", "BB-pseudo-BMA", "pseudo-BMA"}

    Returns
    -------
    pandas.DataFrame
        One row per model, best first: ``model, rank, elpd, se, p, elpd_diff, dse, weight``,
        ``p_worse`` (probability of being worse than the best, normal approximation) and
        arviz's ``diag_diff``/``diag_elpd`` warnings.
    """
    import arviz_stats as azs

    if len(results) < 2:
        raise AmbidexError("compare_models needs at least two models.")
    elpds = {name: _elpd_of(v) for name, v in results.items()}
    kinds = {name: e.kind for name, e in elpds.items()}
    if len(set(kinds.values())) > 1:
        raise ModelError(
            "The models were scored differently "
            f"({', '.join(f'{n}: {k}' for n, k in kinds.items())}). Observation-level LOO "
            "(a new day of a known person) and leave-persons-out K-fold (a new person) answer "
            "different questions; compare models within one of them."
        )
    sizes = {name: e.n_data_points for name, e in elpds.items()}
    if len(set(sizes.values())) > 1:
        raise ModelError(
            f"The models were scored on different numbers of rows or persons ({sizes}); "
            "compare fits of the same data only."
        )
    table = azs.compare(elpds, method=method, round_to="none")
    table = table.reset_index().rename(columns={"index": "model"})
    if "model" not in table.columns:
        table = table.rename(columns={table.columns[0]: "model"})
    preferred = [
        "model",
        "rank",
        "elpd",
        "se",
        "p",
        "elpd_diff",
        "dse",
        "weight",
        "p_worse",
        "diag_diff",
        "diag_elpd",
    ]
    columns = [c for c in preferred if c in table.columns]
    columns += [c for c in table.columns if c not in columns]
    table = table[columns]
    table.attrs["kind"] = next(iter(kinds.values()))
    table.attrs["method"] = method
    return table


def loo_table(results: Mapping[str, LooResult]) -> pd.DataFrame:
    """One row per model: ELPD-LOO, its SE, p_loo and the Pareto k diagnostics."""
    rows = []
    for name, result in results.items():
        row = result.summary()
        row["model"] = name
        rows.append(row)
    return pd.DataFrame(rows)


def compare_fits(
    fits: Mapping[str, Any],
    *,
    remedy: str = "auto",
    max_refits: int | None = None,
    kfold: bool = False,
    k: int | None = None,
    n_jobs: int = 1,
    settings: Any = None,
    cache_dir: Any = None,
    seed: int | None = None,
    method: str = "stacking",
) -> Comparison:
    """PSIS-LOO (with remedy) of every fit, their comparison, and optionally K-fold by person.

    Parameters
    ----------
    fits : mapping of str to FitResult
        At least two fits of the same data (equal data hashes).
    remedy, max_refits
        See :func:`psis_loo`.
    kfold : bool
        Also run leave-persons-out K-fold cross-validation (``k`` refits per model).
    k, n_jobs, settings, cache_dir, seed
        See :func:`kfold_by_person` (``settings`` and ``cache_dir`` also serve the refits of
        :func:`psis_loo`).
    method : str
        Weighting method of :func:`compare_models`.
    """
    if len(fits) < 2:
        raise AmbidexError("compare_fits needs at least two fits.")
    hashes = {name: f.meta.get("data_hash") for name, f in fits.items()}
    if len(set(hashes.values())) > 1:
        raise ModelError(
            "The fits were made on different data (their data hashes differ: "
            + ", ".join(f"{n}: {str(h)[:8]}" for n, h in hashes.items())
            + "); LOO compares models of one data set only."
        )
    loo_results = {
        name: psis_loo(
            f, remedy=remedy, max_refits=max_refits, settings=settings, cache_dir=cache_dir
        )
        for name, f in fits.items()
    }
    notes = [n for r in loo_results.values() for n in r.notes]
    kfold_results = None
    kfold_compare = None
    if kfold:
        kfold_results = {
            name: kfold_by_person(
                f, k=k, settings=settings, n_jobs=n_jobs, seed=seed, cache_dir=cache_dir
            )
            for name, f in fits.items()
        }
        kfold_compare = compare_models(kfold_results, method=method)
        notes += [n for r in kfold_results.values() for n in r.notes]
    return Comparison(
        loo=loo_results,
        loo_table=loo_table(loo_results),
        loo_compare=compare_models(loo_results, method=method),
        kfold=kfold_results,
        kfold_compare=kfold_compare,
        notes=tuple(notes),
    )
