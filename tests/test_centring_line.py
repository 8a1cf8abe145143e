"""Every fit states its centring and the evidence for it (issue 17).

The centring line of an observed fit names the observed person means' reliability and,
below :data:`~ambidex_bayes.centring_record.LATENT_BELOW`, advises latent centring and says why;
the ``summary`` command prints it for every fit, latent or observed.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from fake_fit_results import pair_result, with_sample_stats

from ambidex_bayes.centring_record import LATENT_BELOW, centring_line
from ambidex_bayes.cli import main

ADVICE = "Latent centring is advised"


def test_an_unreliable_observed_mean_advises_latent_centring():
    line = centring_line({"person_mean_reliability": 0.49})
    assert line.startswith("Centring: observed person means")
    assert "lambda = 0.49" in line and "below 0.70" in line
    assert ADVICE in line
    assert "--centring latent" in line and "centring='latent'" in line
    # why: the between-person effect is pulled 1 - lambda of the way towards the within one
    assert "1 - lambda = 51%" in line and "between-person effect is biased" in line


def test_a_reliable_observed_mean_gives_no_advice():
    line = centring_line({"person_mean_reliability": 0.9})
    assert "lambda = 0.90" in line
    assert ADVICE not in line and "--centring latent" not in line


@pytest.mark.parametrize("reliability", [0.2, 0.69, LATENT_BELOW, 0.71, 0.99])
def test_the_advice_follows_the_threshold_of_auto(reliability):
    # centring='auto' takes latent centring below the threshold, and only there is it advised
    line = centring_line({"person_mean_reliability": reliability})
    assert (ADVICE in line) == (reliability < LATENT_BELOW)
    assert (f"1 - lambda = {1 - reliability:.0%}" in line) == (reliability < LATENT_BELOW)


@pytest.mark.parametrize("meta", [{}, {"person_mean_reliability": None}])
def test_an_unknown_reliability_is_not_invented(meta):
    assert centring_line(meta) == "Centring: observed person means of the level-1 predictor."
    assert centring_line(meta, reliability=math.nan) == centring_line(meta)


def test_the_record_comes_before_the_fallback():
    # a fit's own record wins; the fallback serves fits saved before it was recorded
    assert "lambda = 0.90" in centring_line({"person_mean_reliability": 0.9}, reliability=0.3)
    assert "lambda = 0.30" in centring_line({}, reliability=0.3)
    assert ADVICE in centring_line({}, reliability=0.3)


def test_a_latent_fit_gives_no_advice_to_centre_latently():
    line = centring_line({"centring": "latent", "person_mean_reliability": 0.49})
    assert line.startswith("Centring: latent person means")
    assert "lambda = 0.49" in line and ADVICE not in line


def _saved_fake_fit(tmp_path: Path, **meta: object) -> Path:
    result = with_sample_stats(pair_result())
    result.meta.update(meta)
    path = tmp_path / "fit.nc"
    result.save(path)
    return path


def test_summary_prints_the_centring_of_an_observed_fit(tmp_path: Path, capsys):
    path = _saved_fake_fit(tmp_path, person_mean_reliability=0.49)
    assert main(["summary", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Centring: observed person means" in out
    assert "lambda = 0.49" in out and ADVICE in out


def test_summary_of_an_older_fit_reads_the_reliability_of_its_data(tmp_path: Path, capsys):
    result = with_sample_stats(pair_result())
    assert "person_mean_reliability" not in result.meta
    x = result.prepared.mapping.level1[0]
    expected = result.prepared.person_mean_reliability[x]
    path = _saved_fake_fit(tmp_path)
    assert main(["summary", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Centring: observed person means" in out and f"lambda = {expected:.2f}" in out
    assert ADVICE not in out  # the fake data's person means are reliable (0.89)


@pytest.mark.fit
def test_a_real_observed_fit_records_and_states_its_reliability(m3_fit, tmp_path, capsys):
    x = m3_fit.prepared.mapping.level1[0]
    reliability = m3_fit.prepared.person_mean_reliability[x]
    assert m3_fit.meta["person_mean_reliability"] == pytest.approx(reliability)
    path = m3_fit.save(tmp_path / "m3.nc")
    assert main(["summary", str(path)]) == 0
    out = capsys.readouterr().out
    assert centring_line(m3_fit.meta) in out
    assert f"lambda = {reliability:.2f}" in out
    assert (ADVICE in out) == (reliability < LATENT_BELOW)


def _auto(reliability: float | None, unavailable: str | None = None) -> dict[str, object]:
    return {
        "asked": "auto",
        "reliability": reliability,
        "threshold": LATENT_BELOW,
        "latent_unavailable": unavailable,
    }


def test_a_latent_centring_chosen_by_auto_says_why():
    meta = {"centring": "latent", "person_mean_reliability": 0.49, "centring_choice": _auto(0.49)}
    line = centring_line(meta)
    assert line.startswith("Centring: latent person means")
    assert "chosen by centring='auto' because" in line and "lambda = 0.49 < 0.70" in line
    # asked for explicitly: no claim that auto chose it
    assert "chosen by" not in centring_line({**meta, "centring_choice": None})


def test_an_observed_centring_chosen_by_auto_says_why():
    line = centring_line({"person_mean_reliability": 0.85, "centring_choice": _auto(0.85)})
    assert "chosen by centring='auto' because" in line and "lambda = 0.85 >= 0.70" in line
    assert ADVICE not in line
    # a model without a between-person effect: the reliability auto chose on is stated
    line = centring_line({"person_mean_reliability": None, "centring_choice": _auto(0.9)})
    assert "lambda = 0.90 >= 0.70" in line


def test_auto_keeping_observed_below_the_threshold_says_latent_cannot_fit():
    reason = "it needs a Gaussian outcome (the spec's family is 'student_t')"
    meta = {"person_mean_reliability": 0.49, "centring_choice": _auto(0.49, reason)}
    line = centring_line(meta)
    assert line.startswith("Centring: observed person means")
    assert "lambda = 0.49, below 0.70" in line and "1 - lambda = 51%" in line
    assert f"kept observed centring because latent centring cannot fit this model: {reason}." in (
        line
    )
    assert ADVICE not in line  # the advice to centre latently cannot be followed


def test_summary_states_the_automatic_choice_of_a_saved_fit(tmp_path: Path, capsys):
    path = _saved_fake_fit(tmp_path, person_mean_reliability=0.89, centring_choice=_auto(0.89))
    assert main(["summary", str(path)]) == 0
    out = capsys.readouterr().out
    assert "chosen by centring='auto' because their reliability is lambda = 0.89 >= 0.70" in out
