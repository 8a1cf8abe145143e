"""Convergence diagnostics in plain words, on constructed draws with known problems."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from ambidex_bayes.diagnostics import ConvergenceWarning, check_convergence


def _idata(posterior: dict, diverging=None, energy=None) -> xr.DataTree:
    groups = {"posterior": xr.Dataset({k: (("chain", "draw"), v) for k, v in posterior.items()})}
    stats = {}
    if diverging is not None:
        stats["diverging"] = (("chain", "draw"), diverging)
    if energy is not None:
        stats["energy"] = (("chain", "draw"), energy)
    if stats:
        groups["sample_stats"] = xr.Dataset(stats)
    return xr.DataTree.from_dict(groups)


def test_good_draws_pass():
    rng = np.random.default_rng(1)
    idata = _idata(
        {"b": rng.normal(size=(4, 1000))},
        diverging=np.zeros((4, 1000), bool),
        energy=rng.normal(size=(4, 1000)),
    )
    report = check_convergence(idata)
    assert report.ok, report.problems
    assert report.n_divergent == 0
    assert report.min_ess_bulk > 2000


def test_disagreeing_chains_and_divergences_are_reported():
    rng = np.random.default_rng(2)
    b = rng.normal(size=(4, 500)) + np.array([0, 0, 0, 3.0])[:, None]
    div = np.zeros((4, 500), bool)
    div[0, :7] = True
    with pytest.warns(ConvergenceWarning):
        report = check_convergence(_idata({"b": b}, diverging=div))
    text = " ".join(report.problems)
    assert "R-hat above 1.01 for b" in text
    assert "7 of 2000 transitions diverged" in text
    assert "target_accept" in text
    assert not report.ok


def test_sticky_chain_has_low_ess_and_low_ebfmi():
    rng = np.random.default_rng(3)
    walk = np.cumsum(rng.normal(size=(4, 400)) * 0.05, axis=1)
    energy = np.cumsum(rng.normal(size=(4, 400)), axis=1)  # random walk energy: E-BFMI tiny
    report = check_convergence(_idata({"b": walk}, energy=energy), warn=False)
    text = " ".join(report.problems)
    assert "Bulk effective sample size below 400" in text
    assert "E-BFMI below 0.3" in text


def test_person_effects_excluded_from_parameters():
    rng = np.random.default_rng(4)
    post = xr.Dataset(
        {
            "b": (("chain", "draw"), rng.normal(size=(2, 200))),
            "1|p": (("chain", "draw", "p__factor_dim"), rng.normal(size=(2, 200, 3))),
        }
    )
    report = check_convergence(xr.DataTree.from_dict({"posterior": post}), warn=False)
    assert list(report.table.index) == ["b"]
