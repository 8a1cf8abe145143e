"""Prior sets: bundled files, scale-relative numbers, and errors with hints at load."""

from __future__ import annotations

import importlib
import math

import pytest
from fake_posterior import raw_diary

from ambidex_bayes.data.mapping import ColumnMapping
from ambidex_bayes.data.validate import validate
from ambidex_bayes.errors import SpecError
from ambidex_bayes.model import build_model
from ambidex_bayes.prepare import prepare
from ambidex_bayes.priors.sets import (
    PriorSet,
    available_prior_sets,
    check_prior_keys,
    load_prior_set,
    parameter_unit,
    prior_sets_dir,
    read_prior_set,
)
from ambidex_bayes.spec import PriorSpec, load_spec

FULL_KEYS = {
    "Intercept",
    "{x_within}",
    "{x_between}",
    "{w}",
    "{x_within}:{w}",
    "1|{person}_sigma",
    "{x_within}|{person}_sigma",
    "sigma",
    "corr",
}


def _prepared(*, standardize: bool = False, ranges: dict | None = None):
    """The small hand-made diary with declared ranges: y 0-20, x 0-10, W 1-5."""
    mapping = ColumnMapping(
        person="pid",
        occasion="day",
        outcome="inno",
        level1=("unc",),
        level2=("sup",),
        ranges=ranges if ranges is not None else {"inno": (0, 20), "unc": (0, 10), "sup": (1, 5)},
    )
    return prepare(validate(raw_diary(), mapping, source="<test diary>"), standardize=standardize)


def _relative(**entries) -> PriorSet:
    return PriorSet.from_dict({"relative": entries}, source="<relative set>")


def test_bundled_sets_exist_and_cover_every_kind_of_parameter():
    assert available_prior_sets() == ["default", "informative", "sceptical", "weakly_informative"]
    assert read_prior_set("default").is_default
    for name in ("weakly_informative", "sceptical", "informative"):
        prior_set = read_prior_set(name)
        assert set(prior_set.keys) == FULL_KEYS, name
        assert prior_set.name == name
        assert prior_set.description
    # the sceptical set differs from the weakly informative one only in the interaction
    weak, sceptical = read_prior_set("weakly_informative"), read_prior_set("sceptical")
    differs = [k for k in FULL_KEYS if weak.relative[k] != sceptical.relative[k]]
    assert differs == ["{x_within}:{w}"]
    assert sceptical.relative["{x_within}:{w}"].params["sigma"] < (
        weak.relative["{x_within}:{w}"].params["sigma"] / 4
    )


def test_absolute_sets_load_without_the_data():
    path = prior_sets_dir() / "informative.toml"
    assert load_prior_set(path) == dict(read_prior_set(path).priors)
    assert load_prior_set(prior_sets_dir() / "default.toml") == {}
    assert load_prior_set("informative")["{x_within}:{w}"] == PriorSpec(
        "Normal", {"mu": 0.2, "sigma": 0.1}
    )


def test_relative_numbers_are_multiplied_by_the_parameters_unit():
    # R_y = 20, R_x = 10, R_w = 4, nothing standardised, outcome centre 0
    prepared = _prepared()
    resolved = _relative(
        Intercept={"dist": "Normal", "mu": 0.5, "sigma": 0.25},
        **{
            "{x_within}": {"dist": "Normal", "mu": 0.1, "sigma": 1.0},
            "{x_within}:{w}": {"dist": "Normal", "mu": 0.0, "sigma": 1.0},
            "1|{person}_sigma": {"dist": "HalfNormal", "sigma": 0.25},
            "{x_within}|{person}_sigma": {"dist": "HalfStudentT", "nu": 3, "sigma": 0.25},
        },
        sigma={"dist": "Exponential", "lam": 2.0},
        corr={"dist": "LKJ", "eta": 3.0},
    ).resolve(prepared)
    assert resolved["Intercept"] == PriorSpec("Normal", {"mu": 10.0, "sigma": 5.0})
    assert resolved["{x_within}"] == PriorSpec("Normal", {"mu": 0.2, "sigma": 2.0})
    assert resolved["{x_within}:{w}"] == PriorSpec("Normal", {"mu": 0.0, "sigma": 0.5})
    assert resolved["1|{person}_sigma"] == PriorSpec("HalfNormal", {"sigma": 5.0})
    assert resolved["{x_within}|{person}_sigma"] == PriorSpec(
        "HalfStudentT", {"nu": 3.0, "sigma": 0.5}
    )
    assert resolved["sigma"] == PriorSpec("Exponential", {"lam": 0.1})  # a rate is divided
    assert resolved["corr"] == PriorSpec("LKJ", {"eta": 3.0})


def test_relative_numbers_follow_standardisation():
    prepared = _prepared(standardize=True)
    t = prepared.transforms
    s_y, s_x, s_w = t["inno_z"].scale, t["unc_cw"].scale, t["sup_c"].scale
    assert s_y != 1.0 and s_x != 1.0 and s_w != 1.0
    unit = (20 / s_y) / ((10 / s_x) * (4 / s_w))
    assert math.isclose(parameter_unit("{x_within}:{w}", prepared), unit)
    resolved = _relative(
        Intercept={"dist": "Normal", "mu": 0.5, "sigma": 0.25},
    ).resolve(prepared)
    assert math.isclose(
        resolved["Intercept"].params["mu"], (0 + 0.5 * 20 - t["inno_z"].centre) / s_y
    )
    assert math.isclose(resolved["Intercept"].params["sigma"], 0.25 * 20 / s_y)


def test_weakly_informative_on_one_to_five_scales():
    from ambidex_bayes import datasets
    from ambidex_bayes.data import load_diary

    mapping = ColumnMapping.from_toml(datasets.example_mapping_path())
    prepared = prepare(load_diary(datasets.example_path(), mapping))
    weak = load_prior_set("weakly_informative", prepared=prepared)
    assert weak["Intercept"] == PriorSpec("Normal", {"mu": 3.0, "sigma": 1.0})
    assert weak["{x_within}"] == PriorSpec("Normal", {"mu": 0.0, "sigma": 1.0})
    assert weak["{x_within}:{w}"] == PriorSpec("Normal", {"mu": 0.0, "sigma": 0.25})
    assert weak["1|{person}_sigma"] == PriorSpec("HalfNormal", {"sigma": 1.0})
    assert weak["sigma"] == PriorSpec("HalfStudentT", {"nu": 4.0, "sigma": 1.0})
    sceptical = load_prior_set("sceptical", prepared=prepared)
    assert sceptical["{x_within}:{w}"] == PriorSpec("Normal", {"mu": 0.0, "sigma": 0.05})


def test_every_bundled_set_matches_the_parameters_of_m3():
    prepared = _prepared()
    built = build_model(load_spec("M3"), prepared)
    for name in available_prior_sets():
        priors = load_prior_set(name, prepared=prepared, model=built)
        spec = load_spec("M3").with_priors(priors, label=name)
        records = build_model(spec, prepared).priors
        sources = {k: v["source"] for k, v in records.items()}
        if name == "default":
            assert sources["unc_cw:sup_c"] == "bambi default (scaled to data)"
        else:
            assert set(sources.values()) == {"spec"}, (name, sources)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"priors": {"sigma": {"dist": "Normall", "sigma": 1}}}, "Did you mean 'Normal'"),
        ({"priors": {"sigma": {"dist": "HalfNormal", "sd": 1}}}, "Did you mean 'sigma'"),
        ({"prior": {}}, "Did you mean 'priors'"),
        ({"priors": {"sigma": {"dist": "Normal", "mu": 0, "sigma": 1}}}, "positive distribution"),
        ({"priors": {"corr": {"dist": "Normal", "mu": 0, "sigma": 1}}}, "must be an LKJ"),
        ({"priors": {"{w}": {"dist": "LKJ", "eta": 2}}}, "correlation only"),
        (
            {
                "priors": {"sigma": {"dist": "HalfNormal", "sigma": 1}},
                "relative": {"sigma": {"dist": "HalfNormal", "sigma": 0.2}},
            },
            "both in [priors] and in [relative]",
        ),
    ],
)
def test_bad_prior_sets_fail_at_load_with_a_hint(table, message):
    with pytest.raises(SpecError, match="<set>") as err:
        PriorSet.from_dict(table, source="<set>")
    assert message in str(err.value)


def test_relative_set_needs_the_data_and_declared_ranges(tmp_path):
    relative = _relative(**{"{w}": {"dist": "Normal", "mu": 0, "sigma": 1}})
    with pytest.raises(SpecError, match="relative to the declared scales"):
        relative.resolve(None)
    prepared = _prepared(ranges={"inno": (0, 20), "unc": (0, 10)})  # no range of 'sup'
    with pytest.raises(SpecError) as err:
        relative.resolve(prepared)
    assert "'sup'" in str(err.value) and "[ranges]" in str(err.value)
    assert "{w}" in str(err.value)


def test_unknown_names_are_reported_with_hints(tmp_path):
    with pytest.raises(SpecError, match="Did you mean 'sceptical'"):
        read_prior_set("skeptical")
    prepared = _prepared()
    built = build_model(load_spec("M3"), prepared)
    fields = prepared.formula_fields()
    typo = {"unc_cw:sup": PriorSpec("Normal", {"mu": 0.0, "sigma": 1.0})}
    with pytest.raises(SpecError) as err:
        check_prior_keys(typo, built, fields, source="my_set.toml")
    text = str(err.value)
    assert "my_set.toml" in text and "Did you mean 'unc_cw:sup_c'" in text
    missing_role = {"{x_within}:{v}": PriorSpec("Normal", {"mu": 0.0, "sigma": 1.0})}
    with pytest.raises(SpecError, match="role 'v'"):
        check_prior_keys(missing_role, built, fields)
    path = tmp_path / "bad.toml"
    path.write_text('[priors]\n"{x_within}:{w}x" = { dist = "Normal", mu = 0, sigma = 1 }\n')
    with pytest.raises(SpecError, match="bad.toml.*matches no parameter"):
        load_prior_set(path, prepared=prepared, model=built)


def test_a_set_written_for_m3_applies_to_the_smaller_models():
    from ambidex_bayes.data import load_diary
    from ambidex_bayes.priors.sets import applicable_priors, spec_with_prior_set
    from ambidex_bayes.simulate import reference_design, simulate_diary

    study = simulate_diary(reference_design(n_persons=30), seed=2)  # 1-5 scales: ranges known
    small_prepared = prepare(load_diary(study.data, ColumnMapping.from_dict(study.mapping)))

    resolved = load_prior_set("weakly_informative", prepared=small_prepared)
    m1 = build_model(load_spec("M1"), small_prepared)
    kept = applicable_priors(resolved, m1, small_prepared.formula_fields())
    assert "corr" in resolved and "corr" not in kept
    assert "{x_within}:{w}" in resolved and "{x_within}:{w}" not in kept
    assert "Intercept" in kept and "sigma" in kept
    built = build_model(
        spec_with_prior_set(load_spec("M1"), "weakly_informative", small_prepared), small_prepared
    )
    assert built.priors["Intercept"]["source"] == "spec"
    assert built.priors["sigma"]["prior"] == str(resolved["sigma"])


# -- one loader: sets by name on every command that takes --priors ------------------------


class _Stop(Exception):
    """Raised by the stand-ins below once they have seen what a command would run."""


def _refuse(*args, **kwargs):
    raise AssertionError("the prior set must be checked before any work")


def test_fit_takes_a_bundled_relative_set_by_name(monkeypatch, tmp_path):
    fit_module = importlib.import_module("ambidex_bayes.fit")
    from ambidex_bayes.cli import main

    seen = {}

    def fake_fit(spec, prepared, **kwargs):
        seen.update(spec=spec, prepared=prepared)
        raise _Stop

    monkeypatch.setattr(fit_module, "fit", fake_fit)
    argv = ["fit", "--example", "--spec", "M3", "--priors", "sceptical", "--no-progress"]
    with pytest.raises(_Stop):
        main([*argv, "--cache-dir", str(tmp_path)])
    expected = load_prior_set("sceptical", prepared=seen["prepared"])
    assert read_prior_set("sceptical").relative  # numbers relative to the declared ranges
    assert {key: seen["spec"].priors[key] for key in expected} == expected
    assert seen["spec"].name == "M3[sceptical]"


def test_fit_takes_a_relative_set_from_a_file(monkeypatch, tmp_path):
    fit_module = importlib.import_module("ambidex_bayes.fit")
    from ambidex_bayes.cli import main

    seen = {}

    def fake_fit(spec, prepared, **kwargs):
        seen.update(spec=spec, prepared=prepared)
        raise _Stop

    monkeypatch.setattr(fit_module, "fit", fake_fit)
    path = tmp_path / "narrow.toml"
    path.write_text('[relative]\nsigma = { dist = "HalfNormal", sigma = 0.25 }\n')
    with pytest.raises(_Stop):
        main(["fit", "--example", "--spec", "M3", "--priors", str(path), "--no-progress"])
    sigma = seen["spec"].priors["sigma"]
    assert sigma == load_prior_set(path, prepared=seen["prepared"])["sigma"]
    assert sigma.params["sigma"] != 0.25  # turned into the model's units
    assert seen["spec"].name == "M3[narrow]"


@pytest.mark.parametrize(
    "argv",
    [
        ["fit", "--example", "--spec", "M3", "--priors", "scepticall"],
        ["compare-priors", "M3", "--example", "--priors", "default,scepticall"],
        ["prior-check", "M3", "--example", "--priors", "scepticall"],
        ["power", "--persons", "20", "--diaries", "4", "--sims", "1", "--priors", "scepticall"],
        ["sbc", "--sims", "1", "--priors", "scepticall"],
        ["sbc", "--sims", "1", "--fit-priors", "scepticall"],
    ],
    ids=["fit", "compare-priors", "prior-check", "power", "sbc", "sbc-fit-priors"],
)
def test_every_command_reads_sets_by_name_with_a_hint(argv, monkeypatch, tmp_path, capsys):
    import ambidex_bayes.design.power as power
    import ambidex_bayes.design.sbc as sbc

    fit_module = importlib.import_module("ambidex_bayes.fit")
    from ambidex_bayes.cli import main

    for module, name in [(fit_module, "fit"), (power, "run_power"), (sbc, "run_sbc")]:
        monkeypatch.setattr(module, name, _refuse)
    out = ["--out", str(tmp_path / "out")] if argv[0] in ("power", "sbc") else []
    assert main([*argv, *out, "--no-progress"] if argv[0] != "prior-check" else argv) == 2
    err = capsys.readouterr().err
    assert "no prior set 'scepticall'. Did you mean 'sceptical'?" in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()
