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
# whole analysis step by step through the library, on the bundled **synthetic** example data
# (made by `ambidex_bayes.simulate` with a fixed seed; it mirrors the design of the reference
# study but is not its data).
#
# Set `AMBIDEX_FAST=1` to run with very few draws (as the test suite does).

# %%
import os

import matplotlib.pyplot as plt

from ambidex_bayes import datasets
from ambidex_bayes.data import ColumnMapping, load_diary
from ambidex_bayes.fit import SamplerSettings, fit
from ambidex_bayes.prepare import prepare
from ambidex_bayes.results import (
    icc,
    moderation_lines,
    plot_moderation_lines,
    plot_simple_slopes,
    posterior_summary,
    simple_slopes,
)
from ambidex_bayes.spec import ladder_specs

FAST = os.environ.get("AMBIDEX_FAST") == "1"
settings = SamplerSettings(draws=150, tune=150, chains=2) if FAST else SamplerSettings()
CACHE = os.environ.get("AMBIDEX_CACHE_DIR")  # None: the default cache folder

# %% [markdown]
# ## 1. Load and validate
# The column mapping says which column plays which role; nothing about the study is
# hard-coded. Validation names columns and rows of any problem before anything is fitted.

# %%
mapping = ColumnMapping.from_toml(datasets.example_mapping_path())
diary = load_diary(datasets.example_path(), mapping)
print(diary.compliance)
for note in diary.notes:
    print("note:", note)

# %% [markdown]
# ## 2. Prepare: centre within person, keep person means, centre the moderator over persons

# %%
prepared = prepare(diary)
for line in prepared.notes:
    print("note:", line)
for line in prepared.warnings:
    print("WARNING:", line)
prepared.frame.head()

# %% [markdown]
# ## 3. Fit the ladder M0 → M3
# M2 and M3 have correlated person intercepts and slopes with an LKJ prior.

# %%
fits = {
    spec.name: fit(spec, prepared, settings=settings, cache_dir=CACHE) for spec in ladder_specs()
}
fits["M3"].prior_table()

# %% [markdown]
# ## 4. Variance split (ICC) and the cross-level model's summary

# %%
icc(fits["M0"].idata, fits["M0"].terms)

# %%
posterior_summary(fits["M3"].idata, fits["M3"].terms)

# %% [markdown]
# ## 5. Simple slopes: which slope?
# Population level (person effects at zero) is the default; a new person's slope adds the
# spread of person slopes; the observed-persons average adds their mean deviation.

# %%
m3 = fits["M3"]
for which in ("population", "new_person", "observed_average"):
    slopes = simple_slopes(m3.idata, m3.terms, m3.prepared, which=which)
    print(slopes.description)
    display(slopes.table)  # noqa: F821 (provided by IPython)

# %% [markdown]
# ## 6. The study's figure

# %%
lines = moderation_lines(m3.idata, m3.terms, m3.prepared)
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
plot_moderation_lines(lines, ax=axes[0], x_label=mapping.level1[0], y_label=mapping.outcome)
plot_simple_slopes(simple_slopes(m3.idata, m3.terms, m3.prepared), ax=axes[1])
fig.tight_layout()

# %% [markdown]
# ## 7. Bambi still understands the posterior
# The posterior uses Bambi's variable names, so `Model.predict` works on it.

# %%
predicted = m3.bambi_model.predict(m3.idata, kind="response_params", inplace=False)
predicted["posterior"]["mu"].shape
