"""The ``summary`` command's table equals ``posterior_summary``'s, without arviz-stats.

:func:`ambidex_bayes.fast_summary.posterior_table` takes R-hat and the ESS from
:mod:`ambidex_bayes.rank_diagnostics` and indexes draws with numpy; every table here must
equal :func:`ambidex_bayes.results.posterior_summary`'s exactly (``DataFrame.equals``:
same rows, columns, dtypes and numbers, NaN where NaN) and carry the same attributes, so a
change to either table that the other does not follow fails here.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from fake_posterior import CHAINS, DRAWS, as_fit, make_terms, moderation_draws, posterior_tree

from ambidex_bayes.errors import ModelError
from ambidex_bayes.fast_summary import posterior_table
from ambidex_bayes.results import posterior_summary
from ambidex_bayes.terms import ModerationTerms


def _assert_same(fit, **kwargs):
    ours = posterior_table(fit, **kwargs)
    theirs = posterior_summary(fit, **kwargs)
    assert ours.equals(theirs)
    assert list(ours.columns) == list(theirs.columns)
    assert ours.attrs == theirs.attrs
    return ours


@pytest.mark.parametrize("prob", [None, 0.9])
def test_moderation_model_table_is_posterior_summary(prob):
    tree, _ = moderation_draws(5)
    table = _assert_same(as_fit(tree, make_terms()), prob=prob)
    assert len(table) == 9 and table["rhat"].notna().all()


def test_models_without_some_terms_give_the_same_table():
    terms = make_terms(interaction=False, random_slope=False, between=False)
    tree, _ = moderation_draws(6, terms=terms, chains=2, draws=101)
    _assert_same(as_fit(tree, terms))


def test_vector_valued_fixed_effects_give_the_same_rows_in_any_dim_order():
    rng = np.random.default_rng(4)
    dow = rng.normal(size=(CHAINS, DRAWS, 3))
    tree = posterior_tree({"Intercept": rng.normal(size=(CHAINS, DRAWS)), "dow": dow})
    posterior = tree["posterior"].to_dataset().rename({"pid__factor_dim": "dow_dim"})
    posterior = posterior.assign_coords(dow_dim=["Tue", "Wed", "Thu"])
    level_first = xr.Variable(("dow_dim", "chain", "draw"), np.moveaxis(dow, 2, 0))
    posterior["dow_t"] = level_first
    tree["posterior"] = posterior
    terms = ModerationTerms(person_dim="pid__factor_dim", sigma=None, other_fixed=("dow", "dow_t"))
    table = _assert_same(as_fit(tree, terms)).set_index("parameter")
    assert list(table.index) == [
        "Intercept",
        *(f"{v}[{d}]" for v in ("dow", "dow_t") for d in ("Tue", "Wed", "Thu")),
    ]
    assert table.loc["dow_t[Wed]", "rhat"] == table.loc["dow[Wed]", "rhat"]


def test_undefined_diagnostics_are_nan_in_both():
    rng = np.random.default_rng(8)
    good = rng.normal(size=(CHAINS, DRAWS))
    terms = ModerationTerms(
        person_dim="pid__factor_dim", intercept="good", sigma=None, other_fixed=("flat", "gap")
    )
    gap = good.copy()
    gap[1, 3] = np.nan
    tree = posterior_tree({"good": good, "flat": np.full((CHAINS, DRAWS), 1.5), "gap": gap})
    table = _assert_same(as_fit(tree, terms)).set_index("parameter")
    assert np.isnan(table.loc["flat", "rhat"]) and np.isnan(table.loc["gap", "ess_bulk"])


def test_a_missing_variable_is_refused_as_posterior_summary_refuses_it():
    tree, _ = moderation_draws(1)
    terms = ModerationTerms(**{**make_terms().to_dict(), "slope": "nope", "other_fixed": ()})
    with pytest.raises(ModelError, match=r"'nope' \(the within-person slope\)"):
        posterior_table(as_fit(tree, terms))
