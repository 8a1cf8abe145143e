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
# # Quickstart: from a diary file to the cross-level moderation
#
# Does a professional's daily uncertainty go with more daily innovative behaviour, and does
# that depend on the support they perceive from their team leader? This notebook runs the
# whole analysis step by step through the library (`import ambidex_bayes as ab`), on the
# bundled **synthetic** example data (made by `ab.simulate` with a fixed seed; it mirrors the
# design of the reference study but is not its data).
#
# Set `AMBIDEX_FAST=1` to run with very few draws (as the test suite does).

# %%
import os

import matplotlib.pyplot as plt

import ambidex_bayes as ab

FAST = os.environ.get("AMBIDEX_FAST") == "1"
settings = ab.SamplerSettings(draws=150, tune=150, chains=2) if FAST else ab.SamplerSettings()
CACHE = os.environ.get("AMBIDEX_CACHE_DIR")  # None: the default cache folder

# %% [markdown]
# ## 1. Load and validate
# The column mapping (a TOML file) says which column plays which role; nothing about the
# study is hard-coded. Validation names columns and rows of any problem before anything is
# fitted.

# %%
diary = ab.load_diary(ab.example_path(), ab.example_mapping_path())
mapping = diary.mapping
print(diary.compliance)
for note in diary.notes:
    print("note:", note)

# %% [markdown]
# ## 2. Prepare: centre within person, keep person means, centre the moderator over persons

# %%
data = ab.prepare(diary)
for line in data.notes:
    print("note:", line)
for line in data.warnings:
    print("WARNING:", line)
data.frame.head()

# %% [markdown]
# ## 3. Fit the ladder M0 → M3
# M2 and M3 have correlated person intercepts and slopes with an LKJ prior.

# %%
fits = {
    spec.name: ab.fit(spec, data, settings=settings, cache_dir=CACHE) for spec in ab.ladder_specs()
}
fits["M3"].prior_table()

# %% [markdown]
# ## 4. Variance split (ICC) and the cross-level model's summary

# %%
ab.icc(fits["M0"])

# %%
ab.summary(fits["M3"])

# %% [markdown]
# ## 5. Simple slopes: which slope?
# Population level (person effects at zero) is the default; a new person's slope adds the
# spread of person slopes; the observed-persons average adds their mean deviation.

# %%
m3 = fits["M3"]
for which in ("population", "new_person", "observed_average"):
    slopes = ab.simple_slopes(m3, which=which)
    print(slopes.description)
    display(slopes.table)  # noqa: F821 (provided by IPython)

# %% [markdown]
# ## 6. The study's figure

# %%
lines = ab.moderation_lines(m3)
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
ab.plot_moderation_lines(lines, ax=axes[0], x_label=mapping.level1[0], y_label=mapping.outcome)
ab.plot_simple_slopes(ab.simple_slopes(m3), ax=axes[1])
fig.tight_layout()

# %% [markdown]
# ## 7. Bambi still understands the posterior
# The posterior uses Bambi's variable names, so `Model.predict` works on it.

# %%
predicted = m3.bambi_model.predict(m3.idata, kind="response_params", inplace=False)
predicted["posterior"]["mu"].shape
