r"""Log-likelihoods of a fit with the person effects integrated out.

Two questions need the person effects :math:`u_j \sim N(0, \Sigma)` integrated out of the
likelihood instead of taken from the posterior.

A row given the person's other rows (remedy for high Pareto k in PSIS-LOO)
--------------------------------------------------------------------------
For person :math:`j` with rows :math:`y_j`, mean :math:`m_j = X_j\beta`,
:math:`V_j = \sigma^2 I + Z_j\Sigma Z_j'` and :math:`Q = V_j^{-1}`, :math:`r = y_j - m_j`,

.. math::

    \log p(y_i \mid y_{j,-i}, \theta) = -\tfrac12\log 2\pi + \tfrac12\log Q_{ii}
        - \tfrac12 (Qr)_i^2 / Q_{ii}

(other persons' rows are independent of :math:`y_i` given :math:`\theta`), with
:math:`\theta = (\beta, \Sigma, \sigma)` holding only population parameters
(:func:`integrated_log_likelihood`, Gaussian family only).

A whole person as a new person (leave-persons-out cross-validation)
-------------------------------------------------------------------
.. math::

    \log p(y_j \mid \theta^{(s)}) = \log \int \prod_i
        p(y_{ij} \mid \beta^{(s)}, u, \sigma^{(s)})\, N(u \mid 0, \Sigma^{(s)})\, du .

For the Gaussian family the integral is exact, :math:`N(y_j \mid X_j\beta, V_j)`
(:mod:`ambidex_bayes.checks.person_gaussian`); for the Student-t family it is a Monte Carlo
average over :math:`M` new person effects :math:`u^{(m)} \sim N(0, \Sigma^{(s)})` per draw
(:func:`new_person_log_density`).

A latent-centred fit's new person has no draws of their latent person means either: these
are integrated out too, over their normal posterior given the person's own predictor values
(exactly without a person slope, by adaptive Gauss--Hermite quadrature over the one person
mean that the person slope multiplies; :mod:`ambidex_bayes.checks.latent_new_person`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr
from scipy import special, stats

from ambidex_bayes import constants
from ambidex_bayes.checks.indexed_predictor import linear_predictor_draws, predictor_design
from ambidex_bayes.checks.latent_predictor import is_latent, latent_person_parameters
from ambidex_bayes.checks.person_gaussian import person_log_density
from ambidex_bayes.checks.predictive import (
    MAX_DRAWS,
    linear_predictor,
    outcome_transform,
    thinning_step,
)
from ambidex_bayes.checks.psis import log_sum_exp
from ambidex_bayes.errors import AmbidexError, ModelError
from ambidex_bayes.posterior import SAMPLE_DIMS, get_scalar, posterior_dataset

if TYPE_CHECKING:
    from ambidex_bayes.fit import FitResult

__all__ = [
    "RowLogLikelihood",
    "row_log_likelihood",
    "MC_DRAWS",
    "INTEGRATION_METHODS",
    "integrated_log_likelihood",
    "new_person_log_density",
    "fitted_persons",
]

#: New person effects per posterior draw in the Monte Carlo integral (Student-t family).
MC_DRAWS: int = 200

#: Ways of integrating over new person effects; ``"auto"`` is exact for the Gaussian family
#: (for a latent-centred fit with a person slope: Gauss--Hermite over its person mean).
INTEGRATION_METHODS: tuple[str, ...] = ("auto", "exact", "monte_carlo")


# ------------------------------------------------------------------ helpers
def pointwise_log_likelihood(fit: FitResult) -> xr.DataArray:
    """The fit's pointwise log-likelihood, dims ``(chain, draw, __obs__)``.

    Raises
    ------
    ModelError
        The fit has no ``log_likelihood`` group, or more than one observed variable in it.
    """
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


@dataclass(frozen=True)
class RowLogLikelihood:
    """A fit's pointwise log-likelihood, read (or computed) one block of rows at a time.

    Attributes
    ----------
    n_rows : int
    n_chain, n_draw : int
    read : callable
        ``read(rows)`` with a slice of rows gives the block, dims ``(chain, draw, __obs__)``.
    stored : bool
        Read from the fit's ``log_likelihood`` group (True) or computed from the posterior.
    """

    n_rows: int
    n_chain: int
    n_draw: int
    read: Callable[[slice], xr.DataArray]
    stored: bool

    @property
    def n_samples(self) -> int:
        """Draws in all chains."""
        return self.n_chain * self.n_draw

    def blocks(self, numbers: int) -> Iterator[tuple[slice, xr.DataArray]]:
        """``(rows, block)`` pairs covering every row, each block at most ``numbers`` numbers
        (at least one row)."""
        step = max(1, int(numbers) // max(self.n_samples, 1))
        for start in range(0, self.n_rows, step):
            rows = slice(start, min(start + step, self.n_rows))
            yield rows, self.read(rows)

    @classmethod
    def of_array(cls, ll: xr.DataArray) -> RowLogLikelihood:
        """Blocks of an array held in memory (or backed by a file), dims ``(chain, draw,
        __obs__)``."""
        ll = ll.transpose(*SAMPLE_DIMS, "__obs__")
        if "__obs__" not in ll.coords:
            ll = ll.assign_coords(__obs__=np.arange(ll.sizes["__obs__"]))
        return cls(
            n_rows=ll.sizes["__obs__"],
            n_chain=ll.sizes["chain"],
            n_draw=ll.sizes["draw"],
            read=lambda rows: ll.isel(__obs__=rows).load(),
            stored=True,
        )


def row_log_likelihood(fit: FitResult) -> RowLogLikelihood:
    r"""The fit's pointwise log-likelihood by blocks of rows.

    Read from the ``log_likelihood`` group when the fit stores it; otherwise computed from
    the posterior, block by block: :math:`\log p(y_i \mid \mu^{(s)}_i, \sigma^{(s)})`
    (Gaussian) or with :math:`\nu^{(s)}` (Student-t), with :math:`\mu` the linear predictor
    with person effects (:mod:`ambidex_bayes.checks.indexed_predictor`), on the modelled
    scale as the stored one. Either way no draws x rows array is held. A latent-centred
    fit's is always computed, its :math:`\mu` from the draws of the latent person means
    (:mod:`ambidex_bayes.checks.latent_predictor`).
    """
    if "log_likelihood" in fit.idata.children and not is_latent(fit):
        return RowLogLikelihood.of_array(pointwise_log_likelihood(fit))
    post = posterior_dataset(fit.idata)
    if fit.spec.family not in ("gaussian", "t"):
        raise ModelError(
            f"{fit.spec.name}: the fit stores no pointwise log-likelihood and none can be "
            f"computed for family {fit.spec.family!r}; refit it with the log-likelihood."
        )
    design = predictor_design(fit, post)
    y_all = fit.prepared.frame[fit.terms.y_column].to_numpy(dtype=float)
    sigma = scalar_draws(post, fit.terms.sigma, "residual SD")[:, None]
    nu = scalar_draws(post, "nu", "degrees of freedom")[:, None] if fit.spec.family == "t" else None
    n_chain, n_draw = post.sizes["chain"], post.sizes["draw"]

    def read(rows: slice) -> xr.DataArray:
        mu = linear_predictor_draws(design.take(rows), post, name=fit.spec.name)
        mu = mu.reshape(n_chain * n_draw, -1)
        y = y_all[rows]
        values = normal_logpdf(y, mu, sigma) if nu is None else student_t_logpdf(y, mu, sigma, nu)
        return xr.DataArray(
            values.reshape(n_chain, n_draw, -1),
            dims=(*SAMPLE_DIMS, "__obs__"),
            coords={
                "chain": post["chain"].values,
                "draw": post["draw"].values,
                "__obs__": np.arange(design.n_rows)[rows],
            },
        )

    return RowLogLikelihood(
        n_rows=design.n_rows, n_chain=n_chain, n_draw=n_draw, read=read, stored=False
    )


def normal_logpdf(y: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    r""":math:`\log N(y \mid \mu, \sigma) = -\tfrac12 z^2 - \log\sigma - \tfrac12\log 2\pi`,
    :math:`z = (y - \mu)/\sigma`, broadcast (``scipy.stats.norm.logpdf``'s values in plain
    array arithmetic, many times faster on large blocks)."""
    z = (y - mu) / sigma
    return -0.5 * z * z - np.log(sigma) - 0.5 * math.log(2 * math.pi)


def student_t_logpdf(
    y: np.ndarray, mu: np.ndarray, sigma: np.ndarray, nu: np.ndarray
) -> np.ndarray:
    r"""Log density of the Student-t distribution with location :math:`\mu`, scale
    :math:`\sigma` and :math:`\nu` degrees of freedom, broadcast:

    .. math::

        \log\Gamma\bigl(\tfrac{\nu+1}{2}\bigr) - \log\Gamma\bigl(\tfrac{\nu}{2}\bigr)
        - \tfrac12\log(\nu\pi) - \log\sigma - \tfrac{\nu+1}{2}\log\bigl(1 + z^2/\nu\bigr),
        \qquad z = (y - \mu)/\sigma

    (``scipy.stats.t.logpdf``'s values in plain array arithmetic).
    """
    z = (y - mu) / sigma
    constant = special.gammaln((nu + 1) / 2) - special.gammaln(nu / 2) - 0.5 * np.log(nu * np.pi)
    return constant - np.log(sigma) - (nu + 1) / 2 * np.log1p(z * z / nu)


def logmeanexp(values: np.ndarray, axis: int = 0) -> np.ndarray:
    r""":math:`\log \frac1n \sum_k e^{v_k}` along ``axis``, without overflow
    (:func:`~ambidex_bayes.checks.psis.log_sum_exp` with :math:`c = 1/n`)."""
    return log_sum_exp(np.asarray(values), axis=axis, scale=1.0 / values.shape[axis])


def scalar_draws(posterior: xr.Dataset, name: str | None, role: str) -> np.ndarray:
    """A scalar parameter's draws as one flat float array (chains one after another)."""
    return np.asarray(get_scalar(posterior, name, role).values, dtype=float).reshape(-1)


def person_covariance(fit: FitResult, posterior: xr.Dataset) -> tuple[np.ndarray, list[str]]:
    """Covariance matrix of the person effects per draw, ``(draws, q, q)``, and the effects.

    The effects are named ``"intercept"`` and ``"slope"`` (those the model has, in this
    order).

    Raises
    ------
    ModelError
        The model has person effects other than an intercept and a slope of the level-1
        predictor.
    """
    terms = fit.terms
    known = {terms.group_intercept, terms.group_slope} | latent_person_parameters(fit)
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


def person_effect_design(fit: FitResult, rows: pd.DataFrame, names: Sequence[str]) -> np.ndarray:
    """The rows' design :math:`Z` of the person effects ``names``, shape ``(rows, q)``."""
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


def rows_by_person(rows: pd.DataFrame, person_col: str) -> dict[str, np.ndarray]:
    """Person id -> positions of the person's rows, persons in order of appearance.

    One pass over the rows (a stable sort by person), not one pass per person.
    """
    ids = rows[person_col].astype(str).to_numpy()
    persons, first, codes = np.unique(ids, return_index=True, return_inverse=True)
    order = np.argsort(codes, kind="stable")
    bounds = np.cumsum(np.bincount(codes, minlength=len(persons)))[:-1]
    blocks = np.split(order, bounds)
    return {str(persons[k]): blocks[k] for k in np.argsort(first, kind="stable")}


def row_log_density(fit: FitResult, post: xr.Dataset, y: float, mu: np.ndarray) -> np.ndarray:
    """Log density of one outcome value ``y`` per draw, given the linear predictor ``mu``."""
    sigma = scalar_draws(post, fit.terms.sigma, "residual SD")
    if fit.spec.family == "gaussian":
        return stats.norm.logpdf(y, loc=mu, scale=sigma)
    nu = scalar_draws(post, "nu", "degrees of freedom")
    return stats.t.logpdf(y, df=nu, loc=mu, scale=sigma)


# ------------------------------------------------------------------ integrated LOO
def integrated_log_likelihood(fit: FitResult, rows: Sequence[int] | None = None) -> xr.DataArray:
    r"""Log-likelihood of each row given the person's other rows, person effects integrated out.

    :math:`\log p(y_i \mid y_{j,-i}, \beta, \Sigma, \sigma)` per draw (Gaussian family), for
    the given rows (default all), on the modelled scale.

    Parameters
    ----------
    fit : FitResult
    rows : sequence of int, optional
        Rows (0-based, in the fitted data); default all.

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
    if is_latent(fit):
        from ambidex_bayes.checks.latent_log_likelihood import latent_integrated_rows

        sigma = scalar_draws(post, fit.terms.sigma, "residual SD")
        cov, _ = person_covariance(fit, post)
        by_person = rows_by_person(frame, fit.prepared.mapping.person)
        out = latent_integrated_rows(fit, post, wanted, sigma=sigma, cov=cov, by_person=by_person)
        return _integrated_array(fit, post, wanted, out)
    person_col = fit.prepared.mapping.person
    ids = frame[person_col].astype(str).to_numpy()
    by_person = rows_by_person(frame, person_col)
    # Only the rows of the persons asked about: their fixed part over all draws.
    persons = pd.unique(ids[wanted])
    needed = np.concatenate([by_person[p] for p in persons]) if persons.size else np.zeros(0, int)
    column_of = np.full(n_rows, -1)
    column_of[needed] = np.arange(needed.size)
    n_chain, n_draw = post.sizes["chain"], post.sizes["draw"]
    mu_flat = (
        linear_predictor(
            fit,
            group_specific=False,
            data=frame.iloc[needed].reset_index(drop=True),
            posterior=post,
        ).values.reshape(n_chain * n_draw, needed.size)
        if needed.size
        else np.zeros((n_chain * n_draw, 0))
    )
    sigma2 = scalar_draws(post, fit.terms.sigma, "residual SD") ** 2
    cov, names = person_covariance(fit, post)
    z_all = person_effect_design(fit, frame, names)
    y = frame[fit.terms.y_column].to_numpy(dtype=float)
    out = np.empty((mu_flat.shape[0], wanted.size))
    position = {int(r): k for k, r in enumerate(wanted)}
    for person in persons:
        idx = by_person[person]
        z = z_all[idx]
        v = sigma2[:, None, None] * np.eye(idx.size) + z @ cov @ z.T
        q = np.linalg.inv(v)
        r = y[idx][None, :] - mu_flat[:, column_of[idx]]
        qr = np.einsum("sab,sb->sa", q, r)
        qii = np.diagonal(q, axis1=1, axis2=2)
        ll = -0.5 * math.log(2 * math.pi) + 0.5 * np.log(qii) - 0.5 * qr**2 / qii
        for k, i in enumerate(idx):
            if int(i) in position:
                out[:, position[int(i)]] = ll[:, k]
    return _integrated_array(fit, post, wanted, out)


def _integrated_array(
    fit: FitResult, post: xr.Dataset, wanted: np.ndarray, out: np.ndarray
) -> xr.DataArray:
    """The integrated log-likelihood ``out`` (draws, rows) as :func:`integrated_log_likelihood`
    returns it."""
    n_chain, n_draw = post.sizes["chain"], post.sizes["draw"]
    obs = (
        fit.idata["log_likelihood"]["__obs__"].values[wanted]
        if ("log_likelihood" in fit.idata.children)
        else wanted
    )
    return xr.DataArray(
        out.reshape(n_chain, n_draw, wanted.size),
        dims=(*SAMPLE_DIMS, "__obs__"),
        coords={"chain": post["chain"].values, "draw": post["draw"].values, "__obs__": obs},
        name="integrated_log_likelihood",
    )


# ------------------------------------------------------------------ new persons
def integration_method(fit: FitResult, method: str | None) -> str:
    """``"exact"``, ``"monte_carlo"`` or ``"gauss-hermite"``: the integration ``method`` asks
    for on this fit.

    For a latent-centred fit, ``"auto"`` and ``"exact"`` give ``"exact"`` without a person
    slope and ``"gauss-hermite"`` with one (the person effects exactly, the person mean that
    the slope multiplies by quadrature; :mod:`ambidex_bayes.checks.latent_new_person`).

    Raises
    ------
    AmbidexError
        ``method`` is not one of :data:`INTEGRATION_METHODS`.
    ModelError
        ``"exact"`` for a family other than Gaussian, or ``"monte_carlo"`` for a
        latent-centred fit.
    """
    if method not in (None, *INTEGRATION_METHODS):
        raise AmbidexError(f"method must be 'auto', 'exact' or 'monte_carlo'; got {method!r}.")
    if is_latent(fit):
        if method == "monte_carlo":
            raise ModelError(
                f"{fit.spec.name} was fitted with latent centring: its new persons are scored "
                "with the person effects integrated out exactly and the latent person means by "
                "quadrature; method='monte_carlo' is not available for latent-centred fits "
                "(use 'auto')."
            )
        return "exact" if fit.terms.group_slope_sd is None else "gauss-hermite"
    if method in (None, "auto"):
        return "exact" if fit.spec.family == "gaussian" else "monte_carlo"
    if method == "exact" and fit.spec.family != "gaussian":
        raise ModelError(
            f"{fit.spec.name}: exact integration over new person effects needs the Gaussian "
            "family; use method='monte_carlo'."
        )
    return method


def fitted_persons(fit: FitResult) -> frozenset[str]:
    """The persons a fit has draws of: its rows' persons, and for a latent-centred fit also
    the persons of its partial rows (their days without an outcome gave them person means
    and person effects drawn from the population)."""
    persons = set(fit.prepared.frame[fit.prepared.mapping.person].astype(str))
    if is_latent(fit):
        dim = fit.terms.person_dim
        posterior = posterior_dataset(fit.idata)
        if dim in posterior.coords:
            persons |= set(np.asarray(posterior[dim].values).astype(str))
    return frozenset(persons)


def new_person_scores(
    fit: FitResult,
    post: xr.Dataset,
    rows: pd.DataFrame,
    mu: np.ndarray | None = None,
    *,
    method: str | None,
    n_mc: int,
    seed: int,
    missing_x: bool = False,
) -> dict[str, np.ndarray]:
    """Per person, ``log p(y_j | theta_s)`` per draw with new person effects integrated out.

    ``mu`` is the fixed part, shape ``(draws, rows)``, on the modelled scale (computed here
    when not given). For a latent-centred fit the person means are integrated out as well
    and ``mu`` is not used (:mod:`ambidex_bayes.checks.latent_new_person`); with
    ``missing_x`` a person's one row with an outcome is scored even when it lacks a
    predictor, which is then integrated out too.
    """
    method = integration_method(fit, method)
    sigma = scalar_draws(post, fit.terms.sigma, "residual SD")
    cov, names = person_covariance(fit, post)
    by_person = rows_by_person(rows, fit.prepared.mapping.person)
    if is_latent(fit):
        from ambidex_bayes.checks.latent_new_person import latent_new_person_scores

        return latent_new_person_scores(
            fit, post, rows, sigma=sigma, cov=cov, by_person=by_person, missing_x=missing_x
        )
    if mu is None:
        mu_da = linear_predictor(fit, group_specific=False, data=rows, posterior=post)
        mu = np.asarray(mu_da.values, dtype=float).reshape(-1, len(rows))
    z_all = person_effect_design(fit, rows, names)
    y_all = rows[fit.terms.y_column].to_numpy(dtype=float)
    nu = scalar_draws(post, "nu", "degrees of freedom") if fit.spec.family == "t" else None
    rng = np.random.default_rng(seed)
    q = len(names)
    if q and method == "monte_carlo":
        # Cholesky factors of Sigma per draw (jitter for draws at the boundary).
        chol = np.linalg.cholesky(cov + 1e-12 * np.eye(q))
    out: dict[str, np.ndarray] = {}
    for person, idx in by_person.items():
        y = y_all[idx]
        m = mu[:, idx]
        z = z_all[idx]
        if method == "exact":
            out[person] = person_log_density(y[None, :] - m, z, cov, sigma**2)
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
            out[person] = logmeanexp(lp.sum(axis=-1), axis=1)
    return out


def _default_rows(fit: FitResult) -> pd.DataFrame:
    """The fitted rows; for a latent-centred fit with partial rows also those (their days
    without an outcome inform the person means)."""
    frame = fit.prepared.frame
    partial = getattr(fit.prepared, "partial_rows", None)
    if is_latent(fit) and partial is not None and len(partial):
        return pd.concat([frame, partial], ignore_index=True)
    return frame


def scored_row_counts(fit: FitResult, rows: pd.DataFrame) -> pd.Series:
    """Per person of ``rows``, the rows whose outcome :func:`new_person_log_density` scores:
    every row, or for a latent-centred fit those with the outcome and every predictor and
    control observed (:func:`~ambidex_bayes.checks.latent_new_person.latent_scored_rows`)."""
    persons = rows[fit.prepared.mapping.person].astype(str)
    if is_latent(fit):
        from ambidex_bayes.checks.latent_new_person import latent_scored_rows

        scored = latent_scored_rows(fit, rows.reset_index(drop=True))
        counts = pd.Series(scored.astype(int), index=persons.to_numpy()).groupby(level=0).sum()
        return counts.reindex(pd.unique(persons.to_numpy()))
    return persons.value_counts()


def new_person_log_density(
    fit: FitResult,
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
    Monte Carlo with ``n_mc`` new person effects per draw otherwise. For a latent-centred
    fit the person's latent means are integrated out as well, over their posterior given the
    person's own predictor values (:mod:`ambidex_bayes.checks.latent_new_person`: exact
    without a person slope, Gauss--Hermite quadrature with one); its scored outcomes are
    those of the rows with every predictor observed, and rows without an outcome inform the
    person means.

    Parameters
    ----------
    fit : FitResult
    rows : DataFrame, optional
        Rows with the fit's prepared columns (e.g. ``fit.prepared.apply(new)``); default the
        fitted rows (then the score is in-sample; a latent-centred fit's partial rows are
        included).
    method : {"auto", "exact", "monte_carlo"}
        ``"monte_carlo"`` is refused for a latent-centred fit.
    n_mc : int, optional
        Default :data:`MC_DRAWS`.
    seed : int, optional
    max_draws : int, optional
        Thin the posterior to at most this many draws (default
        :data:`ambidex_bayes.checks.predictive.MAX_DRAWS`).
    original_scale : bool
        Add the log-Jacobian :math:`-n_j \log s_y` of a standardised outcome.

    Returns
    -------
    pandas.DataFrame
        Index: person; columns: draws (``0 .. S-1``). ``attrs["method"]`` names the
        integration, ``attrs["n_rows"]`` the scored rows per person.
    """
    chosen = integration_method(fit, method)
    post_all = posterior_dataset(fit.idata)
    post = post_all.isel(draw=slice(None, None, thinning_step(post_all, max_draws or MAX_DRAWS)))
    rows = _default_rows(fit) if rows is None else rows
    if fit.terms.y_column not in rows.columns:
        raise AmbidexError(
            f"the rows lack the outcome column {fit.terms.y_column!r}; transform new rows with "
            "fit.prepared.apply(...) first."
        )
    rows = rows.reset_index(drop=True)
    scores = new_person_scores(
        fit,
        post,
        rows,
        method=method,
        n_mc=MC_DRAWS if n_mc is None else int(n_mc),
        seed=constants.SEED if seed is None else int(seed),
    )
    table = pd.DataFrame.from_dict(scores, orient="index")
    table.index.name = "person"
    counts = scored_row_counts(fit, rows).reindex(table.index)
    if original_scale:
        _, scale = outcome_transform(fit)
        table = table.sub(counts.to_numpy() * math.log(scale), axis=0)
    table.attrs["method"] = chosen
    table.attrs["n_rows"] = {str(p): int(n) for p, n in counts.items()}
    return table
