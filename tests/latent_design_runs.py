"""Small latent-centred design runs for the tests: a simulation-based calibration and a power
analysis of a few simulations, each fitted serially with nutpie at few draws, and the
parameters an SBC of the reference design's M3 ranks.

:func:`small_latent_sbc` and :func:`small_latent_power` fill in the settings every such run
shares (latent centring, nutpie, 100 draws after 100 tuning steps on one chain), take the
fields a test varies, run it and check that no simulation failed;
:func:`record_sbc_configs` stands in for the SBC run where a test checks only the
configuration the command builds.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ambidex_bayes.design.power import PowerConfig, run_power
from ambidex_bayes.design.sbc import SBCConfig, run_sbc

__all__ = [
    "M3_OUTCOME_RANKED",
    "PREDICTOR_MODEL_RANKED",
    "record_sbc_configs",
    "small_latent_power",
    "small_latent_sbc",
]

#: The outcome model's parameters an SBC of the reference design's latent-centred M3 ranks
#: (the first predictor's within and between effects, the moderator's, their interaction,
#: the person effects and their SDs and correlation, and the residual SD).
M3_OUTCOME_RANKED = frozenset(
    {
        "Intercept",
        "uncertainty_cw",
        "uncertainty_pm",
        "leader_support_c",
        "uncertainty_cw:leader_support_c",
        "1|person_id_sigma",
        "uncertainty_cw|person_id_sigma",
        "corr(1|person_id,uncertainty_cw|person_id)",
        "sigma",
        "1|person_id[P001]",
        "uncertainty_cw|person_id[P001]",
    }
)

#: The suffixes of the predictor model's ranked parameters, after a predictor's name.
PREDICTOR_MODEL_RANKED = ("_mu_mean", "_mu_sd", "_within_sd", "_mu:leader_support_c", "_mu[P001]")

#: The sampler settings every small run takes.
_SAMPLER = {"backend": "nutpie", "draws": 100, "tune": 100, "chains": 1}


def small_latent_sbc(folder: Path, **fields: object) -> tuple[SBCConfig, pd.DataFrame]:
    """Run a small latent-centred SBC serially and check that no simulation failed.

    Parameters
    ----------
    folder : pathlib.Path
        Where the run is written (``folder / "sbc"``).
    **fields
        The configuration's other fields (``simulations``, ``design``, ``priors`` ...).

    Returns
    -------
    tuple of (SBCConfig, pandas.DataFrame)
        The configuration and the run's results.
    """
    config = SBCConfig(**{"centring": "latent", "rank_draws": 19, **_SAMPLER, **fields})
    results = run_sbc(config, folder / "sbc", scheduler="serial", progressbar=False, verbose=False)
    assert results["error"].eq("").all(), results["error"].tolist()
    return config, results


def small_latent_power(folder: Path, **fields: object) -> tuple[PowerConfig, pd.DataFrame]:
    """Run a latent-centred power analysis of one simulation of 30 persons serially, and check
    that it did not fail and its fit was latent-centred.

    Parameters
    ----------
    folder : pathlib.Path
        Where the run is written (``folder / "power"``).
    **fields
        The configuration's other fields (``diaries``, ``design``, ``priors`` ...).

    Returns
    -------
    tuple of (PowerConfig, pandas.DataFrame)
        The configuration and the run's results.
    """
    one = {"persons": (30,), "diaries": (3.0,), "simulations": 1, "centring": "latent"}
    config = PowerConfig(**{**one, **_SAMPLER, **fields})
    results = run_power(
        config, folder / "power", scheduler="serial", progressbar=False, verbose=False
    )
    assert results["error"].eq("").all(), results["error"].tolist()
    assert results["centring"].tolist() == ["latent"]
    return config, results


def record_sbc_configs(monkeypatch: pytest.MonkeyPatch) -> dict[str, SBCConfig]:
    """Replace :func:`~ambidex_bayes.design.sbc.run_sbc` by a fake that records the
    configuration it is given (under ``"config"``) and returns four made-up ranks of sigma.

    Parameters
    ----------
    monkeypatch : pytest.MonkeyPatch
        The test's monkeypatch (the fake is undone with it).

    Returns
    -------
    dict
        Filled with the last configuration passed, once the command has run.
    """
    from ambidex_bayes.design import sbc as sbc_module

    seen: dict[str, SBCConfig] = {}

    def fake_run(config: SBCConfig, folder: Path, **options: object) -> pd.DataFrame:
        seen["config"] = config
        return pd.DataFrame({"simulation": range(4), "rank__sigma": [0, 3, 5, 9], "error": ""})

    monkeypatch.setattr(sbc_module, "run_sbc", fake_run)
    return seen
