"""One announced second try for a fit that fails its convergence checks.

When the first fit's diagnostics fail (R-hat, bulk or tail ESS, divergences, tree depth,
E-BFMI; see :func:`ambidex_bayes.diagnostics.check_convergence`), :func:`ambidex_bayes.fit.fit`
samples once more with a higher target acceptance (smaller steps, which follow the narrow
regions near a small person-effect SD) and longer tuning (better step size and mass
matrix), says so in plain words before it starts, and afterwards gives an honest verdict:
the second fit passed, or it still fails and its results should not be trusted yet. The
settings of the second try live in :mod:`ambidex_bayes.constants`
(``RESCUE_TARGET_ACCEPT``, ``RESCUE_TUNE_FACTOR``); fits of fewer than
``RESCUE_MIN_DRAWS`` draws in all get no second try (see :func:`worth_rescuing`).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from ambidex_bayes import constants

if TYPE_CHECKING:
    from ambidex_bayes.diagnostics import ConvergenceReport
    from ambidex_bayes.engine.settings import SamplerSettings

__all__ = ["worth_rescuing", "rescue_settings", "rescue_announcement", "rescue_verdict"]


def worth_rescuing(settings: SamplerSettings) -> bool:
    """Whether a failing fit with these (resolved) settings gets a second try.

    Only fits of at least ``constants.RESCUE_MIN_DRAWS`` draws in all: with fewer (quick
    looks, tests), an ESS below the threshold is a matter of too few draws, which a higher
    target acceptance and longer tuning do not cure.
    """
    return int(settings.draws) * int(settings.chains) >= constants.RESCUE_MIN_DRAWS


def rescue_settings(settings: SamplerSettings) -> SamplerSettings:
    """The settings of the second try: higher target acceptance, longer tuning.

    Parameters
    ----------
    settings : SamplerSettings
        Resolved settings of the first fit.
    """
    return dataclasses.replace(
        settings,
        target_accept=max(float(settings.target_accept), constants.RESCUE_TARGET_ACCEPT),
        tune=int(settings.tune) * constants.RESCUE_TUNE_FACTOR,
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
    name: str, convergence: ConvergenceReport, first: SamplerSettings, second: SamplerSettings
) -> str:
    """What is wrong with the first fit and what the second try changes, in plain words."""
    return (
        f"{name}: the fit failed its convergence checks ({_failed_checks(convergence)}). "
        f"Sampling once more with target_accept {second.target_accept:g} "
        f"(was {first.target_accept:g}) and {second.tune} tuning steps (was {first.tune}): "
        "smaller steps and longer tuning usually resolve this when a person-effect SD is "
        "near zero. This takes longer; the first fit's draws are discarded."
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
