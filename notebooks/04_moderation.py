# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Moderation in depth: the slope along the moderator, Johnson–Neyman, person slopes
#
# The quickstart showed the study's two-line figure: the within-person slope of innovation on
# uncertainty at low and at high leader support. Two lines hide most of what the posterior
# knows. This notebook asks, on the bundled **synthetic** example data:
#
# 1. how the slope changes over the whole observed range of the moderator (the *moderation
#    curve*), with P(slope > 0) along it;
# 2. where the slope is credibly different from zero (the *Bayesian Johnson–Neyman region*)
#    and how uncertain that boundary itself is;
# 3. the simple slopes at any moderator values and their difference (high − low);
# 4. each person's own slope against their moderator value;
# 5. the within-person effect next to the between-person and contextual effects;
#
# on the original and on the standardised scale. Set `AMBIDEX_FAST=1` for very few draws.

# %%
import os

import bambi as bmb
import matplotlib.pyplot as plt
import numpy as np

from ambidex_bayes import datasets, moderation
from ambidex_bayes.data import ColumnMapping, load_diary
from ambidex_bayes.fit import SamplerSettings, fit
from ambidex_bayes.prepare import prepare
from ambidex_bayes.results import moderation_lines, plot_moderation_lines, simple_slopes
from ambidex_bayes.spec import load_spec

FAST = os.environ.get("AMBIDEX_FAST") == "1"
settings = SamplerSettings(draws=150, tune=150, chains=2) if FAST else SamplerSettings()
CACHE = os.environ.get("AMBIDEX_CACHE_DIR")  # None: the default cache folder

# %% [markdown]
# ## 1. Data and the cross-level model M3

# %%
mapping = ColumnMapping.from_toml(datasets.example_mapping_path())
prepared = prepare(load_diary(datasets.example_path(), mapping))
for line in prepared.warnings:
    print("WARNING:", line)
m3 = fit(load_spec("M3"), prepared, settings=settings, cache_dir=CACHE)
idata, terms = m3.idata, m3.terms
X, Y, W = mapping.level1[0], mapping.outcome, mapping.level2[0]
print(m3.formula)

# %% [markdown]
# ## 2. The study's figure, and the moderation curve
# The two lines are the predicted outcome at −1 SD and +1 SD of the moderator. The curve
# shows the *slope* itself at every observed moderator value: median, 95% band, and
# P(slope > 0) on the right axis. The shaded areas are where the 95% interval excludes zero.

# %%
curve = moderation.moderation_curve(idata, terms, prepared)
jn = moderation.johnson_neyman(idata, terms, prepared)
fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
plot_moderation_lines(moderation_lines(idata, terms, prepared), ax=axes[0], x_label=X, y_label=Y)
moderation.plot_moderation_curve(curve, johnson_neyman=jn, ax=axes[1])
fig.tight_layout()
print(curve.description)
curve.table.iloc[::10]

# %% [markdown]
# ## 3. The Bayesian Johnson–Neyman region
# The classical technique asks where a confidence interval excludes zero. Here the same
# question is asked of the posterior (interval region), together with the region where
# P(slope > 0) reaches 95% — and the boundary has a posterior of its own: in each draw the
# slope is zero at `W* = mean_W − g10/g11`.

# %%
print(jn.description)
jn.regions

# %%
jn.boundary

# %%
moderation.plot_boundary_posterior(jn)

# %% [markdown]
# ## 4. Simple slopes at any moderator values, and their difference
# Defaults are −1 SD, the mean and +1 SD over persons; percentiles and raw values on request.
# (On a rating scale neighbouring percentiles can fall on the same value.) The difference
# between the highest and the lowest slope is `g11 × (w_high − w_low)`.

# %%
slopes = simple_slopes(idata, terms, prepared)
by_percentile = simple_slopes(idata, terms, prepared, percentiles=[5, 50, 95])
display(slopes.table)  # noqa: F821 (provided by IPython)
display(by_percentile.table)  # noqa: F821
moderation.slope_differences(by_percentile)

# %% [markdown]
# The standardised scale multiplies every slope by `SD_x / SD_y` (the within-person SD of
# the predictor and the SD of the outcome over diary rows, as `prepare(standardize=True)`
# uses them):

# %%
print(moderation.STANDARDISED_CONVENTION)
moderation.standardise_simple_slopes(slopes, terms, prepared).table

# %% [markdown]
# ## 5. Which slope? Bambi's default grid versus the population slope
# `bambi.interpret.slopes` holds every covariate it is not told about at one value — the
# person id included. Its "simple slope" at a moderator value is then the slope of one
# observed person (printed below), not the population slope (pitfall 4).

# %%
support_centred = slopes.table["moderator_centred"].to_list()
bambi_grid = bmb.interpret.slopes(
    m3.bambi_model,
    idata,
    wrt=terms.x_column,
    conditional={terms.w_column: support_centred},
    prob=0.95,
    use_hdi=False,
)
person_column = mapping.person
print("Bambi's grid holds the person at:", bambi_grid.summary[person_column].unique())
comparison = slopes.table[["moderator_label", "mean"]].rename(columns={"mean": "population"})
comparison["bambi default grid"] = bambi_grid.summary["estimate"].to_numpy()
comparison

# %% [markdown]
# ## 6. Person slopes
# Each person's own slope `g10 + g11·w_j + u1j` against their moderator value, with its
# 95% interval, over the population curve. Bambi computes the same person slopes when it
# averages its row-wise slopes by person — a cross-check.

# %%
persons = moderation.person_slopes(idata, terms, prepared)
print(persons.description)
moderation.plot_person_slopes(persons, curve=curve)
persons.shares

# %%
check = moderation.person_slopes_bambi(m3).set_index("person").loc[persons.table["person"]]
print(
    "largest difference to Bambi's person slopes:",
    float(np.max(np.abs(check["mean"].to_numpy() - persons.table["mean"].to_numpy()))),
)

# %% [markdown]
# ## 7. Within and between persons
# The model keeps the person mean of uncertainty, so the within-person effect can be set
# beside the between-person and contextual (between − within) effects. With about four
# diaries per person the person means are unreliable (Lüdtke bias): read the between and
# contextual effects with that warning in mind.

# %%
effects = moderation.within_between(idata, terms, prepared)
print(effects.description)
for warning in effects.warnings:
    print("WARNING:", warning)
effects.table

# %% [markdown]
# ## 8. Everything at once, as the report shows it
# `moderation_results` runs all of the above (both scales) and `write_moderation_files`
# saves the CSV tables and PNG figures; the report section of `ambidex-bayes run` uses them.

# %%
results = moderation.moderation_results(idata, terms, prepared, model="M3")
sorted(results.tables())
