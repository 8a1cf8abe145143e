"""Real fits of simulated latent panels for the tests.

:func:`prepare_panel` prepares a panel with the columns of
:func:`~ambidex_bayes.model.latent_simulate.simulate_latent_panel` (``person``, ``day``,
``y``, ``x``, ``w``); :func:`quiet_fit` fits it without cache, progress bar or messages,
silencing the one kind of warning a short test run expects (a low ESS at few draws).
"""

from __future__ import annotations

import dataclasses
import warnings
from types import ModuleType
from typing import Any

import pandas as pd

from ambidex_bayes.data import ColumnMapping, load_diary
from ambidex_bayes.fit import FitResult, SamplerSettings, fit
from ambidex_bayes.prepare import PreparedData, prepare
from ambidex_bayes.spec import ModelSpec

__all__ = ["MAPPING", "failing_once", "prepare_panel", "quiet_fit", "recording_nutpie"]

#: The column mapping of a simulated latent panel.
MAPPING = {"person": "person", "occasion": "day", "outcome": "y", "level1": ["x"], "level2": ["w"]}


def prepare_panel(
    frame: pd.DataFrame, *, standardize: bool = False, **mapping: Any
) -> PreparedData:
    """Prepare a simulated latent panel.

    Parameters
    ----------
    frame : pandas.DataFrame
        The panel, with the columns of :data:`MAPPING`.
    standardize : bool
        Passed to :func:`~ambidex_bayes.prepare.prepare`.
    **mapping
        Fields added to, or replacing those of, :data:`MAPPING` (``controls``, ``ranges`` ...).

    Returns
    -------
    PreparedData
    """
    columns = ColumnMapping.from_dict({**MAPPING, **mapping})
    return prepare(load_diary(frame, columns), standardize=standardize)


def quiet_fit(
    spec: ModelSpec,
    prepared: PreparedData,
    settings: SamplerSettings,
    *,
    centring: str | None = "latent",
    quiet: type[Warning] = UserWarning,
    **options: Any,
) -> FitResult:
    """Fit without cache, progress bar or messages, silencing warnings of class ``quiet``.

    Parameters
    ----------
    spec : ModelSpec
        The model.
    prepared : PreparedData
        The data.
    settings : SamplerSettings
        The sampler's settings.
    centring : str or None
        The fit's person-mean centring (None: the spec's).
    quiet : type of Warning
        The warnings a short run expects (few draws: a low ESS).
    **options
        Further keywords of :func:`~ambidex_bayes.fit.fit` (``rescue`` ...).

    Returns
    -------
    FitResult
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", quiet)
        return fit(
            spec,
            prepared,
            settings=settings,
            cache_dir=False,
            progressbar=False,
            verbose=False,
            centring=centring,
            **options,
        )


def recording_nutpie(monkeypatch: Any) -> list[dict[str, Any]]:
    """Record the keywords of every ``nutpie.sample`` call from now on (each call goes ahead).

    Parameters
    ----------
    monkeypatch : pytest.MonkeyPatch

    Returns
    -------
    list of dict
        Filled as the calls happen, one dict of keywords per call.
    """
    import nutpie

    calls: list[dict[str, Any]] = []
    sample = nutpie.sample

    def recorded(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return sample(*args, **kwargs)

    monkeypatch.setattr(nutpie, "sample", recorded)
    return calls


def failing_once(monkeypatch: Any, module: ModuleType) -> list[dict[str, Any]]:
    """Make ``module.check_convergence`` report an R-hat of 1.05 for the first fit only.

    Parameters
    ----------
    monkeypatch : pytest.MonkeyPatch
    module : module
        The route whose check is replaced (``ambidex_bayes.fit`` for observed fits,
        ``ambidex_bayes.centring`` for latent ones).

    Returns
    -------
    list of dict
        The keywords of each check, filled as the checks happen.
    """
    real = module.check_convergence
    calls: list[dict[str, Any]] = []

    def check(idata: Any, **kwargs: Any) -> Any:
        report = real(idata, **kwargs)
        calls.append(kwargs)
        if len(calls) > 1:
            return report
        table = report.table.copy()
        table.iloc[0, table.columns.get_loc("rhat")] = 1.05
        return dataclasses.replace(
            report, table=table, problems=(f"R-hat above 1.01 for {table.index[0]}.",)
        )

    monkeypatch.setattr(module, "check_convergence", check)
    return calls
