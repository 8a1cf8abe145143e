"""Factor columns (text, categorical or declared) as moderators and controls: mapping,
validation, preparation, formula rendering, apply() and save/load; a small real fit."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from ambidex_bayes.data import ColumnMapping, load_diary, validate
from ambidex_bayes.errors import DataError, SpecError, ValidationError
from ambidex_bayes.formula_guard import check_formula
from ambidex_bayes.prepare import PreparedData, prepare
from ambidex_bayes.spec import load_spec


def _diary(n_persons: int = 12, days: int = 4, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sectors = ["Public", "Catholic", "Private"]
    rows = []
    for p in range(n_persons):
        sector = sectors[p % 3]
        for d in range(1, days + 1):
            rows.append(
                {
                    "pid": f"p{p}",
                    "day": d,
                    "x": rng.normal(),
                    "y": rng.normal(),
                    "sector": sector,
                    "mood": ["low", "high"][(p + d) % 2],
                    "code": 1 + p % 2,
                }
            )
    return pd.DataFrame(rows)


def _mapping(**extra: object) -> ColumnMapping:
    d = {"person": "pid", "occasion": "day", "outcome": "y", "level1": ["x"], **extra}
    return ColumnMapping.from_dict(d)


# --- mapping --------------------------------------------------------------------------


def test_mapping_reads_factor_tables_and_round_trips() -> None:
    m = _mapping(level2=["sector"], factors={"sector": {"reference": "Public"}})
    assert m.factors["sector"].reference == "Public"
    assert m.factors["sector"].contrast == "treatment"
    assert ColumnMapping.from_dict(m.to_dict()) == m
    assert ColumnMapping.from_dict(m.to_dict()).factors == m.factors
    # a mapping without factors writes the same dict as before (no 'factors' key)
    assert "factors" not in _mapping(level2=["sector"]).to_dict()


def test_mapping_refuses_bad_factor_tables() -> None:
    with pytest.raises(SpecError, match="level-1 .*cannot be a factor.*give it as a control"):
        _mapping(factors={"x": {}})
    with pytest.raises(SpecError, match="neither a level-2 moderator nor a control.*'sector'"):
        _mapping(level2=["sector"], factors={"sectr": {}})
    with pytest.raises(SpecError, match="contrast must be 'treatment' or 'sum'"):
        _mapping(level2=["sector"], factors={"sector": {"contrast": "helmert"}})
    with pytest.raises(SpecError, match="sum contrasts have no reference"):
        _mapping(level2=["sector"], factors={"sector": {"contrast": "sum", "reference": "a"}})
    with pytest.raises(SpecError, match="unknown key 'refrence'.*did you mean 'reference'"):
        _mapping(level2=["sector"], factors={"sector": {"refrence": "a"}})
    with pytest.raises(SpecError, match="is a factor; a factor's levels have no range"):
        _mapping(level2=["sector"], factors={"sector": {}}, ranges={"sector": [1, 3]})


# --- validation -------------------------------------------------------------------------


def test_text_moderator_and_control_are_factors() -> None:
    v = validate(_diary(), _mapping(level2=["sector"], controls=["mood"]))
    assert v.factor_levels == {
        "sector": ("Catholic", "Private", "Public"),
        "mood": ("high", "low"),
    }
    assert set(v.frame["sector"]) == {"Catholic", "Private", "Public"}


def test_categorical_keeps_category_order_and_numbers_can_be_declared() -> None:
    df = _diary()
    df["sector"] = pd.Categorical(df["sector"], categories=["Public", "Private", "Catholic"])
    v = validate(df, _mapping(level2=["sector", "code"], factors={"code": {}}))
    assert v.factor_levels["sector"] == ("Public", "Private", "Catholic")
    assert v.factor_levels["code"] == ("1", "2")


def test_text_level1_predictor_says_to_give_it_as_a_control() -> None:
    df = _diary()
    with pytest.raises(ValidationError, match="level-1 .*cannot be a factor.*as a control"):
        validate(df, _mapping(level1=["mood"]))


def test_mixed_numbers_and_text_stay_numeric_and_hint_at_factors() -> None:
    df = _diary()
    df["w"] = 1.0
    df.loc[df["pid"] == "p1", "w"] = 2.0
    df["w"] = df["w"].astype(object)
    df.loc[df["pid"] == "p2", "w"] = "two"
    with pytest.raises(
        ValidationError, match=r"'w' \(level-2 moderator\) must be numeric.*'two' .*\[factors.w\]"
    ):
        validate(df, _mapping(level2=["w"]))


def test_factor_moderator_must_have_one_value_per_person_with_rows_named() -> None:
    df = _diary()
    df.loc[1, "sector"] = "Catholic"  # person p0 is Public on its other rows
    with pytest.raises(ValidationError) as err:
        validate(df, _mapping(level2=["sector"]), source="diary.csv")
    text = str(err.value)
    assert "diary.csv" in text and "'sector' (level-2 moderator)" in text
    assert "varies within 1 person(s)" in text and "person 'p0'" in text and "row 3" in text


def test_factor_moderator_missing_cells_are_filled_from_the_person() -> None:
    df = _diary()
    df.loc[1, "sector"] = None
    v = validate(df, _mapping(level2=["sector"]))
    assert v.frame.loc[v.frame["__row__"] == 3, "sector"].item() == "Public"
    assert any("'sector' was missing on 1 row(s)" in n for n in v.notes)


def test_factor_moderator_with_one_level_is_refused() -> None:
    df = _diary()
    df["sector"] = "Public"
    with pytest.raises(ValidationError, match="same value, Public, for all 12 person"):
        validate(df, _mapping(level2=["sector"]))


def test_unknown_reference_level_lists_the_levels() -> None:
    m = _mapping(level2=["sector"], factors={"sector": {"reference": "Privat"}})
    with pytest.raises(
        ValidationError,
        match=r"'sector' .*reference level 'Privat'.*not among its levels "
        r"'Catholic', 'Private', 'Public'",
    ):
        validate(_diary(), m)


# --- prepare ----------------------------------------------------------------------------


def test_prepare_codes_a_text_moderator_with_a_note_on_the_reference() -> None:
    p = prepare(validate(_diary(), _mapping(level2=["sector"])))
    coding = p.factor_codings["sector"]
    assert coding.reference == "Catholic"
    assert coding.columns == ("sector_Private", "sector_Public")
    assert p.roles["w"] == p.roles["w0"] == "sector"
    assert p.role_columns("w") == ("sector_Private", "sector_Public")
    assert p.role_columns("x_within") == ("x_cw",)
    public = p.frame["sector"] == "Public"
    assert (p.frame.loc[public, "sector_Public"] == 1).all()
    assert (p.frame.loc[~public, "sector_Public"] == 0).all()
    note = next(n for n in p.notes if n.startswith("'sector' is a factor"))
    assert "reference level 'Catholic'" in note
    assert "first level in sorted order" in note and "[factors.sector]" in note
    assert "sector" not in p.moderator_stats.index


def test_prepare_uses_the_chosen_reference_and_sum_contrasts() -> None:
    m = _mapping(
        level2=["sector"],
        controls=["mood"],
        factors={"sector": {"reference": "Public"}, "mood": {"contrast": "sum"}},
    )
    p = prepare(validate(_diary(), m))
    assert p.factor_codings["sector"].columns == ("sector_Catholic", "sector_Private")
    mood = p.factor_codings["mood"]
    assert mood.reference is None and mood.columns == ("mood_high",)
    assert set(p.frame.loc[p.frame["mood"] == "low", "mood_high"]) == {-1.0}
    assert p.roles["c0"] == "mood"
    assert not any("first level in" in n for n in p.notes if n.startswith("'sector'"))


def test_prepare_standardize_leaves_factor_controls_coded() -> None:
    p = prepare(validate(_diary(), _mapping(controls=["mood"])), standardize=True)
    assert p.roles["c0"] == "mood" and "mood_z" not in p.frame.columns
    assert set(p.frame["mood_low"]) == {0.0, 1.0}


def test_level_without_complete_rows_gets_no_column() -> None:
    df = _diary()
    df.loc[df["sector"] == "Private", "y"] = np.nan
    p = prepare(validate(df, _mapping(level2=["sector"])))
    assert p.factor_codings["sector"].levels == ("Catholic", "Public")
    assert any("'Private' of the factor 'sector' occur in no row used" in n for n in p.notes)


def test_contrast_column_clash_is_refused() -> None:
    df = _diary()
    df["sector_Public"] = 0.0
    with pytest.raises(DataError, match="'sector_Public'.*already a column"):
        prepare(validate(df.assign(), _mapping(level2=["sector"], controls=["sector_Public"])))


def test_apply_codes_new_rows_and_refuses_unknown_levels() -> None:
    p = prepare(validate(_diary(), _mapping(level2=["sector"], controls=["mood"])))
    new = pd.DataFrame(
        {
            "pid": ["n1", "n1"],
            "day": [1, 2],
            "x": [0.0, 1.0],
            "sector": "Private",
            "mood": ["high", "low"],
        }
    )
    out = p.apply(new)
    assert out["sector_Private"].tolist() == [1.0, 1.0]
    assert out["sector_Public"].tolist() == [0.0, 0.0]
    assert out["mood_low"].tolist() == [0.0, 1.0]
    with pytest.raises(
        DataError, match=r"apply\(\).*'sector' holds level\(s\) 'Lutheran'.*'Catholic'"
    ):
        p.apply(new.assign(sector="Lutheran"))


def test_save_and_load_keep_the_codings() -> None:
    p = prepare(validate(_diary(), _mapping(level2=["sector"], controls=["mood"])))
    d = json.loads(json.dumps(p.to_dict()))
    back = PreparedData.from_dict(d, frame=p.frame)
    assert back.factor_codings == p.factor_codings
    assert back.role_columns("w") == p.role_columns("w")
    assert back.mapping == p.mapping
    pd.testing.assert_frame_equal(back.apply(_diary().head(4)), p.apply(_diary().head(4)))


def test_saved_prepared_data_without_codings_still_loads() -> None:
    p = prepare(validate(_diary(), _mapping()))
    d = p.to_dict()
    d.pop("factor_codings")
    assert PreparedData.from_dict(d).factor_codings == {}


# --- formulas ---------------------------------------------------------------------------


def test_factor_roles_render_as_their_contrast_columns() -> None:
    p = prepare(validate(_diary(), _mapping(level2=["sector"], controls=["mood"])))
    spec = load_spec("M3")
    f = spec.render(p.formula_fields(), factors=p.formula_columns())
    assert f == (
        "y ~ 1 + x_cw + x_pm + (sector_Private + sector_Public) + "
        "x_cw:(sector_Private + sector_Public) + (x_cw | pid)"
    )
    parts = check_formula(f, columns=p.frame.columns)
    assert parts.groups == (("x_cw", "pid"),)
    controls = tuple(p.roles[f"c{k}"] for k in range(len(p.mapping.controls)))
    with_controls = (
        load_spec("M1")
        .__class__.from_dict(
            {
                "name": "C",
                "formula": "{y} ~ 1 + {x_within} + ({x_within} | {person})",
                "include_controls": True,
            }
        )
        .render(p.formula_fields(), controls=controls, factors=p.formula_columns())
    )
    assert with_controls == "y ~ 1 + x_cw + mood_low + (x_cw | pid)"


def test_two_level_factor_renders_as_one_column() -> None:
    p = prepare(validate(_diary(), _mapping(level2=["code"], factors={"code": {}})))
    f = load_spec("M3").render(p.formula_fields(), factors=p.formula_columns())
    assert "+ code_2 + x_cw:code_2 +" in f


def test_a_prior_on_a_factor_role_applies_to_each_term() -> None:
    from ambidex_bayes.spec import ModelSpec

    spec = ModelSpec.from_dict(
        {
            "name": "P",
            "formula": "{y} ~ 1 + {x_within} * {w} + ({x_within} | {person})",
            "priors": {
                "{x_within}:{w}": {"dist": "Normal", "mu": 0, "sigma": 0.5},
                "{w}": {"dist": "Normal", "mu": 0, "sigma": 2},
            },
        }
    )
    p = prepare(validate(_diary(), _mapping(level2=["sector"])))
    priors = spec.render_priors(p.formula_fields(), factors=p.formula_columns())
    assert sorted(priors) == [
        "sector_Private",
        "sector_Public",
        "x_cw:sector_Private",
        "x_cw:sector_Public",
    ]
    assert priors["x_cw:sector_Public"].params["sigma"] == 0.5
    assert priors["sector_Private"].params["sigma"] == 2.0


# --- a small real fit -------------------------------------------------------------------


def _study(
    levels: list[str], main: dict[str, float], slope: dict[str, float], seed: int
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(120):
        level = levels[p % len(levels)]
        mu, u = rng.normal(), rng.normal(0, 0.2)
        for d in range(8):
            x = mu + rng.normal()
            y = 1 + main[level] + (0.3 + slope[level] + u) * (x - mu) + rng.normal(0, 0.6)
            rows.append({"pid": p, "day": d, "x": x, "y": y, "group": level})
    return pd.DataFrame(rows)


@pytest.mark.fit
@pytest.mark.parametrize(
    ("levels", "main", "slope"),
    [
        (["a", "b"], {"a": 0.0, "b": 1.0}, {"a": 0.0, "b": 0.5}),
        (["a", "b", "c"], {"a": 0.0, "b": 1.0, "c": -0.5}, {"a": 0.0, "b": 0.5, "c": -0.4}),
    ],
)
def test_text_moderator_fit_recovers_the_interactions(levels, main, slope) -> None:
    from ambidex_bayes.diagnostics import ConvergenceWarning
    from ambidex_bayes.fit import SamplerSettings, fit

    df = _study(levels, main, slope, seed=len(levels))
    mapping = {
        "person": "pid",
        "occasion": "day",
        "outcome": "y",
        "level1": ["x"],
        "level2": ["group"],
    }
    p = prepare(load_diary(df, mapping))
    settings = SamplerSettings(backend="nutpie", draws=200, tune=200, chains=2, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # few draws, on purpose
        res = fit(
            load_spec("M3"), p, settings=settings, cache_dir=False, progressbar=False, verbose=False
        )
    post = res.idata.posterior
    for level in levels[1:]:
        assert float(post[f"x_cw:group_{level}"].mean()) == pytest.approx(slope[level], abs=0.15)
        assert float(post[f"group_{level}"].mean()) == pytest.approx(main[level], abs=0.3)
    assert float(post["x_cw"].mean()) == pytest.approx(0.3, abs=0.15)


def test_a_csv_file_and_a_toml_mapping_with_a_factor_table(tmp_path) -> None:
    csv = tmp_path / "diary.csv"
    _diary().to_csv(csv, index=False)
    toml = tmp_path / "mapping.toml"
    toml.write_text(
        'person = "pid"\noccasion = "day"\noutcome = "y"\nlevel1 = ["x"]\n'
        'level2 = ["sector", "code"]\n'
        '[factors.sector]\nreference = "Public"\n[factors.code]\ncontrast = "sum"\n',
        encoding="utf-8",
    )
    p = prepare(load_diary(csv, ColumnMapping.from_toml(toml)))
    assert p.factor_codings["sector"].reference == "Public"
    assert p.factor_codings["sector"].columns == ("sector_Catholic", "sector_Private")
    assert p.factor_codings["code"].columns == ("code_1",)
    assert set(p.frame["code_1"]) == {1.0, -1.0}


def test_a_prior_set_applies_to_a_factor_moderator_and_to_data_without_one() -> None:
    from ambidex_bayes.model import build_model
    from ambidex_bayes.priors.sets import spec_with_prior_set

    df = _diary(n_persons=15, days=5)
    df["y"] = df["y"].clip(-2.5, 2.5)
    df["x"] = df["x"].clip(-2.5, 2.5)
    ranges = {"y": [-3, 3], "x": [-3, 3]}
    p = prepare(validate(df, _mapping(level2=["sector"], ranges=ranges)))
    spec = spec_with_prior_set(load_spec("M3"), "weakly_informative", p)
    assert "{x_within}:{w}" in spec.priors and "{w}" in spec.priors
    built = build_model(spec, p)
    # one range of x moves the outcome over its range: sigma = 6 / 6 for the interaction,
    # 6 / 1 (one level against the reference) for the level differences
    assert built.priors["x_cw:sector_Public"]["prior"] == "Normal(mu=0, sigma=1)"
    assert built.priors["sector_Private"]["prior"] == "Normal(mu=0, sigma=6)"
    no_moderator = prepare(validate(df, _mapping(ranges=ranges)))
    m2 = spec_with_prior_set(load_spec("M2"), "weakly_informative", no_moderator)
    assert "{w}" not in m2.priors and "{x_within}" in m2.priors
    assert build_model(m2, no_moderator).formula == "y ~ 1 + x_cw + x_pm + (x_cw | pid)"


def test_the_methods_text_states_how_a_factor_is_coded() -> None:
    from ambidex_bayes.methods_text import _centring

    p = prepare(validate(_diary(), _mapping(level2=["sector"])))
    text = _centring(p)
    assert "'sector' is a factor with levels 'Catholic', 'Private', 'Public'" in text
    assert "against the reference level 'Catholic'" in text


# --- a saved fit records its factor moderator -------------------------------------------


@pytest.fixture(scope="module")
def factor_fit_file(tmp_path_factory):
    """A small M3 fit with a three-level text moderator, saved once for this module."""
    from ambidex_bayes.diagnostics import ConvergenceWarning
    from ambidex_bayes.fit import SamplerSettings, fit

    levels = ["a", "b", "c"]
    df = _study(levels, {"a": 0.0, "b": 1.0, "c": -0.5}, {"a": 0.0, "b": 0.5, "c": -0.4}, seed=5)
    mapping = {"person": "pid", "occasion": "day", "outcome": "y", "level1": ["x"]}
    p = prepare(load_diary(df, {**mapping, "level2": ["group"]}))
    settings = SamplerSettings(backend="nutpie", draws=100, tune=100, chains=2, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # few draws, on purpose
        res = fit(
            load_spec("M3"), p, settings=settings, cache_dir=False, progressbar=False, verbose=False
        )
    return res.save(tmp_path_factory.mktemp("factor") / "m3_group.nc")


def _with_terms(source, target, terms: dict) -> object:
    """A copy of the fit file ``source`` whose 'terms' record is ``terms``."""
    import xarray as xr

    with xr.open_datatree(source, engine="h5netcdf") as tree:
        tree = tree.load()
    tree.attrs = {**tree.attrs, "terms": json.dumps(terms)}
    tree.to_netcdf(target, engine="h5netcdf")
    return target


def _saved_terms(path) -> dict:
    import xarray as xr

    with xr.open_datatree(path, engine="h5netcdf") as tree:
        return json.loads(tree.attrs["terms"])


@pytest.mark.fit
def test_a_saved_fit_records_its_factor_moderator_in_its_terms(factor_fit_file) -> None:
    from ambidex_bayes.fit import FitResult
    from ambidex_bayes.model.moderation_roles import terms_for

    saved = _saved_terms(factor_fit_file)
    assert saved["moderator_levels"] == ["a", "b", "c"]
    assert saved["moderator_reference"] == "a"
    assert saved["moderator_contrast"] == "treatment"
    assert saved["moderator_terms"] == ["group_b", "group_c"]
    assert saved["interaction_terms"] == ["x_cw:group_b", "x_cw:group_c"]
    assert saved["moderator_coding"] == [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
    assert not {"group_b", "group_c", "x_cw:group_b", "x_cw:group_c"} & set(saved["other_fixed"])
    loaded = FitResult.load(factor_fit_file)
    terms = loaded.terms
    assert terms.factor_moderator and terms.moderated
    assert terms.w_column == "group"
    assert terms.moderator is None and terms.interaction is None
    assert terms.moderator_coding == ((0.0, 0.0), (1.0, 0.0), (0.0, 1.0))
    assert json.loads(json.dumps(terms.to_dict())) == saved
    assert terms_for(loaded) is terms
    assert terms_for(loaded, "x", "group") == terms


@pytest.mark.fit
def test_terms_saved_without_the_factor_still_load_and_name_it(factor_fit_file, tmp_path) -> None:
    """Terms saved before fits recorded a factor moderator (its contrast terms among the
    other fixed effects) still load; ``terms_for`` names the factor from the prepared
    codings, as the saved factor terms do."""
    from ambidex_bayes.fit import FitResult
    from ambidex_bayes.model.moderation_roles import terms_for

    saved = _saved_terms(factor_fit_file)
    contrasts = saved["moderator_terms"] + saved["interaction_terms"]
    old = {k: v for k, v in saved.items() if not k.startswith(("moderator_", "interaction_t"))}
    old["other_fixed"] = saved["other_fixed"] + contrasts
    loaded = FitResult.load(_with_terms(factor_fit_file, tmp_path / "old.nc", old))
    assert not loaded.terms.factor_moderator
    assert terms_for(loaded) == FitResult.load(factor_fit_file).terms


_BAD_FACTOR_TERMS = {
    "levels are numbers": ({"moderator_levels": [1, 2, 3]}, "'moderator_levels' is [1, 2, 3]"),
    "levels repeat": ({"moderator_levels": ["a", "a", "c"]}, "'moderator_levels'"),
    "coding holds text": (
        {"moderator_coding": [[0, 0], [1, "__import__('os')"], [0, 1]]},
        "'moderator_coding'",
    ),
    "coding is text": ({"moderator_coding": "[[0, 0]]"}, "'moderator_coding'"),
    "coding holds true/false": (
        {"moderator_coding": [[0, 0], [True, 0], [0, 1]]},
        "'moderator_coding'",
    ),
    "coding lacks a row": ({"moderator_coding": [[0, 0], [1, 0]]}, "'moderator_coding'"),
    "coding rows differ": ({"moderator_coding": [[0, 0], [1], [0, 1]]}, "'moderator_coding'"),
    "contrast terms are a table": ({"moderator_terms": {"a": 1}}, "'moderator_terms'"),
    "interaction is not a name": (
        {"interaction_terms": ["x_cw:group_b", 5]},
        "'interaction_terms'",
    ),
    "one interaction too few": ({"interaction_terms": ["x_cw:group_b"]}, "'interaction_terms'"),
    "interaction not in the posterior": (
        {"interaction_terms": ["x_cw:group_b", "os.system"]},
        "lacks the variable(s) os.system",
    ),
    "unknown contrast": ({"moderator_contrast": "helmert"}, "'moderator_contrast'"),
    "reference not a level": ({"moderator_reference": "z"}, "'moderator_reference'"),
    "reference is a number": ({"moderator_reference": 0}, "'moderator_reference'"),
}


@pytest.mark.fit
@pytest.mark.parametrize("case", list(_BAD_FACTOR_TERMS))
def test_damaged_factor_terms_are_refused_naming_the_file_and_record(
    factor_fit_file, tmp_path, case
) -> None:
    from ambidex_bayes.errors import FitFileError
    from ambidex_bayes.fit import FitResult

    change, words = _BAD_FACTOR_TERMS[case]
    target = _with_terms(
        factor_fit_file, tmp_path / "bad.nc", {**_saved_terms(factor_fit_file), **change}
    )
    with pytest.raises(FitFileError) as info:
        FitResult.load(target)
    message = str(info.value)
    assert str(target) in message
    assert "the fit file is damaged" in message
    assert words in message
