"""One home for every default, read at call time.

Change a default here, not in the functions that use it.
"""

from __future__ import annotations

#: Width of the credible intervals reported everywhere (equal-tailed).
CI_PROB: float = 0.95

#: Default sampler settings for a fit.
DRAWS: int = 1000
TUNE: int = 1000
CHAINS: int = 4
TARGET_ACCEPT: float = 0.9
#: Target acceptance of latent-centred fits with more free parameters than
#: ``engine.latent_sampling.LOW_RANK_MAX_PARAMETERS`` (one latent mean per person), unless
#: one is chosen: their diagonal mass matrix needs 31 leapfrog steps a draw at 0.9 and 15 at
#: 0.8, with no divergence. A trade of ESS for time: latent M3 at 2000 x 8 took 7.9 s against
#: 13.4 s, with smallest bulk ESS 1403 against 3265 over the outcome model's parameters and
#: 842 against 1618 over the predictor model's (``benchmarks/bench_latent.py`` with and
#: without ``--target-accept 0.9``), so ESS per second is somewhat lower while every fit
#: checked kept ESS far above the checks' 400.
LARGE_LATENT_TARGET_ACCEPT: float = 0.8
#: Tuning steps per chain of those fits, unless chosen: nutpie's diagonal adaptation has
#: settled well before 1000 steps there, while tuning took 58% of the leapfrog steps of a
#: latent M3 fit at 2000 x 8. With 500 the fits took 24-26% fewer leapfrog steps in all, at
#: the same steps per draw, no divergence and a similar smallest ESS over the outcome and
#: predictor models' parameters (``benchmarks/bench_latent_tuning.py``): at 2000 x 8 bulk
#: ESS 850 and 818 against 844 and 842 (two data sets); at 300 persons x 2-4 diaries
#: (``--persons 300 --diaries 2 4 --datasets 6``, reliability about 0.43) 403-1267 against
#: 133-1371, and the one data set that fails its checks fails them either way (tail ESS 384
#: against 94), so it gets the second try. nutpie's own default is 300.
LARGE_LATENT_TUNE: int = 500

#: Sampler settings of each fit in a study-design run (power, SBC): many small fits.
DESIGN_DRAWS: int = 500
DESIGN_TUNE: int = 500
DESIGN_CHAINS: int = 2
SEED: int = 20261126

#: Largest sampler settings accepted (see :mod:`ambidex_bayes.engine.limits`): beyond these a
#: fit would run for days or exhaust memory, which almost always means a typo.
MAX_DRAWS: int = 1_000_000
MAX_TUNE: int = 1_000_000
MAX_CHAINS: int = 64
MAX_CORES: int = 1024
#: Seeds are whole numbers from 0 to this (every backend accepts them).
MAX_SEED: int = 2**32 - 1

#: Default sampling backend ("pymc", "nutpie" or "numpyro"), used when its packages are
#: installed (else FALLBACK_BACKEND). Chosen with benchmarks/bench_reliability.py: at the
#: reference study's size every backend's default M3 fits passed the strict checks, and
#: nutpie's smallest bulk-ESS per second of wall time was 7-10 times plain Bambi + nutpie's,
#: PyMC's and NumPyro's about once (compiling dominates their wall time).
BACKEND: str = "nutpie"
#: Default backend when the packages of BACKEND are not installed (always available).
FALLBACK_BACKEND: str = "pymc"

#: A fit that fails its convergence checks is sampled once more, announced, with this target
#: acceptance (at least) and this many times the tuning steps (see :mod:`ambidex_bayes.rescue`),
#: and, when it failed on R-hat or an ESS, this many times the draws per chain: at the
#: reference study's size, latent-centred fits that still failed after the first two changes
#: were short of ESS 400 by at most half (benchmarks/bench_reliability.py --centring latent).
RESCUE_TARGET_ACCEPT: float = 0.99
RESCUE_TUNE_FACTOR: int = 2
RESCUE_DRAWS_FACTOR: int = 2
#: Fewest draws (draws x chains) for which that second try is made: with fewer, a low ESS
#: comes from the number of draws itself, which more tuning does not change.
RESCUE_MIN_DRAWS: int = 2000

#: Convergence thresholds used by the plain-words diagnostics.
RHAT_MAX: float = 1.01
ESS_BULK_MIN: float = 400.0
ESS_TAIL_MIN: float = 400.0
EBFMI_MIN: float = 0.3
PARETO_K_MAX: float = 0.7

#: LKJ shape of the prior on the correlation of person effects (eta = 1 is uniform).
LKJ_ETA: float = 2.0

#: Reliability of observed person means below which the between-person and contextual
#: effects are flagged as biased (Lüdtke et al., 2008).
PERSON_MEAN_RELIABILITY_MIN: float = 0.7

#: Moderator values for simple slopes, in SDs of the moderator over persons.
SIMPLE_SLOPE_SDS: tuple[float, ...] = (-1.0, 0.0, 1.0)

#: A moderator value further than this many widths of the observed range (over persons)
#: beyond that range is "far outside" it: its simple slope is still computed, and flagged
#: as a mere extrapolation of the linear interaction.
EXTRAPOLATION_FAR: float = 1.0

#: Where fits are cached when no folder is given.
CACHE_DIR: str = ".ambidex_cache"
