"""One announced second try for a fit that fails its convergence checks.

When the first fit's diagnostics fail (R-hat, bulk or tail ESS, divergences, tree depth,
E-BFMI; see :func:`ambidex_bayes.diagnostics.check_convergence`), :func:`ambidex_bayes.fit.fit`
samples once more with a higher target acceptance (smaller steps, which follow the narrow
regions near a small person-effect SD) and longer tuning (better step size and mass
matrix) — and, when the chains mixed too slowly (R-hat too high or an ESS too low), more
draws, since the effective sample size grows with the draws kept — says so in plain words
before it starts, and afterwards gives an honest verdict: the second fit passed, or it
still fails and its results should not be trusted yet. The settings of the second try live
in :mod:`ambidex_bayes.constants` (``RESCUE_TARGET_ACCEPT``, ``RESCUE_TUNE_FACTOR``,
``RESCUE_DRAWS_FACTOR``); fits of fewer than
``RESCUE_MIN_DRAWS`` draws in all get no second try (see :func:`worth_rescuing`).

:func:`sample_with_rescue` is that routine, shared by every route that fits: the observed
models of :func:`ambidex_bayes.fit.fit` and the latent-centred ones of
:func:`ambidex_bayes.centring.fit_latent`.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ambidex_bayes import constants
from ambidex_bayes.diagnostics import ConvergenceWarning

if TYPE_CHECKING:
    import xarray as xr

    from ambidex_bayes.diagnostics import ConvergenceReport
    from ambidex_bayes.engine.settings import SamplerSettings

__all__ = [
    "worth_rescuing",
    "mixed_too_slowly",
    "rescue_policy",
    "rescue_settings",
    "rescue_announcement",
    "rescue_verdict",
    "sample_with_rescue",
]


def worth_rescuing(settings: SamplerSettings) -> bool:
    """Whether a failing fit with these (resolved) settings gets a second try.

    Only fits of at least ``constants.RESCUE_MIN_DRAWS`` draws in all: with fewer (quick
    looks, tests), an ESS below the threshold is a matter of too few draws, which a higher
    target acceptance and longer tuning do not cure.
    """
    return int(settings.draws) * int(settings.chains) >= constants.RESCUE_MIN_DRAWS


def rescue_policy() -> dict[str, float]:
    """The second try's settings rule, for cache keys: fits made under another rule differ."""
    return {
        "target_accept": constants.RESCUE_TARGET_ACCEPT,
        "tune_factor": constants.RESCUE_TUNE_FACTOR,
        "draws_factor": constants.RESCUE_DRAWS_FACTOR,
    }


def mixed_too_slowly(convergence: ConvergenceReport) -> bool:
    """Whether a fit failed on R-hat or on an ESS (not only on divergences and the like)."""
    table = convergence.table
    if not len(table):
        return False
    return bool(
        (table["rhat"] > constants.RHAT_MAX).any()
        or (table["ess_bulk"] < constants.ESS_BULK_MIN).any()
        or (table["ess_tail"] < constants.ESS_TAIL_MIN).any()
    )


def rescue_settings(
    settings: SamplerSettings, convergence: ConvergenceReport | None = None
) -> SamplerSettings:
    """The settings of the second try: higher target acceptance, longer tuning, and more
    draws when the first fit mixed too slowly.

    Parameters
    ----------
    settings : SamplerSettings
        Resolved settings of the first fit.
    convergence : ConvergenceReport, optional
        The first fit's checks. When its R-hat or an ESS failed (:func:`mixed_too_slowly`),
        each chain keeps ``constants.RESCUE_DRAWS_FACTOR`` times the draws: with draws that
        are correlated alike, the ESS grows in proportion to the draws kept, and R-hat
        moves towards 1. Divergences alone do not get more draws (they would only add
        divergent transitions).
    """
    draws = int(settings.draws)
    if convergence is not None and mixed_too_slowly(convergence):
        draws *= constants.RESCUE_DRAWS_FACTOR
    return dataclasses.replace(
        settings,
        target_accept=max(float(settings.target_accept), constants.RESCUE_TARGET_ACCEPT),
        tune=int(settings.tune) * constants.RESCUE_TUNE_FACTOR,
        draws=draws,
    )


def _failed_checks(convergence: ConvergenceReport) -> str:
    table = convergence.table
    parts = []
    high = table.index[table["rhat"] > constants.RHAT_MAX].tolist()
    if high:
        parts.append(f"R-hat up to {table['rhat'].max():.3f}")
    low = table["ess_bulk"].min()
    if low < constants.ESS_BULK_MIN:
        parts.append(f"bulk-ESS down to {low:.0f}")
    low_tail = table["ess_tail"].min()
    if low_tail < constants.ESS_TAIL_MIN:
        parts.append(f"tail-ESS down to {low_tail:.0f}")
    if convergence.n_divergent:
        parts.append(f"{convergence.n_divergent} divergent transitions")
    if convergence.n_max_treedepth:
        parts.append(f"{convergence.n_max_treedepth} transitions at the maximum tree depth")
    if any(v < constants.EBFMI_MIN for v in convergence.ebfmi):
        low_ebfmi = min(v for v in convergence.ebfmi if v < constants.EBFMI_MIN)
        parts.append(f"E-BFMI down to {low_ebfmi:.2f}")
    return ", ".join(parts) or "; ".join(convergence.problems)


def rescue_announcement(
    name: str,
    convergence: ConvergenceReport,
    first: SamplerSettings,
    second: SamplerSettings,
    change: str = "",
) -> str:
    """What is wrong with the first fit and what the second try changes, in plain words
    (``change``: a further change of the second try, said after the settings)."""
    changes = [
        f"target_accept {second.target_accept:g} (was {first.target_accept:g})",
        f"{second.tune} tuning steps (was {first.tune})",
    ]
    if second.draws != first.draws:
        changes.append(f"{second.draws} draws per chain (was {first.draws})")
    if change:
        changes.append(change)
    return (
        f"{name}: the fit failed its convergence checks ({_failed_checks(convergence)}). "
        f"Sampling once more with {', '.join(changes[:-1])} and {changes[-1]}"
        + ": smaller steps and longer tuning usually resolve this when a person-effect SD is "
        "near zero"
        + ("; more draws raise the effective sample size" if second.draws != first.draws else "")
        + ". This takes longer; the first fit's draws are discarded."
    )


def rescue_verdict(name: str, convergence: ConvergenceReport) -> str:
    """The verdict on the second try."""
    if convergence.ok:
        return f"{name}: the second try passed every convergence check; its draws are used."
    return (
        f"{name}: the second try still fails its convergence checks "
        f"({_failed_checks(convergence)}). Do not trust these results yet; see the "
        "problems listed with the fit for what to change."
    )


def sample_with_rescue(
    sample: Callable[[SamplerSettings], xr.DataTree],
    settings: SamplerSettings,
    *,
    name: str,
    check: Callable[..., ConvergenceReport],
    rescue: bool = True,
    verbose: bool = True,
    stacklevel: int = 3,
    second_sample: Callable[[SamplerSettings], xr.DataTree] | None = None,
    second_change: str = "",
) -> tuple[xr.DataTree, ConvergenceReport, dict[str, Any] | None]:
    """Sample, check, and sample once more (announced) when the checks fail.

    Parameters
    ----------
    sample : callable
        ``sample(settings)`` gives the draws of a fit with these settings (and raises when
        they are unusable).
    settings : SamplerSettings
        Resolved settings of the first fit.
    name : str
        The model's name, in the announcement and the verdict.
    check : callable
        ``check(idata, warn=...)`` gives the
        :class:`~ambidex_bayes.diagnostics.ConvergenceReport` (normally
        :func:`ambidex_bayes.diagnostics.check_convergence`); the first fit's problems are
        not warned about when a second try follows.
    rescue : bool, default True
        Allow the second try (only fits :func:`worth_rescuing` get one).
    verbose : bool, default True
        Print the announcement and the verdict (the announcement is also a
        ``ConvergenceWarning``).
    stacklevel : int, default 3
        Of the announcement's warning (3: the caller of the function that calls this one).
    second_sample : callable, optional
        Samples the second try instead of ``sample`` (a latent-centred fit's second try
        adapts another mass matrix); ``second_change`` says what it changes, in the
        announcement.
    second_change : str

    Returns
    -------
    idata, convergence, rescued
        The draws kept (the second try's when there was one, whether or not it passed),
        their report, and None or the record of the second try for ``meta["rescue"]``:
        ``{"first_problems": [...], "settings": {...}, "passed": bool}``.
    """
    rescue = rescue and worth_rescuing(settings)
    idata = sample(settings)
    convergence = check(idata, warn=not rescue)
    if not rescue or convergence.ok:
        return idata, convergence, None
    second = rescue_settings(settings, convergence)
    announcement = rescue_announcement(name, convergence, settings, second, second_change)
    if verbose:
        print(announcement)
    warnings.warn(announcement, ConvergenceWarning, stacklevel=stacklevel)
    first_problems = list(convergence.problems)
    idata = (second_sample or sample)(second)
    convergence = check(idata, warn=True)
    if verbose:
        print(rescue_verdict(name, convergence))
    rescued = {
        "first_problems": first_problems,
        "settings": second.to_dict(),
        "passed": convergence.ok,
    }
    return idata, convergence, rescued
