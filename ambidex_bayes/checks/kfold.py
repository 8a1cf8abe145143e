r"""Leave-persons-out K-fold cross-validation: how well a model predicts new persons.

:func:`kfold_by_person` splits the persons into :math:`K` folds (:func:`person_folds`),
refits the model :math:`K` times without one fold's persons (re-preparing the training data,
so that centring uses only the training persons, and transforming the held-out persons' rows
with the training centres; :func:`fold_tasks`), and scores each held-out person by

.. math::

    \log p(y_j \mid y_{-j}) \approx \log \frac1S \sum_s \int \prod_i
        p(y_{ij} \mid \beta^{(s)}, u, \sigma^{(s)})\, N(u \mid 0, \Sigma^{(s)})\, du

(:func:`ambidex_bayes.checks.log_likelihood.new_person_log_density`: exact for the Gaussian
family, a Monte Carlo average over new person effects for the Student-t family). Scores are
on the outcome's original scale (a standardised outcome's log density gets
:math:`-n_j\log s_y`), so that folds with their own standardisation agree.

A latent-centred fit's folds are latent-centred fits as well; the training data hold the
training persons' partial rows (days with the predictor but no outcome, or the outcome but no
predictor), and a held-out person's days without an outcome inform their latent person
means, which are integrated out of the score
(:mod:`ambidex_bayes.checks.latent_new_person`). Its scored outcomes are those of the rows
with every predictor observed (``n_rows`` counts them).
``arviz_stats.loo_kfold(group_by=...)`` is not used because it scores each row separately
(one person effect per row, not one per person) and refits one fold at a time; here folds can
run in parallel processes (``n_jobs``).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from ambidex_bayes import constants
from ambidex_bayes.checks.latent_predictor import is_latent
from ambidex_bayes.checks.log_likelihood import (
    integration_method,
    logmeanexp,
    new_person_log_density,
)
from ambidex_bayes.checks.refit_settings import CacheDir, merged_settings
from ambidex_bayes.engine.limits import check_seed
from ambidex_bayes.errors import AmbidexError

if TYPE_CHECKING:
    from arviz_stats.utils import ELPDDataLOOKFold

    from ambidex_bayes.engine.settings import SamplerSettings
    from ambidex_bayes.fit import FitResult

__all__ = ["KFoldResult", "KFOLD_FOLDS", "person_folds", "fold_tasks", "kfold_by_person"]

#: Default number of person folds in :func:`kfold_by_person`.
KFOLD_FOLDS: int = 10


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
        ``"exact"`` or ``"monte_carlo"`` integration over new person effects;
        ``"gauss-hermite"`` for a latent-centred fit with person slopes (its person means
        by quadrature).
    notes : tuple of str
    """

    model: str
    elpd: ELPDDataLOOKFold
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


def person_folds(persons: Sequence[str], k: int, *, seed: int | None = None) -> pd.DataFrame:
    """Assign persons at random to ``k`` folds of (nearly) equal size.

    Parameters
    ----------
    persons : sequence of str
        Person ids (repeats are counted once, in order of appearance).
    k : int
        Number of folds, at least 2 and at most the number of persons.
    seed : int, optional
        Seed of the assignment (default ``constants.SEED``).

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
        log_likelihood=False,  # the held-out persons are scored from the posterior
        **({"centring": task["centring"]} if task.get("centring") else {}),
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
    fit: FitResult,
    folds: pd.DataFrame,
    *,
    settings: SamplerSettings,
    cache_dir: CacheDir = None,
    method: str = "auto",
    n_mc: int | None = None,
    seed: int = 0,
    max_draws: int | None = None,
) -> list[dict[str, Any]]:
    """One picklable task per fold: the training persons' validated rows (to be prepared
    again), the held-out rows (raw columns) and everything the worker needs.

    For a latent-centred fit the rows include its partial rows, and the fold fits are
    latent-centred (``task["centring"]``).

    Parameters
    ----------
    fit : FitResult
        The model fitted to all persons.
    folds : DataFrame
        ``person, fold`` from :func:`person_folds`.
    settings : SamplerSettings
        Sampler settings of the fold fits.
    cache_dir, method, n_mc, max_draws
        See :func:`kfold_by_person`.
    seed : int
        Fold ``k``'s Monte Carlo integral is seeded with ``seed + k``.

    Returns
    -------
    list of dict
        One task per fold, in fold order.
    """
    from ambidex_bayes.data.validate import ROW_COLUMN, ValidatedData

    prepared = fit.prepared
    mapping = prepared.mapping
    frame = prepared.frame
    latent = is_latent(fit)
    partial = getattr(prepared, "partial_rows", None)
    if latent and partial is not None and len(partial):
        # the days only latent centring uses go with their persons' fold
        frame = pd.concat([frame, partial], ignore_index=True)
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
                    factor_levels={c: f.levels for c, f in prepared.factor_codings.items()},
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
                # the fit's centring, not a new choice per fold (a spec may say "auto")
                "centring": "latent" if latent else "observed",
            }
        )
    return tasks


def kfold_by_person(
    fit: FitResult,
    *,
    k: int | None = None,
    settings: SamplerSettings | None = None,
    n_jobs: int = 1,
    seed: int | None = None,
    method: str = "auto",
    n_mc: int | None = None,
    max_draws: int | None = None,
    cache_dir: CacheDir = None,
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
        Integration over new person effects (see
        :func:`ambidex_bayes.checks.log_likelihood.new_person_log_density`); a
        latent-centred fit takes ``"auto"`` or ``"exact"`` (its new persons' latent means
        are integrated out as well, :mod:`ambidex_bayes.checks.latent_new_person`).
    n_mc, max_draws : int, optional
    cache_dir : path or False, optional
        Where fold fits are cached (passed to :func:`ambidex_bayes.fit.fit`).

    Returns
    -------
    KFoldResult
    """
    integration_method(fit, method)
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
    elpd = pd.Series(logmeanexp(scores.to_numpy(dtype=float), axis=1), index=scores.index)
    in_sample = new_person_log_density(
        fit, method=method, n_mc=n_mc, seed=seed, max_draws=max_draws
    )
    lpd = pd.Series(logmeanexp(in_sample.to_numpy(dtype=float), axis=1), index=in_sample.index)
    order = list(dict.fromkeys(persons))
    counts = pd.Series(in_sample.attrs["n_rows"])  # the scored rows
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
        f"were scored together with new person effects ({integration_method(fit, method)} "
        "integration)."
    ]
    for r in results:
        for problem in r["problems"]:
            notes.append(f"{fit.spec.name}, fold {r['fold']}: {problem}")
    return KFoldResult(
        model=fit.spec.name,
        elpd=result,
        persons=table,
        method=integration_method(fit, method),
        notes=tuple(notes),
    )
