"""Cost of nutpie's low-rank mass-matrix adaptation for latent-centred M3, by panel size.

A latent-centred fit samples one person mean per person besides the hyperparameters, so its
number of free parameters grows with the panel. nutpie's low-rank adaptation follows the
posterior correlations of the hyperparameters that a diagonal mass matrix cannot (it is what
lets latent fits at the reference study's size pass the strict checks), but its cost during
tuning rises steeply with the number of free parameters. This script fits latent-centred M3
on simulated panels of several sizes with both adaptations (same data, same settings, same
process) and prints wall time, free parameters and the smallest bulk ESS of the shared
hyperparameters, which is the evidence behind
:data:`ambidex_bayes.engine.latent_sampling.LOW_RANK_MAX_PARAMETERS`.

Run from the repository root::

    .venv/bin/python benchmarks/bench_latent_adaptation.py
    .venv/bin/python benchmarks/bench_latent_adaptation.py --persons 97 130 200 --diaries 8

Compare only figures from the same run on the same machine.
"""

from __future__ import annotations

import argparse

import pandas as pd
from bench_latent import prepared_study, timed_fit


def run(persons: list[int], diaries: int, draws: int, tune: int) -> pd.DataFrame:
    """Latent-centred M3 with each adaptation on each panel size; one row per fit."""
    import ambidex_bayes.engine.latent_sampling as latent_sampling
    from ambidex_bayes.fit import SamplerSettings
    from ambidex_bayes.spec import load_spec

    spec = load_spec("M3")
    rows = []
    for n in persons:
        prepared = prepared_study(n, diaries, seed=n)
        for adaptation in ("low_rank", "diag"):
            chosen = latent_sampling.adaptation_for
            sizes: list[int] = []

            def forced(
                n_parameters: int,
                *,
                second_try: bool = False,
                a: str = adaptation,
                seen: list = sizes,
            ) -> str:
                seen.append(n_parameters)
                return a

            latent_sampling.adaptation_for = forced
            settings = SamplerSettings(draws=draws, tune=tune, chains=4, seed=1)
            try:
                _, wall, ess = timed_fit(spec, prepared, settings, centring="latent", rescue=False)
            finally:
                latent_sampling.adaptation_for = chosen
            rows.append(
                {
                    "persons": n,
                    "free_parameters": sizes[0],
                    "adaptation": adaptation,
                    "wall_s": round(wall, 1),
                    "min_bulk_ess": round(ess),
                }
            )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--persons", type=int, nargs="+", default=[60, 97, 130, 200])
    parser.add_argument("--diaries", type=int, default=8)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    args = parser.parse_args()
    table = run(args.persons, args.diaries, args.draws, args.tune)
    print(f"latent-centred M3, {args.diaries} diaries per person, 4 chains")
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
