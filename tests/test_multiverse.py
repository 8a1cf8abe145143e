"""The multiverse: its grid, its table on fake fits, its figure and summary, the command, and
one small real run on the local Dask runner."""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fake_posterior import as_fit, make_prepared, moderation_draws, terms_for

import ambidex_bayes as ab
from ambidex_bayes.cli import main
from ambidex_bayes.design import StoreError
from ambidex_bayes.errors import AmbidexError, SpecError
from ambidex_bayes.multiverse import (
    DataSet,
    MultiverseConfig,
    check_inputs,
    compact_table,
    describe_multiverse,
    multiverse_cells,
    multiverse_tasks,
    plot_multiverse,
    run_multiverse,
)
from ambidex_bayes.multiverse import cells as cells_module
from ambidex_bayes.multiverse.run import TABLE_COLUMNS, multiverse_table
from ambidex_bayes.posterior import PosteriorDraws

EXAMPLE = DataSet(ab.example_path(), ab.example_mapping_path())


def config(**changes) -> MultiverseConfig:
    values = {"datasets": (EXAMPLE,), "backend": "pymc", "draws": 100, "tune": 100, "chains": 2}
    return MultiverseConfig(**{**values, **changes})


# --- the grid -------------------------------------------------------------------------------


def test_grid_has_one_cell_per_combination_in_grid_order():
    other = DataSet("elsewhere/example_diary.csv", ab.example_mapping_path())
    c = config(
        datasets=(EXAMPLE, other),
        priors=("default", "sceptical", "informative"),
        detrend=(False, True),
        standardize=(False, True),
    )
    cells = multiverse_cells(c)
    assert len(cells) == 2 * 3 * 1 * 1 * 2 * 2
    ids = [cell.cell_id for cell in cells]
    assert len(set(ids)) == len(ids)
    # data sets vary slowest, standardize fastest
    assert [(x.detrend, x.standardize) for x in cells[:4]] == [
        (False, False),
        (False, True),
        (True, False),
        (True, True),
    ]
    assert {x.dataset for x in cells[:12]} == {"example_diary#1"}
    assert {x.dataset for x in cells[12:]} == {"example_diary#2"}  # same stem: told apart
    assert cells[4].priors == "sceptical" and cells[4].prior_source == "sceptical"
    assert ids[5] == "d01-p02-observed-c0-t0-s1"
    assert cells[5].label == (
        "example_diary#1 | sceptical | observed | controls: no | detrend: no | standardize: yes"
    )
    tasks = multiverse_tasks(c)
    assert [t.task_id for t in tasks] == ids
    assert {t.seed for t in tasks} == {c.seed}  # the choices are all that differ
    assert tasks[5].params["standardize"] is True and tasks[5].params["label"] == cells[5].label


def test_a_single_value_is_a_grid_of_one_and_file_priors_are_named_by_their_stem(tmp_path):
    prior_file = tmp_path / "my_priors.toml"
    c = config(priors=str(prior_file), standardize=True)
    (cell,) = multiverse_cells(c)
    assert (cell.priors, cell.prior_source, cell.standardize) == (
        "my_priors",
        str(prior_file),
        True,
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"centring": ("grand",)}, r"centring: unknown value 'grand'. Available: 'observed'"),
        ({"controls": ("yes",)}, r"controls: the values must be True or False, got 'yes'"),
        ({"detrend": ()}, r"detrend: give at least one value"),
        ({"standardize": (True, True)}, r"standardize: each value once"),
        ({"priors": ("default", "default")}, r"priors: each prior set once"),
        ({"priors": ()}, r"priors: give at least one"),
        ({"datasets": ()}, r"datasets: give at least one"),
        ({"units": "raw"}, r"units: 'raw' is not one of original, model"),
        ({"prob": 1.5}, r"prob must lie between 0 and 1"),
        ({"draws": 0}, r"draws"),
    ],
)
def test_unknown_choices_are_refused_before_anything_runs(changes, message):
    with pytest.raises(SpecError, match=message):
        config(**changes)


def test_config_round_trips_and_records_the_inputs_digest():
    c = config(priors=("default", "sceptical"), detrend=(False, True))
    stored = c.to_dict()
    assert re.fullmatch(r"[0-9a-f]{64}", stored["input_sha256"][0])
    assert MultiverseConfig.from_dict(stored) == c


def test_inputs_are_checked_before_any_fit(tmp_path):
    with pytest.raises(SpecError, match="no prior set 'scepticl'.*Did you mean 'sceptical'"):
        check_inputs(config(priors=("default", "scepticl")))
    with pytest.raises(SpecError, match="names no controls"):
        check_inputs(config(controls=(False, True)))
    with pytest.raises(SpecError, match="no such data file"):
        check_inputs(config(datasets=(DataSet(tmp_path / "x.csv", ab.example_mapping_path()),)))


# --- the table, on fake fits ----------------------------------------------------------------


def fake_fits(monkeypatch, *, fail: str | None = None) -> list:
    """Replace the fit of a cell by known draws on the small prepared diary; return the cells
    it was called with."""
    calls = []

    def fake_fit(cell, config, *, cache_dir=False):
        calls.append(cell)
        if cell.priors == fail:
            raise AmbidexError("the sampler gave up")
        prepared = make_prepared(standardize=cell.standardize)
        tree, _ = moderation_draws(seed=cell.priors_index, terms=terms_for(prepared))
        return as_fit(tree, terms_for(prepared), prepared)

    monkeypatch.setattr(cells_module, "fit_cell", fake_fit)
    return calls


def test_table_has_one_row_per_cell_with_the_key_estimates(monkeypatch, tmp_path):
    fake_fits(monkeypatch)
    c = config(priors=("default", "sceptical"), standardize=(False, True))
    table = run_multiverse(c, tmp_path / "mv", scheduler="serial", progressbar=False)
    assert list(table.columns) == list(TABLE_COLUMNS)
    assert table["cell"].tolist() == [cell.cell_id for cell in multiverse_cells(c)]
    assert (table["error"] == "").all()
    assert table["spec"].eq("M3").all() and table["units"].eq("original").all()
    assert table["n_persons"].eq(6).all() and table["n_rows"].eq(22).all()

    for row in table.itertuples():
        prepared = make_prepared(standardize=row.standardize)
        terms = terms_for(prepared)
        _, draws = moderation_draws(seed=0 if row.priors == "default" else 1, terms=terms)
        scale = {k: t.scale for k, t in prepared.transforms.items()}
        to_slope = scale[terms.y_column] / scale[terms.x_column]
        g11 = draws[terms.interaction].ravel() * to_slope / scale[terms.w_column]
        g10 = draws[terms.slope].ravel() * to_slope
        assert row.g11_mean == pytest.approx(g11.mean())
        assert row.g11_sd == pytest.approx(g11.std(ddof=1))
        assert row.g11_lower == pytest.approx(np.quantile(g11, 0.025))
        assert row.g11_upper == pytest.approx(np.quantile(g11, 0.975))
        assert row.g11_pd == pytest.approx(max((g11 > 0).mean(), (g11 < 0).mean()))
        assert row.g10_mean == pytest.approx(g10.mean())
        assert row.g10_pd == pytest.approx(max((g10 > 0).mean(), (g10 < 0).mean()))
        # independent draws of 4 chains x 500: every check passes
        assert row.max_rhat < 1.01 and row.min_ess_bulk > 400 and row.divergent == 0
        assert row.converged and row.checks == "ok"
    # the same draws on standardised columns mean another slope in original units
    assert not math.isclose(table.loc[1, "g11_mean"], table.loc[0, "g11_mean"], rel_tol=0.01)


def test_model_units_keep_the_fitted_columns_scale(monkeypatch, tmp_path):
    fake_fits(monkeypatch)
    c = config(standardize=(True,), units="model")
    table = run_multiverse(c, tmp_path / "mv", scheduler="serial", progressbar=False)
    prepared = make_prepared(standardize=True)
    _, draws = moderation_draws(seed=0, terms=terms_for(prepared))
    assert table.loc[0, "g11_mean"] == pytest.approx(draws["unc_cw:sup_c"].mean())
    assert table.loc[0, "units"] == "model"


def test_a_failed_cell_is_a_row_with_its_message(monkeypatch, tmp_path):
    fake_fits(monkeypatch, fail="sceptical")
    c = config(priors=("default", "sceptical"))
    table = run_multiverse(c, tmp_path / "mv", scheduler="serial", progressbar=False)
    assert table["error"].iloc[0] == ""
    assert table["error"].iloc[1].startswith("AmbidexError: the sampler gave up")
    assert np.isnan(table.loc[1, "g11_mean"]) and not table.loc[1, "converged"]
    text = describe_multiverse(table)
    assert "**Failed**: 1 analyses" in text
    assert "the 95% interval excludes 0 in 1 of 1 analyses" in text
    assert "error" in compact_table(table).columns


def test_a_cell_without_a_verdict_did_not_converge():
    c = config(priors=("default", "sceptical", "informative"))
    ids = [cell.cell_id for cell in multiverse_cells(c)]
    # as stored parts joined: the failed cell's part had no verdict column
    results = pd.DataFrame(
        {
            "task_id": ids[:2],
            "error": ["ValueError: bad", ""],
            "converged": [np.nan, True],
            "checks": [np.nan, "ok"],
            "g11_mean": [np.nan, 0.2],
        }
    )
    table = multiverse_table(results, c)
    assert table["converged"].tolist() == [False, True, False]
    assert table["error"].tolist() == ["ValueError: bad", "", "not run"]
    assert table["checks"].tolist() == ["", "ok", ""]
    assert table["g11_mean"].iloc[1] == 0.2 and table["g11_mean"].iloc[[0, 2]].isna().all()


def test_a_stopped_run_resumes_with_the_missing_cells_only(monkeypatch, tmp_path):
    calls = fake_fits(monkeypatch)
    c = config(priors=("default", "sceptical"))
    first = run_multiverse(c, tmp_path / "mv", scheduler="serial", progressbar=False)
    assert len(calls) == 2
    again = run_multiverse(c, tmp_path / "mv", scheduler="serial", progressbar=False)
    assert len(calls) == 2  # nothing refitted
    pd.testing.assert_frame_equal(first, again)
    with pytest.raises(StoreError, match="other settings"):
        run_multiverse(
            config(priors=("default",)), tmp_path / "mv", scheduler="serial", progressbar=False
        )


# --- figure and summary ---------------------------------------------------------------------


def fake_table(monkeypatch, tmp_path) -> pd.DataFrame:
    fake_fits(monkeypatch)
    c = config(priors=("default", "sceptical"), detrend=(False, True))
    return run_multiverse(c, tmp_path / "mv", scheduler="serial", progressbar=False)


def test_figure_draws_every_cell_sorted_over_its_choices(monkeypatch, tmp_path):
    import matplotlib.pyplot as plt

    table = fake_table(monkeypatch, tmp_path)
    table.loc[3, ["g11_mean", "g11_lower", "g11_upper"]] = np.nan  # a cell without an estimate
    fig = plot_multiverse(table)
    top, bottom = fig.axes
    (points,) = [line for line in top.lines if line.get_marker() == "o"]
    means = points.get_ydata()
    assert len(means) == 3 and list(means) == sorted(means)
    labels = [t.get_text() for t in bottom.get_yticklabels()]
    assert labels == ["priors: default", "priors: sceptical", "detrend: no", "detrend: yes"]
    assert "1 cell(s) without an estimate left out" in top.get_title()
    assert top.get_legend() is not None
    plt.close(fig)
    with pytest.raises(AmbidexError, match="estimate must be one of g11, g10"):
        plot_multiverse(table, estimate="g01")


def test_summary_says_how_the_estimates_vary(monkeypatch, tmp_path):
    table = fake_table(monkeypatch, tmp_path)
    text = describe_multiverse(table, figure="multiverse.png")
    assert text.startswith("# Multiverse: model M3 in 4 analyses")
    assert "priors: default, sceptical; centring: observed" in text
    low, high = table["g11_mean"].min(), table["g11_mean"].max()
    assert f"posterior means from {low:.3f} to {high:.3f} (4 of 4 positive)" in text
    assert "4 of 4 fits passed every check" in text
    assert "![The key estimate across the analyses](multiverse.png)" in text
    compact = compact_table(table)
    assert list(compact.columns) == [
        "priors",
        "detrend",
        "g11",
        "g11_pd",
        "g10",
        "g10_pd",
        "converged",
    ]
    assert compact.loc[0, "detrend"] == "no"
    assert compact.loc[0, "g11"] == (
        f"{table.loc[0, 'g11_mean']:.3f} [{table.loc[0, 'g11_lower']:.3f}, "
        f"{table.loc[0, 'g11_upper']:.3f}]"
    )


# --- the command ----------------------------------------------------------------------------


def cli_args(out: Path, *extra: str) -> list[str]:
    return [
        "multiverse",
        str(ab.example_path()),
        "--mapping",
        str(ab.example_mapping_path()),
        "--priors",
        "default",
        "sceptical",
        "--detrend",
        "both",
        "--scheduler",
        "serial",
        "--no-progress",
        "--out",
        str(out),
        *extra,
    ]


def test_command_writes_table_figure_and_summary(monkeypatch, tmp_path, capsys):
    fake_fits(monkeypatch)
    out = tmp_path / "mv"
    assert main(cli_args(out)) == 0
    table = pd.read_csv(out / "multiverse.csv", keep_default_na=False)
    assert len(table) == 4 and list(table.columns) == list(TABLE_COLUMNS)
    assert set(table["priors"]) == {"default", "sceptical"}
    assert (out / "multiverse.png").stat().st_size > 0
    assert (out / "multiverse.md").read_text().startswith("# Multiverse: model M3 in 4")
    assert "written:" in capsys.readouterr().out
    # run again: the stored cells are read, the named outputs replaced
    assert main(cli_args(out)) == 0


def test_command_never_overwrites_a_file_it_did_not_write(monkeypatch, tmp_path, capsys):
    calls = fake_fits(monkeypatch)
    out = tmp_path / "mine"
    out.mkdir()
    (out / "multiverse.csv").write_text("my own table\n")
    assert main(cli_args(out)) == 2
    assert "not empty and holds no run.json" in capsys.readouterr().err
    assert (out / "multiverse.csv").read_text() == "my own table\n"
    assert sorted(p.name for p in out.iterdir()) == ["multiverse.csv"]
    assert calls == []
    # an input named as the result folder's output is refused before any fit
    data = tmp_path / "data"
    data.mkdir()
    copy = data / "multiverse.csv"
    copy.write_bytes(Path(ab.example_path()).read_bytes())
    args = cli_args(data)
    args[1] = str(copy)
    assert main(args) == 2
    assert "is an input of the command" in capsys.readouterr().err
    assert calls == []


def test_command_refuses_unknown_choices_and_strict_fails_unconverged(
    monkeypatch, tmp_path, capsys
):
    fake_fits(monkeypatch, fail="sceptical")
    assert main([*cli_args(tmp_path / "a"), "--centring", "grand"]) == 2
    assert "centring: unknown value 'grand'" in capsys.readouterr().err
    args = cli_args(tmp_path / "b")
    args[3:4] = [args[3], args[3]]  # two mappings for one data file
    assert main(args) == 2
    assert "one per data file (1), not 2" in capsys.readouterr().err
    assert main([*cli_args(tmp_path / "c"), "--strict"]) == 3
    assert "2 of 4 cells failed or did not converge" in capsys.readouterr().err


# --- the front door -------------------------------------------------------------------------


def test_front_door_verb_is_documented():
    from test_public_api import missing_sections

    assert ab.multiverse is run_multiverse
    assert missing_sections(ab.multiverse) == []
    assert ab.MultiverseConfig is MultiverseConfig and ab.DataSet is DataSet


# --- latent centring -----------------------------------------------------------------------


def test_latent_and_auto_are_centrings_of_the_grid():
    c = config(centring=("observed", "latent", "auto"))
    assert [cell.centring for cell in multiverse_cells(c)] == ["observed", "latent", "auto"]
    # auto fits latent only where it can, so it combines with every other choice
    config(centring=("auto",), standardize=(False, True), detrend=(False, True))


def test_inputs_latent_centring_cannot_fit_are_refused_before_any_fit(tmp_path, capsys):
    spec = tmp_path / "m0.toml"
    spec.write_text((Path(ab.__file__).parent / "models" / "m0_null.toml").read_text())
    with pytest.raises(SpecError, match="latent centring cannot fit"):
        check_inputs(config(centring=("latent",), spec=str(spec)))
    # a latent cell that standardises: named with its choices and the reason
    with pytest.raises(
        SpecError,
        match=r"latent centring cannot fit M3 with controls=False, detrend=False, "
        r"standardize=True: it works on the unstandardised, undetrended predictor",
    ):
        check_inputs(config(centring=("observed", "latent"), standardize=(False, True)))
    check_inputs(config(centring=("observed", "latent")))
    check_inputs(config(centring=("auto",), standardize=(False, True)))  # auto falls back
    # the command checks the inputs before any fit
    assert main([*cli_args(tmp_path / "a"), "--centring", "latent"]) == 2  # --detrend both
    assert "latent centring cannot fit M3 with controls=False, detrend=True" in (
        capsys.readouterr().err
    )


def test_fit_cell_passes_the_cell_s_centring(monkeypatch):
    import importlib

    fit_module = importlib.import_module("ambidex_bayes.fit")  # ab.fit is the verb
    seen = {}

    def fake_fit(spec, prepared, **options):
        seen.update(options)
        return "fitted"

    monkeypatch.setattr(fit_module, "fit", fake_fit)
    cell = multiverse_cells(config(centring=("latent",)))[0]
    assert cells_module.fit_cell(cell, config(centring=("latent",))) == "fitted"
    assert seen["centring"] == "latent"


@dataclasses.dataclass(frozen=True)
class LatentDraws(PosteriorDraws):
    """Fake draws of a latent fit (its ``meta`` says so)."""

    meta: dict = dataclasses.field(default_factory=lambda: {"centring": "latent"})


def test_the_table_shows_the_centring_each_fit_used(monkeypatch, tmp_path):
    def fake_fit(cell, config, *, cache_dir=False):
        prepared = make_prepared()
        tree, _ = moderation_draws(seed=0, terms=terms_for(prepared))
        kind = LatentDraws if cell.centring == "auto" else PosteriorDraws
        return kind(idata=tree, terms=terms_for(prepared), prepared=prepared)

    monkeypatch.setattr(cells_module, "fit_cell", fake_fit)
    c = config(centring=("observed", "auto"))
    table = run_multiverse(c, tmp_path / "mv", scheduler="serial", progressbar=False)
    assert table["centring"].tolist() == ["observed", "auto"]
    assert table["centring_used"].tolist() == ["observed", "latent"]
    compact = compact_table(table)
    assert compact["centring_used"].tolist() == ["observed", "latent"]
    text = describe_multiverse(table)
    assert "**Latent centring**: 1 of 2 fits estimated the person means" in text
    # without auto the choice is the centring itself: no column of its own
    observed = run_multiverse(config(), tmp_path / "mv2", scheduler="serial", progressbar=False)
    assert "centring_used" not in compact_table(observed)
    assert "Latent centring" not in describe_multiverse(observed)


@pytest.mark.fit
def test_latent_cells_on_the_example(tmp_path):
    pytest.importorskip("nutpie")
    c = config(
        centring=("observed", "latent", "auto"), backend="nutpie", draws=100, tune=100, chains=2
    )
    table = run_multiverse(c, tmp_path / "mv", scheduler="serial", progressbar=False)
    assert (table["error"] == "").all(), table["error"].tolist()
    # the example's observed person means are unreliable (about 4 diaries each): auto is latent
    assert table["centring_used"].tolist() == ["observed", "latent", "latent"]
    assert table["n_persons"].eq(97).all()
    assert (table["g11_lower"] < table["g11_mean"]).all()
    assert (table["g11_mean"] < table["g11_upper"]).all()
    # latent and auto cells are the same fit
    assert table.loc[1, "g11_mean"] == pytest.approx(table.loc[2, "g11_mean"])
    assert "centring: observed, latent, auto" in describe_multiverse(table)


# --- one small real run ---------------------------------------------------------------------


@pytest.mark.fit
def test_two_cells_on_a_local_dask_cluster(tmp_path):
    pytest.importorskip("distributed")
    c = config(
        priors=("default", "sceptical"), backend="pymc", draws=100, tune=100, chains=2, seed=3
    )
    table = run_multiverse(c, tmp_path / "mv", n_workers=2, progressbar=False, verbose=False)
    assert (table["error"] == "").all(), table["error"].tolist()
    assert table["n_persons"].eq(97).all()
    assert (table["g11_lower"] < table["g11_mean"]).all()
    assert (table["g11_mean"] < table["g11_upper"]).all()
    assert table["g11_pd"].between(0.5, 1.0).all()
    # the sceptical prior shrinks the interaction toward 0
    assert abs(table.loc[1, "g11_mean"]) < abs(table.loc[0, "g11_mean"])
    assert np.isfinite(table["max_rhat"]).all() and table["divergent"].ge(0).all()
    assert dataclasses.asdict(c)["priors"] == ("default", "sceptical")
