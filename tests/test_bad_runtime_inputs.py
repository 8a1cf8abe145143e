"""Bad inputs at run time get a clear error or warning, never a traceback, a hang or nonsense.

Sampler settings out of range, strict mode on degenerate posteriors, degenerate models
(an outcome without within-person variation, the outcome as its own predictor, priors that
leave the sampler nowhere to go, non-finite draws) and simple slopes far outside the
moderator's observed range. Nothing here samples: fake posteriors and monkeypatched samplers
stand in for fits.
"""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from fake_posterior import as_fit, make_prepared, make_terms, moderation_draws

from ambidex_bayes import cli
from ambidex_bayes.data import ColumnMapping
from ambidex_bayes.data.validate import validate
from ambidex_bayes.diagnostics import check_convergence
from ambidex_bayes.errors import DataError, ModelError, SpecError, ValidationError
from ambidex_bayes.fit import SamplerSettings
from ambidex_bayes.prepare import prepare
from ambidex_bayes.strict import strict_problems

# ---------------------------------------------------------------- 1. sampler settings

BAD_SETTINGS = [
    ("draws", 0, "draws (--draws) must be a whole number from 1 to 1,000,000"),
    ("draws", -10, "draws (--draws)"),
    ("draws", 2.5, "draws (--draws)"),
    ("draws", "100", "draws (--draws)"),
    ("draws", 10**9, "draws (--draws) must be a whole number from 1 to 1,000,000"),
    ("draws", float("nan"), "draws (--draws)"),
    ("tune", -1, "tune (--tune) must be a whole number from 0 to 1,000,000"),
    ("chains", 0, "chains (--chains) must be a whole number from 1 to 64"),
    ("chains", True, "chains (--chains)"),
    ("chains", 10_000, "chains (--chains)"),
    ("seed", -1, "seed (--seed) must be a whole number from 0 to 4,294,967,295"),
    ("seed", 2**64, "seed (--seed)"),
    ("target_accept", 0.0, "target_accept (--target-accept) must be a number strictly between"),
    ("target_accept", 1.0, "target_accept (--target-accept)"),
    ("target_accept", 1.5, "target_accept (--target-accept)"),
    ("target_accept", -0.2, "target_accept (--target-accept)"),
    ("target_accept", float("nan"), "target_accept (--target-accept)"),
    ("target_accept", float("inf"), "target_accept (--target-accept)"),
    ("cores", 0, "cores (--cores) must be a whole number from 1 to 1,024"),
    ("cores", -2, "cores (--cores)"),
    ("backend", "stan", "backend (--backend) must be one of pymc, nutpie, numpyro"),
]


@pytest.mark.parametrize(("field", "value", "message"), BAD_SETTINGS)
def test_sampler_settings_out_of_range_are_refused_in_the_library(field, value, message):
    from ambidex_bayes.errors import SettingsError

    with pytest.raises(SettingsError, match=r"Invalid sampler settings") as info:
        SamplerSettings(**{field: value})
    assert message in str(info.value)
    assert isinstance(info.value, SpecError)


def test_every_bad_setting_is_listed_at_once():
    with pytest.raises(SpecError) as info:
        SamplerSettings(draws=0, chains=0, target_accept=2.0)
    text = str(info.value)
    assert "draws (--draws)" in text and "chains (--chains)" in text
    assert "target_accept (--target-accept)" in text


def test_good_settings_are_kept_and_normalised():
    settings = SamplerSettings(draws=np.int64(200), tune=0, chains=2, seed=0, cores=1)
    assert settings.draws == 200 and type(settings.draws) is int
    assert settings.tune == 0
    assert SamplerSettings(draws=500.0).draws == 500
    assert SamplerSettings(target_accept=0.95).resolved().target_accept == 0.95


@pytest.fixture
def no_sampling(monkeypatch):
    """Make any attempt to sample fail loudly (the checks must come first)."""
    fit_module = importlib.import_module("ambidex_bayes.fit")

    monkeypatch.setattr(fit_module, "sample_marginal", _refuse)
    monkeypatch.setattr(fit_module, "sample_full", _refuse)


@pytest.fixture
def no_fitting(monkeypatch, no_sampling):
    """Also make any attempt to fit, run or compare fail loudly."""
    fit_module = importlib.import_module("ambidex_bayes.fit")
    import ambidex_bayes.pipeline as pipeline
    import ambidex_bayes.priors as priors

    monkeypatch.setattr(fit_module, "fit", _refuse)
    monkeypatch.setattr(pipeline, "run_analysis", _refuse)
    monkeypatch.setattr(priors, "compare_priors", _refuse)


def _refuse(*args, **kwargs):
    raise AssertionError("sampling started although the input is invalid")


CLI_CASES = [
    (["fit", "--example", "--spec", "M3", "--draws", "0"], "draws (--draws)"),
    (["fit", "--example", "--spec", "M3", "--tune", "-1"], "tune (--tune)"),
    (["fit", "--example", "--spec", "M3", "--chains", "0"], "chains (--chains)"),
    (["fit", "--example", "--spec", "M3", "--seed", "-5"], "seed (--seed)"),
    (["fit", "--example", "--spec", "M3", "--target-accept", "1.5"], "(--target-accept)"),
    (["fit", "--example", "--spec", "M3", "--target-accept", "nan"], "(--target-accept)"),
    (["fit", "--example", "--spec", "M3", "--cores", "0"], "cores (--cores)"),
    (["fit", "--example", "--spec", "M3", "--draws", "99999999"], "draws (--draws)"),
    (["run", "--example", "--chains", "0", "--out", "never"], "chains (--chains)"),
    (["compare-priors", "M3", "--example", "--priors", "default", "--draws", "0"], "(--draws)"),
    (["compare", "missing_a.nc", "missing_b.nc", "--draws", "0"], "draws (--draws)"),
    (["compare", "missing_a.nc", "missing_b.nc", "--chains", "0"], "chains (--chains)"),
    (["compare", "missing_a.nc", "missing_b.nc", "--seed", "-1"], "seed (--seed)"),
    (["power", "--draws", "0", "--out", "never"], "draws (--draws)"),
    (["power", "--seed", "-1", "--out", "never"], "seed (--seed)"),
    (["sbc", "--seed", "-1", "--out", "never"], "seed (--seed)"),
    (["sbc", "--chains", "0", "--out", "never"], "chains (--chains)"),
    (["simulate", "--out", "never.csv", "--seed", "-1"], "seed (--seed)"),
    (["prior-check", "M3", "--example", "--seed", "-1"], "seed (--seed)"),
]


@pytest.mark.parametrize(("argv", "message"), CLI_CASES, ids=lambda v: " ".join(v[:3]))
def test_cli_refuses_bad_sampler_options_in_words(argv, message, no_fitting, tmp_path, capsys):
    argv = [str(tmp_path / a) if a.startswith(("never", "missing")) else a for a in argv]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert "Traceback" not in err
    assert not (tmp_path / "never").exists() and not (tmp_path / "never.csv").exists()


def test_local_cluster_needs_at_least_one_worker(tmp_path, capsys):
    argv = ["power", "--workers", "0", "--sims", "1", "--out", str(tmp_path / "never")]
    assert cli.main(argv) == 2
    assert "n_workers (--workers) must be a whole number from 1" in capsys.readouterr().err


def test_posterior_predictive_refuses_a_negative_seed():
    from ambidex_bayes.checks.ppc import posterior_predictive

    with pytest.raises(SpecError, match=r"seed \(--seed\) must be a whole number from 0"):
        posterior_predictive(SimpleNamespace(), seed=-3)


def test_simulation_seeds_of_design_runs_stay_valid():
    from ambidex_bayes.simulate import reference_design, simulate_diary

    design = reference_design(n_persons=3, diaries_dist="fixed", diaries_mean=2)
    assert len(simulate_diary(design, seed=2**63 - 1).data) == 6  # a task's 63-bit seed
    with pytest.raises(SpecError, match=r"seed \(--seed\) must be a whole number from 0"):
        simulate_diary(design, seed=-1)


def test_person_folds_refuse_a_negative_seed():
    from ambidex_bayes.checks.comparison import person_folds

    with pytest.raises(SpecError, match=r"seed \(--seed\) must be a whole number from 0"):
        person_folds(["a", "b", "c", "d"], 2, seed=-1)


def test_power_and_sbc_configurations_check_their_sampler_settings():
    from ambidex_bayes.design.power import PowerConfig
    from ambidex_bayes.design.sbc import SBCConfig

    with pytest.raises(SpecError, match=r"seed \(--seed\) must be a whole number from 0"):
        PowerConfig(seed=-1, backend="pymc")
    with pytest.raises(SpecError, match=r"backend \(--backend\) must be one of"):
        PowerConfig(backend="stan")
    with pytest.raises(SpecError, match=r"draws \(--draws\) must be a whole number"):
        SBCConfig(draws=2.5, backend="pymc")


# ---------------------------------------------------------------- 2. strict mode


def _fit_of(tree, name="M"):
    """A fit-like object with the real convergence report of ``tree``."""
    return SimpleNamespace(
        spec=SimpleNamespace(name=name),
        idata=tree,
        convergence=check_convergence(tree, warn=False),
    )


def _tree(draws: dict[str, np.ndarray], loglik: np.ndarray | None = None) -> xr.DataTree:
    groups = {
        "posterior": xr.Dataset({k: (("chain", "draw"), v) for k, v in draws.items()}),
    }
    if loglik is not None:
        groups["log_likelihood"] = xr.Dataset({"y": (("chain", "draw", "__obs__"), loglik)})
    return xr.DataTree.from_dict(groups)


RNG = np.random.default_rng(3)
GOOD = RNG.normal(size=(4, 500))


def _strict(tree, capsys):
    import argparse

    from ambidex_bayes.commands._options import strict_status

    status = strict_status(argparse.Namespace(strict=True), [_fit_of(tree)])
    return status, capsys.readouterr().err


def test_strict_fails_a_parameter_whose_draws_never_change(capsys):
    status, err = _strict(_tree({"b": GOOD, "c": np.full((4, 500), 0.7)}), capsys)
    assert status == 3
    assert "The draws of c never change" in err and "cannot be computed" in err


def test_strict_fails_a_single_chain(capsys):
    status, err = _strict(_tree({"b": RNG.normal(size=(1, 2000))}), capsys)
    assert status == 3
    assert "R-hat cannot be computed from a single chain (b)" in err
    assert "--chains 4" in err


def test_strict_fails_a_fit_without_draws(capsys):
    status, err = _strict(_tree({"b": np.zeros((4, 0))}), capsys)
    assert status == 3
    assert "The fit has no draws (4 chain(s) x 0 draws)" in err


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_strict_fails_non_finite_draws(bad, capsys):
    draws = GOOD.copy()
    draws[1, 7] = bad
    status, err = _strict(_tree({"b": draws}), capsys)
    assert status == 3
    assert "Non-finite (NaN or infinite) draws of b (1 draws)" in err


def test_strict_fails_too_few_draws_to_judge(capsys):
    status, err = _strict(_tree({"b": RNG.normal(size=(4, 2))}), capsys)
    assert status == 3
    assert "too few draws to judge convergence" in err


def test_a_constant_log_likelihood_is_a_strict_failure_not_a_crash(capsys):
    tree = _tree({"b": GOOD}, loglik=np.full((4, 500, 6), -1.2))
    status, err = _strict(tree, capsys)
    assert status == 3
    assert "Pareto k cannot be estimated" in err


def test_too_few_draws_for_pareto_k_is_a_strict_failure_not_a_crash(capsys):
    tree = _tree({"b": RNG.normal(size=(2, 10))}, loglik=RNG.normal(-1, 0.1, (2, 10, 6)))
    status, err = _strict(tree, capsys)
    assert status == 3
    assert "Pareto k cannot be estimated from 20 draws" in err


def test_a_non_finite_log_likelihood_is_a_strict_failure(capsys):
    loglik = RNG.normal(-1, 0.1, (4, 500, 6))
    loglik[0, 3, 2] = -np.inf
    status, err = _strict(_tree({"b": GOOD}, loglik=loglik), capsys)
    assert status == 3
    assert "1 observation(s) have a non-finite log-likelihood" in err


def test_the_convergence_report_names_undefined_diagnostics():
    report = check_convergence(_tree({"b": GOOD, "c": np.full((4, 500), 1.0)}), warn=False)
    assert not report.ok
    assert any("The draws of c never change" in p for p in report.problems)


def test_fit_command_with_strict_exits_3_on_a_stuck_posterior(monkeypatch, tmp_path, capsys):
    fit_module = importlib.import_module("ambidex_bayes.fit")

    terms = make_terms()
    tree, _ = moderation_draws(1, terms=terms)
    post = tree["posterior"].to_dataset()
    post[terms.interaction] = xr.full_like(post[terms.interaction], 0.25)
    tree["posterior"] = xr.DataTree(post)
    fake = SimpleNamespace(
        spec=SimpleNamespace(name="M3"),
        idata=tree,
        terms=terms,
        prepared=make_prepared(),
        path=tmp_path / "fit.nc",
        convergence=check_convergence(tree, warn=False),
        meta={},  # a fit records its sampler, centring and timings here
    )
    monkeypatch.setattr(fit_module, "fit", lambda *a, **k: fake)
    status = cli.main(["fit", "--example", "--spec", "M3", "--strict", "--no-progress"])
    captured = capsys.readouterr()
    assert status == 3
    assert f"The draws of {terms.interaction} never change" in captured.err
    assert "Traceback" not in captured.err


def test_compare_priors_with_strict_exits_3_on_a_stuck_posterior(monkeypatch, capsys):
    import ambidex_bayes.priors as priors

    stuck = _fit_of(_tree({"b": GOOD, "c": np.full((4, 500), 2.0)}), name="M3[default]")
    table = pd.DataFrame({"x": [1.0]})
    timings = pd.DataFrame({"total_s": [1.0], "compile_s": [0.5], "sample_s": [0.5]})
    timings.attrs.update(wall_s=1.0, other_s=0.0, summaries_s=0.0)
    comparison = SimpleNamespace(
        side_by_side=lambda: table,
        interaction=lambda: table,
        slopes=pd.DataFrame(),
        wide=lambda *args: table,
        bayes_factors=pd.DataFrame(columns=["prior_set", "prior", "bf10", "bf01", "note"]),
        bf_curves={},
        timings=timings,
        notes=(),
        fits={"default": stuck},
    )
    monkeypatch.setattr(priors, "compare_priors", lambda *a, **k: comparison)
    argv = ["compare-priors", "M3", "--example", "--priors", "default", "--strict"]
    assert cli.main(argv) == 3
    assert "M3[default]: The draws of c never change" in capsys.readouterr().err


# ---------------------------------------------------------------- 3. degenerate models


def _diary(y) -> pd.DataFrame:
    rng = np.random.default_rng(8)
    persons = np.repeat(np.arange(12), 4)
    return pd.DataFrame(
        {
            "pid": persons,
            "day": np.tile(np.arange(4), 12),
            "y": y,
            "x": rng.normal(size=48),
            "w": rng.normal(size=12)[persons],
        }
    )


MAPPING = ColumnMapping(person="pid", occasion="day", outcome="y", level1=("x",), level2=("w",))


def test_an_outcome_that_never_varies_within_a_person_is_refused():
    person_values = np.random.default_rng(2).normal(size=12)
    df = _diary(np.repeat(person_values, 4))
    with pytest.raises(ValidationError) as info:
        validate(df, MAPPING)
    text = str(info.value)
    assert "column 'y' (outcome) never varies within a person" in text
    assert "residual SD would be 0" in text and "person level" in text


def test_missing_rows_that_leave_the_outcome_constant_within_persons_are_refused():
    y = np.repeat(np.random.default_rng(2).normal(size=12), 4)
    y[3] += 1.0  # the only within-person variation ...
    df = _diary(y)
    df.loc[3, "x"] = np.nan  # ... sits in an incomplete row
    with pytest.raises(DataError, match=r"column 'y' \(outcome\) never varies within a person"):
        prepare(validate(df, MAPPING))


def test_an_outcome_varying_within_very_few_persons_gets_a_warning():
    y = np.repeat(np.random.default_rng(2).normal(size=12), 4)
    y[[1, 2]] += [0.5, -0.3]  # person 0 only
    prepared = prepare(validate(_diary(y), MAPPING))
    (warning,) = [w for w in prepared.warnings if "varies from day to day" in w]
    assert "within only 1 of the 12 persons" in warning
    assert prepared.warnings == prepare(validate(_diary(y), MAPPING)).warnings


@pytest.mark.parametrize(
    ("extra", "role"),
    [
        ({"level1": ["y", "x"]}, "a level-1 predictor ('level1')"),
        ({"level2": ["w", "y"]}, "a level-2 moderator ('level2')"),
        ({"controls": ["y"]}, "a control ('controls')"),
    ],
)
def test_the_outcome_as_its_own_predictor_is_refused_in_words(extra, role):
    d = {"person": "pid", "outcome": "y", "level1": ["x"], **extra}
    with pytest.raises(SpecError) as info:
        ColumnMapping.from_dict(d)
    assert f"the outcome 'y' is also listed as {role}" in str(info.value)
    assert "cannot predict itself" in str(info.value)


def test_a_scale_predictor_made_of_the_outcome_is_refused():
    d = {
        "person": "pid",
        "outcome": "y",
        "level1": ["x"],
        "level2": ["w"],
        "scales": {"w": {"items": ["y", "w1"]}},
    }
    with pytest.raises(
        SpecError, match=r"the scale 'w', a level-2 moderator, averages the outcome"
    ):
        ColumnMapping.from_dict(d)


def test_a_predictor_that_copies_the_outcome_is_refused():
    df = _diary(np.random.default_rng(4).normal(size=48))
    df["x"] = df["y"]
    with pytest.raises(ValidationError, match=r"holds the same value as the outcome 'y'"):
        validate(df, MAPPING)


@pytest.fixture(scope="module")
def example_prepared():
    from ambidex_bayes.data import load_diary
    from ambidex_bayes.pipeline import example_inputs

    source, mapping = example_inputs()
    return prepare(load_diary(source, mapping))


NARROW = [
    ("sigma", {"dist": "HalfNormal", "sigma": 1e-12}, "the SD is pinned at practically zero"),
    ("Intercept", {"dist": "Normal", "mu": 1e6, "sigma": 1e-6}, "cannot start"),
    ("Intercept", {"dist": "Normal", "mu": 1e6, "sigma": 1.0}, "cannot start"),
    ("{x_within}|{person}_sigma", {"dist": "Exponential", "lam": 1e9}, "pinned"),
    ("{x_within}:{w}", {"dist": "Normal", "mu": 1e5, "sigma": 0.1}, "cannot start"),
]


@pytest.mark.parametrize(("key", "prior", "words"), NARROW, ids=[n[0] for n in NARROW])
def test_priors_that_leave_the_sampler_nowhere_to_go_are_refused_before_sampling(
    key, prior, words, example_prepared, no_sampling
):
    from ambidex_bayes.fit import fit
    from ambidex_bayes.spec import PriorSpec, load_spec

    spec = load_spec("M3")
    params = {k: v for k, v in prior.items() if k != "dist"}
    spec = spec.with_priors({key: PriorSpec(prior["dist"], params)}, label="narrow")
    with pytest.raises(ModelError) as info:
        fit(spec, example_prepared, cache_dir=False, progressbar=False, verbose=False)
    text = str(info.value)
    name = key.format(**example_prepared.formula_fields())
    assert f"the prior on {name!r}, {prior['dist']}(" in text
    assert words in text
    assert "leave it out of the prior set" in text or "leave the parameter out" in text


def test_reasonable_narrow_priors_pass_the_check(example_prepared):
    from ambidex_bayes.model.prior_scale import prior_scale_problems
    from ambidex_bayes.spec import PriorSpec, load_spec

    y = example_prepared.frame[example_prepared.roles["y"]]
    spec = load_spec("M3").with_priors(
        {
            "Intercept": PriorSpec("Normal", {"mu": float(y.mean()), "sigma": 1e-6}),
            "sigma": PriorSpec("HalfNormal", {"sigma": 1e-3}),
        }
    )
    assert prior_scale_problems(spec, example_prepared) == []


def test_cli_names_the_prior_file_and_the_prior(example_prepared, no_sampling, tmp_path, capsys):
    priors = tmp_path / "narrow.toml"
    priors.write_text('[priors]\nsigma = { dist = "HalfNormal", sigma = 1e-12 }\n')
    argv = ["fit", "--example", "--spec", "M3", "--priors", str(priors), "--no-progress"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "the prior on 'sigma', HalfNormal(sigma=1e-12)" in err
    assert "Traceback" not in err


def test_non_finite_draws_after_sampling_are_refused(example_prepared, monkeypatch):
    fit_module = importlib.import_module("ambidex_bayes.fit")
    from ambidex_bayes.spec import load_spec

    def broken(built, settings, **kwargs):
        values = np.zeros((2, 20))
        values[0, 5] = np.nan
        values[1, 3] = np.inf
        return xr.DataTree.from_dict(
            {"posterior": xr.Dataset({"Intercept": (("chain", "draw"), values)})}
        )

    monkeypatch.setattr(fit_module, "sample_marginal", broken)
    monkeypatch.setattr(fit_module, "sample_full", broken)
    settings = SamplerSettings(backend="pymc", draws=20, tune=20, chains=2, seed=1)
    with pytest.raises(ModelError) as info:
        fit_module.fit(
            load_spec("M3"),
            example_prepared,
            settings=settings,
            cache_dir=False,
            progressbar=False,
            verbose=False,
            centring="observed",
        )
    assert "non-finite (NaN or infinite) draws of Intercept (2 values)" in str(info.value)
    assert "not saved" in str(info.value)


def test_strict_problems_stay_empty_for_a_healthy_fit():
    assert strict_problems([_fit_of(_tree({"b": GOOD, "c": RNG.normal(size=(4, 500))}))]) == []


# ---------------------------------------------------------------- 4. simple slopes


@pytest.fixture(scope="module")
def slope_fit():
    """Fake draws of M3 on the small hand-made diary (moderator 'sup' from 2 to 4.5)."""
    from fake_posterior import PERSON_DIM, make_prepared

    prepared = make_prepared()
    terms = make_terms(y_column=prepared.roles["y"])
    persons = list(prepared.person_means.index)
    tree, _ = moderation_draws(5, terms=terms, n_persons=len(persons))
    post = tree["posterior"].to_dataset().assign_coords({PERSON_DIM: persons})
    tree["posterior"] = xr.DataTree(post)
    return tree, terms, prepared


def _with_nan(tree, name, index=(0, 3)):
    post = tree["posterior"].to_dataset().copy(deep=True)
    values = post[name].values
    values[index] = np.nan
    post[name] = (post[name].dims, values)
    out = tree.copy()
    out["posterior"] = xr.DataTree(post)
    return out


def test_slopes_outside_the_observed_range_are_flagged_and_warned(slope_fit):
    from ambidex_bayes.moderation.slopes import ExtrapolationWarning
    from ambidex_bayes.results import simple_slopes

    tree, terms, prepared = slope_fit
    with pytest.warns(ExtrapolationWarning) as caught:
        result = simple_slopes(as_fit(tree, terms, prepared), at=[3.0, 5.0, 9.0, -1.0])
    (message,) = [str(w.message) for w in caught]
    assert "outside the range of sup observed over persons (2 to 4.5)" in message
    assert "5 (0.5 above the largest)" in message and "-1 (3 below the smallest)" in message
    assert "9, -1 lie(s) more than 1 x the observed range's width" in message
    assert "guesses, not estimates" in message
    assert result.table["extrapolation"].tolist() == [
        "none",
        "outside",
        "far outside",
        "far outside",
    ]
    assert result.table.attrs["observed_range"] == (2.0, 4.5)
    assert result.warnings == (message,) and message in result.description


def test_slopes_inside_the_observed_range_are_not_flagged(slope_fit):
    import warnings

    from ambidex_bayes.moderation.slopes import ExtrapolationWarning
    from ambidex_bayes.results import simple_slopes

    tree, terms, prepared = slope_fit
    with warnings.catch_warnings():
        warnings.simplefilter("error", ExtrapolationWarning)
        result = simple_slopes(as_fit(tree, terms, prepared), at=[2.0, 4.5])
    assert set(result.table["extrapolation"]) == {"none"} and result.warnings == ()


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_moderator_values_are_refused_with_the_observed_range(slope_fit, value):
    from ambidex_bayes.errors import AmbidexError
    from ambidex_bayes.results import simple_slopes

    tree, terms, prepared = slope_fit
    with pytest.raises(AmbidexError) as info:
        simple_slopes(as_fit(tree, terms, prepared), at=[3.0, value])
    text = str(info.value)
    assert f"Moderator values (at=, --at) must be finite numbers; got {value}" in text
    assert "sup was observed from 2 to 4.5 over persons" in text


def test_non_finite_slopes_are_refused_not_tabulated(slope_fit):
    from ambidex_bayes.results import simple_slopes

    tree, terms, prepared = slope_fit
    with pytest.raises(ModelError, match=r"The simple slope is not a finite number in 3 of"):
        simple_slopes(as_fit(_with_nan(tree, terms.slope), terms, prepared))


def test_person_slopes_and_johnson_neyman_refuse_non_finite_draws(slope_fit):
    from ambidex_bayes.moderation import johnson_neyman, person_slopes

    tree, terms, prepared = slope_fit
    with pytest.raises(ModelError, match=r"person's slope is not a finite number in 1 of"):
        person_slopes(as_fit(_with_nan(tree, terms.group_slope, (0, 3, 1)), terms, prepared))
    with pytest.raises(ModelError, match=r"slope or interaction draw is not a finite number"):
        johnson_neyman(as_fit(_with_nan(tree, terms.interaction), terms, prepared))


def test_moderation_curve_beyond_the_data_warns_with_the_range(slope_fit):
    from ambidex_bayes.moderation import moderation_curve
    from ambidex_bayes.moderation.slopes import ExtrapolationWarning

    tree, terms, prepared = slope_fit
    with pytest.warns(ExtrapolationWarning) as caught:
        curve = moderation_curve(as_fit(tree, terms, prepared), w_range=(2.0, 12.0), n_points=11)
    (message,) = [str(w.message) for w in caught]
    assert "The curve's range (2 to 12) goes beyond the data" in message
    assert "12 (7.5 above the largest)" in message and "(2 to 4.5)" in message
    assert curve.table.attrs["warnings"] == (message,)


def _fake_saved_fit(monkeypatch, slope_fit):
    fit_module = importlib.import_module("ambidex_bayes.fit")

    tree, terms, prepared = slope_fit
    fake = SimpleNamespace(idata=tree, terms=terms, prepared=prepared)
    monkeypatch.setattr(fit_module, "load_fit", lambda path: fake)


def test_slopes_command_prints_the_extrapolation_warning(monkeypatch, slope_fit, capsys):
    _fake_saved_fit(monkeypatch, slope_fit)
    assert cli.main(["slopes", "fit.nc", "--at", "3,5,9"]) == 0
    out = capsys.readouterr().out
    assert "WARNING: Moderator value(s) 5 (0.5 above the largest), 9 (4.5 above" in out
    assert "far outside" in out


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_slopes_command_refuses_non_finite_moderator_values(monkeypatch, slope_fit, capsys, value):
    _fake_saved_fit(monkeypatch, slope_fit)
    assert cli.main(["slopes", "fit.nc", f"--at=3,{value}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Moderator values (at=, --at) must be finite numbers")
    assert "Traceback" not in err
