"""Prior predictive checks: impossible outcomes counted on the original scale, warnings in
words, implied simple slopes, plots."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
from fake_posterior import raw_diary

from ambidex_bayes.data.mapping import ColumnMapping
from ambidex_bayes.data.validate import validate
from ambidex_bayes.errors import AmbidexError
from ambidex_bayes.prepare import prepare
from ambidex_bayes.priors import (
    ImplausiblePriorWarning,
    plot_prior_predictive,
    plot_prior_slopes,
    prior_predictive_check,
    prior_predictive_table,
)
from ambidex_bayes.spec import PriorSpec, load_spec

RANGES = {"inno": (0, 20), "unc": (0, 10), "sup": (1, 5)}
ABSURD = {"sigma": PriorSpec("HalfNormal", {"sigma": 500.0})}


def _prepared(*, standardize: bool = False, ranges: dict | None = RANGES):
    mapping = ColumnMapping(
        person="pid",
        occasion="day",
        outcome="inno",
        level1=("unc",),
        level2=("sup",),
        ranges=ranges or {},
    )
    return prepare(validate(raw_diary(), mapping, source="<test diary>"), standardize=standardize)


@pytest.fixture(scope="module")
def prepared():
    return _prepared()


@pytest.fixture(scope="module")
def weak_check(prepared):
    return prior_predictive_check(
        load_spec("M3"), prepared, "weakly_informative", draws=300, seed=1
    )


def test_share_outside_is_counted_on_the_original_scale():
    prepared = _prepared(standardize=True)
    check = prior_predictive_check(
        load_spec("M3"), prepared, "weakly_informative", draws=200, seed=2, warn=False
    )
    transform = prepared.transforms["inno_z"]
    model_scale = check.idata["prior_predictive"]["inno_z"].values
    values = check.outcome.values
    np.testing.assert_allclose(values, model_scale * transform.scale + transform.centre)
    outside = (values < 0) | (values > 20)
    assert check.share_outside == pytest.approx(outside.mean())
    assert check.share_outside == pytest.approx(float(check.share_outside_by_draw.mean()))
    row = check.table.iloc[0]
    assert row["share_below"] == pytest.approx((values < 0).mean())
    assert row["share_above"] == pytest.approx((values > 20).mean())
    assert row["median"] == pytest.approx(np.median(values))
    assert check.scale_range == (0.0, 20.0) and check.outcome_name == "inno"
    np.testing.assert_allclose(check.observed, raw_diary()["inno"].to_numpy())
    assert not any(str(v).startswith("_") for v in check.idata["prior"].data_vars)


def test_mostly_impossible_data_give_a_warning_in_words(prepared, weak_check, recwarn):
    assert weak_check.share_outside < 0.5
    assert weak_check.warnings == []
    assert not [w for w in recwarn if issubclass(w.category, ImplausiblePriorWarning)]
    with pytest.warns(ImplausiblePriorWarning) as caught:
        check = prior_predictive_check(load_spec("M3"), prepared, ABSURD, draws=200, seed=1)
    assert check.share_outside > 0.9
    message = next(str(w.message) for w in caught if w.category is ImplausiblePriorWarning)
    assert message == check.warnings[0]
    assert "'custom'" in message and "'inno'" in message and "[0, 20]" in message
    assert "impossible data" in message


def test_implied_slopes_are_g10_plus_g11_w(prepared, weak_check):
    prior = weak_check.idata["prior"]
    g10 = prior["unc_cw"].values
    g11 = prior["unc_cw:sup_c"].values
    table = weak_check.slopes.table
    for k, row in enumerate(table.itertuples(index=False)):
        expected = g10 + g11 * row.moderator_centred
        np.testing.assert_allclose(weak_check.slopes.draws.values[..., k], expected)
    assert list(table["moderator_label"]) == ["-1 SD", "mean", "+1 SD"]
    # a relative slope prior of Normal(0, 1) range-per-range is Normal(0, 2) per raw unit
    mean_row = table[table["moderator_label"] == "mean"].iloc[0]
    assert mean_row["sd"] == pytest.approx(2.0, rel=0.15)


def test_without_a_declared_range_nothing_is_counted():
    prepared = _prepared(ranges=None)
    check = prior_predictive_check(load_spec("M3"), prepared, ABSURD, draws=100, seed=1)
    assert np.isnan(check.share_outside) and check.warnings == []
    assert check.scale_range is None
    assert "declares no range for 'inno'" in check.notes[0]


def test_table_and_plots(prepared, weak_check):
    absurd = prior_predictive_check(
        load_spec("M3"), prepared, ABSURD, draws=200, seed=1, warn=False, label="absurd"
    )
    table = prior_predictive_table([weak_check, absurd])
    assert list(table["prior_set"]) == ["weakly_informative", "absurd"]
    assert {"slope -1 SD", "slope mean", "slope +1 SD"} <= set(table.columns)
    ax = plot_prior_predictive([weak_check, absurd])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0].startswith("weakly_informative, ") and labels[0].endswith("% outside")
    assert labels[-1] == "observed"
    assert ax.get_xlim() == (-20.0, 40.0)
    ax = plot_prior_slopes(weak_check)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["moderator -1 SD", "moderator mean", "moderator +1 SD"]
    plt.close("all")
    with pytest.raises(AmbidexError, match="prior_predictive_check"):
        plot_prior_predictive(["not a check"])
