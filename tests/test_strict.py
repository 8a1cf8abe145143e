"""Strict mode: failing diagnostics stop a pipeline with a summary."""

from __future__ import annotations

import argparse
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from ambidex_bayes.commands._options import strict_status
from ambidex_bayes.diagnostics import ConvergenceReport
from ambidex_bayes.strict import pareto_k, strict_problems


def _fake_fit(rhat=1.0, ess=2000.0, divergent=0, loglik=None):
    table = pd.DataFrame({"rhat": [rhat], "ess_bulk": [ess], "ess_tail": [ess]}, index=["b"])
    conv = ConvergenceReport(table, divergent, 0, 4000, ())
    groups = {"posterior": xr.Dataset({"b": (("chain", "draw"), np.zeros((4, 1000)))})}
    if loglik is not None:
        groups["log_likelihood"] = xr.Dataset({"y": (("chain", "draw", "__obs__"), loglik)})
    return SimpleNamespace(
        spec=SimpleNamespace(name="M"), convergence=conv, idata=xr.DataTree.from_dict(groups)
    )


def test_clean_fit_passes():
    assert strict_problems([_fake_fit()]) == []


def test_each_failure_is_named():
    problems = strict_problems([_fake_fit(rhat=1.05, ess=120.0, divergent=3)])
    text = " ".join(problems)
    assert "3 divergent transitions" in text
    assert "R-hat > 1.01 for b" in text
    assert "bulk-ESS < 400 for b" in text


def test_high_pareto_k_is_reported():
    rng = np.random.default_rng(0)
    ll = rng.normal(-1.0, 0.1, size=(4, 250, 30))
    # importance ratios exp(-ll) of this point are Pareto-tailed with k = 1
    ll[:, :, 0] = -rng.exponential(1.0, size=(4, 250))
    fit = _fake_fit(loglik=ll)
    k = pareto_k(fit.idata)
    assert k.shape == (30,) and k[0] > 0.7 and np.all(k[1:] < 0.7)
    assert "1 of 30 observations have Pareto k > 0.7" in " ".join(strict_problems([fit]))


def test_cli_exit_status(capsys):
    args = argparse.Namespace(strict=True)
    assert strict_status(args, [_fake_fit(divergent=2)]) == 3
    assert "2 divergent transitions" in capsys.readouterr().err
    assert strict_status(args, [_fake_fit()]) == 0
    assert strict_status(argparse.Namespace(strict=False), [_fake_fit(divergent=2)]) == 0


@pytest.mark.fit
def test_small_real_fit_is_judged(m3_fit):
    problems = strict_problems([m3_fit])
    ess_ok = (m3_fit.convergence.table["ess_bulk"] >= 400).all()
    assert any("bulk-ESS" in p for p in problems) == (not ess_ok)
