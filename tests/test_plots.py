"""Plot twins: they draw what the compute functions return and never raise on it.

No figure is shown; matplotlib picks the non-interactive Agg backend on a headless machine.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
from fake_posterior import (
    as_fit,
    make_prepared,
    make_terms,
    moderation_draws,
    null_model_draws,
)

from ambidex_bayes.errors import AmbidexError
from ambidex_bayes.results import (
    icc,
    moderation_lines,
    plot_fixed_effects,
    plot_icc,
    plot_moderation_lines,
    plot_simple_slopes,
    posterior_summary,
    simple_slopes,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def fit():
    terms = make_terms()
    tree, _ = moderation_draws(9, terms=terms)
    return tree, terms, make_prepared()


def test_moderation_lines_plot_has_two_lines_bands_and_legend(fit):
    tree, terms, prepared = fit
    lines = moderation_lines(as_fit(tree, terms, prepared), n_points=20)
    ax = plot_moderation_lines(lines, title="Innovation and uncertainty")
    assert len(ax.lines) == 2
    assert len(ax.collections) == 2  # one credible band per line
    stats = prepared.moderator_stats.loc["sup"]
    low = stats["mean_over_persons"] - stats["sd_over_persons"]
    high = stats["mean_over_persons"] + stats["sd_over_persons"]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [f"low sup (-1 SD = {low:.2g})", f"high sup (+1 SD = {high:.2g})"]
    assert ax.get_xlabel() == "unc"
    assert ax.get_ylabel() == "predicted inno"
    assert ax.get_title() == "Innovation and uncertainty"
    low_line = ax.lines[0]
    expected = lines[lines["moderator_label"] == "-1 SD"]["mean"].to_numpy()
    assert list(low_line.get_ydata()) == pytest.approx(list(expected))


def test_moderation_lines_plot_draws_on_given_axes_with_labels(fit):
    tree, terms, prepared = fit
    lines = moderation_lines(as_fit(tree, terms, prepared), at=[2.0, 3.0, 4.0], n_points=5)
    _, ax = plt.subplots()
    out = plot_moderation_lines(lines, ax=ax, x_label="uncertainty", y_label="innovation")
    assert out is ax
    assert len(ax.lines) == 3
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["low sup (at 2)", "sup (at 3)", "high sup (at 4)"]
    assert ax.get_xlabel() == "uncertainty"


def test_moderation_lines_plot_refuses_other_frames():
    import pandas as pd

    with pytest.raises(AmbidexError, match=r"lacks the column\(s\) \['moderator_label'"):
        plot_moderation_lines(pd.DataFrame({"x": [1.0], "mean": [2.0]}))


def test_simple_slopes_plot_marks_zero_and_p_positive(fit):
    tree, terms, prepared = fit
    slopes = simple_slopes(as_fit(tree, terms, prepared))
    ax = plot_simple_slopes(slopes)
    texts = [t.get_text() for t in ax.texts]
    expected = [f"P(>0) = {p:.2f}" for p in slopes.table["p_positive"]]
    assert texts == expected
    zero_lines = [line for line in ax.lines if list(line.get_ydata()) == [0.0, 0.0]]
    assert len(zero_lines) == 1
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks[1].startswith("mean\n")
    assert len(ticks) == 3


def test_icc_and_forest_plots_draw(fit):
    tree0, terms0, _ = null_model_draws(1)
    table = icc(as_fit(tree0, terms0))
    ax = plot_icc(table)
    assert ax.get_xlim() == (0.0, 1.0)
    assert ax.texts[0].get_text().startswith(f"ICC = {table.loc['ICC', 'mean']:.2f}, 95% CI [")

    tree, terms, _ = fit
    summary = posterior_summary(as_fit(tree, terms))
    ax = plot_fixed_effects(summary)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert sorted(labels) == sorted(terms.fixed)
    ax_all = plot_fixed_effects(summary, include_variance=True)
    assert len(ax_all.get_yticklabels()) == len(summary)
