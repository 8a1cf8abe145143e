"""ambidex_bayes's fits of the validation data sets, and their comparison with lme4 and brms.

The reference estimates are made by ``validation/references.R`` and stored with the data
in ``tests/fixtures/validation/`` (:data:`FIXTURES`). This module reads them, fits the
same model with ambidex_bayes and lines the estimates up, parameter by parameter, for
``validation/compare_references.py`` (the table) and ``tests/test_validation_references.py``
(the checks). Nothing here needs R.

Each data set is described by a :class:`ValidationCase`: how its CSV is mapped, the model
formula (the same model as lme4's, written with the prepared data's column names), and
which of our posterior variables is which of R's parameters.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from ambidex_bayes.engine.settings import SamplerSettings
    from ambidex_bayes.fit import FitResult
    from ambidex_bayes.prepared_data import PreparedData
    from ambidex_bayes.spec import ModelSpec

#: Folder of the data and reference fixtures.
FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "validation"


@dataclass(frozen=True)
class ValidationCase:
    """One public data set, its model, and the names of its parameters on both sides.

    Attributes
    ----------
    name : str
        Stem of the fixture files (``<name>.csv``, ``<name>_reference.json``).
    mapping : dict
        The column mapping of the CSV (:class:`ambidex_bayes.data.ColumnMapping`).
    formula : str
        Our formula template; it names raw columns where lme4's formula does, so that
        the model is lme4's.
    fixed : dict of str to str
        R's fixed-effect name -> our posterior variable.
    sds : dict of str to str
        R's group-effect term -> our posterior SD variable.
    cors : dict of str to str
        R's ``"a,b"`` correlation key -> our correlation variable.
    """

    name: str
    mapping: dict
    formula: str
    fixed: dict[str, str]
    sds: dict[str, str]
    cors: dict[str, str]

    def data(self, folder: Path = FIXTURES) -> pd.DataFrame:
        """The data set as exported from R."""
        return pd.read_csv(folder / f"{self.name}.csv")

    def reference(self, folder: Path = FIXTURES) -> dict:
        """The stored lme4/brms reference estimates."""
        return json.loads((folder / f"{self.name}_reference.json").read_text())

    def prepared(self, folder: Path = FIXTURES) -> PreparedData:
        """The data, loaded and prepared with :attr:`mapping`."""
        from ambidex_bayes.data import ColumnMapping, load_diary
        from ambidex_bayes.prepare import prepare

        frame = self.data(folder)
        return prepare(load_diary(frame, ColumnMapping.from_dict(self.mapping)))

    def spec(self) -> ModelSpec:
        """Our spec of the model: :attr:`formula`, Gaussian, correlated person effects."""
        from ambidex_bayes.spec import ModelSpec

        return ModelSpec.from_dict({"name": self.name, "formula": self.formula})

    def fit(self, settings: SamplerSettings, folder: Path = FIXTURES) -> FitResult:
        """Fit our model (not saved, no progress bar, no log-likelihood)."""
        from ambidex_bayes.fit import fit

        return fit(
            self.spec(),
            self.prepared(folder),
            settings=settings,
            cache_dir=False,
            progressbar=False,
            verbose=False,
            log_likelihood=False,
        )


#: lme4::sleepstudy: reaction time over days of sleep deprivation, raw Days as lme4 uses it.
SLEEPSTUDY = ValidationCase(
    name="sleepstudy",
    mapping={"person": "Subject", "outcome": "Reaction", "level1": ["Days"]},
    formula="{y} ~ 1 + Days + (1 + Days | {person})",
    fixed={"(Intercept)": "Intercept", "Days": "Days"},
    sds={"(Intercept)": "1|Subject_sigma", "Days": "Days|Subject_sigma"},
    cors={"(Intercept),Days": "corr(1|Subject,Days|Subject)"},
)

#: mlmRev::Exam: exam scores of 4059 pupils in 65 schools. The pupil's sex is a level-1
#: control factor, the school's gender mix a three-level school factor, both coded as lme4
#: codes them (treatment contrasts against R's first level); the London Reading Test score
#: enters raw, as in lme4's formula.
EXAM = ValidationCase(
    name="exam",
    mapping={
        "person": "school",
        "outcome": "normexam",
        "level1": ["standLRT"],
        "controls": ["sex"],
        "level2": ["schgend"],
        "factors": {"sex": {"reference": "F"}, "schgend": {"reference": "mixed"}},
    },
    formula="{y} ~ 1 + standLRT + {c0} + {w} + (1 + standLRT | {person})",
    fixed={
        "(Intercept)": "Intercept",
        "standLRT": "standLRT",
        "sexM": "sex_M",
        "schgendboys": "schgend_boys",
        "schgendgirls": "schgend_girls",
    },
    sds={"(Intercept)": "1|school_sigma", "standLRT": "standLRT|school_sigma"},
    cors={"(Intercept),standLRT": "corr(1|school,standLRT|school)"},
)

CASES: dict[str, ValidationCase] = {case.name: case for case in (SLEEPSTUDY, EXAM)}


def comparison_table(case: ValidationCase, result: FitResult, reference: dict) -> pd.DataFrame:
    """Our posterior means and SDs beside lme4's estimates and brms' posterior summaries.

    Parameters
    ----------
    case : ValidationCase
    result : FitResult
        Our fit of ``case``.
    reference : dict
        ``case.reference()``.

    Returns
    -------
    DataFrame
        One row per parameter (fixed effects, person-effect SDs, correlations, residual SD)
        with columns ``kind``, ``parameter`` (R's name), ``ours_mean``, ``ours_sd``,
        ``lme4_reml``, ``lme4_reml_se`` (fixed effects only), ``lme4_ml``, ``brms_mean``,
        ``brms_sd`` (NaN where the fixture has no brms part), and ``gap_in_lme4_se`` =
        ``|ours_mean - lme4_reml| / lme4_reml_se`` for fixed effects.
    """
    reml, ml = reference["lme4"]["REML"], reference["lme4"]["ML"]
    brms = reference.get("brms")
    post = result.posterior
    rows = []

    def add(kind: str, r_name: str, ours: str, reml_value, ml_value, brms_part, se=np.nan):
        draws = np.asarray(post[ours]).ravel()
        mean = float(draws.mean())
        rows.append(
            {
                "kind": kind,
                "parameter": r_name,
                "ours_mean": mean,
                "ours_sd": float(draws.std(ddof=1)),
                "lme4_reml": float(reml_value),
                "lme4_reml_se": float(se),
                "lme4_ml": float(ml_value),
                "brms_mean": np.nan if brms_part is None else float(brms_part["mean"]),
                "brms_sd": np.nan if brms_part is None else float(brms_part["sd"]),
                "gap_in_lme4_se": abs(mean - float(reml_value)) / float(se),
            }
        )

    for r_name, ours in case.fixed.items():
        add(
            "fixed",
            r_name,
            ours,
            reml["fixed"][r_name]["estimate"],
            ml["fixed"][r_name]["estimate"],
            None if brms is None else brms["fixed"][r_name],
            se=reml["fixed"][r_name]["se"],
        )
    for r_name, ours in case.sds.items():
        add(
            "sd",
            r_name,
            ours,
            reml["sd"][r_name],
            ml["sd"][r_name],
            None if brms is None else brms["sd"][r_name],
        )
    for r_name, ours in case.cors.items():
        add(
            "cor",
            r_name,
            ours,
            reml["cor"][r_name],
            ml["cor"][r_name],
            None if brms is None else brms["cor"][r_name],
        )
    add(
        "residual",
        "sigma",
        "sigma",
        reml["sigma"],
        ml["sigma"],
        None if brms is None else brms["sigma"],
    )
    return pd.DataFrame(rows)
