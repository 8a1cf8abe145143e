"""Person slopes computed by blocks of persons: the same numbers as from all draws at once,
and a peak memory of a few blocks, as the job's memory estimate counts it, never all
persons' draws."""

from __future__ import annotations

import importlib
import tracemalloc

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from fake_pairs import factor_fit, pair_fit
from fake_posterior import PERSON_DIM, as_fit, make_terms, posterior_tree

from ambidex_bayes import memory
from ambidex_bayes.data.mapping import ColumnMapping
from ambidex_bayes.data.validate import validate
from ambidex_bayes.errors import ModelError
from ambidex_bayes.moderation import person_slopes
from ambidex_bayes.prepare import prepare

blocks = importlib.import_module("ambidex_bayes.moderation.person_slopes")


def _panel(persons: int, days: int = 3, seed: int = 0):
    """Prepared data of ``persons`` persons with ``days`` diaries each (columns as
    :func:`fake_posterior.raw_diary`'s: ``pid, day, unc, sup, inno``)."""
    rng = np.random.default_rng(seed)
    pid = np.repeat([f"p{j:05d}" for j in range(persons)], days)
    sup = np.repeat(rng.normal(3.0, 1.0, persons), days)
    unc = rng.normal(3.0, 1.0, persons * days)
    frame = pd.DataFrame(
        {
            "pid": pid,
            "day": np.tile(np.arange(days), persons),
            "unc": unc,
            "sup": sup,
            "inno": 1.0 + 0.5 * unc + 0.3 * sup + rng.normal(0.0, 1.0, persons * days),
        }
    )
    mapping = ColumnMapping(
        person="pid", occasion="day", outcome="inno", level1=("unc",), level2=("sup",)
    )
    return prepare(validate(frame, mapping, source="<test panel>"))


def _fake_fit(persons: int, chains: int, draws: int, *, interaction: bool = True, seed: int = 1):
    """Known normal draws of the slope, the interaction and the person slope effects."""
    prepared = _panel(persons)
    terms = make_terms(y_column=prepared.roles["y"], interaction=interaction)
    rng = np.random.default_rng(seed)
    arrays = {
        terms.slope: rng.normal(0.2, 0.05, (chains, draws)),
        terms.group_slope: rng.normal(0.0, 0.25, (chains, draws, persons)),
    }
    if interaction:
        arrays[terms.interaction] = rng.normal(0.3, 0.05, (chains, draws))
    ids = prepared.frame["pid"].astype(str).unique().tolist()
    tree = posterior_tree(arrays, persons=ids, person_dim=PERSON_DIM)
    return as_fit(tree, terms, prepared)


def _same(a, b) -> None:
    pd.testing.assert_frame_equal(a.table, b.table, check_exact=True)
    assert a.table.attrs == b.table.attrs
    pd.testing.assert_frame_equal(a.shares, b.shares, check_exact=True)
    assert a.description == b.description
    xr.testing.assert_identical(a.draws, b.draws)


@pytest.mark.parametrize("interaction", [True, False])
@pytest.mark.parametrize("scale", ["original", "standardised"])
def test_blocks_of_any_size_give_the_numbers_of_all_draws_at_once(interaction, scale, monkeypatch):
    fit = _fake_fit(7, chains=2, draws=50, interaction=interaction)
    monkeypatch.setattr(blocks, "BLOCK_NUMBERS", 10**12)  # one block of every person
    whole = person_slopes(fit, scale=scale, prob=0.9)
    for numbers in (1, 100, 300, 700):  # 1, 1, 3 and 7 persons a block of 100 draws
        monkeypatch.setattr(blocks, "BLOCK_NUMBERS", numbers)
        _same(person_slopes(fit, scale=scale, prob=0.9), whole)
    # and they are the closed form on all draws at once
    arrays = {k: v.values for k, v in fit.idata["posterior"].to_dataset().data_vars.items()}
    centred = whole.table["moderator_centred"].to_numpy()
    terms = fit.terms
    model = arrays[terms.slope][..., None] + arrays[terms.group_slope]
    if interaction:
        model = model + arrays[terms.interaction][..., None] * centred
    np.testing.assert_allclose(whole.draws.values / model, whole.parts.factor)
    flat = (model * whole.parts.factor).reshape(-1, 7)
    assert whole.shares.loc[2, "value"] == pytest.approx(np.mean(np.mean(flat > 0, axis=1)))
    np.testing.assert_allclose(whole.table["median"], np.median(flat, axis=0))


def test_blocks_of_a_factor_moderator_and_of_a_chosen_pair(monkeypatch):
    factor, _, _ = factor_fit("treatment")
    pair, _ = pair_fit()
    cases = [(factor, {"moderator": "sector"}), (pair, {"focal": "str", "moderator": "cli"})]
    for fit, chosen in cases:
        monkeypatch.setattr(blocks, "BLOCK_NUMBERS", 10**12)
        whole = person_slopes(fit, **chosen)
        monkeypatch.setattr(blocks, "BLOCK_NUMBERS", 1)
        _same(person_slopes(fit, **chosen), whole)


def test_non_finite_draws_in_a_later_block_are_refused_naming_the_persons(monkeypatch):
    fit = _fake_fit(6, chains=2, draws=20)
    effects = fit.idata["posterior"][fit.terms.group_slope]
    effects.values[1, 3, 4] = np.nan
    monkeypatch.setattr(blocks, "BLOCK_NUMBERS", 80)  # two persons a block: the third block
    with pytest.raises(ModelError, match=r"in 1 of 240 draws \(at person p00004\)"):
        person_slopes(fit)


def test_the_step_holds_a_few_blocks_never_every_person_s_draws(monkeypatch):
    """Both scales of the report, both results kept: the traced peak stays within the
    estimate of :func:`ambidex_bayes.memory.person_slope_bytes` and below one copy of every
    person's draws (the step used to hold four)."""
    persons, chains, draws = 3000, 2, 500
    fit = _fake_fit(persons, chains=chains, draws=draws)
    numbers = 100_000  # 100 persons a block of 1,000 draws
    monkeypatch.setattr(blocks, "BLOCK_NUMBERS", numbers)
    monkeypatch.setattr(memory, "PERSON_SLOPE_BLOCK_NUMBERS", numbers)
    all_draws = persons * chains * draws * 8
    tracemalloc.start()
    try:
        start, _ = tracemalloc.get_traced_memory()
        kept = [person_slopes(fit), person_slopes(fit, scale="standardised")]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    estimate = memory.person_slope_bytes(persons=persons, draws=draws, chains=chains)
    assert peak - start <= estimate
    assert peak - start < all_draws / 2
    assert len(kept) == 2 and kept[1].table.shape == (persons, 13)
