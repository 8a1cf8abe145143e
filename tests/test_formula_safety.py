"""Formulas are code for formulae: data, spec and fit files must never make them run anything.

Three ways in, each a regression test: a data file's column names (hole 1), a spec file's
formula (hole 2) and a saved fit's stored spec and formula (hole 3). Each attack would
create a marker file; the tests check that it is not created and that the input is either
harmless (odd column names are just names) or refused with a clear error naming the file.
Also: the formula check itself on many formulas, column names with spaces, hyphens,
parentheses, dots and non-ASCII letters fitting end to end, and the spec-file error cases
(folders, malformed formulas, unsafe names, two ladder specs of one name).
"""

from __future__ import annotations

import dataclasses
import json
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ambidex_bayes.cli import main
from ambidex_bayes.errors import DataError, FitFileError, SpecError

SMALL = ["--draws", "150", "--tune", "150", "--chains", "2", "--backend", "pymc", "--no-progress"]

#: A column name that, pasted unquoted into a formula, runs a shell command.
EVIL = "I(np.f2py.os.system('touch marker'))"
#: Columns the old name check wanted before it let the evil name through (each word of it).
DECOYS = ("np.f2py.os.system", "np", "f2py", "os", "system", "touch", "marker")


def _diary(
    *,
    person: str = "pid",
    x: str = "x",
    w: str = "w",
    y: str = "y",
    extra: tuple[str, ...] = (),
    n: int = 24,
    k: int = 5,
    seed: int = 1,
) -> pd.DataFrame:
    """A small diary table with a cross-level interaction; ``extra`` numeric columns."""
    rng = np.random.default_rng(seed)
    wj = rng.normal(size=n)
    mu = rng.normal(3, 1, size=n)
    xs = np.repeat(mu, k) + rng.normal(size=n * k)
    ws = np.repeat(wj, k)
    u0 = np.repeat(rng.normal(0, 0.5, size=n), k)
    ys = 2 + u0 + (0.3 + 0.3 * ws) * (xs - np.repeat(mu, k)) + 0.2 * ws
    frame = pd.DataFrame(
        {
            person: np.repeat([f"p{j}" for j in range(n)], k),
            "day": np.tile(np.arange(1, k + 1), n),
            x: xs,
            w: ws,
            y: ys + rng.normal(0, 0.5, size=n * k),
        }
    )
    for column in extra:
        frame[column] = rng.normal(size=n * k)
    return frame


def _prepare(frame: pd.DataFrame, **mapping):
    from ambidex_bayes.data import ColumnMapping, load_diary
    from ambidex_bayes.prepare import prepare

    return prepare(load_diary(frame, ColumnMapping(**mapping)))


def _write_mapping(path: Path, mapping: dict) -> Path:
    lines = []
    for key, value in mapping.items():
        if isinstance(value, tuple | list):
            lines.append(f"{key} = {json.dumps(list(value))}")
        else:
            lines.append(f"{key} = {json.dumps(value)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# -- hole 1: a data file's column names --------------------------------------------------------


def test_data_column_names_cannot_run_code_when_a_model_is_built(tmp_path, monkeypatch):
    from ambidex_bayes.ladder import ladder_specs
    from ambidex_bayes.model import build_model

    monkeypatch.chdir(tmp_path)
    prepared = _prepare(
        _diary(y=EVIL, extra=DECOYS),
        person="pid",
        outcome=EVIL,
        level1=("x",),
        level2=("w",),
        controls=DECOYS,
    )
    for spec in ladder_specs():
        built = build_model(spec, prepared)
        assert not (tmp_path / "marker").exists(), f"{spec.name} ran the column name"
        # the odd name is just the outcome's name
        assert built.response == EVIL
        assert EVIL in built.pymc_model.named_vars
    assert not (tmp_path / "marker").exists()


# a tiny fit: too few draws for the R-hat and ESS limits, as expected here
@pytest.mark.filterwarnings("ignore::ambidex_bayes.diagnostics.ConvergenceWarning")
@pytest.mark.fit
def test_data_column_names_cannot_run_code_through_the_cli(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "diary.csv"
    _diary(y=EVIL, extra=DECOYS).to_csv(data, index=False)
    mapping = _write_mapping(
        tmp_path / "mapping.toml",
        {
            "person": "pid",
            "occasion": "day",
            "outcome": EVIL,
            "level1": ["x"],
            "level2": ["w"],
            "controls": list(DECOYS),
        },
    )
    out = tmp_path / "m0.nc"
    status = main(
        ["fit", str(data), "--mapping", str(mapping), "--spec", "M0", "--out", str(out), *SMALL]
    )
    assert not (tmp_path / "marker").exists()
    assert status == 0, capsys.readouterr().err
    assert out.exists()


def test_a_column_name_with_a_backtick_is_refused_naming_it():
    with pytest.raises(DataError, match=r"'inno`vation'.*backtick.*rename the column"):
        _prepare(
            _diary(y="inno`vation"),
            person="pid",
            outcome="inno`vation",
            level1=("x",),
            level2=("w",),
        )


# -- hole 2: a spec file's formula ---------------------------------------------------------------

#: Spec formulas that call something else than an allowed transformation.
EVIL_SPEC_FORMULAS = [
    "{y} ~ 1 + I(np.savetxt('written.txt', {x_within})) + (1 | {person})",
    "{y} ~ 1 + I(np.load('evil.npy', allow_pickle=True)) + (1 | {person})",
    "{y} ~ 1 + np.f2py.os.system('touch marker') + (1 | {person})",
    "{y} ~ 1 + C({x_within}, np.savetxt('written.txt', {x_within})) + (1 | {person})",
    "I(np.savetxt('written.txt', {y})) ~ 1 + (1 | {person})",
]


@pytest.mark.parametrize("formula", EVIL_SPEC_FORMULAS)
def test_spec_file_with_an_unsafe_call_is_refused_when_loaded(tmp_path, formula):
    from ambidex_bayes.spec import load_spec

    path = tmp_path / "evil.toml"
    path.write_text(f'name = "E"\nformula = "{formula}"\n')
    with pytest.raises(SpecError, match=r"evil\.toml: .*is refused: it calls np\..*Allowed: "):
        load_spec(path)


def test_spec_file_with_an_unsafe_call_writes_nothing_through_the_cli(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "diary.csv"
    decoys = ("np.savetxt", "written.txt")
    _diary(extra=decoys).to_csv(data, index=False)
    mapping = _write_mapping(
        tmp_path / "mapping.toml",
        {
            "person": "pid",
            "outcome": "y",
            "level1": ["x"],
            "level2": ["w"],
            "controls": list(decoys),
        },
    )
    spec = tmp_path / "evil.toml"
    spec.write_text(f'name = "E"\nformula = "{EVIL_SPEC_FORMULAS[0]}"\n')
    status = main(["fit", str(data), "--mapping", str(mapping), "--spec", str(spec), *SMALL])
    assert not (tmp_path / "written.txt").exists()
    assert status == 2
    err = capsys.readouterr().err
    assert "evil.toml" in err and "np.savetxt()" in err and "Traceback" not in err


def test_build_model_checks_the_rendered_formula_too(tmp_path, monkeypatch):
    """A spec made in code (not read from a file) is checked when the model is built."""
    from ambidex_bayes.model import build_model
    from ambidex_bayes.spec import ModelSpec

    monkeypatch.chdir(tmp_path)
    prepared = _prepare(
        _diary(extra=("np.savetxt", "written.txt")),
        person="pid",
        outcome="y",
        level1=("x",),
        level2=("w",),
        controls=("np.savetxt", "written.txt"),
    )
    spec = ModelSpec(name="E", formula=EVIL_SPEC_FORMULAS[0], source="made-in-code")
    with pytest.raises(SpecError, match=r"made-in-code: .*np\.savetxt\(\), which is not"):
        build_model(spec, prepared)
    assert not (tmp_path / "written.txt").exists()


# -- hole 3: a saved fit's stored spec and formula ----------------------------------------------


@pytest.fixture(scope="module")
def tiny_fit_file(tmp_path_factory, small_prepared):
    """M1 on the small study, 1 chain x 60 draws, saved; the fit files below are copies."""
    from ambidex_bayes.diagnostics import ConvergenceWarning
    from ambidex_bayes.fit import SamplerSettings, fit
    from ambidex_bayes.spec import load_spec

    with warnings.catch_warnings():
        # one chain of 60 draws: R-hat cannot be computed and ESS is low, as expected here
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = fit(
            load_spec("M1"),
            small_prepared,
            settings=SamplerSettings(backend="pymc", draws=60, tune=60, chains=1, seed=3),
            cache_dir=False,
            progressbar=False,
            verbose=False,
            log_likelihood=False,
        )
    return result.save(tmp_path_factory.mktemp("tiny") / "m1.nc")


def _crafted(source: Path, target: Path, edit) -> Path:
    """A copy of a fit file whose records are changed by ``edit(attrs, tree)``."""
    from ambidex_bayes.store import load_datatree, save_datatree

    tree, attrs = load_datatree(source)
    edit(attrs, tree)
    return save_datatree(tree, target, attrs)


def _add_prepared_columns(attrs, tree, names) -> None:
    """Give the stored prepared data numeric columns ``names`` (as the old check wanted)."""
    import xarray as xr

    ds = tree["prepared_data"].to_dataset()
    n = ds.sizes["__prepared_row__"]
    for i, name in enumerate(names):
        ds[name] = (("__prepared_row__",), np.linspace(0.0, 1.0, n) * (i + 1))
    tree["prepared_data"] = xr.DataTree(ds)
    attrs["prepared"]["columns"] = [*attrs["prepared"]["columns"], *names]


@pytest.mark.fit
def test_fit_file_with_an_unsafe_stored_spec_is_refused_on_load(
    tiny_fit_file, tmp_path, monkeypatch
):
    from ambidex_bayes.fit import load_fit

    monkeypatch.chdir(tmp_path)

    def edit(attrs, tree):
        attrs["spec"]["formula"] = "{y} ~ 1 + I(np.f2py.os.system('touch marker')) + (1|{person})"
        _add_prepared_columns(attrs, tree, DECOYS)

    crafted = _crafted(tiny_fit_file, tmp_path / "crafted.nc", edit)
    with pytest.raises(FitFileError, match=r"crafted\.nc: .*np\.f2py\.os\.system\(\)"):
        # ppc, person slopes and compare-priors rebuild Bambi's model of a loaded fit
        assert load_fit(crafted).bambi_model is None
    assert not (tmp_path / "marker").exists()


@pytest.mark.fit
def test_fit_file_with_an_unsafe_stored_formula_is_refused_on_load(tiny_fit_file, tmp_path):
    from ambidex_bayes.fit import load_fit

    def edit(attrs, tree):
        attrs["formula"] = "innovation ~ 1 + I(np.f2py.os.system('touch marker'))"

    crafted = _crafted(tiny_fit_file, tmp_path / "crafted.nc", edit)
    with pytest.raises(FitFileError, match=r"crafted\.nc: the fit file is refused.*system\(\)"):
        load_fit(crafted)


@pytest.mark.fit
def test_fit_file_whose_roles_name_no_usable_column_is_refused(tiny_fit_file, tmp_path):
    from ambidex_bayes.fit import load_fit

    def edit(attrs, tree):
        attrs["prepared"]["roles"]["y"] = "inno`vation"

    crafted = _crafted(tiny_fit_file, tmp_path / "crafted.nc", edit)
    with pytest.raises(FitFileError, match=r"crafted\.nc: .*backtick"):
        load_fit(crafted)


@pytest.mark.fit
def test_cli_ppc_refuses_a_crafted_fit_file(tiny_fit_file, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)

    def edit(attrs, tree):
        attrs["spec"]["formula"] = "{y} ~ 1 + I(np.f2py.os.system('touch marker')) + (1|{person})"
        _add_prepared_columns(attrs, tree, DECOYS)

    crafted = _crafted(tiny_fit_file, tmp_path / "crafted.nc", edit)
    status = main(["ppc", str(crafted), "--out", str(tmp_path / "ppc")])
    assert not (tmp_path / "marker").exists()
    assert status == 2
    err = capsys.readouterr().err
    assert "crafted.nc" in err and "Traceback" not in err


@pytest.mark.fit
def test_a_saved_fit_loads_and_rebuilds(tiny_fit_file):
    from ambidex_bayes.fit import load_fit

    result = load_fit(tiny_fit_file)
    assert "uncertainty_cw" in result.formula
    assert result.built.formula == result.formula


# -- column names with spaces, hyphens, parentheses, dots, non-ASCII letters ---------------------

ODD = {
    "person": "person id",
    "x": "Unsicherheit (täglich)",
    "w": "leader-support",
    "y": "Innovation (daily)",
}


def test_odd_column_names_are_quoted_and_name_the_parameters():
    from ambidex_bayes.model import build_model
    from ambidex_bayes.spec import PriorSpec, load_spec

    prepared = _prepare(
        _diary(**ODD, extra=("day.off",)),
        person=ODD["person"],
        outcome=ODD["y"],
        level1=(ODD["x"],),
        level2=(ODD["w"],),
        controls=("day.off",),
    )
    spec = load_spec("M3")
    built = build_model(spec, prepared)
    assert built.formula == (
        "`Innovation (daily)` ~ 1 + `Unsicherheit (täglich)_cw` + `Unsicherheit (täglich)_pm`"
        " + `leader-support_c` + `Unsicherheit (täglich)_cw`:`leader-support_c`"
        " + (`Unsicherheit (täglich)_cw` | `person id`)"
    )
    x, w, p = "Unsicherheit (täglich)_cw", "leader-support_c", "person id"
    t = built.terms
    assert (t.slope, t.moderator, t.interaction) == (x, w, f"{x}:{w}")
    assert (t.group_intercept, t.group_slope) == (f"1|{p}", f"{x}|{p}")
    assert t.correlation == f"corr(1|{p},{x}|{p})"
    assert set(built.pymc_model.named_vars) >= {
        "Intercept",
        x,
        f"{x}:{w}",
        f"1|{p}",
        f"{x}|{p}_sigma",
        t.correlation,
        "sigma",
    }
    assert built.pymc_model.named_vars_to_dims[f"1|{p}"] == (f"{p}__factor_dim",)
    # priors are keyed by the same names, and overrides with roles reach them
    overridden = spec.with_priors(
        {"{x_within}:{w}": PriorSpec("Normal", {"mu": 0.0, "sigma": 0.3})}, label="tight"
    )
    again = build_model(overridden, prepared)
    assert again.priors[f"{x}:{w}"]["source"] == "spec"
    # the fast path names its parameters the same way
    fast = build_model(spec, prepared, marginal=True, prior_data=True)
    assert fast.marginal.fixed_names == ["Intercept", x, "Unsicherheit (täglich)_pm", w, f"{x}:{w}"]
    assert fast.marginal.group_names == [f"1|{p}", f"{x}|{p}"]
    # controls are quoted too
    with_controls = build_model(dataclasses.replace(spec, include_controls=True), prepared)
    assert "+ `day.off` + (" in with_controls.formula
    assert "day.off" in with_controls.terms.other_fixed


# a tiny fit: too few draws for the R-hat and ESS limits, as expected here
@pytest.mark.filterwarnings("ignore::ambidex_bayes.diagnostics.ConvergenceWarning")
@pytest.mark.fit
def test_odd_column_names_fit_end_to_end(tmp_path):
    from ambidex_bayes.fit import SamplerSettings, fit, load_fit
    from ambidex_bayes.results.summary import posterior_summary
    from ambidex_bayes.spec import load_spec

    prepared = _prepare(
        _diary(**ODD),
        person=ODD["person"],
        outcome=ODD["y"],
        level1=(ODD["x"],),
        level2=(ODD["w"],),
    )
    result = fit(
        load_spec("M3"),
        prepared,
        settings=SamplerSettings(backend="pymc", draws=60, tune=60, chains=1, seed=2),
        cache_dir=tmp_path,
        progressbar=False,
        verbose=False,
    )
    x, w, p = "Unsicherheit (täglich)_cw", "leader-support_c", "person id"
    posterior = result.posterior
    for name in ("Intercept", x, f"{x}:{w}", f"1|{p}", f"{x}|{p}", f"{x}|{p}_sigma", "sigma"):
        assert name in posterior.data_vars, name
    assert posterior[f"{x}|{p}"].dims[-1] == f"{p}__factor_dim"
    assert posterior.sizes[f"{p}__factor_dim"] == 24
    summary = posterior_summary(result)
    roles = dict(zip(summary["parameter"], summary["role"], strict=False))
    assert roles[f"{x}:{w}"] == roles.get(f"{x}:{w}")  # present, with a role label
    assert len([r for r in summary["role"] if "interaction" in r.lower()]) == 1
    loaded = load_fit(result.path)
    assert loaded.formula == result.formula
    assert loaded.built.formula == result.formula


# -- the formula check itself -----------------------------------------------------------------

ALLOWED = [
    "y ~ x",
    "y ~ 1 + x + (1 | p)",
    "y ~ 0 + x + (0 + x | p)",
    "`Innovation (daily)` ~ 1 + `leader-support` + (1 + `leader-support` | `person id`)",
    "y ~ x + C(g) + C(g, 'b') + center(x) + scale(x) + standardize(x)",
    "y ~ log(z) + log2(z) + log10(z) + exp(x) + abs(x)",
    "y ~ np.log(z) + np.exp(x) + np.sqrt(z) + np.log1p(z)",
    "y ~ I(x * 2 + 1) + I(x ** 2) + I((x - 1) / 2) + I(x > 0) + {x + 1}",
    "log(y) ~ x",
    "y ~ x:w + x*w + (x + w)**2",
    "y ~ x + a.b",  # a dotted column name, looked up as a whole
    "y ~ Unsicherheit_ä",
]

REFUSED = [
    ("I(np.f2py.os.system('touch X')) ~ 1", r"calls np\.f2py\.os\.system\(\)"),
    ("y ~ I(np.savetxt('f', x))", r"calls np\.savetxt\(\)"),
    ("y ~ np.load('f', allow_pickle=True)", r"calls np\.load\(\)"),
    ("y ~ x + os.system('ls')", r"calls os\.system\(\)"),
    ("y ~ getattr(x, 'a')", r"calls getattr\(\)"),
    ("y ~ eval('1')", r"calls eval\(\)"),
    ("y ~ C(x, levels=np.savetxt('f', x))", r"calls np\.savetxt\(\)"),
    ("y ~ log(np.savetxt('f', x))", r"calls np\.savetxt\(\)"),
    ("y ~ `x`(1)", "only named functions"),
    ("y ~ I(x)(2)", "only named functions"),
    ("y ~ I(2 ** 10 ** 10)", "powers of powers"),
    ("y ~ I(x ** 1000)", "exponent must be at most"),
    ("y ~ I('a' * 100000)", "cannot be used in arithmetic"),
    ("y ~ x + 'text'", "is not a term"),
    ("y ~ __import__('os')", "cannot be read"),
    ("y x", "no '~'"),
    ("y ~ x ~ z", "2 '~'"),
    ("y ~ (x", "unbalanced parentheses"),
    ("y ~ x)", "unbalanced parentheses"),
    ("y ~", "nothing right of '~'"),
    ("~ x", "no outcome"),
    ("y ~ `x", "unmatched backtick"),
    ("y ~ I('x", "unterminated string"),
    ("y ~ x y", "unexpected 'y'"),
    ("y ~ x:(1 | p)", "person-effect term"),
    ("y ~ x + (1 | p:q)", "one column name"),
    ("", "empty"),
    ("y ~ " + "(" * 40 + "x" + ")" * 40, "nests brackets"),
]


@pytest.mark.parametrize("formula", ALLOWED)
def test_allowed_formulas_pass(formula):
    from ambidex_bayes.formula_guard import check_formula

    parts = check_formula(formula, source="s.toml")
    assert parts.formula == formula


@pytest.mark.parametrize(("formula", "message"), REFUSED)
def test_refused_formulas_name_the_file_and_the_problem(formula, message):
    from ambidex_bayes.formula_guard import check_formula

    with pytest.raises(SpecError, match=r"^s\.toml: ") as info:
        check_formula(formula, source="s.toml")
    assert re.search(message, str(info.value)), str(info.value)


def test_every_name_must_be_a_column_when_columns_are_given():
    from ambidex_bayes.formula_guard import check_formula

    with pytest.raises(SpecError, match=r"names the column 'np', .*Did you mean 'nps'"):
        check_formula("y ~ log(np)", source="s", columns=["y", "nps"])
    check_formula("y ~ log(`n p`)", source="s", columns=["y", "n p"])


def test_formula_parts_split_quoted_names():
    from ambidex_bayes.formula_guard import check_formula

    parts = check_formula(
        "`y (1)` ~ 1 + `a+b` + `c|d`:w + (1 + `a+b` | `person id`) + (1 | `site~x`)"
    )
    assert parts.outcome_name == "y (1)"
    assert parts.fixed == "`y (1)` ~ 1 + `a+b` + `c|d`:w"
    assert parts.groups == (("1 + `a+b`", "person id"), ("1", "site~x"))
    assert parts.names == {"y (1)", "a+b", "c|d", "w", "person id", "site~x"}


def test_split_formula_and_group_expressions_read_quoted_names():
    from ambidex_bayes.model.build import group_expressions, split_formula

    fixed, groups = split_formula("y ~ 1 + `a-b` + (`a-b` | `p q`)")
    assert fixed == "y ~ 1 + `a-b`"
    assert groups == [("`a-b`", "p q")]
    assert group_expressions("`a-b`") == ["1", "a-b"]
    assert group_expressions("0 + `a+b` + x") == ["a+b", "x"]


@pytest.mark.parametrize(
    ("name", "quoted"),
    [
        ("innovation", "innovation"),
        ("uncertainty_cw", "uncertainty_cw"),
        ("Innovation (daily)", "`Innovation (daily)`"),
        ("leader-support", "`leader-support`"),
        ("a.b", "`a.b`"),
        ("Unsicherheit_ä", "`Unsicherheit_ä`"),
        ("_x", "`_x`"),
        ("1st", "`1st`"),
        ("True", "`True`"),
        (EVIL, f"`{EVIL}`"),
    ],
)
def test_quote_name(name, quoted):
    from ambidex_bayes.formula_guard import check_formula, quote_name

    assert quote_name(name) == quoted
    parts = check_formula(f"{quoted} ~ 1")
    assert parts.names == {name} and not parts.calls


@pytest.mark.parametrize("name", ["a`b", ""])
def test_quote_name_refuses_what_cannot_be_quoted(name):
    from ambidex_bayes.formula_guard import quote_name

    with pytest.raises(SpecError, match="backtick|empty"):
        quote_name(name)


def test_template_placeholders_stand_for_names():
    from ambidex_bayes.formula_guard import check_template

    roles = check_template("{y} ~ 1 + {x_within} + ({x_within} | {person})", source="t.toml")
    assert roles == {"y", "x_within", "person"}
    with pytest.raises(SpecError, match="t.toml: .*in backticks"):
        check_template("`{y}` ~ 1", source="t.toml")
    with pytest.raises(SpecError, match=r"t.toml: formula placeholder \{y.__class__\}"):
        check_template("{y.__class__} ~ 1", source="t.toml")
    with pytest.raises(SpecError, match="only named functions"):
        check_template("{y} ~ {f}(1)", source="t.toml")


# -- spec-file errors -----------------------------------------------------------------------


def test_a_folder_as_spec_or_prior_set_is_a_clear_error(tmp_path, capsys):
    from ambidex_bayes.priors import sets
    from ambidex_bayes.spec import load_spec

    folder = tmp_path / "specs"
    folder.mkdir()
    with pytest.raises(SpecError, match=r"specs: is a folder, not a spec file"):
        load_spec(folder)
    with pytest.raises(SpecError, match=r"specs: is a folder, not a prior-set file"):
        sets.load_prior_set(folder)
    assert main(["fit", "--example", "--spec", str(folder), *SMALL]) == 2
    err = capsys.readouterr().err
    assert "is a folder" in err and "Traceback" not in err
    assert main(["fit", "--example", "--spec", "M0", "--priors", str(folder), *SMALL]) == 2
    err = capsys.readouterr().err
    assert "is a folder" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("{y} 1 + {x_within}", "has no '~'"),
        ("{y} ~ 1 ~ {x_within}", "has 2 '~'"),
        ("{y} ~ 1 + ({x_within} | {person}", "unbalanced parentheses"),
        ("{y} ~ 1 + {x_within} | {person})", "unbalanced parentheses"),
        ("{y} ~ ", "nothing right of '~'"),
        ("{y} ~ 1 + {x_within} {w}", "unexpected"),
    ],
)
def test_malformed_spec_formulas_are_refused_at_load(tmp_path, formula, message):
    from ambidex_bayes.spec import load_spec

    path = tmp_path / "bad_formula.toml"
    path.write_text(f'name = "B"\nformula = "{formula}"\n')
    with pytest.raises(SpecError, match=r"bad_formula\.toml: ") as info:
        load_spec(path)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "name", ["../../etc/x", "a/b", "a\\b", "M3\nx", ".hidden", "a..b", "M3;rm", "x" * 101, "a:b"]
)
def test_unsafe_spec_names_are_refused(name):
    from ambidex_bayes.spec import ModelSpec

    with pytest.raises(SpecError, match=r"s\.toml: the spec name .*used in file names"):
        ModelSpec.from_dict({"name": name, "formula": "{y} ~ 1"}, source="s.toml")


@pytest.mark.parametrize("name", ["M3", "M3[sceptical]", "model-1.2", "Modell_ä", "M3 b"])
def test_safe_spec_names_pass(name):
    from ambidex_bayes.spec import ModelSpec

    assert ModelSpec.from_dict({"name": name, "formula": "{y} ~ 1"}).name == name


def test_prior_set_labels_are_checked_like_names():
    from ambidex_bayes.spec import load_spec

    spec = load_spec("M3")
    assert spec.with_priors({}, label="sceptical").name == "M3[sceptical]"
    with pytest.raises(SpecError, match="used in file names"):
        spec.with_priors({}, label="../x")


def test_prior_keys_must_use_role_names(tmp_path):
    from ambidex_bayes.spec import ModelSpec

    with pytest.raises(SpecError, match=r"prior key '\{y.__class__\}'"):
        ModelSpec.from_dict(
            {
                "name": "P",
                "formula": "{y} ~ 1",
                "priors": {"{y.__class__}": {"dist": "Normal", "mu": 0, "sigma": 1}},
            },
            source="p.toml",
        )


def test_two_ladder_specs_of_one_name_are_refused_naming_both_files(tmp_path):
    from ambidex_bayes.ladder import ladder_specs
    from ambidex_bayes.spec import models_dir

    for path in models_dir().glob("m[0-9]_*.toml"):
        (tmp_path / path.name).write_text(path.read_text())
    text = (tmp_path / "m2_random_slope.toml").read_text().replace('name = "M2"', 'name = "M3"')
    (tmp_path / "m2_random_slope.toml").write_text(text)
    with pytest.raises(SpecError) as info:
        ladder_specs(tmp_path)
    message = str(info.value)
    assert "m2_random_slope.toml" in message and "m3_cross_level.toml" in message
    assert "'M3'" in message


def test_a_file_as_ladder_folder_is_a_clear_error(tmp_path):
    from ambidex_bayes.ladder import ladder_specs

    path = tmp_path / "m3.toml"
    path.write_text('name = "M3"\nformula = "{y} ~ 1"\n')
    with pytest.raises(SpecError, match="is a file, not a folder"):
        ladder_specs(path)
