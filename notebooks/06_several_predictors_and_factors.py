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
# # Two level-1 predictors and a factor moderator
#
# Real diary studies rarely have one daily predictor and one numeric moderator. This
# notebook works through a study with
#
# - two daily (level-1) predictors, **uncertainty** and **workload**, each split into its
#   within-person part (`_cw`, the day's deviation from the person's own mean) and its
#   between-person part (`_pm`, the person mean centred over persons);
# - a person-level **factor**, the sector a person works in (public, private, nonprofit),
#   that moderates the within-person slope of uncertainty.
#
# The data are **simulated** with a known truth (`ab.simulate`), so every estimate can be
# set beside the value that generated it. Set `AMBIDEX_FAST=1` for very few draws (as the
# test suite does); the intervals are then rough.

# %%
import os

import ambidex_bayes as ab

FAST = os.environ.get("AMBIDEX_FAST") == "1"
settings = (
    ab.SamplerSettings(backend="pymc", draws=150, tune=150, chains=2)
    if FAST
    else ab.SamplerSettings()
)
CACHE = os.environ.get("AMBIDEX_CACHE_DIR")  # None: the default cache folder

# %% [markdown]
# ## 1. A simulated study with a known truth
# The reference design (97 persons in the study it mirrors) is changed in four ways: 120
# persons with 7 diaries each on a continuous scale; no numeric moderator (`w_col=None`);
# a second daily predictor; and the sector as a factor. The sector's effects are written as
# **treatment contrasts** against the reference level `public`: in the private sector the
# uncertainty slope is 0.25 steeper than in the public sector, in the nonprofit sector 0.15
# flatter.

# %%
design = ab.reference_design(
    n_persons=120,
    diaries_dist="fixed",
    diaries_mean=7,
    likert=None,
    missing_rate=0.0,
    w_col=None,
    g01=0.0,
    g11=0.0,
    tau1=0.12,
    predictors=[
        {
            "name": "workload",
            "g10": -0.20,
            "g02": 0.15,
            "x_mean": 3.0,
            "x_sd_within": 0.8,
            "x_sd_between": 0.6,
        }
    ],
    factor={
        "name": "sector",
        "levels": ("public", "private", "nonprofit"),
        "shares": (0.40, 0.35, 0.25),
        "reference": "public",
        "intercept": {"private": 0.20, "nonprofit": -0.10},
        "slopes": {"uncertainty": {"private": 0.25, "nonprofit": -0.15}},
    },
)
study = ab.simulate(design, seed=2026)
study.data.head()

# %% [markdown]
# The truth names the model's parameters as a fit will name them, e.g. the slope of
# uncertainty at the reference level and the slope contrast of the private sector:

# %%
{name: round(value, 3) for name, value in study.truth.items() if "uncertainty_cw" in name}

# %% [markdown]
# ## 2. Data: the factor becomes contrast columns
# The simulated study comes with its column mapping. Its `factors` table names the
# reference level; `prepare` codes the sector as two 0/1 columns (`sector_private`,
# `sector_nonprofit`) and says so in its notes.

# %%
print(study.mapping)
diary = ab.load_diary(study.data, study.mapping)
data = ab.prepare(diary)
for note in data.notes:
    print("-", note)

# %% [markdown]
# ## 3. A model written in code
# A spec's formula names *roles*, filled from the prepared data: `{x0_within}` and
# `{x0_between}` are the parts of the first level-1 predictor (uncertainty), `{x1_within}`
# and `{x1_between}` those of the second (workload), `{w}` the first level-2 variable (the
# sector, which renders as its contrast columns). The model has both predictors' within and
# between parts, a person-specific slope for uncertainty (correlated with the intercept) and
# the cross-level interaction of uncertainty's within part with the sector. The same spec
# can be saved as a TOML file beside the bundled ones (`ambidex_bayes/models/*.toml`) and
# read with `ab.load_spec`.

# %%
spec = ab.ModelSpec(
    name="M3_sector",
    title="Two daily predictors; the sector moderates the uncertainty slope",
    formula=(
        "{y} ~ 1 + {x0_within} + {x0_between} + {x1_within} + {x1_between} + {w}"
        " + {x0_within}:{w} + ({x0_within} | {person})"
    ),
)
fit = ab.fit(spec, data, settings=settings, cache_dir=CACHE)
print(fit.formula)

# %%
ab.summary(fit)

# %% [markdown]
# ## 4. What treatment coding means for the slope
# With treatment coding, the coefficient `uncertainty_cw` is the within-person slope of
# uncertainty **in the reference level** (public), and each interaction term
# `uncertainty_cw:sector_<level>` is the **difference** between that level's slope and the
# reference slope. So the slope in the private sector is
# `uncertainty_cw + uncertainty_cw:sector_private`. Neither term alone is "the effect of
# uncertainty": the first belongs to one sector, the others are contrasts.
#
# `ab.simple_slopes` with `focal=` and `moderator=` adds them up draw by draw and gives the
# slope in every level; the truth is beside it.

# %%
slopes = ab.simple_slopes(fit, focal="uncertainty", moderator="sector")
print(slopes.description)
table = slopes.table[["moderator_label", "mean", "ci_lower", "ci_upper", "p_direction"]]
table = table.assign(
    truth=[
        study.truth["uncertainty_cw"] + study.truth.get(f"uncertainty_cw:sector_{level}", 0.0)
        for level in table["moderator_label"]
    ]
)
display(table)  # noqa: F821 (provided by IPython)

# %% [markdown]
# The contrasts between the levels, every pair (a pair with `public` is an interaction term,
# up to its sign; private − nonprofit is the difference of the two terms):

# %%
contrasts = ab.slope_differences(slopes)
contrasts[["contrast", "mean", "ci_lower", "ci_upper", "p_direction"]]

# %% [markdown]
# Workload has no interaction with the sector in this model, so its slope is the same in
# every level, and the description says so:

# %%
print(ab.simple_slopes(fit, focal="workload", moderator="sector").description)

# %% [markdown]
# ## 5. Person slopes by sector
# Each person's own uncertainty slope (fixed part for the person's sector plus the person
# effect `u1j`) with its interval, drawn above the person's sector.

# %%
persons = ab.person_slopes(fit, focal="uncertainty", moderator="sector")
print(persons.description)
ab.plot_person_slopes(persons)

# %% [markdown]
# ## 6. Choosing another reference level, or sum contrasts
# The reference level is a property of the *coding*, not of the data. In a mapping file it
# is chosen with
#
# ```toml
# [factors.sector]
# reference = "private"      # or: contrast = "sum"
# ```
#
# and in code with the same key of the mapping. Without a choice the first level in
# sorted order (category order for a categorical column) is the reference, and a note says
# so. Changing the reference reparametrises the model: `uncertainty_cw` becomes the private
# sector's slope and the interaction terms become differences from it; the per-level slopes
# and their contrasts above stay the same (up to sampling noise), which is why they are the
# quantities to report. With **sum** contrasts (`contrast = "sum"`) `uncertainty_cw` is the
# unweighted mean of the level slopes and each term a level's deviation from that mean.

# %%
mapping = dict(study.mapping, factors={"sector": {"reference": "private"}})
recoded = ab.prepare(ab.load_diary(study.data, mapping))
print(recoded.notes[0])

# %% [markdown]
# ## 7. Planning the next study
# The simulator and the power analysis know the same designs: `ab.PowerConfig(design=...,
# contrast="private")` estimates the power to find the private sector's slope difference
# (the share of simulated studies whose interval of that contrast excludes 0) over a grid
# of persons and diaries, with the spec `M3` (whose `{w}` is then the sector). See
# notebook 05 for how a power run is set up and read.
