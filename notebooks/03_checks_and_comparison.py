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
# # Checks and comparison: does the model reproduce the diaries, which model predicts best,
# # how much does it explain?
#
# After the convergence diagnostics, three questions remain for a fitted multilevel diary
# model:
#
# 1. **Posterior predictive checks** -- data replicated from the posterior, compared with
#    the observed diaries on test statistics, per person, and by LOO-PIT calibration;
# 2. **Model comparison** -- PSIS-LOO (a new day of a known person) with its Pareto k
#    diagnostics and remedy, leave-persons-out cross-validation (a new person), ELPD
#    differences and stacking weights;
# 3. **Explained variance** -- Bayesian R² (marginal and conditional), the split into
#    between- and within-person variance, and the share of slope variance the moderator
#    explains.
#
# We use a **simulated** study whose truth we know: 60 persons with 6 diaries each, a
# within-person slope that differs a lot between persons (SD 0.6) and depends on the
# moderator. M1 (no random slope) is therefore misspecified, M2 and M3 are not -- the
# checks should tell them apart.
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
# ## 1. Data and three models of the ladder

# %%
design = ab.reference_design(
    n_persons=60,
    diaries_dist="fixed",
    diaries_mean=6,
    likert=None,
    missing_rate=0.0,
    g10=0.3,
    g11=0.4,
    tau1=0.6,
    sigma=0.5,
)
study = ab.simulate(design, seed=3)
data = ab.prepare(ab.load_diary(study.data, study.mapping))
fits = {
    name: ab.fit(ab.load_spec(name), data, settings=settings, cache_dir=CACHE, progressbar=False)
    for name in ("M1", "M2", "M3")
}

# %% [markdown]
# ## 2. Posterior predictive checks
# Replicated diaries are drawn from the saved posterior: the linear predictor from Bambi's
# `predict`, plus new residuals from a seeded generator, on the outcome's original scale.
# The p-value of a statistic is the share of replicated data sets with a larger value (ties
# count half); values near 0 or 1 are flagged. First the correctly specified M3:

# %%
m3 = fits["M3"]
draws = ab.ppc(m3)
checks = ab.statistic_checks(draws)
checks.table.round(3)

# %%
fig, ax = plt.subplots(figsize=(6.5, 4))
ab.plot_ppc_density(ab.density_overlay(draws), ax=ax)
_ = ab.plot_ppc_statistics(checks)

# %% [markdown]
# Now M1, which gives every person the same within-person slope. Its residual SD absorbs
# the slope differences, so overall spread is matched -- but persons with steep slopes vary
# more from day to day than persons with flat ones, and the *SD of the persons' own SDs*
# gives it away.

# %%
m1_draws = ab.ppc(fits["M1"])
ab.statistic_checks(m1_draws).table[["statistic", "observed", "p_value", "flagged"]]

# %% [markdown]
# ### Per person
# Each person's own mean, SD, smallest and largest value against their replicated diaries;
# how many persons are flagged, against the share expected by chance (M1, then M3).

# %%
ab.flagged_persons(ab.person_checks(m1_draws))

# %%
person_table = ab.person_checks(draws)
ab.flagged_persons(person_table)

# %%
m1_persons = ab.person_checks(m1_draws)
extreme = (
    m1_persons[m1_persons["statistic"] == "sd"].sort_values("p_value")["person"].head(5).tolist()
)
_ = ab.plot_person_intervals(ab.person_intervals(m1_draws, extreme))

# %% [markdown]
# For an outcome measured on a bounded rating scale (a declared range in the mapping), the
# checks add the share of answers at the floor and ceiling, and `ab.range_check` gives
# the share of predictions outside the scale.
#
# ### LOO-PIT calibration
# For each diary: the probability, under the model fitted without it, of a value at or
# below the observed one. Uniform for a calibrated model. The figure shows the ECDF of
# these values minus the uniform CDF with the p-value of a uniformity test; when the test
# rejects, the diaries that depart most are marked.

# %%
pit_tree = ab.loo_pit_tree(m3, draws)
ab.plot_loo_pit(pit_tree)
ab.loo_pit_uniformity(pit_tree)

# %% [markdown]
# ## 3. Model comparison
# ### PSIS-LOO: a new day of a known person
# Rows with a high Pareto k get their importance weights recomputed with the person's
# effects integrated out (exact for the Gaussian family, no refit); rows still high would
# be refitted exactly (`max_refits`).

# %%
loo = {name: ab.loo(f) for name, f in fits.items()}
for result in loo.values():
    for note in result.notes:
        print(note)
ab.loo_table(loo)

# %%
ab.plot_pareto_k(loo["M3"])
loo_compare = ab.compare_models(loo)
loo_compare.round(3)

# %%
_ = ab.plot_comparison(loo_compare)

# %% [markdown]
# ### Leave-persons-out: a new person
# All diaries of the persons in one fold are held out; each model is refitted without them
# and scores them with person effects drawn new from the population. This refits each
# model K times (here M1 and M3, 5 folds, one chain per fold, two folds at a time). In FAST
# mode (the test suite) it is skipped unless `AMBIDEX_KFOLD=1`; the suite checks K-fold
# separately.

# %%
RUN_KFOLD = not FAST or os.environ.get("AMBIDEX_KFOLD") == "1"
if RUN_KFOLD:
    kfold = {
        name: ab.kfold(
            fits[name],
            k=2 if FAST else 5,
            settings=ab.SamplerSettings(draws=100, tune=100, chains=1)
            if FAST
            else ab.SamplerSettings(chains=1),
            n_jobs=1 if FAST else 2,
            cache_dir=CACHE,
        )
        for name in ("M1", "M3")
    }
    print(ab.compare_models(kfold).round(3).to_string(index=False))
else:
    print("K-fold skipped in FAST mode (set AMBIDEX_KFOLD=1 to run it).")

# %% [markdown]
# ## 4. Explained variance

# %%
ab.r2_table(fits)

# %%
decomposition = ab.variance_decomposition(m3)
ab.plot_variance_decomposition(decomposition)
decomposition.round(3)

# %% [markdown]
# How much of the person-to-person variation in the within-person slope does the moderator
# explain? 1 - tau1²(M3) / tau1²(M2), over randomly paired draws of the two independent
# posteriors. (The simulation's truth: moderator SD 0.7 and g11 = 0.4 against a remaining
# slope SD of 0.6, so about 0.078 / (0.078 + 0.36) = 18%; with 60 persons the estimate is
# uncertain.)

# %%
ab.slope_variance_explained(fits["M2"], fits["M3"])
