"""Speed of the Gaussian fast path against plain Bambi + nutpie, in one run.

Fits M3 on simulated data at several sizes (persons x diaries) with

(a) plain Bambi 0.21 (independent person effects, its own default priors) sampled by nutpie;
(b) ambidex_bayes's fast path (person effects integrated out, correlated, nutpie),

and prints wall time, the smallest bulk-ESS over the hyperparameters (fixed effects, SDs,
residual SD), ESS per second and the ratio (b)/(a) of ESS per second.

The fast path is timed twice per size: "first" is a fit in a process that has not compiled
the model yet (nutpie's model is built and its compiled callbacks are loaded from the disk
cache of :mod:`ambidex_bayes.engine.nutpie_cache`, or compiled with numba and stored there
if the cache does not hold them), "again" is the next fit, on a new data set of the same
size, which re-uses the compiled model as every further fit in the process does (the
ladder, prior sets, folds, simulations). One compiled model serves every size, so after the
first size "first" would be a re-use too; the compiled model is therefore forgotten before
each "first" fit. To time a machine that has never compiled the model, point the caches at
empty folders: ``PYTENSOR_FLAGS=base_compiledir=/tmp/empty1
AMBIDEX_NUMBA_CACHE_DIR=/tmp/empty2``.

With ``--backend numpyro`` the compiled JAX programs are kept in an on-disk cache (see
:func:`ambidex_bayes.engine.sampling.jax_cache_dir`): the first run on a machine compiles,
later runs load them, so run it twice to see both.

Run from the repository root::

    .venv/bin/python benchmarks/bench_fit.py                 # 97x4, 2000x8, 20000x10
    .venv/bin/python benchmarks/bench_fit.py --sizes 97x4 --skip-plain-above 50000

Both arms run in this process on this machine; compare only ratios from the same run.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def simulated_study(persons: int, diaries: int, seed: int):
    """Prepared M3 data: PERSONS x DIARIES rows from the reference design, continuous scales."""
    from ambidex_bayes.data import ColumnMapping, load_diary
    from ambidex_bayes.prepare import prepare
    from ambidex_bayes.simulate import reference_design, simulate_diary

    design = reference_design(
        n_persons=persons, diaries_dist="fixed", diaries_mean=diaries, likert=None, missing_rate=0.0
    )
    study = simulate_diary(design, seed=seed)
    return prepare(load_diary(study.data, ColumnMapping.from_dict(study.mapping)))


def _min_ess(posterior, names) -> float:
    import arviz_stats as azs

    ess = azs.ess(posterior[names], method="bulk")
    return float(min(float(ess[n]) for n in names))


def run_plain(prepared, draws: int, tune: int, chains: int, seed: int) -> tuple[float, float]:
    import bambi as bmb

    from ambidex_bayes.spec import load_spec

    formula = load_spec("M3").render(prepared.formula_fields())
    data = prepared.frame[[c for c in prepared.frame.columns if c in formula]]
    start = time.perf_counter()
    model = bmb.Model(formula, data)
    idata = model.fit(
        inference_method="nutpie",
        draws=draws,
        tune=tune,
        chains=chains,
        random_seed=seed,
        progressbar=False,
    )
    wall = time.perf_counter() - start
    post = idata["posterior"].to_dataset()
    names = [n for n in post.data_vars if post[n].dims == ("chain", "draw")]
    return wall, _min_ess(post, names)


def timed_fast_fit(prepared, settings, *, rescue: bool = True):
    """Fit M3 quietly, without saving (the fast path unless ``settings`` turn it off);
    return (wall seconds, result).

    ``rescue`` is passed to :func:`ambidex_bayes.fit.fit` (the announced second try).
    """
    from ambidex_bayes.fit import fit
    from ambidex_bayes.spec import load_spec

    start = time.perf_counter()
    result = fit(
        load_spec("M3"),
        prepared,
        settings=settings,
        cache_dir=False,
        progressbar=False,
        verbose=False,
        log_likelihood=False,
        rescue=rescue,
    )
    return time.perf_counter() - start, result


def run_fast(
    prepared, draws: int, tune: int, chains: int, seed: int, backend: str
) -> tuple[float, float]:
    from ambidex_bayes.diagnostics import parameter_names
    from ambidex_bayes.fit import SamplerSettings

    settings = SamplerSettings(backend=backend, draws=draws, tune=tune, chains=chains, seed=seed)
    wall, result = timed_fast_fit(prepared, settings)
    post = result.posterior
    names = [n for n in parameter_names(post) if not n.startswith("corr(")]
    return wall, _min_ess(post, names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="97x4,2000x8,20000x10")
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--backend", default="nutpie", help="backend of the fast path")
    parser.add_argument(
        "--skip-plain-above", type=int, default=10**9, help="rows above which (a) is skipped"
    )
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, draws {args.draws}, tune {args.tune}, chains {args.chains}")
    from ambidex_bayes.engine.sampling import clear_compiled_cache

    header = (
        f"{'size':>10} {'rows':>7} | {'(a) wall':>9} {'minESS':>7} {'ESS/s':>7} | "
        f"{'(b) first':>9} {'minESS':>7} {'ESS/s':>7} {'ratio':>6} | "
        f"{'(b) again':>9} {'minESS':>7} {'ESS/s':>7} {'ratio':>6}"
    )
    print(header)
    print("-" * len(header))
    for size in args.sizes.split(","):
        persons, diaries = (int(v) for v in size.lower().split("x"))
        prepared = simulated_study(persons, diaries, args.seed)
        rows = len(prepared.frame)
        sampler = (args.draws, args.tune, args.chains, args.seed, args.backend)
        clear_compiled_cache()
        first_wall, first_ess = run_fast(prepared, *sampler)
        again_wall, again_ess = run_fast(simulated_study(persons, diaries, args.seed + 1), *sampler)
        if rows <= args.skip_plain_above:
            plain_wall, plain_ess = run_plain(prepared, *sampler[:4])
            plain_rate = plain_ess / plain_wall
            plain = f"{plain_wall:9.1f} {plain_ess:7.0f} {plain_rate:7.1f}"
        else:
            plain, plain_rate = f"{'skipped':>9} {'':>7} {'':>7}", np.nan
        first_rate, again_rate = first_ess / first_wall, again_ess / again_wall
        print(
            f"{size:>10} {rows:>7} | {plain} | {first_wall:9.1f} {first_ess:7.0f} "
            f"{first_rate:7.1f} {first_rate / plain_rate:6.1f} | {again_wall:9.1f} "
            f"{again_ess:7.0f} {again_rate:7.1f} {again_rate / plain_rate:6.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
