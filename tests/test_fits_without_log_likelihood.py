"""The main job's fits store no pointwise log-likelihood, and nothing needs it stored.

PSIS-LOO and its remedy, LOO-PIT, the model comparison, the report's checks and strict
mode's Pareto k compute the log-likelihood from the posterior one block of rows at a time;
a fit saved without it gives the values of the same fit with it, also through ``compare``
on the saved files.
"""

from __future__ import annotations

import dataclasses
import warnings

import arviz_stats as azs
import numpy as np
import pandas as pd
import pytest
import xarray as xr


class _Stop(Exception):
    """Stops the job at its first fit."""


def _bare(fit, name: str | None = None):
    """``fit`` without its log-likelihood group (as the main job saves it), renamed."""
    children = {k: v for k, v in fit.idata.children.items() if k != "log_likelihood"}
    spec = fit.spec if name is None else dataclasses.replace(fit.spec, name=name)
    return dataclasses.replace(fit, idata=xr.DataTree.from_dict(dict(children)), spec=spec)


def test_the_job_fits_and_plans_its_memory_without_the_log_likelihood(small_study, monkeypatch):
    from ambidex_bayes import memory, pipeline
    from ambidex_bayes.data import ColumnMapping

    asked: dict[str, object] = {}

    def first_fit(spec, prepared, **kwargs):
        asked["fit"] = kwargs["log_likelihood"]
        raise _Stop

    def planned(**kwargs):
        asked["memory"] = kwargs["log_likelihood"]
        return {}

    monkeypatch.setattr(pipeline, "fit", first_fit)
    monkeypatch.setattr(memory, "check_analysis_memory", planned)
    mapping = ColumnMapping.from_dict(small_study.mapping)
    with pytest.raises(_Stop):
        pipeline.run_analysis(small_study.data, mapping, progressbar=False, verbose=False)
    assert asked == {"fit": False, "memory": False}


@pytest.mark.fit
def test_strict_mode_computes_pareto_k_of_a_fit_without_log_likelihood(m3_fit, monkeypatch):
    from ambidex_bayes import constants
    from ambidex_bayes.strict import strict_problems

    monkeypatch.setattr(constants, "PARETO_K_MAX", 0.1)  # so that many rows are flagged
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # arviz-stats' own high-k warning
        with_stored = strict_problems([m3_fit])
    computed = strict_problems([_bare(m3_fit)])
    flagged = [p for p in with_stored if "Pareto k > 0.1" in p]
    assert len(flagged) == 1 and flagged[0] in computed
    # the same rows: the counts in both messages agree
    assert [p for p in computed if "Pareto k" in p] == flagged


@pytest.mark.fit
def test_report_checks_work_from_a_fit_without_log_likelihood(m3_fit, tmp_path):
    from ambidex_bayes.checks.report_section import report_section
    from ambidex_bayes.pipeline import analysis_from_fits

    figures, tables = tmp_path / "figures", tmp_path / "tables"
    figures.mkdir()
    tables.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # rows still above the Pareto k limit
        lines = report_section(analysis_from_fits([_bare(m3_fit)], verbose=False), figures, tables)
    text = "\n".join(lines)
    assert "**Not computed:**" not in text
    for name in ("loo_pit.png", "pareto_k.png"):
        assert (figures / name).stat().st_size > 0 and f"figures/{name}" in text


@pytest.mark.fit
def test_compare_recomputes_the_log_likelihood_of_saved_fits(m3_fit, tmp_path, capsys):
    from ambidex_bayes.checks.loo import psis_loo
    from ambidex_bayes.cli import main
    from ambidex_bayes.fit import load_fit

    paths = [tmp_path / "m3.nc", tmp_path / "m3b.nc"]
    _bare(m3_fit).save(paths[0])
    _bare(m3_fit, name="M3b").save(paths[1])
    assert "log_likelihood" not in load_fit(paths[0]).idata.children
    out = tmp_path / "compare"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # rows still above the Pareto k limit
        status = main(["compare", *map(str, paths), "--remedy", "none", "--out", str(out)])
        stored = psis_loo(m3_fit, remedy="none").summary()
        reference = azs.loo(m3_fit.idata)  # arviz-stats on the stored log-likelihood
    capsys.readouterr()
    assert stored["elpd_loo"] == pytest.approx(reference.elpd, rel=1e-9)
    assert stored["p_loo"] == pytest.approx(reference.p, rel=1e-7)
    assert status == 0
    table = pd.read_csv(out / "loo.csv").set_index("model")
    for name in ("M3", "M3b"):
        np.testing.assert_allclose(table.loc[name, "elpd_loo"], stored["elpd_loo"], rtol=1e-6)
        np.testing.assert_allclose(table.loc[name, "p_loo"], stored["p_loo"], rtol=1e-5)
        assert table.loc[name, "n_high_k"] == stored["n_high_k"]


@pytest.mark.fit
def test_integrated_remedy_in_chunks_of_persons_changes_no_value(m3_fit, monkeypatch):
    from ambidex_bayes.checks import loo

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # rows still above the Pareto k limit
        whole = loo.psis_loo(m3_fit, remedy="integrated", k_threshold=0.3)
        calls = []
        integrated = loo.integrated_log_likelihood

        def counted(fit, rows):
            calls.append(len(rows))
            return integrated(fit, rows=rows)

        monkeypatch.setattr(loo, "integrated_log_likelihood", counted)
        monkeypatch.setattr(loo, "INTEGRATED_CHUNK_NUMBERS", 12 * 600)  # 12 rows' persons
        chunked = loo.psis_loo(m3_fit, remedy="integrated", k_threshold=0.3)
    assert len(whole.remedied_rows) > 10 and len(calls) > 3
    assert sum(calls) == len(whole.remedied_rows) and max(calls) <= 12
    assert chunked.remedied_rows == whole.remedied_rows
    np.testing.assert_allclose(chunked.elpd.elpd_i, whole.elpd.elpd_i, rtol=1e-12)
    np.testing.assert_allclose(chunked.pareto_k_after, whole.pareto_k_after, rtol=1e-12)


@pytest.mark.parametrize(
    ("flags", "stored"),
    [([], False), (["--no-log-likelihood"], False), (["--log-likelihood"], True)],
)
def test_the_fit_command_stores_the_log_likelihood_only_when_asked(flags, stored, monkeypatch):
    """The checks compute the log-likelihood by blocks, so ``fit`` leaves it out of the file
    unless ``--log-likelihood`` asks for it (for ArviZ's own functions)."""
    import importlib

    from ambidex_bayes.cli import main

    fit_module = importlib.import_module("ambidex_bayes.fit")  # the package's `fit` is the verb

    asked = {}

    def record(spec, prepared, **kwargs):
        asked.update(kwargs)
        raise SystemExit(0)  # nothing to sample: only the request is checked

    monkeypatch.setattr(fit_module, "fit", record)
    with pytest.raises(SystemExit):
        main(["fit", "--example", "--spec", "M3", "--no-progress", *flags])
    assert asked["log_likelihood"] is stored


def test_asking_for_and_against_the_log_likelihood_at_once_is_refused(capsys):
    from ambidex_bayes.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--example", "--spec", "M3", "--log-likelihood", "--no-log-likelihood"])
    assert exit_info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
