"""No command deletes or replaces a file or folder the user did not name as its output, and a
finished fit survives any output problem.

Command-line tests replace the expensive steps (sampling, loading fits) by functions that fail
when called, so that a refusal is shown to come before any work; the few tests that need a
real fit file share the session's small M3 fit.
"""

from __future__ import annotations

import importlib
import os
import shutil
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest

from ambidex_bayes.cli import main
from ambidex_bayes.errors import AmbidexError

SMALL = ["--draws", "150", "--tune", "150", "--chains", "2", "--backend", "pymc", "--no-progress"]
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _forbid(monkeypatch, target: str) -> None:
    """Make ``module.attribute`` fail the test when called."""

    def forbidden(*args, **kwargs):
        raise AssertionError(f"{target} was called although the output was refused")

    module, _, attribute = target.rpartition(".")
    monkeypatch.setattr(importlib.import_module(module), attribute, forbidden)


def _refused(capsys, *words: str) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for word in words:
        assert word in err, err
    return err


def _sentinel_folder(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "thesis.docx").write_text("three years of work")
    return folder


def _intact(folder: Path) -> bool:
    return (folder / "thesis.docx").read_text() == "three years of work"


@pytest.fixture
def diary(tmp_path: Path) -> tuple[Path, Path]:
    """A simulated diary CSV and its mapping TOML."""
    data = tmp_path / "data" / "diary.csv"
    assert main(["simulate", "--out", str(data), "--persons", "20", "--seed", "2"]) == 0
    return data, data.with_suffix(".mapping.toml")


@pytest.fixture(scope="module")
def stored_fit(m3_fit, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("stored")
    return m3_fit.save(folder / "m3.nc")


@pytest.fixture
def fit_file(stored_fit: Path, tmp_path: Path) -> Path:
    """A copy of the small M3 fit in a folder of this test."""
    folder = tmp_path / "fits"
    folder.mkdir()
    return Path(shutil.copy(stored_fit, folder / "m3.nc"))


# ---- report folders -----------------------------------------------------------------------


def _fake_report(monkeypatch) -> SimpleNamespace:
    """Report writing without figures: ``_write`` writes report.md only."""
    report = importlib.import_module("ambidex_bayes.report")

    def write(analysis, folder, *, title):
        (folder / "report.md").write_text("# report\n")

    monkeypatch.setattr(report, "_write", write)
    return SimpleNamespace(fits={}, diary=SimpleNamespace(source="<DataFrame>"))


def test_report_to_a_symlink_keeps_the_linked_folder(tmp_path: Path, monkeypatch):
    from ambidex_bayes.report import write_report

    analysis = _fake_report(monkeypatch)
    target = _sentinel_folder(tmp_path / "documents")
    link = tmp_path / "report"
    link.symlink_to(target, target_is_directory=True)
    with pytest.raises(AmbidexError, match="symbolic link"):
        write_report(analysis, link)
    assert _intact(target) and link.is_symlink()


def test_run_out_symlink_is_refused_before_sampling(tmp_path: Path, monkeypatch, capsys):
    _forbid(monkeypatch, "ambidex_bayes.pipeline.run_analysis")
    target = _sentinel_folder(tmp_path / "documents")
    link = tmp_path / "report"
    link.symlink_to(target, target_is_directory=True)
    assert main(["run", "--example", "--out", str(link), *SMALL]) == 2
    _refused(capsys, "symbolic link", str(link))
    assert _intact(target)


def test_report_to_the_current_folder_is_refused(tmp_path: Path, monkeypatch, capsys):
    analysis = _fake_report(monkeypatch)
    monkeypatch.setattr(
        importlib.import_module("ambidex_bayes.fit"),
        "load_fit",
        lambda path: SimpleNamespace(path=path),
    )
    monkeypatch.setattr("ambidex_bayes.pipeline.analysis_from_fits", lambda fits: analysis)
    _sentinel_folder(tmp_path)
    (tmp_path / "m3.nc").write_bytes(b"a fit")
    monkeypatch.chdir(tmp_path)
    assert main(["report", "m3.nc", "--out", "."]) == 2
    _refused(capsys, "current folder", "new or empty folder")
    assert _intact(tmp_path) and (tmp_path / "m3.nc").read_bytes() == b"a fit"


def test_run_to_the_current_folder_is_refused_before_sampling(tmp_path: Path, monkeypatch, capsys):
    _forbid(monkeypatch, "ambidex_bayes.pipeline.run_analysis")
    _sentinel_folder(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--example", "--out", ".", *SMALL]) == 2
    _refused(capsys, "current folder")
    assert _intact(tmp_path)


def test_report_to_a_folder_with_user_files_is_refused(tmp_path: Path, monkeypatch):
    from ambidex_bayes.report import write_report

    analysis = _fake_report(monkeypatch)
    folder = _sentinel_folder(tmp_path / "analysis")
    with pytest.raises(AmbidexError, match="not empty"):
        write_report(analysis, folder)
    assert _intact(folder)


@pytest.mark.fit
def test_report_into_the_folder_of_its_fit_keeps_the_fit(fit_file: Path, capsys):
    before = fit_file.read_bytes()
    assert main(["report", str(fit_file), "--out", str(fit_file.parent)]) == 2
    _refused(capsys, "input", str(fit_file.parent))
    assert fit_file.read_bytes() == before


def test_run_report_folder_holding_the_cache_is_refused(tmp_path: Path, monkeypatch, capsys):
    _forbid(monkeypatch, "ambidex_bayes.pipeline.run_analysis")
    out = tmp_path / "results"
    cache = out / "fits"
    args = ["run", "--example", "--out", str(out), "--cache-dir", str(cache), *SMALL]
    assert main(args) == 2
    _refused(capsys, "input", str(cache))


def test_run_whose_report_cannot_be_written_names_the_saved_fits(
    tmp_path: Path, monkeypatch, capsys
):
    report = importlib.import_module("ambidex_bayes.report")

    saved = tmp_path / "cache" / "M3-0123.nc"
    analysis = SimpleNamespace(fits={"M3": SimpleNamespace(path=saved, meta={})}, slopes=None)
    monkeypatch.setattr("ambidex_bayes.pipeline.run_analysis", lambda *a, **k: analysis)

    def disk_full(analysis, folder, *, title):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report, "_write", disk_full)
    out = tmp_path / "report"
    args = ["run", "--example", "--out", str(out), "--cache-dir", str(tmp_path / "cache")]
    assert main([*args, *SMALL]) == 2
    err = _refused(capsys, "No space left on device", str(saved), "ambidex-bayes report")
    assert str(out) in err
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no half-written folder left


def test_an_earlier_report_is_replaced_but_not_once_the_user_adds_a_file(
    tmp_path: Path, monkeypatch
):
    from ambidex_bayes.output_paths import REPORT_MARKER
    from ambidex_bayes.report import write_report

    analysis = _fake_report(monkeypatch)
    out = tmp_path / "report"
    write_report(analysis, out)
    assert (out / REPORT_MARKER).is_file()
    (out / "report.md").write_text("old")
    write_report(analysis, out)
    assert (out / "report.md").read_text() == "# report\n"
    (out / "my_notes.txt").write_text("mine")
    with pytest.raises(AmbidexError, match="my_notes.txt"):
        write_report(analysis, out)
    assert (out / "my_notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]  # nothing left beside it


def test_replacing_a_report_keeps_a_users_dot_old_folder(tmp_path: Path, monkeypatch):
    from ambidex_bayes.report import write_report

    analysis = _fake_report(monkeypatch)
    out = tmp_path / "report"
    write_report(analysis, out)
    kept = _sentinel_folder(tmp_path / ".report.old")
    write_report(analysis, out)
    assert _intact(kept)


def test_report_folder_that_cannot_be_created_is_a_clear_error(tmp_path: Path, monkeypatch):
    from ambidex_bayes.report import write_report

    analysis = _fake_report(monkeypatch)
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(AmbidexError, match="not a folder"):
        write_report(analysis, tmp_path / "a_file" / "report")


# ---- fit files ----------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["data", "mapping"])
def test_fit_out_an_input_is_refused_before_sampling(diary, which, monkeypatch, capsys):
    _forbid(monkeypatch, "ambidex_bayes.fit.fit")
    data, mapping = diary
    target = data if which == "data" else mapping
    before = target.read_bytes()
    args = ["fit", str(data), "--mapping", str(mapping), "--spec", "M1", "--out", str(target)]
    assert main([*args, *SMALL]) == 2
    _refused(capsys, "input", str(target))
    assert target.read_bytes() == before


def test_fit_out_an_existing_file_of_another_kind_is_refused(diary, monkeypatch, capsys):
    _forbid(monkeypatch, "ambidex_bayes.fit.fit")
    data, mapping = diary
    other = data.parent / "other_study.csv"
    other.write_text("a,b\n1,2\n")
    args = ["fit", str(data), "--mapping", str(mapping), "--spec", "M1", "--out", str(other)]
    assert main([*args, *SMALL]) == 2
    _refused(capsys, "not a fit file")
    assert other.read_text() == "a,b\n1,2\n"


def _unwritable_folder(tmp_path: Path, how: str) -> Path:
    if how == "parent is a file":
        (tmp_path / "a_file").write_text("x")
        return tmp_path / "a_file" / "out"
    if IS_ROOT:
        pytest.skip("permissions do not stop root")
    folder = tmp_path / "read_only"
    folder.mkdir()
    folder.chmod(0o500)
    return folder


UNWRITABLE = ["parent is a file", "read-only folder"]


@pytest.mark.parametrize("how", UNWRITABLE)
def test_fit_out_unwritable_is_refused_before_sampling(diary, tmp_path, how, monkeypatch, capsys):
    _forbid(monkeypatch, "ambidex_bayes.fit.fit")
    data, mapping = diary
    out = _unwritable_folder(tmp_path, how) / "m1.nc"
    args = ["fit", str(data), "--mapping", str(mapping), "--spec", "M1", "--out", str(out)]
    assert main([*args, *SMALL]) == 2
    _refused(capsys, str(out))


# the session's small fit: too few draws for the R-hat and ESS limits, as expected here
@pytest.mark.filterwarnings("ignore::ambidex_bayes.diagnostics.ConvergenceWarning")
@pytest.mark.fit
def test_unwritable_cache_keeps_the_finished_fit(m3_fit, small_prepared, tmp_path, monkeypatch):
    fit_module = importlib.import_module("ambidex_bayes.fit")
    from ambidex_bayes.spec import load_spec

    monkeypatch.setattr(fit_module, "sample_marginal", lambda *a, **k: m3_fit.idata.copy())
    monkeypatch.setattr(fit_module, "sample_full", lambda *a, **k: m3_fit.idata.copy())
    (tmp_path / "a_file").write_text("x")
    from ambidex_bayes.output_paths import OutputWarning

    with pytest.warns(OutputWarning, match="could not be saved") as caught:
        result = fit_module.fit(
            load_spec("M3"),
            small_prepared,
            settings=fit_module.SamplerSettings(backend="pymc", draws=300, tune=300, chains=2),
            cache_dir=tmp_path / "a_file" / "cache",
            progressbar=False,
            verbose=False,
        )
    assert any("kept in memory" in str(w.message) for w in caught)
    assert result.path is None
    assert "posterior" in result.idata.children


@pytest.mark.fit
def test_fit_command_keeps_a_fit_the_cache_could_not_take(
    m3_fit, diary, tmp_path, monkeypatch, capsys
):
    import dataclasses
    import tempfile

    def fit_with_full_cache(spec, prepared, **kwargs):
        warnings.warn(
            "the finished fit could not be saved in the cache folder", UserWarning, stacklevel=2
        )
        return dataclasses.replace(m3_fit, path=None)

    monkeypatch.setattr(importlib.import_module("ambidex_bayes.fit"), "fit", fit_with_full_cache)
    elsewhere = tmp_path / "tmp"
    elsewhere.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(elsewhere))
    data, mapping = diary
    args = ["fit", str(data), "--mapping", str(mapping), "--spec", "M3", *SMALL]
    with pytest.warns(UserWarning, match="could not be saved"):
        assert main(args) == 0
    saved = list(elsewhere.glob("*.nc"))
    assert len(saved) == 1 and str(saved[0]) in capsys.readouterr().out
    from ambidex_bayes.fit import load_fit

    assert load_fit(saved[0]).spec.name == "M3"


@pytest.mark.fit
def test_fit_out_that_fails_after_sampling_says_where_the_fit_is(
    m3_fit, fit_file, diary, tmp_path, monkeypatch, capsys
):
    import dataclasses

    fit_module = importlib.import_module("ambidex_bayes.fit")

    monkeypatch.setattr(
        fit_module, "fit", lambda *a, **k: dataclasses.replace(m3_fit, path=fit_file)
    )

    def disk_full(self, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fit_module.FitResult, "save", disk_full)
    monkeypatch.setattr(fit_module.FitResult, "save_copy", disk_full)
    data, mapping = diary
    out = tmp_path / "m3_out.nc"
    args = ["fit", str(data), "--mapping", str(mapping), "--spec", "M3", "--out", str(out)]
    assert main([*args, *SMALL]) == 2
    printed = capsys.readouterr()
    assert "No space left on device" in printed.err and "Traceback" not in printed.err
    assert f"saved at {fit_file}" in printed.err
    assert "cross-level interaction" in printed.out  # the command finished with the fit


# ---- CSV tables and figure folders ---------------------------------------------------------


@pytest.mark.fit
@pytest.mark.parametrize("command", ["summary", "slopes", "ppc"])
def test_csv_over_the_fit_is_refused(command, fit_file: Path, capsys):
    before = fit_file.read_bytes()
    assert main([command, str(fit_file), "--csv", str(fit_file)]) == 2
    _refused(capsys, "input", str(fit_file))
    assert fit_file.read_bytes() == before


@pytest.mark.fit
@pytest.mark.parametrize("how", UNWRITABLE)
def test_csv_in_an_unwritable_place_is_a_clear_error(fit_file, tmp_path, how, capsys):
    csv = _unwritable_folder(tmp_path, how) / "summary.csv"
    assert main(["summary", str(fit_file), "--csv", str(csv)]) == 2
    _refused(capsys, str(csv))


@pytest.mark.fit
def test_csv_that_is_a_folder_is_a_clear_error(fit_file, tmp_path, capsys):
    folder = _sentinel_folder(tmp_path / "tables")
    assert main(["summary", str(fit_file), "--csv", str(folder)]) == 2
    _refused(capsys, "is a folder")
    assert _intact(folder)


def test_simulate_out_a_folder_is_a_clear_error(tmp_path: Path, capsys):
    folder = _sentinel_folder(tmp_path / "study")
    assert main(["simulate", "--out", str(folder), "--persons", "20"]) == 2
    _refused(capsys, "is a folder")
    assert _intact(folder)


FOLDER_COMMANDS = {
    "ppc": (["ppc", "FIT"], "ambidex_bayes.fit.load_fit"),
    "moderation": (["moderation", "FIT"], "ambidex_bayes.fit.load_fit"),
    "compare": (["compare", "FIT", "FIT"], "ambidex_bayes.fit.load_fit"),
    "compare-priors": (
        ["compare-priors", "M3", "--example", "--priors", "default", *SMALL],
        "ambidex_bayes.priors.compare_priors",
    ),
    "prior-check": (
        ["prior-check", "M3", "--example"],
        "ambidex_bayes.priors.prior_predictive_check",
    ),
    "power": (
        ["power", "--sims", "2", "--scheduler", "serial"],
        "ambidex_bayes.design.power.run_power",
    ),
    "sbc": (["sbc", "--sims", "2", "--scheduler", "serial"], "ambidex_bayes.design.sbc.run_sbc"),
}


@pytest.mark.parametrize("how", UNWRITABLE)
@pytest.mark.parametrize("command", sorted(FOLDER_COMMANDS))
def test_unwritable_out_folder_is_refused_before_any_work(
    command, how, tmp_path: Path, monkeypatch, capsys
):
    argv, work = FOLDER_COMMANDS[command]
    _forbid(monkeypatch, work)
    fit = tmp_path / "m3.nc"
    fit.write_bytes(b"a fit")
    out = _unwritable_folder(tmp_path, how) / "results"
    argv = [str(fit) if a == "FIT" else a for a in argv]
    assert main([*argv, "--out", str(out)]) == 2
    _refused(capsys, str(out))


def test_power_restart_in_a_foreign_folder_deletes_nothing(tmp_path: Path, monkeypatch, capsys):
    from ambidex_bayes.design.store import ResultStore

    folder = _sentinel_folder(tmp_path / "work")
    (folder / "part-000001.parquet").write_bytes(b"someone else's data")
    with pytest.raises(AmbidexError, match="not a result folder"):
        ResultStore(folder, kind="power", config={}, restart=True)
    assert _intact(folder)
    assert (folder / "part-000001.parquet").read_bytes() == b"someone else's data"


def test_a_table_that_cannot_be_written_keeps_the_previous_one(tmp_path: Path):
    import pandas as pd

    from ambidex_bayes.errors import OutputError
    from ambidex_bayes.output_paths import OutputFolder

    folder = OutputFolder(tmp_path / "tables")
    folder.table("loo.csv", pd.DataFrame({"a": [1]}))

    def disk_full(tmp):
        raise OSError(28, "No space left on device")

    with pytest.raises(OutputError, match="loo.csv.*No space left"):
        folder.write("loo.csv", disk_full)
    assert (tmp_path / "tables" / "loo.csv").read_text() == "a\n1\n"
    assert [p.name for p in (tmp_path / "tables").iterdir()] == ["loo.csv"]
