"""The fast path with the NumPyro (JAX) backend on a large panel, on whatever JAX finds.

Fits M3 to a simulated panel of PERSONS x DIARIES rows (default 100,000 x 10, one million
rows) and prints the JAX device, the wall time of the fit (compilation included) and the
smallest bulk-ESS over the hyperparameters. On a machine with an NVIDIA GPU, install the
CUDA build of JAX first (``pip install -e '.[gpu]'`` for CUDA 12, ``'.[gpu-cuda13]'`` for
CUDA 13); JAX then runs the sampler on the GPU without further settings, the chains as one
vectorised program.

Run from the repository root::

    .venv/bin/python benchmarks/bench_gpu.py                       # 100,000 x 10
    .venv/bin/python benchmarks/bench_gpu.py --persons 2000 --diaries 8   # a quick check

The pointwise log-likelihood is not stored (it would be rows x draws numbers).
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--diaries", type=int, default=10)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    import jax

    # benchmarks/ is on the path when run as a script
    from bench_fit import simulated_study, timed_fast_fit

    from ambidex_bayes.engine import sampling
    from ambidex_bayes.fit import SamplerSettings

    print(f"JAX devices: {jax.devices()}")
    print(f"NumPyro chain method: {sampling.numpyro_chain_method(args.chains)}")
    completing = _timed(sampling, "complete_marginal")
    start = time.perf_counter()
    prepared = simulated_study(args.persons, args.diaries, args.seed)
    print(
        f"{len(prepared.frame)} rows simulated and prepared in {time.perf_counter() - start:.1f} s"
    )
    settings = SamplerSettings(
        backend="numpyro",
        draws=args.draws,
        tune=args.tune,
        chains=args.chains,
        seed=args.seed,
    )
    wall, result = timed_fast_fit(prepared, settings)
    ess = result.convergence.min_ess_bulk  # over the hyperparameters
    print(f"fit: {wall:.1f} s wall, smallest bulk-ESS {ess:.0f}, {ess / wall:.1f} ESS/s")
    print(
        f"  of which drawing the person effects and assembling the posterior: "
        f"{completing[0]:.1f} s (CPU); model building and NUTS: {wall - completing[0]:.1f} s"
    )
    print(result.convergence)


def _timed(module: object, name: str) -> list[float]:
    """Wrap ``module.name`` so that the seconds spent in it add up in the returned list."""
    original = getattr(module, name)
    spent = [0.0]

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - start

    setattr(module, name, wrapper)
    return spent


if __name__ == "__main__":
    main()
