"""Power analyses with latent (or automatic) person-mean centring of every fit."""

from __future__ import annotations

import pandas as pd
import pytest
from latent_design_runs import small_latent_power

from ambidex_bayes.design.power import (
    PowerConfig,
    describe_power,
    power_table,
)
from ambidex_bayes.errors import SpecError


def test_centring_is_stored_only_when_set():
    assert "centring" not in PowerConfig().to_dict()
    config = PowerConfig(centring="latent")
    assert config.to_dict()["centring"] == "latent"
    assert PowerConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"centring": "latnet"}, "centring must be one of observed, latent, auto"),
        (
            {
                "centring": "latent",
                "design": {"factor": {"name": "sector", "levels": ["a", "b"]}},
            },
            "latent centring takes a numeric moderator, not a factor",
        ),
    ],
)
def test_centring_the_fits_cannot_take_is_refused(kwargs, words):
    with pytest.raises(SpecError, match="Invalid power analysis") as err:
        PowerConfig(**kwargs)
    assert words in str(err.value)


def test_a_prior_set_is_taken_with_latent_centring():
    config = PowerConfig(centring="latent", priors="sceptical")
    assert PowerConfig.from_dict(config.to_dict()) == config


def test_auto_may_meet_designs_latent_centring_cannot_fit():
    # auto falls back to observed centring where latent centring cannot serve
    PowerConfig(centring="auto", priors="weakly_informative")


def _results(centring: list[str], between: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "task_id": [f"t{r}" for r in range(len(centring))],
            "n_persons": 40,
            "diaries": 3.0,
            "effect": 0.25,
            "replicate": range(len(centring)),
            "lower": 0.05,
            "mean": 0.25,
            "upper": 0.45,
            "p_positive": 0.99,
            "n_rows": 120,
            "rhat": 1.0,
            "ess_bulk": 400.0,
            "divergent": 0,
            "between_mean": between,
            "between_truth": 0.1,
            "centring": centring,
            "error": "",
        }
    )


def test_table_gives_the_between_bias_and_the_share_of_latent_fits():
    config = PowerConfig(persons=(40,), diaries=(3.0,), centring="auto", simulations=4)
    results = _results(["latent", "latent", "observed", "latent"], [0.1, 0.3, -0.1, 0.5])
    row = power_table(results, config).iloc[0]
    assert row["between_bias"] == pytest.approx((0.0 + 0.2 - 0.2 + 0.4) / 4)
    assert row["latent"] == pytest.approx(0.75)
    assert "reliability was below 0.7" in describe_power(power_table(results, config), config)


def test_the_command_passes_the_centring(monkeypatch, tmp_path):
    from ambidex_bayes.cli import main
    from ambidex_bayes.design import power as power_module

    seen = {}

    def fake_run(config, folder, **options):
        seen["config"] = config
        return _results(["latent"], [0.12])

    monkeypatch.setattr(power_module, "run_power", fake_run)
    out = tmp_path / "power"
    args = ["power", "--persons", "40", "--diaries", "3", "--sims", "1", "--out", str(out)]
    assert main([*args, "--centring", "latent", "--no-progress"]) == 0
    assert seen["config"].centring == "latent"
    assert pd.read_csv(out / "power_table.csv").loc[0, "latent"] == 1.0
    with pytest.raises(SystemExit):
        main([*args, "--centring", "median"])


@pytest.mark.fit
def test_replicate_fits_are_latent(tmp_path):
    pytest.importorskip("nutpie")
    # small_latent_power checks that the fit did not fail and its meta recorded latent centring
    config, results = small_latent_power(tmp_path)
    assert results["between_truth"].tolist() == [0.1]  # the reference design's g02
    assert results["between_mean"].notna().all()
    # the posterior means of the latent person means lie near the true ones
    assert (results["person_mean_rmse"] > 0).all() and (results["person_mean_rmse"] < 1.0).all()
    assert power_table(results, config).loc[0, "latent"] == 1.0


def test_person_mean_rmse_compares_the_fit_s_means_with_the_true_ones():
    from types import SimpleNamespace

    import numpy as np
    import xarray as xr

    from ambidex_bayes.design.power_predictors import person_mean_rmse
    from ambidex_bayes.simulate import reference_design, simulate_diary

    study = simulate_diary(reference_design(n_persons=12), seed=4)
    truth = study.person_means()
    # observed centring: the observed means of the daily values
    observed = study.data.groupby("person_id")["uncertainty"].mean()
    expected = np.sqrt(np.mean((observed.reindex(truth.index) - truth) ** 2))
    fit = SimpleNamespace(meta={}, posterior=xr.Dataset())
    assert person_mean_rmse(fit, study) == pytest.approx(expected)
    # a latent fit: its posterior means of the person means (persons in another order)
    shifted = truth.iloc[::-1] + 0.5
    draws = np.broadcast_to(shifted.to_numpy(), (2, 3, len(shifted)))
    posterior = xr.Dataset(
        {"uncertainty_mu": (("chain", "draw", "person_id__factor_dim"), draws)},
        coords={"person_id__factor_dim": list(shifted.index)},
    )
    latent = SimpleNamespace(
        meta={"latent_names": {"person_means": "uncertainty_mu"}}, posterior=posterior
    )
    assert person_mean_rmse(latent, study) == pytest.approx(0.5)


@pytest.mark.fit
def test_latent_fits_take_the_prior_set(monkeypatch, tmp_path):
    pytest.importorskip("nutpie")
    from ambidex_bayes.design import power as power_module

    fits = []

    def recording_fit(*args, **kwargs):
        fits.append(fit_simulated(*args, **kwargs))
        return fits[-1]

    fit_simulated = power_module.fit_simulated
    monkeypatch.setattr(power_module, "fit_simulated", recording_fit)
    small_latent_power(tmp_path, priors="sceptical")
    (fit,) = fits
    assert fit.meta["centring"] == "latent"
    # the sceptical set's interaction prior on 1-5 scales (relative SD 0.2 -> 0.05), not
    # the latent model's data-scaled default
    interaction = fit.priors["uncertainty_cw:leader_support_c"]
    assert interaction == {"prior": "Normal(mu=0, sigma=0.05)", "source": "spec"}
    assert fit.priors["Intercept"]["source"] == "spec"
    assert fit.priors["uncertainty_mu_sd"]["source"] == "data"  # the predictor model's own
