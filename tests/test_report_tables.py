"""The tables for publication: their numbers, and their CSV, LaTeX and Word files.

Built on fits of known fake draws (no sampling): every number in a table must be the one of
the posterior summary (or ICC, LOO, R² table) it is copied from.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from report_fakes import fake_analysis, fake_fit

from ambidex_bayes.apa_tables import (
    apa_tables,
    fixed_effects_table,
    model_fit_table,
    variance_components_table,
)
from ambidex_bayes.table_files import (
    MINUS,
    latex_escape,
    latex_table,
    write_docx,
    write_table,
)


@pytest.fixture(scope="module")
def analysis():
    return fake_analysis()


def test_fixed_effects_equal_the_posterior_summary(analysis):
    table = fixed_effects_table(analysis)
    summary = analysis.summaries["M3"].set_index("parameter")
    terms = analysis.fits["M3"].terms
    assert list(table.frame["parameter"]) == list(terms.fixed)
    for row in table.frame.itertuples(index=False):
        expected = summary.loc[row.parameter]
        assert row.estimate == expected["mean"]
        assert row.posterior_sd == expected["sd"]
        assert (row.ci_lower, row.ci_upper) == (expected["ci_lower"], expected["ci_upper"])
    # and the summary itself is the mean of the draws
    draws = analysis.fits["M3"].posterior["unc_cw:sup_c"].values.reshape(-1)
    row = table.frame.set_index("parameter").loc["unc_cw:sup_c"]
    assert row["estimate"] == pytest.approx(draws.mean())
    assert row["posterior_sd"] == pytest.approx(draws.std(ddof=1), rel=1e-3)
    assert table.ci_prob == 0.95
    assert "Cross-level interaction" in set(table.frame["term"])


def test_variance_components_hold_the_sds_correlation_sigma_and_the_icc(analysis):
    table = variance_components_table(analysis)
    terms = analysis.fits["M3"].terms
    expected = [terms.group_intercept_sd, terms.group_slope_sd, terms.correlation, terms.sigma]
    assert list(table.frame["parameter"]) == expected
    summary = analysis.summaries["M3"].set_index("parameter")
    for row in table.frame.itertuples(index=False):
        assert row.estimate == summary.loc[row.parameter, "mean"]
        assert row.ci_upper == summary.loc[row.parameter, "ci_upper"]
    assert not set(table.frame["parameter"]) & set(terms.fixed)

    # an ICC of the null model is a row of that model
    icc = pd.DataFrame(
        [{"mean": 0.31, "median": 0.3, "sd": 0.05, "ci_lower": 0.2, "ci_upper": 0.42}],
        index=["ICC"],
    )
    null = fake_fit(name="M0", slope=False, interaction=False, random_slope=False)
    with_null = fake_analysis(null, fake_fit())
    with_null.icc = icc
    frame = variance_components_table(with_null).frame
    row = frame[frame["term"] == "ICC"].iloc[0]
    assert row["model"] == "M0"
    assert (row["estimate"], row["posterior_sd"], row["ci_lower"]) == (0.31, 0.05, 0.2)
    # right after M0's own rows, before M3's
    assert list(frame["model"]).index("M3") > frame.index[frame["term"] == "ICC"][0]


def test_model_fit_copies_loo_and_r2_and_leaves_the_missing_empty(analysis):
    loo = pd.DataFrame({"model": ["M3"], "elpd_loo": [-123.4], "se": [5.6], "p_loo": [7.8]})
    r2 = pd.DataFrame(
        {
            "model": ["M3", "M3"],
            "r2": ["marginal", "conditional"],
            "mean": [0.12, 0.45],
            "ci_lower": [0.05, 0.3],
            "ci_upper": [0.2, 0.6],
        }
    )
    row = model_fit_table(analysis, loo=loo, r2=r2).frame.iloc[0]
    assert (row["elpd_loo"], row["elpd_loo_se"], row["p_loo"]) == (-123.4, 5.6, 7.8)
    assert (row["r2_marginal"], row["r2_conditional_upper"]) == (0.12, 0.6)
    assert row["observations"] == len(analysis.prepared.frame)
    assert row["persons"] == analysis.prepared.frame["pid"].nunique()
    empty = model_fit_table(analysis).frame.iloc[0]
    assert np.isnan(empty["elpd_loo"]) and np.isnan(empty["r2_marginal"])
    cells = model_fit_table(analysis).display()
    assert cells.loc[0, "ELPD-LOO"] == "" and cells.loc[0, "R² marginal"] == ""
    assert model_fit_table(analysis, loo=loo, r2=r2).display().loc[0, "SE"] == "5.6"


def test_display_prints_two_decimals_and_one_interval_cell(analysis):
    table = fixed_effects_table(analysis)
    cells = table.display()
    assert list(cells.columns) == [
        "Model",
        "Term",
        "Parameter",
        "Estimate",
        "Posterior SD",
        "95% CrI",
    ]
    first = table.frame.iloc[0]
    assert cells.loc[0, "Estimate"] == f"{first['estimate']:.2f}"
    assert cells.loc[0, "95% CrI"] == f"[{first['ci_lower']:.2f}, {first['ci_upper']:.2f}]"
    assert cells.loc[0, "Model"] == "M3" and set(cells["Model"][1:]) == {""}


def test_latex_escapes_the_special_characters_of_names():
    assert latex_escape("a_b & 50% #1 $x$ {y} ~^\\") == (
        r"a\_b \& 50\% \#1 \$x\$ \{y\} \textasciitilde{}\textasciicircum{}\textbackslash{}"
    )
    assert latex_escape("1|pid_sigma") == r"1\textbar{}pid\_sigma"
    assert latex_escape("R²") == r"R\textsuperscript{2}"


def test_latex_table_is_booktabs_with_escaped_names_and_minus_signs(analysis):
    table = variance_components_table(analysis)
    tex = latex_table(table)
    for command in (r"\toprule", r"\midrule", r"\bottomrule", r"\begin{tabular}{lllrrr}"):
        assert command in tex
    assert r"1\textbar{}pid\_sigma" in tex
    assert "1|pid_sigma" not in tex
    assert "95\\% CrI" in tex
    # the correlation's draws straddle zero: its interval starts with a minus sign
    correlation = table.frame.set_index("term").loc["Correlation of intercepts and slopes"]
    assert correlation["ci_lower"] < 0
    assert f"[$-${abs(correlation['ci_lower']):.2f}, " in tex
    # every row has as many cells as the header
    body = tex.split("\\midrule\n")[1].split("\\bottomrule")[0].strip().splitlines()
    assert len(body) == len(table.frame)
    assert all(line.count(" & ") == 5 for line in body)
    assert r"\textit{Note.}" in tex and r"\caption{Variance components}" in tex


def test_docx_opens_and_holds_the_table(analysis, tmp_path):
    docx = pytest.importorskip("docx", reason="python-docx writes the Word files")
    table = fixed_effects_table(analysis)
    path = write_docx(table, tmp_path / "fixed.docx", number=1)
    document = docx.Document(str(path))
    assert len(document.tables) == 1
    grid = document.tables[0]
    cells = table.display()
    assert len(grid.rows) == len(cells) + 1
    assert [c.text for c in grid.rows[0].cells] == list(cells.columns)
    for i, row in enumerate(cells.itertuples(index=False), start=1):
        # numbers are printed with a minus sign, not a hyphen
        assert [c.text.replace(MINUS, "-") for c in grid.rows[i].cells] == list(row)
    text = "\n".join(p.text for p in document.paragraphs)
    assert "Table 1" in text and "Fixed effects" in text and "Note. " in text


def test_docx_sets_negative_numbers_with_a_minus_sign(analysis, tmp_path):
    docx = pytest.importorskip("docx", reason="python-docx writes the Word files")
    table = variance_components_table(analysis)
    document = docx.Document(str(write_docx(table, tmp_path / "variance.docx")))
    texts = [c.text for row in document.tables[0].rows for c in row.cells]
    correlation = table.frame.set_index("term").loc["Correlation of intercepts and slopes"]
    assert f"[{MINUS}{abs(correlation['ci_lower']):.2f}, " in " ".join(texts)
    assert not any(t.startswith("[-") for t in texts)


def test_write_table_writes_the_three_files(analysis, tmp_path):
    tables = apa_tables(analysis)
    assert list(tables) == ["apa_fixed_effects", "apa_variance_components", "apa_model_fit"]
    written = write_table(tables["apa_fixed_effects"], tmp_path, number=1)
    assert {p.name for p in written.values()} >= {"apa_fixed_effects.csv", "apa_fixed_effects.tex"}
    back = pd.read_csv(written["csv"])
    pd.testing.assert_frame_equal(back, tables["apa_fixed_effects"].frame, check_dtype=False)
