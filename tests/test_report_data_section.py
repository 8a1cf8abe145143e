"""The report's data section: its reliability warning and what the fits below did about it.

Built on fits of known fake draws (no sampling); only the recorded centring and the
prepared data's reliability of the person means change between the cases.
"""

from __future__ import annotations

import dataclasses
import importlib

import pytest
from report_fakes import fake_analysis, fake_fit

from ambidex_bayes.reliability import reliability_message

# the package's ``report`` function hides the module of that name
report = importlib.import_module("ambidex_bayes.report")


def _analysis(reliability: float, centrings: dict[str, str]):
    """A fake analysis whose prepared data has person means of reliability ``reliability``
    (with the warning prepare gives) and whose fits recorded ``centrings``."""
    fits = []
    for name, centring in centrings.items():
        fit = fake_fit(name=name)
        if centring == "latent":
            fit.meta["centring"] = "latent"
        fits.append(fit)
    analysis = fake_analysis(*fits)
    _, warning = reliability_message("unc", {"reliability": reliability, "icc": 0.1, "n_bar": 4.2})
    prepared = dataclasses.replace(
        analysis.prepared,
        person_mean_reliability={"unc": reliability},
        warnings=[warning] if warning else [],
    )
    return dataclasses.replace(analysis, prepared=prepared)


def _warnings_block(lines: list[str]) -> list[str]:
    start = lines.index("**Warnings:**")
    end = lines.index("", start + 2)
    return lines[start + 2 : end]


def test_latent_fits_are_named_under_the_reliability_warning(tmp_path):
    analysis = _analysis(0.45, {"M1": "latent", "M3": "latent"})
    block = _warnings_block(report._data_lines(analysis, tmp_path))
    assert len(block) == 2
    assert "are unreliable (lambda = 0.45" in block[0]
    assert block[1].startswith("- M1 and M3 below use latent person-mean centring")
    assert "does not apply to them" in block[1]


def test_one_latent_fit_among_observed_ones_is_named_alone(tmp_path):
    analysis = _analysis(0.45, {"M0": "observed", "M3": "latent"})
    block = _warnings_block(report._data_lines(analysis, tmp_path))
    assert block[1].startswith("- M3 below uses latent person-mean centring")
    assert "does not apply to it " in block[1]
    assert "M0" not in block[1]


@pytest.mark.parametrize(
    ("reliability", "centring"),
    [(0.45, "observed"), (0.85, "latent")],
    ids=["observed fits keep the warning alone", "reliable means give no warning"],
)
def test_no_remedy_line_without_both_a_warning_and_a_latent_fit(tmp_path, reliability, centring):
    analysis = _analysis(reliability, {"M3": centring})
    lines = report._data_lines(analysis, tmp_path)
    assert not any(" below use" in line for line in lines)
    assert ("**Warnings:**" in lines) == (reliability < report.LATENT_BELOW)
