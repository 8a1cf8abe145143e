"""A latent fit's ``meta["imputed"]`` counts every level-1 predictor, without sampling.

- the record holds per predictor the imputed days and the days without an outcome, their
  totals and the words of every predictor;
- records of fits saved before (the first predictor's counts only, or words only) are
  still read;
- the centring line (fit, summary and report) and the methods paragraph state the counts
  of every predictor.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from report_fakes import fake_analysis, fake_fit
from test_latent_many import two_predictor_frame

from ambidex_bayes.centring_record import (
    centring_line,
    imputed_counts,
    imputed_record,
    imputed_sentence,
)
from ambidex_bayes.methods_text import methods_paragraph
from ambidex_bayes.model.latent_data import latent_data


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """Two predictors: ``x`` complete, ``z`` and the outcome missing on some days."""
    frame = two_predictor_frame(30, (3, 6), seed=5, missing=0.0)
    rng = np.random.default_rng(2)
    frame.loc[rng.random(len(frame)) < 0.2, "z"] = np.nan
    frame.loc[rng.random(len(frame)) < 0.15, "y"] = np.nan
    return frame


def _record(frame: pd.DataFrame) -> dict:
    data = latent_data(frame, y="y", x="x", person="person", w="w", others=("z",))
    return imputed_record(data, n_prepared=int(frame[["x", "z", "y"]].notna().all(axis=1).sum()))


def test_record_counts_every_predictor(frame):
    record = _record(frame)
    has_y = frame["y"].notna()
    z_imputed = int((has_y & frame["z"].isna()).sum())
    z_only = int((~has_y & frame["z"].notna()).sum())
    x_only = int((~has_y & frame["x"].notna()).sum())
    assert z_imputed > 0 and z_only < x_only
    assert record["predictors"] == [
        {"predictor": "x", "x_imputed": 0, "x_only": x_only},
        {"predictor": "z", "x_imputed": z_imputed, "x_only": z_only},
    ]
    assert record["x_imputed"] == z_imputed
    assert record["x_only"] == int((~has_y).sum())
    assert record["outcome_rows"] == int(has_y.sum())
    assert f"{z_imputed} missing daily value(s) of 'z'" in record["note"]
    assert f"{z_only} day(s) with 'z' but no outcome" in record["note"]
    meta = {"centring": "latent", "imputed": record}
    assert imputed_counts(meta) == record["predictors"]
    sentence = imputed_sentence(meta)
    assert f"0 of 'x', {z_imputed} of 'z'" in sentence
    assert f"{x_only} of 'x', {z_only} of 'z'" in sentence


def test_counts_are_the_sizes_of_the_models_imputed_values(frame):
    from ambidex_bayes.model.latent_centring import build_latent_model

    data = latent_data(frame, y="y", x="x", person="person", w="w", others=("z",))
    model = build_latent_model(data, "M3", marginal=False)
    sizes = {
        name: int(np.prod(var.shape.eval())) if name in model.pymc_model.named_vars else 0
        for name in ("x_imputed", "z_imputed")
        for var in [model.pymc_model.named_vars.get(name)]
    }
    counts = {c["predictor"]: c["x_imputed"] for c in imputed_record(data, 0)["predictors"]}
    assert sizes == {"x_imputed": counts["x"], "z_imputed": counts["z"]}
    assert counts["z"] > 0


def test_records_of_older_fits_are_still_read():
    old = {"predictor": "x", "x_imputed": 4, "x_only": 9, "note": "Latent centring of 'x'."}
    assert imputed_counts({"imputed": old}) == [{"predictor": "x", "x_imputed": 4, "x_only": 9}]
    assert imputed_counts({"imputed": "4 values were imputed"}) == []
    assert imputed_counts({}) == []
    assert imputed_counts({"imputed": {"x_imputed": "four", "x_only": 9}}) == []
    # a record without words: the line says the counts
    line = centring_line({"centring": "latent", "imputed": {**old, "note": None}})
    assert "4 of 'x'" in line and "9 of 'x'" in line
    assert centring_line({"centring": "latent", "imputed": "Four were imputed."}).endswith(
        "Four were imputed."
    )


def test_centring_line_and_methods_paragraph_state_every_predictor(frame):
    record = _record(frame)
    z = record["predictors"][1]
    line = centring_line({"centring": "latent", "imputed": record})
    assert f"{z['x_imputed']} missing daily value(s) of 'z'" in line
    latent = fake_fit()
    latent.meta.update(centring="latent", imputed=record)
    text = methods_paragraph(fake_analysis(latent))
    assert "latent person-mean centring" in text
    assert f"0 of 'x', {z['x_imputed']} of 'z'" in text
    # an older record: the first predictor's counts
    latent.meta["imputed"] = {"predictor": "x", "x_imputed": 4, "x_only": 9, "note": "x."}
    text = methods_paragraph(fake_analysis(latent))
    assert "on days with an outcome: 4 of 'x';" in text
