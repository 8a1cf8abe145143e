"""Person slopes g10 + g11*wc_j + u1j against hand computations on known draws, the shares
of persons, the scatter plot, and Bambi's own person slopes on a real fit."""

from __future__ import annotations

from dataclasses import replace

import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr
from fake_posterior import (
    PERSON_DIM,
    as_fit,
    make_prepared,
    make_terms,
    moderation_draws,
    terms_for,
)

from ambidex_bayes.errors import AmbidexError, ModelError
from ambidex_bayes.moderation import (
    moderation_curve,
    person_slopes,
    person_slopes_bambi,
    plot_person_slopes,
    slope_scales,
)

W = {"a": 3.0, "b": 4.0, "c": 2.5, "d": 4.5, "e": 3.5, "f": 2.0}
W_MEAN = np.mean(list(W.values()))
DIARIES = {"a": 3, "b": 4, "c": 5, "d": 3, "e": 4, "f": 3}


def _draws(seed: int, terms, persons=tuple(W)):
    """Known draws whose person coordinate holds the given ids."""
    tree, arrays = moderation_draws(seed, terms=terms, n_persons=len(persons))
    posterior = tree["posterior"].to_dataset().assign_coords({PERSON_DIM: list(persons)})
    return xr.DataTree.from_dict({"posterior": posterior}), arrays


@pytest.fixture(scope="module")
def prepared():
    return make_prepared()


@pytest.fixture(scope="module")
def fit():
    terms = make_terms()
    tree, arrays = _draws(31, terms)
    return tree, terms, arrays


def test_each_person_slope_is_fixed_part_plus_own_deviation(fit, prepared):
    tree, terms, arrays = fit
    result = person_slopes(as_fit(tree, terms, prepared), prob=0.9)
    table = result.table.set_index("person")
    assert list(table.index) == list(W)
    for k, (person, w) in enumerate(W.items()):
        expected = arrays["unc_cw"] + arrays["unc_cw:sup_c"] * (w - W_MEAN)
        expected = expected + arrays["unc_cw|pid"][..., k]
        np.testing.assert_allclose(result.draws.sel(person=person).values, expected)
        flat = expected.reshape(-1)
        row = table.loc[person]
        assert row["moderator"] == w
        assert row["moderator_centred"] == pytest.approx(w - W_MEAN)
        assert row["n_diaries"] == DIARIES[person]
        assert row["median"] == pytest.approx(np.median(flat))
        assert row["ci_lower"] == pytest.approx(np.quantile(flat, 0.05))
        assert row["ci_upper"] == pytest.approx(np.quantile(flat, 0.95))
        assert row["p_positive"] == pytest.approx(np.mean(flat > 0))
        assert row["credibly_positive"] == (np.quantile(flat, 0.05) > 0)
        assert row["credibly_negative"] == (np.quantile(flat, 0.95) < 0)
    assert result.draws.dims == ("chain", "draw", "person")
    assert "g10 + g11*w_j + u1j" in result.description


def test_shares_of_persons(fit, prepared):
    tree, terms, arrays = fit
    result = person_slopes(as_fit(tree, terms, prepared), prob=0.9)
    table = result.table
    shares = result.shares.set_index("quantity")
    positive = table["credibly_positive"].mean()
    # tau1 ~ 0.25 spreads the persons: some are credibly positive, some are not
    assert 0 < positive < 1
    assert shares.loc["credibly positive", "value"] == pytest.approx(positive)
    assert result.share_credibly_positive == pytest.approx(positive)
    assert shares.loc["credibly negative", "value"] == pytest.approx(
        table["credibly_negative"].mean()
    )
    slopes = np.stack(
        [
            arrays["unc_cw"] + arrays["unc_cw:sup_c"] * (w - W_MEAN) + arrays["unc_cw|pid"][..., k]
            for k, w in enumerate(W.values())
        ],
        axis=-1,
    ).reshape(-1, len(W))
    share = np.mean(slopes > 0, axis=1)
    assert shares.loc["positive (posterior share)", "value"] == pytest.approx(share.mean())
    assert shares.loc["positive (posterior share)", "ci_lower"] == pytest.approx(
        np.quantile(share, 0.05)
    )
    assert (shares["n_persons"] == len(W)).all()
    assert f"{positive:.0%} of the 6 persons have a credibly positive" in result.description


def test_person_slopes_in_original_and_standardised_units(fit):
    tree, _, arrays = fit
    prepared = make_prepared(standardize=True)
    terms = terms_for(prepared)
    t = prepared.transforms
    original = person_slopes(as_fit(tree, terms, prepared))
    wc = (W["b"] - W_MEAN) / t["sup_c"].scale
    model_scale = arrays["unc_cw"] + arrays["unc_cw:sup_c"] * wc + arrays["unc_cw|pid"][..., 1]
    factor = t["inno_z"].scale / t["unc_cw"].scale
    np.testing.assert_allclose(original.draws.sel(person="b").values, model_scale * factor)
    standard = person_slopes(as_fit(tree, terms, prepared), scale="standardised")
    # standardised data: SD_x / SD_y undoes the conversion, leaving the model's own scale
    assert slope_scales(terms, prepared).within_to_standardised * factor == pytest.approx(1.0)
    np.testing.assert_allclose(standard.draws.sel(person="b").values, model_scale)
    assert set(standard.table["scale"]) == {"standardised"}
    assert (standard.table["credibly_positive"] == original.table["credibly_positive"]).all()


def test_without_interaction_the_moderator_term_is_left_out(prepared):
    terms = make_terms(interaction=False)
    tree, arrays = _draws(32, terms)
    result = person_slopes(as_fit(tree, terms, prepared))
    expected = arrays["unc_cw"] + arrays["unc_cw|pid"][..., 2]
    np.testing.assert_allclose(result.draws.sel(person="c").values, expected)
    assert "g10 + u1j" in result.description


def test_person_slopes_need_person_slopes_and_matching_persons(prepared):
    terms = make_terms(random_slope=False)
    tree, _ = _draws(33, terms)
    with pytest.raises(ModelError, match="no person-specific slopes"):
        person_slopes(as_fit(tree, terms, prepared))
    terms = make_terms()
    foreign, _ = _draws(34, terms, persons=("a", "b", "x", "y", "e", "f"))
    with pytest.raises(ModelError, match=r"2 person\(s\) of the posterior are not in"):
        person_slopes(as_fit(foreign, terms, prepared))
    empty = replace(prepared, frame=prepared.frame.iloc[0:0])
    tree, _ = _draws(35, terms)
    with pytest.raises(ModelError, match="no rows with the person column"):
        person_slopes(as_fit(tree, terms, empty))


def test_scatter_draws_every_person_against_their_moderator(fit, prepared):
    tree, terms, _ = fit
    result = person_slopes(as_fit(tree, terms, prepared))
    curve = moderation_curve(as_fit(tree, terms, prepared))
    ax = plot_person_slopes(result, curve=curve)
    labels = ax.get_legend_handles_labels()[1]
    counts = {
        "credibly positive": int(result.table["credibly_positive"].sum()),
        "credibly negative": int(result.table["credibly_negative"].sum()),
    }
    counts["interval spans 0"] = len(W) - sum(counts.values())
    for label, count in counts.items():
        if count:
            assert f"{label} ({count})" in labels
    assert "population slope" in labels
    xs = np.concatenate([line.get_xdata() for line in ax.lines if line.get_linestyle() == "None"])
    assert sorted(xs) == sorted(W.values())
    plt.close(ax.figure)
    standard = moderation_curve(as_fit(tree, terms, prepared), scale="standardised")
    with pytest.raises(AmbidexError, match="compute both on one scale"):
        plot_person_slopes(result, curve=standard)


@pytest.mark.fit
def test_bambi_interpret_gives_the_same_person_slopes(m3_fit):
    ours = person_slopes(m3_fit).table.set_index("person")
    bambi = person_slopes_bambi(m3_fit).set_index("person").loc[ours.index]
    np.testing.assert_allclose(bambi["mean"], ours["mean"], atol=1e-6)
    np.testing.assert_allclose(bambi["ci_lower"], ours["ci_lower"], atol=1e-6)
    # the simulated persons' slopes really do vary with their moderator value
    correlation = np.corrcoef(ours["moderator"], ours["median"])[0, 1]
    assert correlation > 0.8


def test_bambi_cross_check_refuses_a_dense_design_that_cannot_fit(monkeypatch):
    from types import SimpleNamespace

    from ambidex_bayes import memory
    from ambidex_bayes.errors import ResourceError

    prepared = make_prepared()
    tree, _ = moderation_draws(0, n_persons=6)
    fit = SimpleNamespace(idata=tree, terms=make_terms(), prepared=prepared, bambi_model=None)
    monkeypatch.delenv(memory.SKIP_VARIABLE, raising=False)
    monkeypatch.setattr(memory, "available_memory", lambda: 100)  # 100 bytes
    with pytest.raises(ResourceError, match="use person_slopes|Use person_slopes") as info:
        person_slopes_bambi(fit)
    rows = len(prepared.frame)
    assert f"{rows:,} rows x 6 persons x 2 effects" in str(info.value)
