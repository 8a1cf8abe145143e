"""Simulated studies with several level-1 predictors, each with true person means: the
moments of the drawn values, the truth under the latent fit's names, correlated person
means, and the data of existing designs left unchanged."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ambidex_bayes.model.latent_data import LatentNames
from ambidex_bayes.simulate import DesignError, reference_design, simulate_diary

#: Further predictors, each with its own mean, SD of the person means and within SD.
FURTHER = [
    {"name": "workload", "g10": -0.2, "g02": 0.3, "x_mean": 2.0, "x_sd_between": 0.8,
     "x_sd_within": 0.6},
    {"name": "sleep", "g10": 0.1, "g02": -0.1, "x_mean": 7.0, "x_sd_between": 0.4,
     "x_sd_within": 1.3},
]  # fmt: skip
#: Correlation of the true person means (uncertainty, workload, sleep).
MEAN_CORR = [[1.0, 0.4, -0.3], [0.4, 1.0, 0.2], [-0.3, 0.2, 1.0]]
#: Standard errors a moment may be off by (a two-sided 4-SE band: about 6e-5 by chance).
Z = 4.0


def _design(**changes):
    return reference_design(
        likert=None,
        missing_rate=0.0,
        predictors=FURTHER,
        **changes,
    )


@pytest.fixture(scope="module")
def large():
    """3000 persons with 8 diaries each, continuous scales, no gaps."""
    design = _design(n_persons=3000, diaries_dist="fixed", diaries_mean=8, mean_corr=MEAN_CORR)
    return simulate_diary(design, seed=21)


def _sd_band(sd: float, n: int) -> float:
    r"""The tolerance of a sample SD of ``n`` normal values: ``Z`` standard errors,
    :math:`\mathrm{SE} \approx \sigma / \sqrt{2(n-1)}`."""
    return Z * sd / math.sqrt(2 * (n - 1))


def test_every_predictor_s_person_means_and_within_sd_have_the_stated_moments(large):
    d = large.design
    means = large.all_person_means()
    J = len(means)
    specs = [(d.x_col, d.x_mean, d.x_sd_between, d.x_sd_within)]
    specs += [(p["name"], p["x_mean"], p["x_sd_between"], p["x_sd_within"]) for p in FURTHER]
    person = large.data[d.person_col].to_numpy()
    for x, mean, sd_between, sd_within in specs:
        mu = means[f"{x}_mu"]
        # mean and SD of the true person means: SE sd/sqrt(J) and sd/sqrt(2(J-1))
        assert abs(mu.mean() - mean) < Z * sd_between / math.sqrt(J), x
        assert abs(mu.std(ddof=1) - sd_between) < _sd_band(sd_between, J), x
        # the daily values scatter around the true means with the within SD (N rows)
        dev = large.data[x].to_numpy() - mu.loc[person].to_numpy()
        assert abs(dev.mean()) < Z * sd_within / math.sqrt(len(dev)), x
        assert abs(dev.std(ddof=1) - sd_within) < _sd_band(sd_within, len(dev)), x
        # and the pooled within-person SD around the observed means estimates it too
        # (N - J degrees of freedom)
        observed = large.data.groupby(d.person_col)[x].transform("mean").to_numpy()
        pooled = math.sqrt(((large.data[x].to_numpy() - observed) ** 2).sum() / (len(dev) - J))
        assert abs(pooled - sd_within) < _sd_band(sd_within, len(dev) - J + 1), x


def test_person_means_correlate_as_stated(large):
    corr = large.all_person_means().corr().to_numpy()
    J = large.design.n_persons
    for i in range(3):
        for j in range(i + 1, 3):
            r = MEAN_CORR[i][j]
            # SE of a sample correlation about (1 - r^2) / sqrt(J)
            assert abs(corr[i, j] - r) < Z * (1 - r**2) / math.sqrt(J), (i, j)


def test_truth_is_recorded_under_the_latent_fit_s_names(large):
    d = large.design
    truth = large.truth
    w = f"{d.w_col}_c"  # the centred moderator's column, as a prepared fit names it
    specs = [(d.x_col, d.g02, d.g10, d.x_mean, d.x_sd_between, d.x_sd_within)]
    specs += [
        (p["name"], p["g02"], p["g10"], p["x_mean"], p["x_sd_between"], p["x_sd_within"])
        for p in FURTHER
    ]
    for x, g02, g10, mean, sd_between, sd_within in specs:
        nm = LatentNames(x=x, y=d.y_col, person=d.person_col, w=w)
        assert truth[nm.between] == g02
        assert truth[nm.within] == g10
        assert truth[nm.mu_mean] == mean
        assert truth[nm.mu_sd] == sd_between
        assert truth[nm.within_sd] == sd_within
        assert truth[nm.mu_moderator] == 0.0
    assert truth["corr(uncertainty_mu,workload_mu)"] == 0.4
    assert truth["corr(uncertainty_mu,sleep_mu)"] == -0.3
    assert truth["corr(workload_mu,sleep_mu)"] == 0.2


def test_all_person_means_gives_every_predictor_s_true_means(large):
    means = large.all_person_means()
    assert means.columns.tolist() == ["uncertainty_mu", "workload_mu", "sleep_mu"]
    assert means.index.name == "person_id" and len(means) == large.design.n_persons
    np.testing.assert_array_equal(means["uncertainty_mu"], large.effects["xbar_true"])
    np.testing.assert_array_equal(means["sleep_mu"], large.effects["xbar_true_sleep"])
    pd.testing.assert_series_equal(means["workload_mu"], large.person_means("workload"))


def test_outcome_follows_every_predictor_s_latent_parts():
    """Without person slopes, moderator or residual the outcome is exactly the sum of each
    predictor's within and between parts on its true person means."""
    design = _design(
        n_persons=40, tau0=0.0, tau1=0.0, rho=0.0, sigma=0.0, g01=0.0, g11=0.0,
        mean_corr=MEAN_CORR,
    )  # fmt: skip
    study = simulate_diary(design, seed=3)
    means = study.all_person_means()
    frame = study.data.join(means, on="person_id")
    expected = pd.Series(design.g00, index=frame.index)
    slopes = [(design.x_col, design.g10, design.g02, design.x_mean)]
    slopes += [(p["name"], p["g10"], p["g02"], p["x_mean"]) for p in FURTHER]
    for x, g10, g02, mean in slopes:
        mu = frame[f"{x}_mu"]
        expected += g10 * (frame[x] - mu) + g02 * (mu - mean)
    np.testing.assert_allclose(study.data[design.y_col], expected, atol=1e-10)


def test_correlating_the_means_keeps_the_first_predictor_s_draws():
    plain = simulate_diary(_design(n_persons=25), seed=8)
    correlated = simulate_diary(_design(n_persons=25, mean_corr=MEAN_CORR), seed=8)
    np.testing.assert_array_equal(plain.data["uncertainty"], correlated.data["uncertainty"])
    np.testing.assert_array_equal(plain.effects["xbar_true"], correlated.effects["xbar_true"])
    assert not np.allclose(plain.data["workload"], correlated.data["workload"])
    assert "corr(uncertainty_mu,workload_mu)" not in plain.truth


def test_data_of_an_existing_extended_design_are_unchanged():
    # hashed before correlated person means were added: the same seed, the same data
    design = reference_design(
        n_persons=30,
        likert=None,
        predictors=[
            {"name": "workload", "g10": -0.2, "g02": 0.3, "tau1": 0.1, "x_mean": 2.0,
             "x_sd_between": 0.8, "x_sd_within": 0.6},
            {"name": "sleep", "g10": 0.1, "x_mean": 7.0},
        ],
        missing_rate_x=0.05,
    )  # fmt: skip
    study = simulate_diary(design, seed=9)
    digest = int(pd.util.hash_pandas_object(study.data, index=True).sum()) % 2**64
    assert digest == 4662733322916546916
    effects = int(pd.util.hash_pandas_object(study.effects, index=True).sum()) % 2**64
    assert effects == 15802485182563186239


@pytest.mark.parametrize(
    ("mean_corr", "words"),
    [
        ([[1.0, 0.2], [0.2, 1.0]], "mean_corr must be 3 x 3 (x_col, then one row per further"),
        ([[1, 0.2, 0], [0.3, 1, 0], [0, 0, 1]], "mean_corr must be symmetric"),
        ([[1, 1, 0], [1, 1, 0], [0, 0, 1]], "mean_corr must be positive definite"),
        ([[2, 0, 0], [0, 1, 0], [0, 0, 1]], "mean_corr must have 1 on its diagonal"),
    ],
)
def test_a_bad_correlation_of_the_person_means_is_refused(mean_corr, words):
    with pytest.raises(DesignError, match="Invalid simulation design") as err:
        _design(mean_corr=mean_corr)
    assert words in str(err.value)


def test_correlated_means_make_an_extended_design():
    design = reference_design(predictors=[{"name": "z"}]).replace(mean_corr=[[1, 0.3], [0.3, 1]])
    assert design.extended and design.mean_corr == ((1.0, 0.3), (0.3, 1.0))
    hash(design)
