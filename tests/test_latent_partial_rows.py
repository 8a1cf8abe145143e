"""Rows left out only for a missing predictor or outcome reach latent fits, not observed ones.

- prepare keeps them aside (``partial_rows``) with the created columns, says so in a note,
  and neither the prepared rows nor an observed fit's cache key depend on them;
- a latent fit through ``ab.fit`` imputes the missing predictors (counted in
  ``meta["imputed"]`` and as the length of ``x_imputed``), and the days with a predictor
  but no outcome inform the person means: a person known from such days only gets a person
  mean pulled from the population mean toward their own days;
- latent fits are sampled by the engine: nutpie's compiled model is kept in the engine's
  cache, and a latent fit that fails its checks gets the one announced second try;
- the fit command prints what was imputed.
"""

from __future__ import annotations

import importlib
import warnings

import numpy as np
import pandas as pd
import pytest
from latent_fits import failing_once, prepare_panel, quiet_fit

from ambidex_bayes.diagnostics import ConvergenceWarning
from ambidex_bayes.engine.cache import fit_key
from ambidex_bayes.fit import SamplerSettings, fit
from ambidex_bayes.model.latent_simulate import simulate_latent_panel
from ambidex_bayes.partial_rows import latent_rows
from ambidex_bayes.spec import load_spec

centring_module = importlib.import_module("ambidex_bayes.centring")

#: the extra person's days: the predictor only, far above the population mean of 3
EXTRA_X = 5.0


def _panel(seed: int = 4) -> pd.DataFrame:
    """A panel with missing predictors and outcomes, and a person known from days with the
    predictor only."""
    df = simulate_latent_panel(60, (3, 6), seed=seed, missing_x=0.1, missing_y=0.1)
    rng = np.random.default_rng(seed)
    extra = pd.DataFrame(
        {
            "person": "extra",
            "day": np.arange(20),
            "x": EXTRA_X + rng.normal(0.0, 0.3, 20),
            "y": np.nan,
            "w": float(df.groupby("person")["w"].first().mean()),
        }
    )
    return pd.concat([df, extra], ignore_index=True)


def _counts(df: pd.DataFrame) -> tuple[int, int]:
    """Rows with an outcome but no predictor; rows with a predictor but no outcome."""
    return int((df["y"].notna() & df["x"].isna()).sum()), int(
        (df["y"].isna() & df["x"].notna()).sum()
    )


def test_prepare_keeps_the_partial_rows_aside_without_changing_observed_fits():
    df = _panel()
    prepared = prepare_panel(df)
    n_imputed, n_x_only = _counts(df)
    assert n_imputed > 0 and n_x_only > 20
    partial = prepared.partial_rows
    assert len(partial) == n_imputed + n_x_only
    assert prepared.frame[["x", "y"]].notna().all().all()  # observed rows: complete
    assert "extra" not in set(prepared.frame["person"])
    # the created columns, with the prepared data's centres
    w_centre = prepared.transforms["w_c"].centre
    np.testing.assert_allclose(partial["w_c"], partial["w"] - w_centre)
    seen = partial["person"].isin(prepared.person_means.index) & partial["x"].notna()
    np.testing.assert_allclose(
        partial.loc[seen, "x_cw"],
        partial.loc[seen, "x"] - partial.loc[seen, "person"].map(prepared.person_means["x"]),
    )
    assert partial.loc[partial["x"].isna(), "x_cw"].isna().all()
    # the note says what they are and who uses them; the saved record leaves it out
    note = prepared.partial_rows_note
    assert note in prepared.notes
    assert f"{n_imputed} miss only the level-1 predictor" in note
    assert f"{n_x_only} miss only the outcome ('y')" in note and "latent" in note
    assert "imputes the missing predictor" in note and "inform the person means" in note
    # it says where latent centring comes by itself and how to ask for it otherwise
    assert "bundled M1-M3 take it by themselves below reliability 0.7" in note
    assert "--centring latent" in note
    assert note not in prepared.to_dict()["notes"]
    assert len(latent_rows(prepared)) == len(prepared.frame) + len(partial)
    # the prepared rows are those of the data without the partial rows (but for the
    # source row numbers)
    without = prepare_panel(df.drop(index=df.index[df[["x", "y"]].isna().sum(axis=1) == 1]))
    assert without.partial_rows is None and without.partial_rows_note is None
    pd.testing.assert_frame_equal(
        prepared.frame.drop(columns="__row__"), without.frame.drop(columns="__row__")
    )
    # an observed fit's key does not depend on the partial rows' values
    changed = df.copy()
    only_x = changed["y"].isna() & changed["x"].notna()
    changed.loc[only_x, "x"] += 10.0
    only_y = changed["x"].isna() & changed["y"].notna()
    changed.loc[only_y, "y"] -= 10.0
    other = prepare_panel(changed)
    pd.testing.assert_frame_equal(prepared.frame, other.frame)
    settings = SamplerSettings(backend="nutpie", draws=200, tune=200, chains=2).resolved()
    spec = load_spec("M3")
    assert fit_key(spec, prepared, settings) == fit_key(spec, other, settings)
    assert prepared.to_dict() == other.to_dict()
    # complete data: nothing set aside, nothing said
    complete = prepare_panel(simulate_latent_panel(20, (3, 5), seed=1))
    assert complete.partial_rows is None
    assert not any("latent person-mean centring" in n for n in complete.notes)


@pytest.mark.fit
def test_latent_fit_imputes_and_learns_person_means_from_days_without_outcome():
    from ambidex_bayes.engine.sampling import clear_compiled_cache, compiled_cache_info

    df = _panel()
    prepared = prepare_panel(df)
    n_imputed, n_x_only = _counts(df)
    settings = SamplerSettings(backend="nutpie", draws=300, tune=300, chains=2, seed=5)
    clear_compiled_cache()
    before = compiled_cache_info()  # the counts run over the whole process
    fits = []
    for _ in range(2):  # the second fit re-uses the compiled model of the first
        fits.append(quiet_fit(load_spec("M3"), prepared, settings))  # 600 draws: a low ESS
    info = compiled_cache_info()
    assert info["misses"] - before["misses"] == 1 and info["hits"] - before["hits"] >= 1
    assert info["size"] == 1
    result = fits[0]
    imputed = result.meta["imputed"]
    assert imputed["x_imputed"] == n_imputed and imputed["x_only"] == n_x_only
    assert imputed["prepared_rows"] == len(prepared.frame)
    assert imputed["outcome_rows"] == len(prepared.frame) + n_imputed
    assert f"{n_imputed} missing daily value(s)" in imputed["note"]
    assert result.posterior["x_imputed"].shape[-1] == n_imputed
    # the fit keeps the rows of its outcome model; the days without outcome stay aside
    assert len(result.prepared.frame) == result.meta["n_rows"] == imputed["outcome_rows"]
    assert int(result.prepared.frame["x"].isna().sum()) == n_imputed
    assert len(result.prepared.partial_rows) == n_x_only
    # the person known from days without outcome: pulled from the population mean to them
    post = result.posterior
    assert "extra" in post["x_mu"].coords["person__factor_dim"].values
    mu_extra = float(post["x_mu"].sel(person__factor_dim="extra").mean())
    mu_mean = float(post["x_mu_mean"].mean())
    own = float(df.loc[df["person"] == "extra", "x"].mean())
    assert mu_extra - mu_mean > 0.5 * (own - mu_mean), (mu_extra, mu_mean, own)
    # the same draws again (same seed, compiled model re-used)
    np.testing.assert_array_equal(
        fits[1].posterior["x_cw"].to_numpy(), result.posterior["x_cw"].to_numpy()
    )


@pytest.mark.fit
def test_failed_latent_fit_is_rescued_once_and_announced(monkeypatch, capsys, tmp_path):
    calls = failing_once(monkeypatch, centring_module)
    prepared = prepare_panel(simulate_latent_panel(40, (3, 5), seed=2, missing_x=0.1))
    settings = SamplerSettings(backend="nutpie", draws=500, tune=300, chains=4, seed=3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fit(
            load_spec("M3"),
            prepared,
            settings=settings,
            cache_dir=tmp_path,
            progressbar=False,
            centring="latent",
        )
    announced = [
        w for w in caught if issubclass(w.category, ConvergenceWarning) and "once more" in str(w)
    ]
    assert len(announced) == 1
    assert "Sampling once more with target_accept 0.99" in str(announced[0].message)
    out = capsys.readouterr().out
    assert "M3: the fit failed its convergence checks (R-hat up to 1.050" in out
    assert "600 tuning steps (was 300)" in out
    assert "the second try" in out
    assert len(calls) == 2
    rescue = result.meta["rescue"]
    assert rescue["settings"]["target_accept"] == 0.99 and rescue["settings"]["tune"] == 600
    assert rescue["first_problems"]
    assert result.meta["settings"]["tune"] == 300
    from ambidex_bayes.fit import load_fit

    loaded = load_fit(result.path)
    assert loaded.meta["rescue"] == rescue and loaded.meta["centring"] == "latent"
    assert loaded.meta["imputed"] == result.meta["imputed"]
    # without the second try: one check, another cache key
    calls.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        plain = fit(
            load_spec("M3"),
            prepared,
            settings=settings,
            cache_dir=tmp_path,
            progressbar=False,
            verbose=False,
            centring="latent",
            rescue=False,
        )
    assert len(calls) == 1 and "rescue" not in plain.meta
    assert plain.meta["fit_key"] != result.meta["fit_key"]


@pytest.mark.fit
def test_fit_command_prints_what_latent_centring_imputed(tmp_path, capsys):
    from ambidex_bayes.cli import main

    df = simulate_latent_panel(30, (3, 5), seed=6, missing_x=0.15, missing_y=0.1)
    n_imputed, n_x_only = _counts(df.dropna(subset=["w"]))
    data = tmp_path / "diary.csv"
    df.to_csv(data, index=False)
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(
        'person = "person"\noccasion = "day"\noutcome = "y"\nlevel1 = ["x"]\nlevel2 = ["w"]\n'
    )
    args = ["fit", str(data), "--mapping", str(mapping), "--spec", "M3", "--centring", "latent"]
    args += ["--draws", "100", "--tune", "100", "--chains", "1", "--no-progress"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # 100 draws: ESS warnings expected
        status = main([*args, "--cache-dir", str(tmp_path / "fits")])
    out = capsys.readouterr().out
    assert status == 0
    assert "Centring: latent person means" in out and "reliability is lambda = 0." in out
    assert f"{n_imputed} missing daily value(s) of 'x'" in out
    assert f"{n_x_only} day(s) with 'x' but no outcome" in out


@pytest.mark.fit
def test_latent_fit_with_nonfinite_draws_is_refused(monkeypatch):
    from ambidex_bayes.errors import ModelError
    from ambidex_bayes.model import latent_fit

    real = latent_fit.complete_latent

    def broken(model, idata, seed):
        idata = real(model, idata, seed)
        posterior = idata["posterior"].to_dataset()
        posterior["sigma"][0, 0] = np.nan
        idata["posterior"] = type(idata)(posterior)
        return idata

    monkeypatch.setattr(latent_fit, "complete_latent", broken)
    settings = SamplerSettings(backend="nutpie", draws=50, tune=50, chains=1, seed=1)
    with pytest.raises(ModelError, match=r"non-finite \(NaN or infinite\) draws of sigma"):
        fit(
            load_spec("M1"),
            prepare_panel(simulate_latent_panel(20, (3, 5), seed=3)),
            settings=settings,
            cache_dir=False,
            progressbar=False,
            verbose=False,
            centring="latent",
        )
