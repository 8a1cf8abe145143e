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

import ambidex_bayes as ab

FAST = os.environ.get("AMBIDEX_FAST") == "1"
settings = ab.SamplerSettings(draws=150, tune=150, chains=2) if FAST else ab.SamplerSettings()
CACHE = os.environ.get("AMBIDEX_CACHE_DIR")  # None: the default cache folder

# %% [markdown]
# ## 1. Data and the cross-level model M3
# This notebook sets the toolkit's slopes beside Bambi's own functions, which read the
# observed-centring model, so M3 is fitted with observed person-mean centring here. (The
# bundled M3's own centring, `"auto"`, would take latent centring on these data: the
# observed person means' reliability is 0.49.)

# %%
diary = ab.load_diary(ab.example_path(), ab.example_mapping_path())
data = ab.prepare(diary)
for line in data.warnings:
    print("WARNING:", line)
m3 = ab.fit(ab.load_spec("M3"), data, settings=settings, cache_dir=CACHE, centring="observed")
mapping, terms = diary.mapping, m3.terms
X, Y, W = mapping.level1[0], mapping.outcome, mapping.level2[0]
print(m3.formula)

# %% [markdown]
# ## 2. The study's figure, and the moderation curve
# The two lines are the predicted outcome at −1 SD and +1 SD of the moderator. The curve
# shows the *slope* itself at every observed moderator value: median, 95% band, and
# P(slope > 0) on the right axis. The shaded areas are where the 95% interval excludes zero.

# %%
curve = ab.moderation_curve(m3)
jn = ab.johnson_neyman(m3)
fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
ab.plot_moderation_lines(ab.moderation_lines(m3), ax=axes[0], x_label=X, y_label=Y)
ab.plot_moderation_curve(curve, johnson_neyman=jn, ax=axes[1])
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
ab.plot_boundary_posterior(jn)

# %% [markdown]
# ## 4. Simple slopes at any moderator values, and their difference
# Defaults are −1 SD, the mean and +1 SD over persons; percentiles and raw values on request.
# (On a rating scale neighbouring percentiles can fall on the same value.) The difference
# between the highest and the lowest slope is `g11 × (w_high − w_low)`.

# %%
slopes = ab.simple_slopes(m3)
by_percentile = ab.simple_slopes(m3, percentiles=[5, 50, 95])
display(slopes.table)  # noqa: F821 (provided by IPython)
display(by_percentile.table)  # noqa: F821
ab.slope_differences(by_percentile)

# %% [markdown]
# The standardised scale multiplies every slope by `SD_x / SD_y` (the within-person SD of
# the predictor and the SD of the outcome over diary rows, as `prepare(standardize=True)`
# uses them):

# %%
print(ab.moderation.STANDARDISED_CONVENTION)
ab.standardise_simple_slopes(m3, slopes).table

# %% [markdown]
# ## 5. Which slope? Bambi's default grid versus the population slope
# `bambi.interpret.slopes` holds every covariate it is not told about at one value — the
# person id included. Its "simple slope" at a moderator value is then the slope of one
# observed person (printed below), not the population slope (pitfall 4).

# %%
support_centred = slopes.table["moderator_centred"].to_list()
bambi_grid = bmb.interpret.slopes(
    m3.bambi_model,
    m3.idata,
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
persons = ab.person_slopes(m3)
print(persons.description)
ab.plot_person_slopes(persons, curve=curve)
persons.shares

# %%
check = ab.moderation.person_slopes_bambi(m3).set_index("person").loc[persons.table["person"]]
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
effects = ab.within_between(m3)
print(effects.description)
for warning in effects.warnings:
    print("WARNING:", warning)
effects.table

# %% [markdown]
# ## 8. Everything at once, as the report shows it
# `moderation_results` runs all of the above (both scales) and `write_moderation_files`
# saves the CSV tables and PNG figures; the report section of `ambidex-bayes run` uses them.

# %%
results = ab.moderation_results(m3, model="M3")
sorted(results.tables())
