"""Power for a factor moderator's slope contrast: the grid's cells, the checks of the
configuration, the command's options and one real tiny run."""

from __future__ import annotations

import pandas as pd
import pytest

from ambidex_bayes.design.power import (
    PowerConfig,
    cell_design,
    describe_power,
    power_table,
    run_power,
)
from ambidex_bayes.errors import SpecError

#: a study with two level-1 predictors and a three-level factor instead of the numeric
#: moderator (the reference design's other values)
FACTOR_DESIGN = {
    "w_col": None,
    "g01": 0.0,
    "g11": 0.0,
    "likert": None,
    "predictors": [{"name": "workload", "g10": -0.2, "x_sd_between": 0.5}],
    "factor": {
        "name": "sector",
        "levels": ["public", "private", "ngo"],
        "shares": [0.4, 0.4, 0.2],
        "slopes": {"uncertainty": {"ngo": -0.1}},
    },
}


def test_the_grid_sets_the_level_s_slope_difference():
    config = PowerConfig(design=FACTOR_DESIGN, contrast="private", effects=(0.3,))
    design = cell_design(config, 60, 5.0, 0.3)
    assert design.n_persons == 60 and design.diaries_mean == 5.0
    assert design.factor.slopes["uncertainty"] == {"ngo": -0.1, "private": 0.3}
    assert design.g11 == 0.0  # not set by the grid with a contrast
    # another predictor's slope contrast
    other = PowerConfig(design=FACTOR_DESIGN, contrast="ngo", focal="workload")
    slopes = cell_design(other, 60, 5.0, 0.2).factor.slopes
    assert slopes == {"uncertainty": {"ngo": -0.1}, "workload": {"ngo": 0.2}}


def test_without_contrast_the_grid_sets_g11_as_before():
    design = cell_design(PowerConfig(), 50, 4.0, 0.2)
    assert type(design).__name__ == "SimulationDesign" and design.g11 == 0.2


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"contrast": "private"}, "needs a factor moderator"),
        ({"contrast": "public", "design": FACTOR_DESIGN}, "non-reference level"),
        ({"contrast": "ngo", "focal": "mood", "design": FACTOR_DESIGN}, "focal must be"),
        ({"focal": "workload"}, "only used with contrast"),
        ({"design": {"w_col": None, "g01": 0.0}}, "name a level of its factor with contrast"),
    ],
)
def test_contrast_and_focal_are_checked(kwargs, words):
    with pytest.raises(SpecError, match="Invalid power analysis") as info:
        PowerConfig(**kwargs)
    assert words in str(info.value)


def test_stored_configuration_reads_as_before_without_contrast():
    plain = PowerConfig()
    assert "contrast" not in plain.to_dict() and "focal" not in plain.to_dict()
    assert PowerConfig.from_dict(plain.to_dict()) == plain
    config = PowerConfig(design=FACTOR_DESIGN, contrast="ngo")
    assert config.to_dict()["contrast"] == "ngo"
    assert PowerConfig.from_dict(config.to_dict()) == config


def test_the_command_reads_the_design_file_and_the_contrast(tmp_path):
    from ambidex_bayes.cli import build_parser
    from ambidex_bayes.commands._simulation import design_overrides

    path = tmp_path / "design.toml"
    path.write_text(
        "w_col = false\ng01 = 0.0\ng11 = 0.0\nlikert = false\n"
        '[[predictors]]\nname = "workload"\ng10 = -0.2\n'
        '[factor]\nname = "sector"\nlevels = ["public", "private", "ngo"]\n'
        "[factor.slopes.uncertainty]\nngo = -0.1\n",
        encoding="utf-8",
    )
    args = build_parser().parse_args(
        ["power", "--design", str(path), "--set", "g00=3.0", "--contrast", "private"]
    )
    overrides = design_overrides(args)
    assert overrides["w_col"] is None and overrides["likert"] is None
    assert overrides["g00"] == 3.0
    assert overrides["factor"]["slopes"] == {"uncertainty": {"ngo": -0.1}}
    config = PowerConfig(design=overrides, contrast=args.contrast, focal=args.focal)
    assert cell_design(config, 40, 4.0, 0.3).factor.slopes["uncertainty"]["private"] == 0.3
    with pytest.raises(SpecError, match="cannot read the design file"):
        design_overrides(build_parser().parse_args(["power", "--design", str(tmp_path / "no")]))


def test_the_summary_names_the_contrast():
    config = PowerConfig(design=FACTOR_DESIGN, contrast="private", focal="uncertainty")
    table = pd.DataFrame(
        [{"n_persons": 97, "diaries": 4.2, "effect": 0.25, "power": 0.9, "failed": 0}]
    )
    text = describe_power(table, config)
    assert "slope difference of level 'private' from the reference level" in text
    assert "(slope of 'uncertainty')" in text


@pytest.mark.fit
def test_a_tiny_run_tests_the_level_s_slope_contrast(tmp_path):
    config = PowerConfig(
        persons=(80,),
        diaries=(6.0,),
        effects=(0.4,),
        simulations=2,
        design=FACTOR_DESIGN,
        contrast="private",
        backend="pymc",
        draws=150,
        tune=150,
        chains=1,
    )
    results = run_power(
        config, tmp_path / "power", scheduler="serial", progressbar=False, verbose=False
    )
    assert results["error"].eq("").all(), results["error"].tolist()
    assert (results["truth"] == 0.4).all()
    # a slope difference of 0.4 with 80 persons: the posterior is about it, not about 0
    assert (results["mean"] > 0.1).all() and (results["upper"] > 0.4 - 0.05).all()
    table = power_table(results, config)
    assert table.loc[0, "simulations"] == 2


def test_the_power_figure_names_the_tested_contrast():
    from ambidex_bayes.design.plots import plot_power_curve

    table = pd.DataFrame(
        [
            {"n_persons": n, "diaries": 4.0, "effect": e, "power": p, "power_se": 0.05}
            for n, p in ((40, 0.3), (97, 0.7))
            for e in (0.2, 0.4)
        ]
    )
    config = PowerConfig(design=FACTOR_DESIGN, contrast="private", focal="workload")
    fig = plot_power_curve(table, config=config)
    title = " ".join(fig.get_suptitle().split())
    assert title.startswith(
        "Power to detect the difference of the workload slope between private and public"
    )
    assert "interaction" not in title
    visible = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert visible == [
        "workload slope, private − public = 0.2",
        "workload slope, private − public = 0.4",
    ]
    # without focal: the design's first level-1 predictor
    default = plot_power_curve(table, config=PowerConfig(design=FACTOR_DESIGN, contrast="ngo"))
    assert "the uncertainty slope between ngo and public" in " ".join(
        default.get_suptitle().split()
    )
    # without contrast: the cross-level interaction, as before
    plain = plot_power_curve(table, config=PowerConfig())
    assert "cross-level interaction" in plain.get_suptitle()
    assert plain.axes[0].get_title() == "interaction = 0.2"
