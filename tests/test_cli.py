"""The command-line interface: the main job end to end, and clear errors without tracebacks."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from ambidex_bayes.cli import main

SMALL = ["--draws", "150", "--tune", "150", "--chains", "2", "--backend", "pymc", "--no-progress"]


# fits of 2 x 150 draws: too few for the R-hat and ESS limits, and (the example's M1-M3 take
# latent centring by default) for every LOO term's Pareto k, as expected here
@pytest.mark.filterwarnings("ignore::ambidex_bayes.diagnostics.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore:.*still have Pareto k above:UserWarning")
@pytest.mark.fit
def test_run_on_example_writes_the_report(tmp_path: Path, capsys):
    out = tmp_path / "report"
    status = main(
        ["run", "--example", "--out", str(out), "--cache-dir", str(tmp_path / "c"), *SMALL]
    )
    assert status == 0
    text = (out / "report.md").read_text()
    assert "## The moderation (M3)" in text
    assert "population-level within-person slope" in text.lower()
    for fig in ("moderation.png", "simple_slopes.png", "effects_M3.png"):
        assert (out / "figures" / fig).stat().st_size > 5000
    slopes = pd.read_csv(out / "tables" / "simple_slopes.csv")
    assert list(slopes["moderator_label"]) == ["-1 SD", "mean", "+1 SD"]
    # the bundled example has a clearly positive slope at high support
    assert slopes.loc[2, "ci_lower"] > 0
    summary = pd.read_csv(out / "tables" / "summary_M3.csv")
    assert "uncertainty_cw:leader_support_c" in set(summary["parameter"])
    printed = capsys.readouterr().out
    assert "report written" in printed
    # the default: the ladder's M1-M3 choose their centring by the reliability, and say why
    chosen = "chosen by centring='auto' because the observed person means' reliability is "
    for name in ("M1", "M2", "M3"):
        assert f"{name}: Centring: latent person means" in printed
    assert f"{chosen}lambda = 0.49 < 0.70" in printed
    assert text.count(f"{chosen}lambda = 0.49 < 0.70") == 3
    # a folder others can read (not the owner-only mode of a temporary folder)
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask


def test_missing_mapping_is_a_clear_error(tmp_path: Path, capsys):
    data = tmp_path / "d.csv"
    data.write_text("a,b\n1,2\n")
    assert main(["fit", str(data), "--spec", "M0"]) == 2
    err = capsys.readouterr().err
    assert "give --mapping" in err
    assert "Traceback" not in err


def test_bad_column_is_named_without_traceback(tmp_path: Path, capsys):
    data = tmp_path / "d.csv"
    data.write_text("pid,day,inno,unc\n1,1,3,2\n1,2,4,3\n2,1,2,2\n2,2,3,4\n")
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        'person = "pid"\noccasion = "day"\noutcome = "inno"\nlevel1 = ["uncertainty"]\n'
    )
    assert main(["fit", str(data), "--mapping", str(mapping), "--spec", "M1", *SMALL]) == 2
    err = capsys.readouterr().err
    assert "uncertainty" in err and "unc" in err
    assert "Traceback" not in err


def test_unknown_spec_key_is_named(tmp_path: Path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text('name = "X"\nformula = "{y} ~ 1"\nfamilly = "gaussian"\n')
    assert main(["fit", "--example", "--spec", str(spec), *SMALL]) == 2
    assert "Did you mean 'family'" in capsys.readouterr().err


def test_simulate_writes_data_mapping_and_truth(tmp_path: Path):
    out = tmp_path / "sim.csv"
    assert main(["simulate", "--out", str(out), "--persons", "20", "--seed", "3"]) == 0
    frame = pd.read_csv(out)
    assert frame["person_id"].nunique() == 20
    from ambidex_bayes.data import ColumnMapping

    mapping = ColumnMapping.from_toml(out.with_suffix(".mapping.toml"))
    assert mapping.person == "person_id" and mapping.level2 == ("leader_support",)
    assert '"g11"' in out.with_suffix(".truth.json").read_text()


@pytest.mark.fit
def test_summary_and_slopes_of_a_saved_fit(m3_fit, tmp_path: Path, capsys):
    path = m3_fit.save(tmp_path / "m3.nc")
    assert main(["summary", str(path), "--csv", str(tmp_path / "s.csv")]) == 0
    assert "cross-level interaction" in capsys.readouterr().out
    assert main(["slopes", str(path), "--at", "3,4", "--which", "new_person"]) == 0
    printed = capsys.readouterr().out
    assert "at 3" in printed and "for a new person" in printed.lower()


def test_corrupt_fit_file_message(tmp_path: Path, capsys):
    bad = tmp_path / "bad.nc"
    bad.write_bytes(b"not a fit")
    assert main(["summary", str(bad)]) == 2
    assert "cannot be read as a fit file" in capsys.readouterr().err
