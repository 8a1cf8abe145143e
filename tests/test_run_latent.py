"""The main job with latent person-mean centring: ``run --centring`` and ``centring=`` reach
every fit of the ladder that has a level-1 predictor (M0 is fitted as it is), and the whole
job -- checks, moderation, report -- completes and states the centring."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ambidex_bayes as ab
from ambidex_bayes.cli import main
from ambidex_bayes.diagnostics import ConvergenceWarning
from ambidex_bayes.errors import SpecError
from ambidex_bayes.ladder import ladder_specs
from ambidex_bayes.pipeline import example_inputs, ladder_centrings

SMALL = ["--draws", "100", "--tune", "150", "--chains", "2", "--no-progress"]


def _example_ladder():
    from ambidex_bayes.data import load_diary
    from ambidex_bayes.model.build import build_model
    from ambidex_bayes.prepare import prepare

    source, mapping = example_inputs()
    prepared = prepare(load_diary(source, mapping))
    specs = ladder_specs(roles=prepared.formula_fields())
    return specs, [build_model(s, prepared) for s in specs], prepared


def test_ladder_centrings_reach_the_models_with_a_predictor():
    specs, built, prepared = _example_ladder()
    assert [s.name for s in specs] == ["M0", "M1", "M2", "M3"]
    latent = {"M0": "observed", "M1": "latent", "M2": "latent", "M3": "latent"}
    assert ladder_centrings(specs, built, prepared, "latent") == latent
    # the example's person means are unreliable (0.49): auto takes latent centring
    assert ladder_centrings(specs, built, prepared, "auto") == latent
    assert set(ladder_centrings(specs, built, prepared, "observed").values()) == {"observed"}
    assert set(ladder_centrings(specs, built, prepared, None).values()) == {None}
    with pytest.raises(SpecError, match="centring must be one of"):
        ladder_centrings(specs, built, prepared, "grand")


def test_latent_centring_the_job_cannot_serve_fails_before_sampling(tmp_path: Path):
    source, _ = example_inputs()
    frame = pd.read_csv(source)
    # a second moderator: latent centring takes at most one
    frame["climate"] = (
        frame["leader_support"] * 0.5 + frame["person_id"].astype("category").cat.codes % 3
    )
    mapping = {
        "person": "person_id",
        "occasion": "day",
        "outcome": "innovation",
        "level1": ["uncertainty"],
        "level2": ["leader_support", "climate"],
    }
    with pytest.raises(
        SpecError, match="latent centring cannot fit M1: it takes at most one level-2"
    ):
        ab.report(frame, tmp_path / "r", mapping=mapping, centring="latent", progressbar=False)
    assert not (tmp_path / "r" / "report.md").exists()


# fits of 2 x 100 draws: too few for the R-hat and ESS limits (and a row's Pareto k may stay
# high), as expected here
@pytest.mark.filterwarnings("ignore::ambidex_bayes.diagnostics.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore:.*still have Pareto k above:UserWarning")
@pytest.mark.fit
def test_run_on_example_with_latent_centring(tmp_path: Path, capsys):
    out = tmp_path / "report"
    args = ["run", "--example", "--out", str(out), "--cache-dir", str(tmp_path / "c"), *SMALL]
    assert main([*args, "--centring", "latent"]) == 0
    printed = capsys.readouterr().out
    assert "M0: Centring: observed person means" in printed
    for name in ("M1", "M2", "M3"):
        assert f"{name}: Centring: latent person means" in printed
    text = (out / "report.md").read_text()
    assert text.count("Centring: latent person means of the level-1 predictor") == 3
    assert "M1, M2 and M3 were fitted with latent person-mean centring" in text
    assert "### Posterior predictive checks (M3)" in text
    loo = pd.read_csv(out / "tables" / "loo.csv")
    assert list(loo["model"]) == ["M0", "M1", "M2", "M3"]
    assert np.isfinite(loo["elpd_loo"]).all()
    assert len(pd.read_csv(out / "tables" / "loo_compare.csv")) == 4
    r2 = pd.read_csv(out / "tables" / "r2.csv").set_index(["model", "r2"])
    assert 0 < r2.loc[("M3", "conditional"), "mean"] < 1
    slopes = pd.read_csv(out / "tables" / "person_slopes.csv")
    assert slopes["person"].nunique() == 97 and np.isfinite(slopes["mean"]).all()


@pytest.mark.filterwarnings("ignore:.*still have Pareto k above:UserWarning")
@pytest.mark.fit
def test_report_with_latent_centring_imputes_and_compares_like_with_like(tmp_path: Path):
    source, _ = example_inputs()
    frame = pd.read_csv(source)
    rows = np.random.default_rng(1).choice(len(frame), 12, replace=False)
    frame.loc[rows, "uncertainty"] = np.nan
    settings = ab.SamplerSettings(draws=100, tune=150, chains=2, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        path = ab.report(
            frame,
            tmp_path / "report",
            mapping=ab.example_mapping_path(),
            settings=settings,
            cache_dir=False,
            progressbar=False,
            verbose=False,
            centring="latent",
        )
    text = path.read_text()
    imputed = [line for line in text.splitlines() if "were imputed by the model" in line]
    assert imputed and all("missing daily value(s)" in line for line in imputed[1:])
    loo = pd.read_csv(path.parent / "tables" / "loo.csv").set_index("model")
    n_latent = loo.loc["M3", "n_rows"]
    assert loo.loc["M1", "n_rows"] == n_latent and loo.loc["M0", "n_rows"] < n_latent
    assert "left out of the comparison: M0" in text
    compared = pd.read_csv(path.parent / "tables" / "loo_compare.csv")
    assert sorted(compared["model"]) == ["M1", "M2", "M3"]
