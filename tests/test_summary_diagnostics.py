"""``posterior_summary`` takes R-hat and the ESS from :mod:`ambidex_bayes.rank_diagnostics`
(so the ``summary`` command need not import arviz-stats): every row's diagnostics must equal
``arviz_stats.rhat`` / ``arviz_stats.ess`` of that element exactly (NaN where NaN), and its
draws' summaries those of the element's draws taken through xarray.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from fake_posterior import CHAINS, DRAWS, as_fit, make_terms, moderation_draws, posterior_tree

from ambidex_bayes.errors import ModelError
from ambidex_bayes.posterior import describe_draws, elements
from ambidex_bayes.results import posterior_summary
from ambidex_bayes.terms import ModerationTerms


def _same(a: float, b: float) -> bool:
    return (np.isnan(a) and np.isnan(b)) or a == b


def _assert_same(fit, **kwargs):
    """posterior_summary's table, each row checked against arviz-stats and xarray."""
    import arviz_stats

    table = posterior_summary(fit, **kwargs)
    posterior = fit.idata["posterior"].to_dataset()
    by_label = table.set_index("parameter")
    checked = 0
    for name in posterior.data_vars:
        da = posterior[name]
        with np.errstate(invalid="ignore", divide="ignore"):
            reference = {
                "rhat": arviz_stats.rhat(da),
                "ess_bulk": arviz_stats.ess(da, method="bulk"),
                "ess_tail": arviz_stats.ess(da, method="tail"),
            }
        for label, selection in elements(da):
            if label not in by_label.index:
                continue
            row = by_label.loc[label]
            for column, values in reference.items():
                assert _same(float(row[column]), float(values.isel(selection))), (label, column)
            draws = da.isel(selection).values.reshape(-1)
            for column, value in describe_draws(draws, table.attrs["ci_prob"]).items():
                assert _same(float(row[column]), float(value)), (label, column)
            checked += 1
    assert checked == len(table)
    return table


@pytest.mark.parametrize("prob", [None, 0.9])
def test_moderation_model_table_matches_arviz(prob):
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


def test_undefined_diagnostics_are_nan_as_in_arviz():
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


def test_a_missing_variable_is_refused_by_name():
    tree, _ = moderation_draws(1)
    terms = ModerationTerms(**{**make_terms().to_dict(), "slope": "nope", "other_fixed": ()})
    with pytest.raises(ModelError, match=r"'nope' \(the within-person slope\)"):
        posterior_summary(as_fit(tree, terms))
