"""The report and the commands for any pair: every cross-level interaction is reported, the
pair asked for comes first, and a factor moderator is shown by level.

Fake fits of :mod:`fake_pairs` (two predictors, two moderators; a factor moderator);
the commands read them through a stand-in for ``load_fit``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import SimpleNamespace

import pandas as pd
import pytest
from fake_pairs import factor_fit, pair_fit

from ambidex_bayes.cli import main
from ambidex_bayes.moderation import (
    focus_pair,
    moderation_results,
    report_section,
    simple_slopes,
)
from ambidex_bayes.moderation.slopes import SimpleSlopes


@dataclass
class _Analysis:
    fits: dict
    moderation_model: str | None
    slopes: SimpleSlopes | None = None
    lines: pd.DataFrame | None = None


def _headings(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("## ")]


def test_the_report_covers_every_cross_level_interaction(tmp_path):
    fit, _ = pair_fit()
    analysis = SimpleNamespace(fits={"M3": fit}, moderation_model="M3", slopes=simple_slopes(fit))
    figures, tables = tmp_path / "figures", tmp_path / "tables"
    lines = report_section(analysis, figures, tables)
    assert _headings(lines) == [
        "## Moderation in depth: unc × sup",
        "## Moderation in depth: unc × cli",
        "## Moderation in depth: str × sup",
        "## Moderation in depth: str × cli",
    ]
    # the first pair keeps the files' plain names, the others are named by their pair
    assert (figures / "moderation_curve.png").exists()
    assert (figures / "moderation_curve_str_by_cli.png").exists()
    curve = pd.read_csv(tables / "moderation_curve_str_by_cli.csv")
    expected = moderation_results(fit, focal="str", moderator="cli").curve
    assert curve["mean"].iloc[0] == pytest.approx(expected.table["mean"].iloc[0])
    text = "\n".join(lines)
    assert "figures/moderation_curve_unc_by_cli.png" in text


def test_the_pair_of_the_analysis_s_slopes_comes_first(tmp_path):
    fit, _ = pair_fit()
    slopes = simple_slopes(fit, focal="str", moderator="cli", at=[15.0, 35.0])
    analysis = SimpleNamespace(fits={"M3": fit}, moderation_model="M3", slopes=slopes)
    lines = report_section(analysis, tmp_path / "f", tmp_path / "t")
    assert _headings(lines)[0] == "## Moderation in depth: str × cli"
    first = pd.read_csv(tmp_path / "t" / "simple_slopes_both_scales.csv")
    assert first["moderator_label"].tolist()[:2] == ["at 15", "at 35"]


def test_a_factor_moderator_is_reported_by_level(tmp_path):
    fit, _, _ = factor_fit("treatment")
    slopes = simple_slopes(fit, moderator="sector")
    analysis = SimpleNamespace(fits={"M3": fit}, moderation_model="M3", slopes=slopes)
    lines = report_section(analysis, tmp_path / "f", tmp_path / "t")
    assert _headings(lines) == [
        "## Moderation in depth: unc × sector",
        "## Moderation in depth: unc × sup",
    ]
    text = "\n".join(lines)
    assert "### Slopes at each level of sector and their contrasts" in text
    assert "p_direction" in text
    assert "B − A" in text and "C − B" in text
    assert "Johnson–Neyman region" in text  # for the numeric moderator only
    levels = pd.read_csv(tmp_path / "t" / "simple_slopes_both_scales.csv")
    assert levels["moderator_label"].tolist() == ["A", "B", "C"] * 2
    assert not (tmp_path / "t" / "johnson_neyman_boundary.csv").exists()
    assert (tmp_path / "t" / "johnson_neyman_boundary_unc_by_sup.csv").exists()


def test_moderation_results_of_a_factor_have_no_curve():
    fit, _, _ = factor_fit("sum")
    results = moderation_results(fit, moderator="sector")
    assert results.curve is None and results.johnson_neyman is None
    assert results.pair == ("unc", "sector")
    assert set(results.tables()) >= {"simple_slopes_both_scales", "slope_differences"}
    assert results.differences["contrast"].tolist()[:3] == ["B − A", "C − A", "C − B"]
    assert (results.differences["scale"] == "standardised").sum() == 3


def test_focus_pair_replaces_the_slopes_and_lines():
    fit, _ = pair_fit()
    analysis = _Analysis(fits={"M3": fit}, moderation_model="M3", slopes=simple_slopes(fit))
    focused = focus_pair(analysis, focal="str", moderator="cli", at=[20.0])
    assert focused.slopes is not None and focused.lines is not None
    assert focused.slopes.table.attrs["x_name"] == "str"
    assert focused.slopes.table["moderator"].tolist() == [20.0]
    assert focused.lines.attrs["moderator_name"] == "cli"
    assert analysis.slopes.table.attrs["x_name"] == "unc"  # the original is left alone


@pytest.fixture
def saved(monkeypatch, tmp_path):
    """The fits the commands load, by file name."""
    fits = {}

    def load_fit(path, **_):
        return fits[str(path)]

    # the package's name ``fit`` is the verb; the commands import the module's load_fit
    monkeypatch.setattr(importlib.import_module("ambidex_bayes.fit"), "load_fit", load_fit)
    return fits


def test_slopes_command_for_a_chosen_pair(saved, capsys):
    fit, _ = pair_fit()
    saved["m3.nc"] = fit
    assert main(["slopes", "m3.nc", "--focal", "str", "--moderator", "cli", "--at", "20"]) == 0
    out = capsys.readouterr().out
    assert "slope of inno on str" in out
    assert "Moderator values are raw values of cli." in out


def test_slopes_command_for_a_factor_prints_the_contrasts(saved, capsys):
    fit, _, _ = factor_fit("treatment")
    saved["m3.nc"] = fit
    assert main(["slopes", "m3.nc", "--moderator", "sector"]) == 0
    out = capsys.readouterr().out
    assert "Contrasts between levels" in out
    assert "C − B" in out and "p_direction" in out


def test_an_unknown_pair_is_a_clear_error(saved, capsys):
    fit, _ = pair_fit()
    saved["m3.nc"] = fit
    assert main(["slopes", "m3.nc", "--focal", "stres"]) != 0
    err = capsys.readouterr().err
    assert "did you mean 'str'" in err
    assert "Traceback" not in err


def test_moderation_command_for_a_factor(saved, capsys):
    fit, _, _ = factor_fit("treatment")
    saved["m3.nc"] = SimpleNamespace(
        idata=fit.idata, terms=fit.terms, prepared=fit.prepared, spec=SimpleNamespace(name="M3")
    )
    assert main(["moderation", "m3.nc", "--moderator", "sector"]) == 0
    out = capsys.readouterr().out
    assert "at each level of the factor sector" in out
    assert "Johnson" not in out


def test_person_slopes_of_a_factor_are_drawn_above_their_level(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from ambidex_bayes.errors import AmbidexError
    from ambidex_bayes.moderation import moderation_curve, person_slopes, plot_person_slopes

    fit, _, _ = factor_fit("treatment")
    persons = person_slopes(fit, moderator="sector")
    ax = plot_person_slopes(persons)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["A", "B", "C"]
    xs = sorted(x for line in ax.lines if line.get_marker() == "o" for x in line.get_xdata())
    # two persons per level, each within its level's band
    assert [round(x) for x in xs] == [0, 0, 1, 1, 2, 2]
    with pytest.raises(AmbidexError, match="no curve"):
        plot_person_slopes(persons, curve=moderation_curve(fit))
    analysis = SimpleNamespace(fits={"M3": fit}, moderation_model="M3", slopes=None)
    lines = report_section(analysis, tmp_path / "f", tmp_path / "t")
    assert (tmp_path / "f" / "person_slopes.png").exists()
    assert "![person slopes](figures/person_slopes.png)" in lines
