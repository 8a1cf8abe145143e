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
# # Study design by simulation: power for the cross-level interaction, and calibration
#
# The earlier notebooks analysed one data set. Before a study is run (or to judge one that
# was), two design questions come first:
#
# 1. **Power.** How many persons, writing how many diaries each, are needed to detect the
#    cross-level interaction — the change of the within-person slope of innovation on
#    uncertainty per unit of leader support — if it is as large as we think, or smaller?
# 2. **Calibration.** Does the model, with its priors and its sampler, recover what it
#    should? If parameters are drawn from the prior and data from the model, the posterior
#    must be right *on average over those draws*; simulation-based calibration (SBC) checks
#    exactly that.
#
# Neither question has a closed-form answer for a multilevel model with person-specific
# slopes, an unbalanced number of diaries per person, and outcomes rounded to 1–5 rating
# scales. Both are answered by simulation: generate many data sets with known truth, fit the
# model to each, and count. That means hundreds or thousands of fits, which is why the runs
# below go to a Dask cluster (a local one by default, or an existing one by its address).
# Every result is written to a folder as it arrives; a run that is interrupted — a closed
# laptop, a lost cluster — resumes from that folder and computes only what is missing.
#
# Everything is done by library functions. Set `AMBIDEX_FAST=1` for a tiny run that only
# shows the mechanics: its numbers (3 simulations per cell, 8 for SBC) mean nothing.

# %%
import os
import time
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

import ambidex_bayes as ab

FAST = os.environ.get("AMBIDEX_FAST") == "1"
# "serial": every fit in this process; None: a local Dask cluster (one process per worker).
SCHEDULER = "serial" if FAST else None
N_WORKERS = 2  # workers of the local cluster; raise it to the number of free cores
CACHE_ROOT = Path(os.environ.get("AMBIDEX_CACHE_DIR", ".ambidex_cache"))
SUFFIX = "_fast" if FAST else ""  # a tiny run and a full run never share a result folder
pd.set_option("display.width", 160)

# %% [markdown]
# ## 1. The reference design
# Every simulated study starts from the reference design, which mirrors the shape of the
# reference diary study: 97 persons, about 4.2 diaries each (1 to 7), 1–5 rating scales, a
# little missingness, and a cross-level interaction of 0.25 in raw units (the within-person
# slope goes from about 0 at low support to about 0.33 at high support). The values resemble
# the study's shape; they are **not** estimates from its data. The power grid changes the
# number of persons, the mean number of diaries and the size of the interaction; everything
# else stays as printed here.

# %%
ab.reference_design()

# %% [markdown]
# ## 2. Power: persons × diaries × effect size
# For each cell of the grid, many studies are simulated and each is fitted with model M3
# (random intercept and slope, the person mean, the moderator, the cross-level interaction;
# the Gaussian fast path). Short chains are enough: power needs the interval's ends, not a
# finely resolved posterior.

# %%
if FAST:
    power_config = ab.PowerConfig(
        persons=(40, 97),
        diaries=(4.2,),
        effects=(0.25,),
        simulations=3,
        draws=150,
        tune=150,
        chains=2,
    )
else:
    power_config = ab.PowerConfig(
        persons=(50, 97, 150, 250),
        diaries=(4.2, 7),
        effects=(0.15, 0.25),
        simulations=200,
    )
power_folder = CACHE_ROOT / f"power_demo{SUFFIX}"
print(f"{len(ab.power_tasks(power_config))} simulations, results in {power_folder}")

# %%
power_results = ab.power(power_config, power_folder, scheduler=SCHEDULER, n_workers=N_WORKERS)
power = ab.power_table(power_results, power_config)
print(ab.describe_power(power, power_config))
display(power)  # noqa: F821 (provided by IPython)

# %% [markdown]
# ### Reading the power table
# One row per cell; over the `simulations` successful fits of the cell (`failed` counts the
# others, with their messages in the results' `error` column):
#
# * **`power`** — the share of studies whose 95% credible interval for the interaction
#   excludes 0 (on either side). **`power_prob`** — the share with
#   P(interaction > 0) ≥ 0.95, a one-sided, directional rule. An interval above 0 implies
#   P(> 0) ≥ 0.975, so `power_prob` is at least the interval rule's share on the positive
#   side and usually a little higher. Decide before the study which rule the analysis will
#   use, and read that column.
# * **`power_se`, `power_prob_se`** — Monte Carlo standard errors,
#   √(p̂(1 − p̂)/S). With 200 simulations and power near 0.8 they are about 0.03: two cells
#   closer than that are not distinguishable. (With the 3 simulations of a fast run they are
#   meaningless.)
# * **`mean_width`** — the mean width of the 95% interval: the precision a design buys,
#   whatever the true effect. It shrinks roughly with one over the square root of the number
#   of persons.
# * **`bias`, `rmse`** — of the posterior mean around the true interaction. The truth here
#   is the interaction of the *latent continuous* model; the simulated ratings are rounded
#   to the 1–5 scales, which attenuates slopes a little. A small negative bias is therefore
#   expected and is a property of rating scales, not a flaw of the model.
# * **`coverage`** — the share of intervals that contain the truth. Without rounding it
#   would be near 0.95; with 1–5 ratings it falls as the design grows (the intervals
#   narrow around an attenuated value): at the reference effect of 0.25, about 0.86 with
#   97 persons and 0.78 with 150 (200 and 100 simulations). Power is about detecting the
#   effect, so this does not distort it much; but an analysis that needs the interaction's
#   size on the latent scale needs a measurement model.
# * **`flagged`** — the share of fits whose interaction has R-hat > 1.01 or bulk-ESS < 100,
#   or that had divergences. With short chains some are expected; if many cells show many,
#   rerun with more draws.
#
# 80% is a convention (Cohen's), not a law: what counts is the cost of missing an
# interaction of the assumed size against the cost of more persons or more diaries. Look
# at the smaller effect too — 0.25 is the design's assumption, not a known value — and at
# how far the 4.2 and 7 diary lines lie apart: with few diaries each person's slope is
# estimated imprecisely (the residual noise is large next to the spread of true slopes),
# so more diaries per person can buy power as well as more persons can. The bars in the
# figure are ± 1.96 Monte Carlo standard errors; the dashed line marks 80%.

# %%
fig = ab.plot_power_curve(power, column="power")
display(fig)  # noqa: F821
plt.close(fig)

# %%
fig = ab.plot_power_curve(power, column="power_prob")
display(fig)  # noqa: F821
plt.close(fig)

# %% [markdown]
# ## 3. Stopping and resuming
# The results went to the folder as they arrived, in small batches; the folder also records
# the run's configuration (`run.json`) and refuses to be resumed with other settings. Open
# the same folder again — as a new session would after an interruption — and run the same
# tasks: the store already holds all of them, so nothing is fitted and no cluster is
# started. After a real interruption the same call fits only the missing simulations.

# %%
before = len(power_results)
start = time.perf_counter()
resumed = ab.power(
    power_config, power_folder, scheduler=SCHEDULER, n_workers=N_WORKERS, progressbar=False
)
print(f"results before: {before}, after: {len(resumed)}")
print(f"second call took {time.perf_counter() - start:.2f} s (nothing was refitted)")
print("files in the folder:", sorted(p.name for p in power_folder.iterdir()))

# %% [markdown]
# ## 4. Simulation-based calibration
# Each SBC simulation draws every parameter — fixed effects, the SDs and correlation of the
# person effects, the residual SD, and the person effects themselves — from the prior,
# draws the outcome from the model given them, fits the model, and records the **rank** of
# each drawn value among `rank_draws` posterior draws (thinned evenly). If model, priors,
# code and sampler agree, every rank is uniform on 0…`rank_draws`. Failures show up as
# shapes: ranks piling at both ends mean posteriors too narrow (overconfident), ranks in
# the middle too wide, ranks at one end a bias.
#
# The covariates come from the reference design with 30 persons: fits are cheap, and a
# small design is where weakly identified parts (the slope SD, the correlation) are most
# likely to show trouble. The priors must not depend on the data — Bambi's defaults scale
# with the outcome, so the prior that generated the data would not be the one fitted — so
# SBC uses a prior set that gives every parameter its prior, `weakly_informative`.
#
# SBC does not say whether the design has power, nor whether the model fits the real data:
# it says whether the inference machinery is trustworthy where the prior puts its mass.

# %%
if FAST:
    sbc_sizes = dict(simulations=8, draws=150, tune=150, chains=2, rank_draws=29)
else:
    sbc_sizes = dict(simulations=200, draws=500, tune=500, chains=2, rank_draws=99)
sbc_config = ab.SBCConfig(design={"n_persons": 30}, **sbc_sizes)
sbc_results = ab.sbc(
    sbc_config, CACHE_ROOT / f"sbc_demo{SUFFIX}", scheduler=SCHEDULER, n_workers=N_WORKERS
)
ranks = ab.sbc_ranks(sbc_results)
calibration = ab.sbc_calibration(ranks, sbc_config.rank_draws)
print(calibration.verdict)
display(calibration.table)  # noqa: F821

# %% [markdown]
# ### Reading the SBC table and plots
# Each parameter is tested on its own against a *simultaneous* band (the ECDF must stay
# inside at every point), at level 0.05 / number of parameters, so that a calibrated model
# fails for any parameter with probability of at most about 5%. `passes` is that test;
# `mean_rank_shift` (positive: true values sit high in their posteriors, the posteriors are
# biased low) and `spread_ratio` (above 1: ranks at both ends, posteriors too narrow;
# below 1: too wide) say which way a failing parameter is off, and `reading` names the
# dominant one. With fewer than about 50 simulations the test has little power, and the
# verdict says so: a pass then says little.
#
# **ECDF-difference plots.** Each panel draws the empirical CDF of the scaled ranks minus
# the CDF of the uniform, so a calibrated parameter wanders around the zero line inside
# the shaded band. Shapes to look for:
#
# * up in the first half, down in the second (ranks at both ends): posteriors too narrow;
# * down first, then up (ranks in the middle): posteriors too wide;
# * one hump below zero (ranks high): posteriors biased low; one hump above zero (ranks
#   low): biased high.
#
# A failing panel is drawn in red. The ECDF view is preferred to histograms because it
# needs no choice of bins and its band is simultaneous.

# %%
fig = ab.plot_sbc_ecdf(calibration, ranks)
display(fig)  # noqa: F821
plt.close(fig)

# %% [markdown]
# **Rank histograms** show the same ranks binned, with the expected count (line) and a
# *pointwise* 99% band per bin: with many bins, a bar or two outside it is expected by
# chance. Use them to see the shape; use the ECDF test for the verdict.

# %%
fig = ab.plot_rank_histograms(ranks, sbc_config.rank_draws)
display(fig)  # noqa: F821
plt.close(fig)

# %% [markdown]
# ### A deliberately miscalibrated check
# A check that can never fail proves nothing. Here the data are simulated from
# `weakly_informative`, but the model is fitted with the `sceptical` priors, which shrink
# the cross-level interaction toward 0 (a prior SD five times smaller). Wherever the drawn
# interaction is large, the fitted posterior is pulled toward zero and misses it — above
# for large positive values, below for large negative ones — so the interaction's ranks
# should pile up at both ends ("posterior too narrow"), while the other parameters stay
# roughly calibrated. With the full 200 simulations this fails clearly; with the 8
# simulations of a fast run it may or may not, which is the point of the warning about
# small runs. Even when it passes, compare the interaction's `spread_ratio` with the first
# run's: values well above 1 are the too-narrow shape, waiting for enough simulations.

# %%
sceptical_config = ab.SBCConfig(design={"n_persons": 30}, fit_priors="sceptical", **sbc_sizes)
sceptical_results = ab.sbc(
    sceptical_config,
    CACHE_ROOT / f"sbc_sceptical_demo{SUFFIX}",
    scheduler=SCHEDULER,
    n_workers=N_WORKERS,
)
sceptical_ranks = ab.sbc_ranks(sceptical_results)
sceptical = ab.sbc_calibration(sceptical_ranks, sceptical_config.rank_draws)
print(sceptical.verdict)
display(sceptical.table)  # noqa: F821

# %%
fig = ab.plot_sbc_ecdf(sceptical, sceptical_ranks)
display(fig)  # noqa: F821
plt.close(fig)

# %% [markdown]
# ### Why not `simuk`?
# `simuk` implements SBC for PyMC models, but it runs its simulations in one loop in one
# process and keeps the results in memory. A run here is spread over a Dask cluster, seeded
# per task (a simulation gives the same result on whichever worker, in whichever order),
# and written to a store that resumes after an interruption. The rank statistics are the
# same; `ambidex_bayes.design.sbc_stats` tests them and `ambidex_bayes.design.sbc_plots`
# draws them.

# %% [markdown]
# ## 5. The same from the command line
# The full runs of this notebook, as commands; each writes its result folder (the stored
# simulations, the table as CSV, a summary, the figures as PNG) and resumes from it when run
# again:
#
# ```bash
# ambidex-bayes power --persons 50,97,150,250 --diaries 4.2,7 --effects 0.15,0.25 \
#     --sims 200 --out power_results
# ambidex-bayes sbc --sims 200 --persons 30 --out sbc_results
# ambidex-bayes sbc --sims 200 --persons 30 --fit-priors sceptical --out sbc_sceptical
# ```
#
# Without `--scheduler` each command starts a local cluster with one worker per core
# (`--workers N` to use fewer). On an existing Dask cluster, whose workers have
# `ambidex_bayes` installed, give the scheduler's address:
#
# ```bash
# ambidex-bayes power --persons 50,97,150,250 --diaries 4.2,7 --effects 0.15,0.25 \
#     --sims 200 --out power_results --scheduler tcp://HOST:8786
# ```
#
# `--scheduler serial` runs everything in the command's own process; `--restart` discards
# the results in `--out` and starts afresh. `--set FIELD=VALUE` (repeatable) changes the
# reference design, e.g. `--set icc=0.3 --set tau1=0.2` for more person-to-person variation
# of the slopes; an unknown field or an impossible value is refused before anything runs.
