"""Tuning length of large latent-centred fits: leapfrog steps against the ESS they buy.

A latent-centred model with more free parameters than
:data:`ambidex_bayes.engine.latent_sampling.LOW_RANK_MAX_PARAMETERS` is sampled by nutpie with
a diagonal mass matrix at :data:`ambidex_bayes.constants.LARGE_LATENT_TARGET_ACCEPT`. For
each simulated panel (:func:`ambidex_bayes.model.latent_simulate.simulate_latent_panel`,
true between effect 0.6) this fits latent M3 on the fast path with each number of tuning
steps asked for, the same compiled model, seed, draws and chains, and prints per fit: the
leapfrog steps in all (tuning and draws: the work, whatever the machine), the mean steps per
kept draw, and over the shared hyperparameters and the predictor model's parameters the
smallest bulk and tail ESS, the largest R-hat and the divergences.

Run from the repository root::

    .venv/bin/python benchmarks/bench_latent_tuning.py                                # 2000 x 8
    .venv/bin/python benchmarks/bench_latent_tuning.py --persons 300 --diaries 2 4 --datasets 6
"""

from __future__ import annotations

import argparse
import warnings

import pandas as pd
from bench_latent import HYPER, PREDICTOR_MODEL, prepared_study


def _fit_row(compiled, tune: int, seed: int, draws: int, chains: int) -> dict:
    """One nutpie fit of ``compiled`` with ``tune`` tuning steps: its work and diagnostics."""
    import arviz_stats as azs
    import nutpie

    from ambidex_bayes import constants

    trace = nutpie.sample(
        compiled,
        draws=draws,
        tune=tune,
        chains=chains,
        seed=seed,
        progress_bar=False,
        target_accept=constants.LARGE_LATENT_TARGET_ACCEPT,
        save_warmup=True,
    )
    steps_tuning = trace["warmup_sample_stats"]["n_steps"].to_numpy()
    steps_draws = trace["sample_stats"]["n_steps"].to_numpy()
    posterior = trace["posterior"]
    names = [name for name in HYPER + PREDICTOR_MODEL if name in posterior]

    def smallest(method: str) -> int:
        return round(min(float(azs.ess(posterior[n], method=method).to_numpy()) for n in names))

    return {
        "tune": tune,
        "leapfrog_steps": int(steps_tuning.sum() + steps_draws.sum()),
        "steps_per_draw": round(float(steps_draws.mean()), 1),
        "min_bulk_ess": smallest("bulk"),
        "min_tail_ess": smallest("tail"),
        "max_rhat": round(max(float(azs.rhat(posterior[n]).to_numpy()) for n in names), 4),
        "divergences": int(trace["sample_stats"]["diverging"].sum()),
    }


def run(
    persons: int, diaries: tuple[int, int], datasets: int, tunes: list[int], draws: int, chains: int
) -> pd.DataFrame:
    """One row per data set and tuning length."""
    from ambidex_bayes.centring import latent_model_for
    from ambidex_bayes.engine.latent_sampling import compiled_latent
    from ambidex_bayes.engine.settings import SamplerSettings
    from ambidex_bayes.spec import load_spec

    rows = []
    for seed in range(1, datasets + 1):
        prepared = prepared_study(persons, diaries[0], seed, most=diaries[1])
        _, _, model = latent_model_for(load_spec("M3"), prepared, marginal=True)
        compiled = compiled_latent(model, SamplerSettings(backend="nutpie").resolved())
        for tune in tunes:
            row = _fit_row(compiled, tune, seed, draws, chains)
            rows.append({"data_set": seed, "free_parameters": int(compiled.n_dim), **row})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--persons", type=int, default=2000)
    parser.add_argument(
        "--diaries", type=int, nargs=2, default=(8, 8), help="fewest and most per person"
    )
    parser.add_argument("--datasets", type=int, default=2)
    parser.add_argument("--tunes", type=int, nargs="+", default=[1000, 500])
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=4)
    args = parser.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        table = run(
            args.persons, tuple(args.diaries), args.datasets, args.tunes, args.draws, args.chains
        )
    print(f"latent M3, {args.persons} persons x {args.diaries[0]}-{args.diaries[1]} diaries")
    print(table.to_string(index=False))
    totals = table.groupby("tune")["leapfrog_steps"].sum()
    base = totals[args.tunes[0]]
    for tune, steps in totals.items():
        print(
            f"tune {tune}: {steps} leapfrog steps in all ({steps / base:.2f} of tune {args.tunes[0]})"
        )


if __name__ == "__main__":
    main()
