"""Strict mode: failing diagnostics stop a pipeline with a summary."""

from __future__ import annotations

import argparse
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from ambidex_bayes import constants
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
    # ArviZ's own warning about that point
    with pytest.warns(UserWarning, match="shape parameter of Pareto distribution"):
        k = pareto_k(fit.idata)
        problems = strict_problems([fit])
    assert k.shape == (30,) and k[0] > 0.7 and np.all(k[1:] < 0.7)
    assert "1 of 30 observations have Pareto k > 0.7" in " ".join(problems)


def test_strict_status_is_3_only_when_strict_and_a_diagnostic_fails(capsys):
    """The status the fit/run/compare commands return (see test_small_real_fit_is_judged
    for a real fit)."""
    args = argparse.Namespace(strict=True)
    assert strict_status(args, [_fake_fit(divergent=2)]) == 3
    assert "2 divergent transitions" in capsys.readouterr().err
    assert strict_status(args, [_fake_fit()]) == 0
    assert strict_status(argparse.Namespace(strict=False), [_fake_fit(divergent=2)]) == 0


# ArviZ's warning about the high-k rows that strict mode reports itself
@pytest.mark.filterwarnings("ignore:Estimated shape parameter of Pareto:UserWarning")
@pytest.mark.fit
def test_small_real_fit_is_judged(m3_fit, capsys):
    """Each diagnostic of a real fit is named exactly when it fails, and the exit status
    follows."""
    problems = strict_problems([m3_fit])
    conv = m3_fit.convergence
    ess_ok = (conv.table["ess_bulk"] >= constants.ESS_BULK_MIN).all()
    assert any("bulk-ESS" in p for p in problems) == (not ess_ok)
    rhat_ok = (conv.table["rhat"] <= constants.RHAT_MAX).all()
    assert any("R-hat" in p for p in problems) == (not rhat_ok)
    assert any("divergent" in p for p in problems) == (conv.n_divergent > 0)
    status = strict_status(argparse.Namespace(strict=True), [m3_fit])
    assert status == (3 if problems else 0)
    err = capsys.readouterr().err
    assert all(p in err for p in problems)
