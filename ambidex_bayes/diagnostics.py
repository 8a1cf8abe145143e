"""Convergence diagnostics of a fit, in plain words with what to do.

Checks R-hat (rank-normalised, split), bulk and tail effective sample sizes, divergent
transitions, saturated tree depth and E-BFMI. R-hat and the ESS are arviz-stats' (computed by
:mod:`ambidex_bayes.rank_diagnostics` to the same bits, without importing arviz-stats and
scipy.stats, which would slow every command that loads a fit). Thresholds live in
:mod:`ambidex_bayes.constants`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from ambidex_bayes import constants
from ambidex_bayes.rank_diagnostics import convergence_arrays

__all__ = [
    "ConvergenceReport",
    "ConvergenceWarning",
    "check_convergence",
    "parameter_names",
    "nonfinite_draws",
    "undefined_diagnostics",
]


class ConvergenceWarning(UserWarning):
    """A fit's diagnostics say its draws should not be trusted yet."""


def parameter_names(posterior: xr.Dataset) -> list[str]:
    """Posterior variables that are model parameters a user reports (not person effects, nor
    the values a latent-centred model imputes for missing daily predictors)."""
    names = []
    for name, var in posterior.data_vars.items():
        if str(name).startswith("_"):
            continue
        if any(str(d).endswith(("__factor_dim", "_imputed__dim")) for d in var.dims):
            continue
        if "__obs__" in var.dims:
            continue
        names.append(str(name))
    return names


def nonfinite_draws(posterior: xr.Dataset, names: list[str] | None = None) -> dict[str, int]:
    """Number of NaN or infinite draws of each variable that has any (default: all)."""
    out = {}
    for name in names if names is not None else [str(n) for n in posterior.data_vars]:
        values = np.asarray(posterior[name].values)
        if not np.issubdtype(values.dtype, np.number):
            continue
        n_bad = int((~np.isfinite(values)).sum())
        if n_bad:
            out[name] = n_bad
    return out


def undefined_diagnostics(posterior: xr.Dataset, table: pd.DataFrame) -> list[str]:
    """Why R-hat or an ESS is not a finite number for some parameters, in plain words.

    An undefined diagnostic is a failed check, never a passed one: it means the draws are
    missing, constant or not numbers, or there is a single chain, and each case says what
    to do. Empty when every diagnostic in ``table`` is finite.
    """
    n_chains = int(posterior.sizes.get("chain", 0))
    n_per_chain = int(posterior.sizes.get("draw", 0))
    if n_chains * n_per_chain == 0:
        return [
            f"The fit has no draws ({n_chains} chain(s) x {n_per_chain} draws), so nothing "
            "about the posterior can be checked or reported. Sample again with at least one "
            "chain and some draws (e.g. --chains 4 --draws 1000)."
        ]
    values = table[["rhat", "ess_bulk", "ess_tail"]].to_numpy(dtype=float)
    undefined = table.index[~np.isfinite(values).all(axis=1)].tolist()
    bad_draws = nonfinite_draws(posterior, [str(n) for n in table.index])
    constant = [
        n
        for n in undefined
        if n not in bad_draws and float(np.ptp(np.asarray(posterior[n].values, float))) == 0.0
    ]
    problems = []
    if bad_draws:
        shown = ", ".join(f"{n} ({k} draws)" for n, k in bad_draws.items())
        problems.append(
            f"Non-finite (NaN or infinite) draws of {shown}: the sampler broke down, so "
            "these posteriors are meaningless. Check the priors (ambidex-bayes prior-check), "
            "standardise the variables (--standardize) and raise --target-accept."
        )
    if constant:
        problems.append(
            f"The draws of {', '.join(constant)} never change: the sampler did not move "
            "(stuck chains, often from a prior far narrower than the data or an outcome "
            "without within-person variation), so R-hat and ESS cannot be computed. Check "
            "the priors and the data and sample again."
        )
    rest = [n for n in undefined if n not in bad_draws and n not in constant]
    if rest and n_chains < 2:
        problems.append(
            f"R-hat cannot be computed from a single chain ({', '.join(rest)}): whether the "
            "sampler converged cannot be checked. Run at least 2 chains (e.g. --chains 4)."
        )
    elif rest:
        problems.append(
            f"R-hat or ESS could not be computed for {', '.join(rest)} from {n_chains} chains "
            f"of {n_per_chain} draws: too few draws to judge convergence. Draw more samples "
            "(e.g. --draws 1000)."
        )
    return problems


@dataclass(frozen=True)
class ConvergenceReport:
    """Diagnostics of one fit.

    Attributes
    ----------
    table : DataFrame
        One row per parameter: ``rhat, ess_bulk, ess_tail``.
    n_divergent, n_max_treedepth, n_draws : int
        Divergent transitions, draws that hit the maximum tree depth, and all draws.
    ebfmi : tuple of float
        E-BFMI per chain (NaN when the sampler does not report energy).
    problems : tuple of str
        What failed, in plain words, each with what to do. Empty when all is well.
    """

    table: pd.DataFrame
    n_divergent: int
    n_max_treedepth: int
    n_draws: int
    ebfmi: tuple[float, ...]
    problems: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return not self.problems

    @property
    def min_ess_bulk(self) -> float:
        """Smallest bulk-ESS over the reported parameters."""
        return float(self.table["ess_bulk"].min()) if len(self.table) else float("nan")

    def __str__(self) -> str:
        lines = [
            f"Convergence: {self.n_draws} draws, {self.n_divergent} divergent, "
            f"max R-hat {self.table['rhat'].max():.3f}, min bulk-ESS {self.min_ess_bulk:.0f}, "
            f"min tail-ESS {self.table['ess_tail'].min():.0f}."
        ]
        if self.ok:
            lines.append("All checks passed (R-hat, ESS, divergences, tree depth, E-BFMI).")
        else:
            lines += [f"PROBLEM: {p}" for p in self.problems]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """JSON-serialisable summary (for saved fits and reports)."""
        return {
            "n_divergent": self.n_divergent,
            "n_max_treedepth": self.n_max_treedepth,
            "n_draws": self.n_draws,
            "ebfmi": list(self.ebfmi),
            "problems": list(self.problems),
            "max_rhat": float(self.table["rhat"].max()) if len(self.table) else None,
            "min_ess_bulk": self.min_ess_bulk,
        }


def _sample_stat(idata: xr.DataTree, *names: str) -> xr.DataArray | None:
    if "sample_stats" not in idata.children:
        return None
    stats = idata["sample_stats"].to_dataset()
    for name in names:
        if name in stats:
            return stats[name]
    return None


def check_convergence(
    idata: xr.DataTree,
    *,
    var_names: list[str] | None = None,
    max_treedepth: int = 10,
    warn: bool = True,
) -> ConvergenceReport:
    """Diagnose a fit and say in plain words what to do about each problem.

    Parameters
    ----------
    idata : DataTree
        A fit with ``posterior`` and (ideally) ``sample_stats`` groups.
    var_names : list of str, optional
        Parameters to check; defaults to :func:`parameter_names` (person effects excluded,
        their SDs and correlations included).
    max_treedepth : int
        The sampler's maximum tree depth.
    warn : bool
        Also emit a :class:`ConvergenceWarning` listing the problems.
    """
    posterior = idata["posterior"].to_dataset()
    names = var_names or parameter_names(posterior)
    # constant or too few draws give 0/0: the NaN is reported in words below
    # (undefined_diagnostics), so numpy's division warning would only repeat it
    with np.errstate(invalid="ignore", divide="ignore"):
        values = {n: convergence_arrays(posterior[n]) for n in names}
    table = pd.DataFrame(
        {
            column: [float(values[n][i]) for n in names]
            for i, column in enumerate(("rhat", "ess_bulk", "ess_tail"))
        },
        index=pd.Index(names, name="parameter"),
    )
    n_draws = int(posterior.sizes["chain"] * posterior.sizes["draw"])

    diverging = _sample_stat(idata, "diverging", "divergences")
    n_div = int(np.asarray(diverging).astype(bool).sum()) if diverging is not None else 0
    depth = _sample_stat(idata, "tree_depth", "depth")
    reached = _sample_stat(idata, "reached_max_treedepth", "maxdepth_reached")
    if reached is not None:
        n_depth = int(np.asarray(reached).astype(bool).sum())
    elif depth is not None:
        n_depth = int((np.asarray(depth) >= max_treedepth).sum())
    else:
        n_depth = 0
    energy = _sample_stat(idata, "energy")
    if energy is not None:
        e = np.asarray(energy, dtype=float)
        ebfmi = tuple(
            float(np.mean(np.diff(row) ** 2) / np.var(row)) if np.var(row) > 0 else float("nan")
            for row in e
        )
    else:
        ebfmi = ()

    problems: list[str] = undefined_diagnostics(posterior, table)
    bad_rhat = table.index[table["rhat"] > constants.RHAT_MAX].tolist()
    if bad_rhat:
        problems.append(
            f"R-hat above {constants.RHAT_MAX} for {', '.join(bad_rhat)}: the chains disagree, "
            "so these posteriors are not yet reliable. Run more tuning and draws "
            "(e.g. --tune 2000 --draws 2000) and check the model for weakly identified parts."
        )
    low_bulk = table.index[table["ess_bulk"] < constants.ESS_BULK_MIN].tolist()
    if low_bulk:
        problems.append(
            f"Bulk effective sample size below {constants.ESS_BULK_MIN:.0f} for "
            f"{', '.join(low_bulk)}: posterior means and intervals of these are noisy. "
            "Draw more samples (--draws) or more chains."
        )
    low_tail = table.index[table["ess_tail"] < constants.ESS_TAIL_MIN].tolist()
    if low_tail:
        problems.append(
            f"Tail effective sample size below {constants.ESS_TAIL_MIN:.0f} for "
            f"{', '.join(low_tail)}: the interval limits of these are noisy. Draw more samples."
        )
    if n_div:
        problems.append(
            f"{n_div} of {n_draws} transitions diverged: the sampler met geometry it could not "
            "follow, so the posterior may be biased. Raise target_accept (e.g. 0.95 or 0.99); "
            "if they persist, the person-effect SDs are probably poorly identified - use "
            "tighter priors on them or a simpler model (e.g. drop the random slope)."
        )
    if n_depth:
        problems.append(
            f"{n_depth} of {n_draws} transitions hit the maximum tree depth ({max_treedepth}): "
            "sampling was inefficient. Consider rescaling predictors (--standardize) or "
            "stronger priors."
        )
    low_ebfmi = [i for i, v in enumerate(ebfmi) if np.isfinite(v) and v < constants.EBFMI_MIN]
    if low_ebfmi:
        problems.append(
            f"E-BFMI below {constants.EBFMI_MIN} in chain(s) {', '.join(map(str, low_ebfmi))}: "
            "the sampler explores the energy distribution poorly (often a funnel in the "
            "person-effect SDs). Use tighter priors on the SDs or more tuning."
        )
    report = ConvergenceReport(
        table=table,
        n_divergent=n_div,
        n_max_treedepth=n_depth,
        n_draws=n_draws,
        ebfmi=ebfmi,
        problems=tuple(problems),
    )
    if warn and problems:
        warnings.warn("\n".join(problems), ConvergenceWarning, stacklevel=2)
    return report
