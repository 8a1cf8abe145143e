r"""Comparison of fitted models: ELPD differences, stacking weights and the LOO table.

:func:`compare_models` hands the pointwise ELPDs to ``arviz_stats.compare``: ELPD
differences to the best model with their standard errors, and stacking weights.
:func:`compare_fits` runs PSIS-LOO (:mod:`ambidex_bayes.checks.loo`) on every fit, and
optionally leave-persons-out K-fold cross-validation (:mod:`ambidex_bayes.checks.kfold`), and
compares the models within each.

Observation-level LOO scores :math:`\log p(y_{ij} \mid y_{-ij})` (a new day of a known
person) and leave-persons-out K-fold scores :math:`\log p(y_j \mid y_{-j})` (a new person)
answer different questions and are not on the same scale (one term per row against one per
person), so they are never mixed in one comparison.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from ambidex_bayes.checks.kfold import KFoldResult, kfold_by_person
from ambidex_bayes.checks.loo import LooResult, psis_loo
from ambidex_bayes.checks.refit_settings import CacheDir
from ambidex_bayes.errors import AmbidexError, ModelError

if TYPE_CHECKING:
    from arviz_stats.utils import ELPDData

    from ambidex_bayes.engine.settings import SamplerSettings
    from ambidex_bayes.fit import FitResult

__all__ = ["Comparison", "compare_models", "loo_table", "compare_fits"]


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


def _elpd_of(value: LooResult | KFoldResult | ELPDData) -> ELPDData:
    from arviz_stats.utils import ELPDData

    if isinstance(value, LooResult | KFoldResult):
        return value.elpd
    if isinstance(value, ELPDData):
        return value
    raise AmbidexError(
        f"compare_models needs LooResult, KFoldResult or arviz_stats ELPDData values; got "
        f"{type(value).__name__}."
    )


def compare_models(
    results: Mapping[str, LooResult | KFoldResult | ELPDData], *, method: str = "stacking"
) -> pd.DataFrame:
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
    fits: Mapping[str, FitResult],
    *,
    remedy: str = "auto",
    max_refits: int | None = None,
    kfold: bool = False,
    k: int | None = None,
    n_jobs: int = 1,
    settings: SamplerSettings | None = None,
    cache_dir: CacheDir = None,
    seed: int | None = None,
    method: str = "stacking",
) -> Comparison:
    """PSIS-LOO (with remedy) of every fit, their comparison, and optionally K-fold by person.

    Parameters
    ----------
    fits : mapping of str to FitResult
        At least two fits of the same data (equal data hashes).
    remedy, max_refits
        See :func:`ambidex_bayes.checks.loo.psis_loo`.
    kfold : bool
        Also run leave-persons-out K-fold cross-validation (``k`` refits per model).
    k, n_jobs, settings, cache_dir, seed
        See :func:`ambidex_bayes.checks.kfold.kfold_by_person` (``settings`` and
        ``cache_dir`` also serve the refits of :func:`ambidex_bayes.checks.loo.psis_loo`).
    method : str
        Weighting method of :func:`compare_models`.

    Returns
    -------
    Comparison

    Examples
    --------
    M2 (no moderation) against M3 (``m3``) on the bundled example, with the same small
    ``settings``:

    >>> m2 = ab.fit(
    ...     ab.load_spec("M2"),
    ...     data,
    ...     settings=settings,
    ...     cache_dir=cache,
    ...     progressbar=False,
    ...     verbose=False,
    ... )
    >>> comparison = ab.compare({"M2": m2, "M3": m3})
    >>> sorted(comparison.loo), sorted(comparison.loo_compare["model"])
    (['M2', 'M3'], ['M2', 'M3'])
    >>> list(comparison.loo_compare.columns)
    ['model', 'rank', 'elpd', 'se', 'p', 'elpd_diff', 'dse', 'weight', 'p_worse', ...]
    >>> list(comparison.loo_table.columns)
    ['model', 'elpd_loo', 'se', 'p_loo', 'n_rows', 'max_k', 'n_high_k', 'remedy', ...]
    >>> comparison.kfold is None
    True
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
