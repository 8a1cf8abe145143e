"""The methods paragraph states what the fits record: versions, priors, centring, settings
and diagnostics; change one of them and the paragraph changes with it."""

from __future__ import annotations

import pandas as pd
from report_fakes import PRIORS, SETTINGS, VERSIONS, fake_analysis, fake_fit

from ambidex_bayes.methods_text import methods_paragraph


def test_names_the_versions_recorded_with_the_fit():
    text = methods_paragraph(fake_analysis())
    for label, package in [
        ("ambidex_bayes", "ambidex_bayes"),
        ("Bambi", "bambi"),
        ("PyMC", "pymc"),
        ("ArviZ", "arviz"),
        ("nutpie", "nutpie"),
    ]:
        assert f"{label} {VERSIONS[package]}" in text, label
    assert "Python 3." in text


def test_names_every_prior_used():
    text = methods_paragraph(fake_analysis())
    for name, info in PRIORS.items():
        assert f"{name} ~ {info['prior']}" in text
    assert "[spec]" in text and "[bambi default (scaled to data)]" in text


def test_states_the_sampler_settings_and_the_method():
    text = methods_paragraph(fake_analysis())
    assert "4 chains of 500 draws after 777 tuning steps" in text
    assert "target acceptance rate 0.93" in text and "seed 4242" in text
    assert "nutpie's NUTS sampler" in text
    assert "fast path" in text


def test_a_changed_setting_changes_the_text():
    before = methods_paragraph(fake_analysis())
    settings = {**SETTINGS, "draws": 1234, "target_accept": 0.99, "backend": "pymc"}
    after = methods_paragraph(
        fake_analysis(fake_fit(settings=settings, method="full NUTS over all parameters"))
    )
    assert after != before
    assert "4 chains of 1234 draws" in after and "target acceptance rate 0.99" in after
    assert "PyMC's own NUTS sampler" in after
    assert "full NUTS over all parameters" in after and "fast path" not in after


def test_a_changed_prior_or_version_changes_the_text():
    priors = {**PRIORS, "unc_cw": {"prior": "Normal(mu=0, sigma=0.123)", "source": "spec"}}
    text = methods_paragraph(fake_analysis(fake_fit(priors=priors)))
    assert "unc_cw ~ Normal(mu=0, sigma=0.123)" in text
    text = methods_paragraph(fake_analysis(fake_fit(versions={**VERSIONS, "pymc": "6.4.77"})))
    assert "PyMC 6.4.77" in text


def test_states_the_centring_and_the_reliability_of_person_means():
    analysis = fake_analysis()
    text = methods_paragraph(analysis)
    prepared = analysis.prepared
    assert "centred within person" in text
    assert f"lambda = {prepared.person_mean_reliability['unc']:.2f}" in text
    centre = prepared.transforms["sup_c"].centre
    assert f"the moderator sup was centred at its mean over persons ({centre:.3g}" in text


def test_states_the_diagnostics_of_the_fit_and_the_pareto_k():
    analysis = fake_analysis()
    conv = analysis.fits["M3"].convergence
    text = methods_paragraph(analysis)
    assert f"maximum R-hat {conv.table['rhat'].max():.3f}" in text
    assert f"minimum bulk ESS {conv.min_ess_bulk:.0f}" in text
    assert "0 divergent transitions of 2000 draws" in text
    loo = pd.DataFrame({"model": ["M3"], "max_k": [0.83], "n_high_k": [3], "k_threshold": [0.7]})
    with_loo = methods_paragraph(analysis, loo=loo)
    assert "M3 0.83 (3 above)" in with_loo and "threshold 0.70" in with_loo


def test_models_that_differ_are_each_described():
    m0 = fake_fit(
        name="M0",
        slope=False,
        interaction=False,
        random_slope=False,
        priors={"Intercept": {"prior": "Normal(mu=9, sigma=9)", "source": "spec"}},
    )
    text = methods_paragraph(fake_analysis(m0, fake_fit()))
    assert "M0 differed in: Intercept ~ Normal(mu=9, sigma=9)" in text
    assert "Each model was sampled" in text


def test_states_why_the_automatic_rule_took_latent_centring():
    fit = fake_fit()
    fit.meta.update(centring="latent")
    text = methods_paragraph(fake_analysis(fit))
    assert "latent person-mean centring" in text and "automatic rule" not in text
    fit.meta["centring_choice"] = {
        "asked": "auto",
        "reliability": 0.49,
        "threshold": 0.7,
        "latent_unavailable": None,
    }
    text = methods_paragraph(fake_analysis(fit))
    assert "by the automatic rule" in text
    assert "reliability of the observed person means is below 0.70 (here 0.49" in text
