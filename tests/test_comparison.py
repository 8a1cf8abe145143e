"""Model comparison: fold assignment and the ELPD table on known values, the integrated and
new-person log densities against brute-force multivariate normals, the remedies for high
Pareto k, K-fold by person, and two misspecified models that are flagged and lose."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from arviz_stats.utils import ELPDDataLOO, ELPDDataLOOKFold
from scipy import special, stats

from ambidex_bayes.checks import comparison, ppc
from ambidex_bayes.errors import AmbidexError, ModelError


# --------------------------------------------------------------------------- folds
def test_person_folds_are_balanced_complete_and_seeded():
    persons = [f"p{i}" for i in range(23) for _ in range(3)]
    folds = comparison.person_folds(persons, 5, seed=1)
    assert folds["person"].tolist() == [f"p{i}" for i in range(23)]
    assert sorted(folds["fold"].value_counts().tolist()) == [4, 4, 5, 5, 5]
    assert folds.equals(comparison.person_folds(persons, 5, seed=1))
    assert not folds.equals(comparison.person_folds(persons, 5, seed=2))
    with pytest.raises(AmbidexError, match="k=30 folds need at least 30 persons.*23"):
        comparison.person_folds(persons, 30)
    with pytest.raises(AmbidexError, match=">= 2"):
        comparison.person_folds(persons, 1)


# --------------------------------------------------------------------------- comparison table
def _loo(values: np.ndarray, kind: type = ELPDDataLOO) -> object:
    dim = "person" if kind is ELPDDataLOOKFold else "__obs__"
    elpd_i = xr.DataArray(values, dims=[dim])
    common = dict(
        elpd=float(values.sum()),
        se=float(np.sqrt(values.size * np.var(values))),
        p=3.0,
        n_samples=400,
        n_data_points=values.size,
        scale="log",
        warning=False,
        elpd_i=elpd_i,
    )
    if kind is ELPDDataLOOKFold:
        return ELPDDataLOOKFold(good_k=None, n_folds=5, **common)
    return ELPDDataLOO(good_k=0.7, pareto_k=xr.zeros_like(elpd_i), **common)


def test_compare_models_differences_and_their_standard_error():
    rng = np.random.default_rng(0)
    a = rng.normal(-1.0, 0.3, 120)
    b = a - rng.normal(0.2, 0.1, 120)  # worse by 0.2 per row on average
    table = comparison.compare_models({"good": _loo(a), "worse": _loo(b)})
    assert table["model"].tolist() == ["good", "worse"]
    row = table.set_index("model").loc["worse"]
    assert row["elpd_diff"] == pytest.approx(b.sum() - a.sum())
    assert row["dse"] == pytest.approx(np.sqrt(120 * np.var(a - b)), rel=1e-6)
    assert table["weight"].sum() == pytest.approx(1.0)
    assert table.set_index("model").loc["good", "weight"] > 0.9
    assert table.attrs["kind"] == "loo"


def test_compare_models_refuses_mixed_questions_and_sizes():
    a = np.full(50, -1.0)
    with pytest.raises(ModelError, match="new day of a known person.*new person"):
        comparison.compare_models({"a": _loo(a), "b": _loo(a[:40], ELPDDataLOOKFold)})
    with pytest.raises(ModelError, match="different numbers"):
        comparison.compare_models({"a": _loo(a), "b": _loo(a[:40])})
    with pytest.raises(AmbidexError, match="at least two"):
        comparison.compare_models({"a": _loo(a)})
    with pytest.raises(AmbidexError, match="LooResult"):
        comparison.compare_models({"a": _loo(a), "b": "not a result"})


def test_compare_fits_refuses_fits_of_different_data_before_any_work():
    fits = {
        name: SimpleNamespace(spec=SimpleNamespace(name=name), meta={"data_hash": h})
        for name, h in (("M1", "aaaaaaaa11"), ("M2", "bbbbbbbb22"))
    }
    with pytest.raises(ModelError, match="different data.*aaaaaaaa.*bbbbbbbb"):
        comparison.compare_fits(fits)
    with pytest.raises(AmbidexError, match="remedy must be one of"):
        comparison.psis_loo(fits["M1"], remedy="magic")


def test_merged_settings_keep_the_fits_own_unless_given():
    from ambidex_bayes.fit import SamplerSettings

    fit = SimpleNamespace(
        meta={
            "settings": {
                "backend": "pymc",
                "draws": 300,
                "tune": 200,
                "chains": 2,
                "seed": 5,
                "target_accept": 0.9,
            }
        }
    )
    merged = comparison.merged_settings(fit, SamplerSettings(chains=1))
    assert (merged.draws, merged.tune, merged.chains, merged.seed) == (300, 200, 1, 5)
    assert comparison.merged_settings(fit).chains == 2


# --------------------------------------------------------------------------- closed forms
def _person_setup(fit, max_draws: int = 40):
    from ambidex_bayes.posterior import posterior_dataset

    post = posterior_dataset(fit.idata).isel(draw=slice(0, max_draws))
    mu_f = ppc.linear_predictor(fit, group_specific=False, posterior=post).values
    mu_f = mu_f.reshape(-1, mu_f.shape[-1])
    t = fit.terms
    flat = {
        k: post[v].values.reshape(-1)
        for k, v in (
            ("tau0", t.group_intercept_sd),
            ("tau1", t.group_slope_sd),
            ("rho", t.correlation),
            ("sigma", t.sigma),
        )
    }
    frame = fit.prepared.frame
    z = np.column_stack([np.ones(len(frame)), frame[t.x_column].to_numpy()])
    return post, mu_f, flat, z, frame[t.y_column].to_numpy()


def _cov(flat, s):
    t0, t1, r = flat["tau0"][s], flat["tau1"][s], flat["rho"][s]
    return np.array([[t0**2, r * t0 * t1], [r * t0 * t1, t1**2]])


@pytest.mark.fit
def test_integrated_log_likelihood_is_the_conditional_normal_density(m3_fit):
    _, mu_f, flat, z, y = _person_setup(m3_fit)
    rows = [0, 1, 7]
    ll = comparison.integrated_log_likelihood(m3_fit, rows=rows)
    assert ll.dims == ("chain", "draw", "__obs__") and ll.sizes["__obs__"] == 3
    values = ll.values.reshape(-1, 3)
    persons = m3_fit.prepared.frame[m3_fit.prepared.mapping.person].to_numpy()
    for k, i in enumerate(rows):
        idx = np.flatnonzero(persons == persons[i])
        rest = idx[idx != i]
        for s in (0, 5, 17):
            v = flat["sigma"][s] ** 2 * np.eye(idx.size) + z[idx] @ _cov(flat, s) @ z[idx].T
            keep = np.isin(idx, rest)
            joint = stats.multivariate_normal(mu_f[s, idx], v).logpdf(y[idx])
            others = stats.multivariate_normal(mu_f[s, rest], v[np.ix_(keep, keep)]).logpdf(y[rest])
            assert values[s, k] == pytest.approx(joint - others, rel=1e-8, abs=1e-8)


@pytest.mark.fit
def test_new_person_density_exact_matches_brute_force_and_monte_carlo(m3_fit):
    _, mu_f, flat, z, y = _person_setup(m3_fit, max_draws=60)
    exact = comparison.new_person_log_density(m3_fit, max_draws=40, method="exact")
    frame = m3_fit.prepared.frame
    persons = frame[m3_fit.prepared.mapping.person].to_numpy()
    first = persons[0]
    idx = np.flatnonzero(persons == first)
    posterior = m3_fit.idata["posterior"]
    step = int(np.ceil(posterior.sizes["chain"] * posterior.sizes["draw"] / 40))
    for s_thin in (0, 3):
        # thinned draw s_thin of chain 0 is draw s_thin * step of the full posterior
        s = s_thin * step
        v = flat["sigma"][s] ** 2 * np.eye(idx.size) + z[idx] @ _cov(flat, s) @ z[idx].T
        brute = stats.multivariate_normal(mu_f[s, idx], v).logpdf(y[idx])
        assert exact.loc[first, s_thin] == pytest.approx(brute, rel=1e-8)
    mc = comparison.new_person_log_density(
        m3_fit, max_draws=40, method="monte_carlo", n_mc=4000, seed=1
    )
    diff = (mc - exact).abs().to_numpy()
    assert np.median(diff) < 0.02
    # the per-person predictive density (mean over draws) agrees closely
    per_person = np.abs(
        special.logsumexp(mc.to_numpy(), axis=1) - special.logsumexp(exact.to_numpy(), axis=1)
    )
    assert per_person.max() < 0.05
    assert exact.attrs["method"] == "exact" and mc.attrs["method"] == "monte_carlo"


# rows left above the deliberately low threshold 0.4 are counted by the assertions below
@pytest.mark.filterwarnings("ignore:.*still have Pareto k above 0.40:UserWarning")
@pytest.mark.fit
def test_psis_loo_remedy_brings_pareto_k_down_without_refitting(m3_fit):
    with pytest.warns(UserWarning, match="still have Pareto k above"):
        plain = comparison.psis_loo(m3_fit, remedy="none")
    assert plain.remedy == "none" and plain.unresolved_rows
    np.testing.assert_array_equal(plain.pareto_k_before, plain.pareto_k_after)
    # a low threshold makes sure there are rows to remedy
    fixed = comparison.psis_loo(m3_fit, remedy="integrated", k_threshold=0.4)
    high = np.flatnonzero(fixed.pareto_k_before > 0.4)
    assert high.size > 0 and fixed.remedy == "integrated"
    assert list(fixed.remedied_rows) == high.tolist()
    # k is itself estimated from the draws, so a row may go up a little by chance; nearly
    # all must go down, and so must the largest
    lowered = fixed.pareto_k_after[high] < fixed.pareto_k_before[high]
    assert lowered.mean() >= 0.9, fixed.pareto_k_after[high][~lowered]
    assert fixed.pareto_k_after[high].max() < fixed.pareto_k_before[high].max()
    assert "integrated out" in " ".join(fixed.notes)
    others = np.setdiff1d(np.arange(plain.pareto_k_before.size), high)
    np.testing.assert_allclose(fixed.elpd.elpd_i.values[others], plain.elpd.elpd_i.values[others])
    # same target quantity: remedied rows stay close to the plain estimates
    assert np.abs(fixed.elpd.elpd - plain.elpd.elpd) < 5.0
    row = fixed.summary()
    assert row["n_high_k"] == high.size
    assert row["n_high_k_after"] == int(np.sum(fixed.pareto_k_after > 0.4)) < high.size / 5


# the rows left above the threshold are reported; this test checks the one row refitted
@pytest.mark.filterwarnings("ignore:.*still have Pareto k above:UserWarning")
# the refit of one row is a single chain: R-hat cannot be computed, as expected here
@pytest.mark.filterwarnings("ignore::ambidex_bayes.diagnostics.ConvergenceWarning")
@pytest.mark.fit
def test_exact_refit_of_the_one_bad_row_agrees_with_integrated_importance_sampling(
    m3_fit, fit_cache
):
    from ambidex_bayes.fit import SamplerSettings

    k = comparison.psis_loo(m3_fit, remedy="none").pareto_k_before
    threshold = float(np.sort(k)[-2]) + 1e-9  # exactly one row above
    refit = comparison.psis_loo(
        m3_fit,
        remedy="refit",
        k_threshold=threshold,
        settings=SamplerSettings(chains=1, draws=400, tune=300),
        cache_dir=fit_cache,
    )
    assert refit.remedy == "refit" and len(refit.remedied_rows) == 1
    row = refit.remedied_rows[0]
    assert row == int(np.argmax(k)) and np.isnan(refit.pareto_k_after[row])
    integrated = comparison.psis_loo(m3_fit, remedy="integrated", k_threshold=threshold)
    exact_value = float(refit.elpd.elpd_i.values[row])
    assert exact_value == pytest.approx(float(integrated.elpd.elpd_i.values[row]), abs=0.3)
    assert "refitting" in " ".join(refit.notes)


@pytest.mark.fit
def test_fold_tasks_hold_out_whole_persons_and_survive_pickling(m3_fit):
    import pickle

    from ambidex_bayes.fit import SamplerSettings

    persons = m3_fit.prepared.frame[m3_fit.prepared.mapping.person]
    folds = comparison.person_folds(persons, 3, seed=4)
    tasks = comparison.fold_tasks(m3_fit, folds, settings=SamplerSettings(chains=1), seed=4)
    assert [t["fold"] for t in tasks] == [1, 2, 3]
    person = m3_fit.prepared.mapping.person
    for task in tasks:
        held = set(task["test"][person])
        assert held == set(folds.loc[folds["fold"] == task["fold"], "person"])
        assert held.isdisjoint(task["train"].frame[person])
        assert len(task["train"].frame) + len(task["test"]) == len(persons)
        assert m3_fit.terms.x_column not in task["test"].columns  # raw rows, prepared again
    # the process pool (n_jobs > 1) sends tasks to its workers by pickling them
    restored = pickle.loads(pickle.dumps(tasks))
    assert restored[0]["train"].frame.equals(tasks[0]["train"].frame)


# single-chain fold fits: R-hat cannot be computed, as expected here
@pytest.mark.filterwarnings("ignore::ambidex_bayes.diagnostics.ConvergenceWarning")
@pytest.mark.fit
def test_kfold_by_person_scores_every_person_once(m3_fit, fit_cache):
    from ambidex_bayes.fit import SamplerSettings

    result = comparison.kfold_by_person(
        m3_fit,
        k=2,
        settings=SamplerSettings(chains=1, draws=150, tune=150),
        n_jobs=1,
        cache_dir=fit_cache,
        max_draws=150,
    )
    persons = result.persons
    n_persons = m3_fit.prepared.frame[m3_fit.prepared.mapping.person].nunique()
    assert len(persons) == n_persons and sorted(persons["fold"].unique()) == [1, 2]
    assert np.isfinite(persons["elpd"]).all()
    assert result.elpd.n_data_points == n_persons and result.elpd.n_folds == 2
    assert result.elpd.elpd == pytest.approx(persons["elpd"].sum())
    # predicting held-out persons is harder than scoring the persons the model saw
    assert persons["lpd_in_sample"].sum() > result.elpd.elpd
    assert result.summary()["method"] == "exact"


# --------------------------------------------------------------------------- misspecification
def _fit_specs(data: pd.DataFrame, mapping: dict, specs, cache) -> dict:
    from ambidex_bayes.data import ColumnMapping, load_diary
    from ambidex_bayes.fit import SamplerSettings, fit
    from ambidex_bayes.prepare import prepare

    prepared = prepare(load_diary(data, ColumnMapping.from_dict(mapping)))
    settings = SamplerSettings(backend="pymc", draws=300, tune=300, chains=2, seed=7)
    return {
        # the checks were set up on the observed-centring models (the bundled M1 and M2 would
        # take latent centring where the person means' reliability is below 0.7)
        spec.name: fit(
            spec,
            prepared,
            settings=settings,
            cache_dir=cache,
            progressbar=False,
            verbose=False,
            centring="observed",
        )
        for spec in specs
    }


# tiny fits: too few draws for the R-hat and ESS limits, as expected here
@pytest.mark.filterwarnings("ignore::ambidex_bayes.diagnostics.ConvergenceWarning")
@pytest.mark.fit
def test_gaussian_model_of_heavy_tailed_data_is_flagged_and_loses(tmp_path):
    from ambidex_bayes.simulate import reference_design, simulate_diary
    from ambidex_bayes.spec import load_spec

    design = reference_design(
        n_persons=60,
        diaries_dist="fixed",
        diaries_mean=6,
        likert=None,
        missing_rate=0.0,
        g10=0.3,
        g11=0.0,
        tau1=0.0,
        tau0=0.4,
        sigma=0.0,
    )
    study = simulate_diary(design, seed=21)
    data = study.data.copy()
    rng = np.random.default_rng(21)
    data["innovation"] = data["innovation"] + 0.4 * rng.standard_t(2, len(data))
    gaussian = load_spec("M1")
    student = dataclasses.replace(gaussian, name="M1-t", family="t")
    fits = _fit_specs(data, study.mapping, [gaussian, student], tmp_path)

    flags = {}
    for name, f in fits.items():
        table = ppc.statistic_checks(ppc.posterior_predictive(f)).table.set_index("statistic")
        flags[name] = set(table.index[table["flagged"]])
    assert {"min", "max"} & flags["M1"], flags
    assert not flags["M1-t"], flags

    # the Gaussian model's high-k rows are reported, not remedied (max_refits=0)
    with pytest.warns(UserWarning, match="M1: .* still have Pareto k above"):
        loo = {name: comparison.psis_loo(f, max_refits=0) for name, f in fits.items()}
    table = comparison.compare_models(loo).set_index("model")
    assert table.index[0] == "M1-t"
    assert -table.loc["M1", "elpd_diff"] > 2 * table.loc["M1", "dse"]
    assert table.loc["M1-t", "weight"] > 0.9


# tiny fits: too few draws for the R-hat and ESS limits, as expected here
@pytest.mark.filterwarnings("ignore::ambidex_bayes.diagnostics.ConvergenceWarning")
@pytest.mark.fit
def test_model_without_a_large_random_slope_is_flagged_and_loses(tmp_path, capsys):
    from ambidex_bayes.simulate import reference_design, simulate_diary
    from ambidex_bayes.spec import load_spec

    design = reference_design(
        n_persons=60,
        diaries_dist="fixed",
        diaries_mean=6,
        likert=None,
        missing_rate=0.0,
        g10=0.3,
        g11=0.0,
        tau1=0.7,
        sigma=0.4,
    )
    study = simulate_diary(design, seed=3)
    fits = _fit_specs(study.data, study.mapping, [load_spec("M1"), load_spec("M2")], tmp_path)

    tables, persons = {}, {}
    for name, f in fits.items():
        draws = ppc.posterior_predictive(f)
        tables[name] = ppc.statistic_checks(draws).table.set_index("statistic")
        persons[name] = ppc.flagged_persons(ppc.person_checks(draws)).set_index("statistic")
    assert tables["M1"].loc["sd_person_sds", "flagged"], tables["M1"]
    assert tables["M1"].loc["sd_person_sds", "p_value"] < 0.025
    assert not tables["M2"]["flagged"].any(), tables["M2"]
    sd_flags = {name: p.loc["sd", "share_flagged"] for name, p in persons.items()}
    assert sd_flags["M1"] > persons["M1"].loc["sd", "expected_share"] > sd_flags["M2"]

    loo = {name: comparison.psis_loo(f, max_refits=0) for name, f in fits.items()}
    table = comparison.compare_models(loo).set_index("model")
    assert table.index[0] == "M2"
    assert -table.loc["M1", "elpd_diff"] > 2 * table.loc["M1", "dse"]

    # the same through the command line, on the saved fits
    from ambidex_bayes.cli import main

    out = tmp_path / "compare"
    paths = [str(fits[name].path) for name in ("M1", "M2")]
    assert main(["compare", *paths, "--max-refits", "0", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "PSIS-LOO (a new day of a known person)" in printed and "Bayesian R²" in printed
    compared = pd.read_csv(out / "loo_compare.csv")
    assert compared["model"].tolist() == ["M2", "M1"]
    assert compared["elpd"].iloc[0] == pytest.approx(table.loc["M2", "elpd"])


@pytest.mark.fit
def test_compare_command_needs_two_fits(m3_fit, capsys):
    from ambidex_bayes.cli import main

    assert main(["compare", str(m3_fit.path)]) == 2
    assert "at least two fits" in capsys.readouterr().err


def test_loo_of_a_single_row_raises_no_false_alarm():
    import warnings

    import xarray as xr

    from ambidex_bayes.checks.loo import blocked_loo, relative_efficiency

    rng = np.random.default_rng(1)
    posterior = xr.Dataset({"a": (("chain", "draw"), rng.normal(size=(2, 200)))})
    ll = xr.DataArray(rng.normal(-1, 0.1, size=(2, 200, 1)), dims=("chain", "draw", "__obs__"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = blocked_loo(ll, relative_efficiency(posterior))
    assert np.asarray(result.elpd_i).size == 1
