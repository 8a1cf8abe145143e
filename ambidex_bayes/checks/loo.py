r"""PSIS-LOO of one fit, with a remedy for rows whose Pareto k is high.

:func:`psis_loo` computes PSIS-LOO of the fit's pointwise log-likelihood as
``arviz_stats.loo`` does, over blocks of rows and vectorised within a block
(:func:`blocked_loo`, :mod:`ambidex_bayes.checks.psis`), so that its memory and time grow
linearly with the rows and no draws x rows array is held. A Pareto
:math:`\hat k` above :math:`\min(0.7, 1 - 1/\log_{10} S)` (:math:`S` draws) means the
importance weights for that row are unreliable -- common in diary models, where each
person's effects rest on a handful of rows, so leaving one out moves them a lot.

The remedy used here needs no refit for the Gaussian family: **integrated importance
sampling**. The weights :math:`p(\theta \mid y_{-i}) / p(\theta \mid y)
\propto 1/p(y_i \mid y_{-i}, \theta)` are computed with the person's effects integrated out
analytically (:func:`ambidex_bayes.checks.log_likelihood.integrated_log_likelihood`), so
that :math:`\theta = (\beta, \Sigma, \sigma)` holds only population parameters, which one
row barely moves. PSIS is then applied to these values; the target
:math:`\log p(y_i \mid y_{-i})` is the same as plain PSIS-LOO's, only the estimator is
better, so the remedied rows stay comparable with the others. Rows whose :math:`\hat k` stays
high -- and every high-:math:`\hat k` row of a Student-t model, where no closed form exists
-- are then computed **exactly by refitting** the model without the row (at most
``max_refits`` refits; beyond that they are left as they are and reported). In a
latent-centred fit a row whose predictor was imputed is refitted too: leaving out its outcome
leaves nothing of the row, so the refit drops it, and its outcome is scored with the missing
predictor integrated out
(:func:`~ambidex_bayes.checks.latent_log_likelihood.latent_left_out_log_density`; as a new
person's when it was the person's only row). Moment matching
(``arviz_stats.loo_moment_match``) is not used: it needs the unconstrained draws of every
parameter, including the internal offsets and Cholesky factors that a saved fit does not
keep.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from ambidex_bayes import constants
from ambidex_bayes.checks.latent_log_likelihood import latent_left_out_log_density
from ambidex_bayes.checks.latent_predictor import is_latent
from ambidex_bayes.checks.log_likelihood import (
    MC_DRAWS,
    RowLogLikelihood,
    fitted_persons,
    integrated_log_likelihood,
    logmeanexp,
    new_person_scores,
    row_log_density,
    row_log_likelihood,
)
from ambidex_bayes.checks.mean_ess import mean_ess
from ambidex_bayes.checks.predictive import linear_predictor
from ambidex_bayes.checks.psis import psis_loo_rows
from ambidex_bayes.checks.refit_settings import CacheDir, merged_settings
from ambidex_bayes.errors import AmbidexError
from ambidex_bayes.posterior import SAMPLE_DIMS, posterior_dataset

if TYPE_CHECKING:
    from arviz_stats.utils import ELPDDataLOO

    from ambidex_bayes.engine.settings import SamplerSettings
    from ambidex_bayes.fit import FitResult

__all__ = ["LooResult", "REMEDIES", "MAX_REFITS", "psis_loo"]

#: Remedies for rows with high Pareto k: "auto" (integrated for Gaussian, then exact refits),
#: "integrated", "refit", "none".
REMEDIES: tuple[str, ...] = ("auto", "integrated", "refit", "none")

#: Most exact refits :func:`psis_loo` makes for rows whose Pareto k stays high.
MAX_REFITS: int = 10


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
    elpd: ELPDDataLOO
    pareto_k_before: np.ndarray
    pareto_k_after: np.ndarray
    threshold: float
    remedy: str
    remedied_rows: tuple[int, ...]
    unresolved_rows: tuple[int, ...]
    notes: tuple[str, ...]

    def summary(self) -> dict[str, Any]:
        """One row of :func:`ambidex_bayes.checks.model_comparison.loo_table`."""
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


#: Numbers (draws x rows) PSIS-LOO handles at a time; the rows are taken in blocks this size
#: (the block's log-likelihood, its linear predictor, ratios, weights and sort order are each
#: of this size: about 8 x 32 MB at this value).
LOO_CHUNK_NUMBERS: int = 4_000_000


#: Numbers (draws x rows of the persons concerned) of one chunk of the integrated remedy.
INTEGRATED_CHUNK_NUMBERS: int = 4 * LOO_CHUNK_NUMBERS


def integrated_chunks(fit: FitResult, rows: np.ndarray, n_samples: int) -> Iterator[np.ndarray]:
    """Consecutive chunks of ``rows`` for the integrated remedy, bounded in memory.

    :func:`~ambidex_bayes.checks.log_likelihood.integrated_log_likelihood` holds the fixed
    part of the linear predictor of every row of the persons concerned over all draws; a
    chunk's persons have at most :data:`INTEGRATED_CHUNK_NUMBERS` numbers of it (at least
    one person a chunk). Each row's PSIS-LOO is its own, so the chunks change no value.

    Parameters
    ----------
    fit : FitResult
    rows : numpy.ndarray
        Rows (0-based, increasing) to remedy.
    n_samples : int
        Posterior draws in all chains.
    """
    ids = fit.prepared.frame[fit.prepared.mapping.person].astype(str).to_numpy()
    _, codes, counts = np.unique(ids, return_inverse=True, return_counts=True)
    limit = max(1, INTEGRATED_CHUNK_NUMBERS // max(int(n_samples), 1))
    start, needed, seen = 0, 0, set()
    for position, row in enumerate(rows):
        person = int(codes[row])
        if person in seen:
            continue
        if needed + int(counts[person]) > limit and position > start:
            yield rows[start:position]
            start, needed, seen = position, 0, set()
        seen.add(person)
        needed += int(counts[person])
    if start < len(rows):
        yield rows[start:]


def relative_efficiency(posterior: xr.Dataset) -> float:
    """Relative MCMC efficiency of the draws, as ``arviz_stats.loo`` computes it by default.

    The mean ESS (``method="mean"``) over every posterior variable and element, divided by
    the number of draws; 1 for a single chain. The ESS of all elements of a variable are
    computed together (:func:`~ambidex_bayes.checks.mean_ess.mean_ess`, the same values as
    ``arviz_stats``).
    """
    n_chains, n_draws = posterior.sizes["chain"], posterior.sizes["draw"]
    if n_chains == 1:
        return 1.0
    total, count = 0.0, 0
    for name in posterior.data_vars:
        values = posterior[name].transpose("chain", "draw", ...).to_numpy()
        ess = mean_ess(values.reshape(n_chains, n_draws, -1))
        total += float(ess.sum())
        count += ess.size
    return total / count / (n_chains * n_draws)


def blocked_loo(ll: xr.DataArray | RowLogLikelihood, reff: float) -> ELPDDataLOO:
    r"""PSIS-LOO of a pointwise log-likelihood, rows taken in blocks of bounded size.

    PSIS smooths each row's importance weights on their own, so blocks of rows
    (:func:`~ambidex_bayes.checks.psis.psis_loo_rows`, vectorised over the rows of a
    block) give each row's ``elpd_i`` and Pareto k as ``arviz_stats.loo`` does, with
    temporaries of at most :data:`LOO_CHUNK_NUMBERS` numbers. The importance weights
    themselves are not kept.

    Parameters
    ----------
    ll : xarray.DataArray or RowLogLikelihood
        Dims ``(chain, draw, __obs__)``, or read block by block
        (:func:`~ambidex_bayes.checks.log_likelihood.row_log_likelihood`).
    reff : float
        Relative efficiency of the draws (:func:`relative_efficiency`).

    Returns
    -------
    arviz_stats ELPDDataLOO
        With ``elpd_i``, ``pareto_k`` and ``p_loo_i`` over ``__obs__``; ``se`` as
        ``arviz_stats`` computes it, :math:`\sqrt{n\,\mathrm{var}(\mathrm{elpd}_i)}`
        (``ddof=1``).
    """
    from arviz_stats.utils import ELPDDataLOO

    rows = ll if isinstance(ll, RowLogLikelihood) else RowLogLikelihood.of_array(ll)
    n_rows, n_samples = rows.n_rows, rows.n_samples
    elpd_i, pareto_k, p_loo_i = (np.empty(n_rows) for _ in range(3))
    labels = []
    for block, piece in rows.blocks(LOO_CHUNK_NUMBERS):
        values = np.asarray(piece.transpose(*SAMPLE_DIMS, "__obs__").values)
        elpd_i[block], pareto_k[block], p_loo_i[block] = psis_loo_rows(
            values.reshape(n_samples, -1), reff
        )
        labels.append(piece["__obs__"].values)
    good_k = min(1 - 1 / np.log10(n_samples), 0.7) if n_samples > 1 else 0.7
    coords = {"__obs__": np.concatenate(labels) if labels else np.arange(0)}

    def pointwise(values: np.ndarray) -> xr.DataArray:
        return xr.DataArray(values, dims=["__obs__"], coords=coords)

    return ELPDDataLOO(
        elpd=float(elpd_i.sum()),
        se=float(np.sqrt(n_rows * np.var(elpd_i, ddof=1))) if n_rows > 1 else float("nan"),
        p=float(p_loo_i.sum()),
        n_samples=n_samples,
        n_data_points=n_rows,
        scale="log",
        warning=bool(np.any(pareto_k > good_k)),
        good_k=good_k,
        elpd_i=pointwise(elpd_i),
        pareto_k=pointwise(pareto_k),
        approx_posterior=False,
        p_loo_i=pointwise(p_loo_i),
    )


def _refit_row_log_density(
    fit: FitResult, row: int, *, settings: SamplerSettings, cache_dir: CacheDir
) -> float:
    r"""Exact :math:`\log p(y_i \mid y_{-i})` by refitting without row ``row``.

    The refit's data are the fit's rows without ``row`` (for a latent-centred fit its
    partial rows stay: the days without an outcome). The left-out outcome is scored under
    the refit's draws: by the normal density at the row's linear predictor when the refit
    has draws of the row's person; for a latent-centred fit's row with an imputed predictor
    (the row has nothing left once its outcome is left out, so the refit drops it, imputed
    value and all) with the missing predictor integrated out in closed form
    (:func:`~ambidex_bayes.checks.latent_log_likelihood.latent_left_out_log_density`); and
    as a new person's
    (:func:`~ambidex_bayes.checks.log_likelihood.new_person_scores`, for a latent fit
    :mod:`ambidex_bayes.checks.latent_new_person` with ``missing_x``) when it was the
    person's only row.
    """
    from ambidex_bayes.fit import fit as fit_model

    prepared = fit.prepared
    frame = prepared.frame
    kept = frame.drop(index=frame.index[row]).reset_index(drop=True)
    reduced = dataclasses.replace(prepared, frame=kept)
    refit = fit_model(
        fit.spec,
        reduced,
        settings=settings,
        cache_dir=cache_dir,
        progressbar=False,
        verbose=False,
        log_likelihood=False,  # the left-out row is scored from the posterior
        centring="latent" if is_latent(fit) else "observed",  # the fit's, not a new choice
    )
    left_out = frame.iloc[[row]].reset_index(drop=True)
    person = str(left_out[prepared.mapping.person].iloc[0])
    post = posterior_dataset(refit.idata)
    latent = is_latent(fit)
    if person in fitted_persons(refit) and latent:
        return float(logmeanexp(latent_left_out_log_density(refit, post, left_out)))
    if person in fitted_persons(refit):
        mu_da = linear_predictor(refit, group_specific=True, data=left_out, posterior=post)
        mu = np.asarray(mu_da.values, dtype=float).reshape(-1)
        y = float(left_out[fit.terms.y_column].iloc[0])
        return float(logmeanexp(row_log_density(refit, post, y, mu)))
    # The person's only row: their effects (and latent means) are new, from the population.
    return float(
        logmeanexp(
            new_person_scores(
                refit,
                post,
                left_out,
                method=None,
                n_mc=MC_DRAWS,
                seed=constants.SEED,
                missing_x=latent,
            )[person]
        )
    )


def psis_loo(
    fit: FitResult,
    *,
    remedy: str = "auto",
    max_refits: int | None = None,
    k_threshold: float | None = None,
    settings: SamplerSettings | None = None,
    cache_dir: CacheDir = None,
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

    Examples
    --------
    PSIS-LOO of M3 (``m3``) on the bundled example, one Pareto k per row:

    >>> result = ab.loo(m3)
    >>> result.model, result.pareto_k_before.shape, result.pareto_k_after.shape
    ('M3', (397,), (397,))
    >>> result.remedy in {"not needed", "integrated", "refit", "integrated + refit"}
    True
    >>> bool(result.elpd.elpd < 0 and result.elpd.se > 0)
    True
    """
    if remedy not in REMEDIES:
        raise AmbidexError(f"remedy must be one of {', '.join(REMEDIES)}; got {remedy!r}.")
    max_refits = MAX_REFITS if max_refits is None else int(max_refits)
    if max_refits < 0:
        raise AmbidexError(f"max_refits must be >= 0, got {max_refits}.")
    ll = row_log_likelihood(fit)
    reff = relative_efficiency(posterior_dataset(fit.idata))
    base = blocked_loo(ll, reff)
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
            fit, base, elpd_i, k_before, k_after, threshold, "not needed", remedied, notes
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
        for rows in integrated_chunks(fit, bad, ll.n_samples):
            fixed = blocked_loo(integrated_log_likelihood(fit, rows=rows), reff)
            elpd_i[rows] = np.asarray(fixed.elpd_i.values, dtype=float).reshape(-1)
            k_after[rows] = np.asarray(fixed.pareto_k.values, dtype=float).reshape(-1)
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
    return _loo_result(fit, base, elpd_i, k_before, k_after, threshold, label, remedied, notes)


def row_lpd(ll: xr.DataArray | RowLogLikelihood) -> np.ndarray:
    r"""In-sample log predictive density of each row, :math:`\log \frac1S \sum_s
    p(y_i \mid \theta^{(s)})`, over blocks of rows (temporaries of at most
    :data:`LOO_CHUNK_NUMBERS` numbers)."""
    rows = ll if isinstance(ll, RowLogLikelihood) else RowLogLikelihood.of_array(ll)
    out = np.empty(rows.n_rows)
    for block, piece in rows.blocks(LOO_CHUNK_NUMBERS):
        out[block] = logmeanexp(np.asarray(piece.values).reshape(rows.n_samples, -1), axis=0)
    return out


def _loo_result(
    fit: FitResult,
    base: ELPDDataLOO,
    elpd_i: np.ndarray,
    k_before: np.ndarray,
    k_after: np.ndarray,
    threshold: float,
    remedy: str,
    remedied: set[int],
    notes: list[str],
) -> LooResult:
    # the in-sample lpd of every row, from the plain PSIS-LOO pass (lpd_i = elpd_i + p_i)
    lpd_i = np.asarray(base.elpd_i.values + base.p_loo_i.values, dtype=float).reshape(-1)
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
