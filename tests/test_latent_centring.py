"""Latent person-mean centring: fast path against full NUTS, and answers known by simulation.

- The fast path (person effects integrated out given the person means) and full NUTS agree
  on the posterior means within a few Monte Carlo SEs (a small panel with missing x and y).
- Low reliability (2-4 diaries, reliability about 0.4; between effect 0.6, within 0.1): the
  observed-centred M3 estimates the between effect clearly too small, and the latent-centred
  M3's 90% interval covers the truth.
- High reliability (30 diaries, reliability above 0.97): latent and observed centring agree
  within Monte Carlo error (the between effect up to the attenuation of about 1 - reliability
  that observed centring keeps).
"""

from __future__ import annotations

import warnings

import arviz_stats as azs
import numpy as np
import pytest

from ambidex_bayes.centring import LATENT_BELOW, choose_centring
from ambidex_bayes.engine.latent_sampling import fit_latent_model
from ambidex_bayes.errors import SpecError
from ambidex_bayes.fit import SamplerSettings, fit
from ambidex_bayes.model.latent_data import latent_data
from ambidex_bayes.model.latent_simulate import (
    LatentTruth,
    observed_reliability,
    simulate_latent_panel,
)
from ambidex_bayes.spec import load_spec

SCALARS = [
    "x_cw",
    "x_pm",
    "w",
    "x_cw:w",
    "1|person_sigma",
    "x_cw|person_sigma",
    "sigma",
    "x_mu_mean",
    "x_mu_sd",
    "x_within_sd",
]


def _prepared(df):
    from ambidex_bayes.data import ColumnMapping, load_diary
    from ambidex_bayes.prepare import prepare

    mapping = ColumnMapping.from_dict(
        {"person": "person", "occasion": "day", "outcome": "y", "level1": ["x"], "level2": ["w"]}
    )
    return prepare(load_diary(df, mapping))


def _interval(posterior, name, prob=0.90):
    lo, hi = np.quantile(posterior[name].to_numpy(), [(1 - prob) / 2, (1 + prob) / 2])
    return float(lo), float(hi)


@pytest.mark.fit
def test_fast_path_agrees_with_full_nuts():
    df = simulate_latent_panel(80, (2, 5), seed=21, missing_x=0.1, missing_y=0.1)
    df["w"] -= df.groupby("person")["w"].first().mean()
    data = latent_data(df, y="y", x="x", person="person", w="w")
    assert data.n_imputed > 0 and len(data.x_only) > 0
    sampling = dict(backend="nutpie", draws=500, tune=500, chains=2, seed=8)
    fits = {
        marginal: fit_latent_model(data, "M3", marginal=marginal, **sampling)[1]
        for marginal in (True, False)
    }
    post = {k: v["posterior"].to_dataset() for k, v in fits.items()}
    assert set(post[True].data_vars) == set(post[False].data_vars)
    for name in SCALARS + ["x_mu", "1|person", "x_cw|person", "x_imputed"]:
        a, b = post[True][name], post[False][name]
        se = np.sqrt(
            azs.mcse(fits[True]["posterior"][name]).to_numpy() ** 2
            + azs.mcse(fits[False]["posterior"][name]).to_numpy() ** 2
        )
        diff = np.abs(a.mean(("chain", "draw")).to_numpy() - b.mean(("chain", "draw")).to_numpy())
        # scalars within 4 MC SEs; for vectors, 99% of the entries (a few tail cases allowed)
        within = diff < 4.0 * se
        assert within.mean() >= (1.0 if within.ndim == 0 else 0.97), (name, diff, se)


@pytest.mark.slow
def test_low_reliability_latent_covers_and_observed_is_biased(tmp_path):
    truth = LatentTruth(between=0.6, within=0.1)
    assert observed_reliability(truth, 3) < 0.45
    # one data set: whether its interval covers is a single draw of the 90% coverage, which
    # validation/latent_centring_coverage.py checks over many replications
    prepared = _prepared(simulate_latent_panel(600, (2, 4), truth, seed=13))
    assert prepared.person_mean_reliability["x"] < 0.5
    settings = SamplerSettings(backend="nutpie", draws=500, tune=500, chains=2, seed=3)
    spec = load_spec("M3")
    results = {}
    for centring in ("observed", "latent"):
        with warnings.catch_warnings():
            # 1000 draws are fewer than the ESS limits ask; this test checks intervals
            warnings.simplefilter("ignore", UserWarning)
            results[centring] = fit(
                spec,
                prepared,
                settings=settings,
                cache_dir=tmp_path if centring == "latent" else False,
                progressbar=False,
                verbose=False,
                centring=centring,
            )
    latent, observed = results["latent"], results["observed"]
    assert latent.meta["centring"] == "latent"
    assert "latent" in latent.meta["method"]
    lo, hi = _interval(latent.posterior, "x_pm")
    assert lo < truth.between < hi
    # observed centring: shrunk towards zero by about the reliability, interval far below
    olo, ohi = _interval(observed.posterior, "x_pm")
    assert ohi < truth.between - 0.1
    assert float(observed.posterior["x_pm"].mean()) < float(latent.posterior["x_pm"].mean())
    # the within slope is estimated well by both
    for r in (latent, observed):
        lo, hi = _interval(r.posterior, "x_cw", 0.99)
        assert lo < truth.within < hi
    # the saved latent fit loads with its centring, and the slope analyses read it
    from ambidex_bayes.centring_record import centring_line
    from ambidex_bayes.fit import load_fit
    from ambidex_bayes.results import simple_slopes

    loaded = load_fit(latent.path)
    assert loaded.meta["centring"] == "latent"
    assert "latent person means" in centring_line(loaded.meta)
    slopes = simple_slopes(loaded, warn=False).table.set_index("moderator_label")
    assert slopes.loc["mean", "mean"] == pytest.approx(float(latent.posterior["x_cw"].mean()))


@pytest.mark.slow
def test_high_reliability_latent_and_observed_agree():
    truth = LatentTruth(mu_sd=0.8, within_sd=0.5, sd_slope=0.1)
    assert observed_reliability(truth, 30) > 0.97
    prepared = _prepared(simulate_latent_panel(100, (30, 30), truth, seed=5))
    settings = SamplerSettings(backend="nutpie", draws=500, tune=500, chains=2, seed=4)
    spec = load_spec("M3")
    fits = {}
    for centring in ("observed", "latent"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            fits[centring] = fit(
                spec,
                prepared,
                settings=settings,
                cache_dir=False,
                progressbar=False,
                verbose=False,
                centring=centring,
            )
    reliability = prepared.person_mean_reliability["x"]
    assert reliability > 0.97
    for name in ["x_cw", "x_pm", "w_c", "x_cw:w_c", "1|person_sigma", "sigma"]:
        a = fits["latent"].idata["posterior"][name]
        b = fits["observed"].idata["posterior"][name]
        se = float(np.hypot(azs.mcse(a).to_numpy(), azs.mcse(b).to_numpy()))
        diff = abs(float(a.mean()) - float(b.mean()))
        # the observed between effect is still attenuated by about (1 - reliability), which
        # is more than the MC error of these fits: that part of the difference is allowed
        allowed = (1.0 - reliability) * abs(float(a.mean())) if name == "x_pm" else 0.0
        if name == "1|person_sigma":
            # the observed person intercepts keep the part of the between effect the
            # attenuated observed one misses: beta_B^2 tau^2 (1 - reliability) of variance,
            # about that over twice the SD on the SD's scale
            latent = fits["latent"].idata["posterior"]
            extra = (
                float(latent["x_pm"].mean()) ** 2
                * float(latent["x_mu_sd"].mean()) ** 2
                * (1.0 - reliability)
            )
            allowed = extra / (2.0 * float(a.mean()))
        assert diff < 4.0 * se + allowed, (name, diff, se, allowed)


def test_choice_of_centring():
    prepared = _prepared(simulate_latent_panel(40, (2, 4), seed=1))
    m3 = load_spec("M3")
    assert prepared.person_mean_reliability["x"] < LATENT_BELOW
    assert choose_centring("auto", m3, prepared) == "latent"
    assert choose_centring("observed", m3, prepared) == "observed"
    assert choose_centring("auto", load_spec("M0"), prepared) == "observed"
    with pytest.raises(SpecError, match="cannot fit M0"):
        choose_centring("latent", load_spec("M0"), prepared)
    with pytest.raises(SpecError, match="centring must be one of"):
        choose_centring("grand", m3, prepared)
    many = _prepared(
        simulate_latent_panel(40, (30, 30), LatentTruth(mu_sd=0.8, within_sd=0.5), seed=1)
    )
    assert choose_centring("auto", m3, many) == "observed"


def test_the_record_of_an_automatic_choice():
    from ambidex_bayes.centring import auto_choice

    prepared = _prepared(simulate_latent_panel(40, (2, 4), seed=1))
    m3 = load_spec("M3")
    assert auto_choice("observed", m3, prepared) is None
    assert auto_choice("latent", m3, prepared) is None
    record = auto_choice("auto", m3, prepared)
    assert record == {
        "asked": "auto",
        "reliability": pytest.approx(prepared.person_mean_reliability["x"]),
        "threshold": LATENT_BELOW,
        "latent_unavailable": None,
    }
    m0 = auto_choice("auto", load_spec("M0"), prepared)
    assert m0 is not None and "not 'M0'" in m0["latent_unavailable"]


def test_spec_files_choose_the_centring():
    from ambidex_bayes.spec import ModelSpec

    # the bundled ladder chooses by the reliability; M0 has no level-1 predictor
    assert [load_spec(n).centring for n in ("M0", "M1", "M2", "M3")] == [
        "observed",
        "auto",
        "auto",
        "auto",
    ]
    bundled = load_spec("M3")
    assert bundled.to_dict()["centring"] == "auto"
    # a spec file without a centring key: observed
    m3 = ModelSpec.from_dict(
        {k: v for k, v in bundled.to_dict().items() if k != "centring"}, source="m3.toml"
    )
    assert m3.centring == "observed"
    assert "centring" not in m3.to_dict()  # the fingerprint of observed specs is unchanged
    assert bundled.fingerprint() != m3.fingerprint()
    latent = ModelSpec.from_dict({**m3.to_dict(), "centring": "latent"}, source="m3.toml")
    assert latent.centring == "latent"
    assert latent.fingerprint() != m3.fingerprint()
    assert ModelSpec.from_dict(latent.to_dict()).centring == "latent"
    assert latent.with_priors({}).centring == "latent"
    with pytest.raises(SpecError, match="'centring' must be one of"):
        ModelSpec.from_dict({**m3.to_dict(), "centring": "grand"}, source="m3.toml")


@pytest.mark.fit
def test_latent_m1_and_m2_without_moderator_have_the_observed_names():
    from ambidex_bayes.data import ColumnMapping, load_diary
    from ambidex_bayes.prepare import prepare

    settings = SamplerSettings(backend="nutpie", draws=100, tune=100, chains=1, seed=3)
    frame = simulate_latent_panel(60, (2, 4), seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # 100 draws: ESS warnings expected
        m1 = fit(
            load_spec("M1"),
            _prepared(frame),
            settings=settings,
            cache_dir=False,
            progressbar=False,
            verbose=False,
            centring="latent",
        )
        mapping = ColumnMapping.from_dict(
            {"person": "person", "occasion": "day", "outcome": "y", "level1": ["x"]}
        )
        m2 = fit(
            load_spec("M2"),
            prepare(load_diary(frame.drop(columns="w"), mapping)),
            settings=settings,
            cache_dir=False,
            progressbar=False,
            verbose=False,
            centring="latent",
        )
    assert set(m1.posterior.data_vars) >= {"x_cw", "x_pm", "w_c", "1|person", "x_mu", "x_mu:w_c"}
    assert "x_cw|person" not in m1.posterior and m1.terms.group_slope is None
    assert set(m2.posterior.data_vars) >= {"x_cw|person", "corr(1|person,x_cw|person)", "x_mu"}
    assert "x_mu:w_c" not in m2.posterior and m2.terms.moderator is None
    assert m2.posterior["x_mu"].shape[-1] == 60


def test_checks_refuse_latent_fits_instead_of_using_the_observed_design():
    from types import SimpleNamespace

    from ambidex_bayes.checks.indexed_predictor import fixed_design
    from ambidex_bayes.errors import ModelError

    fake = SimpleNamespace(
        meta={"centring": "latent"}, spec=SimpleNamespace(name="M3"), formula="y ~ 1 + x_cw"
    )
    with pytest.raises(ModelError, match="latent centring: predictive checks"):
        fixed_design(fake)
