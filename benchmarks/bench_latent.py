"""Speed of latent-centred M3 against the observed-centred fast path, same data, same run.

Simulates a panel with true person means of the daily predictor
(:func:`ambidex_bayes.model.latent_simulate.simulate_latent_panel`) and fits M3 with
``centring="observed"`` (the fast path: person effects integrated out) and
``centring="latent"`` (the latent fast path: person means sampled, person effects integrated
out given them), with the default backend and the same sampler settings. Each is fitted
twice: "first" includes building and compiling the model in this process, "again" is a fit
on a second data set of the same size. The table gives wall time, the smallest bulk ESS over
the shared hyperparameters (fixed effects, person-effect SDs and correlation, residual SD),
ESS per second, the latent fit's smallest bulk ESS over its predictor model's parameters,
and the latent fit's time over the observed one's (target: at most 3).

Run from the repository root::

    .venv/bin/python benchmarks/bench_latent.py                     # 2000 persons x 8
    .venv/bin/python benchmarks/bench_latent.py --persons 200 --diaries 4
    .venv/bin/python benchmarks/bench_latent.py --target-accept 0.9   # without the 0.8 rule

Compare only figures from the same run on the same machine.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

HYPER = [
    "Intercept",
    "x_cw",
    "x_pm",
    "w_c",
    "x_cw:w_c",
    "1|person_sigma",
    "x_cw|person_sigma",
    "corr(1|person,x_cw|person)",
    "sigma",
]


def prepared_study(persons: int, diaries: int, seed: int, most: int | None = None):
    """Prepared data of a simulated panel (x, y, moderator w, person): ``diaries`` per
    person, or between ``diaries`` and ``most``."""
    from ambidex_bayes.data import ColumnMapping, load_diary
    from ambidex_bayes.model.latent_simulate import simulate_latent_panel
    from ambidex_bayes.prepare import prepare

    frame = simulate_latent_panel(persons, (diaries, most or diaries), seed=seed)
    mapping = ColumnMapping.from_dict(
        {"person": "person", "occasion": "day", "outcome": "y", "level1": ["x"], "level2": ["w"]}
    )
    return prepare(load_diary(frame, mapping))


def timed_fit(spec, prepared, settings, *, centring: str, **options):
    """A fit without cache, progress or messages: the result, its wall time in seconds and
    the smallest bulk ESS over :data:`HYPER`."""
    import arviz_stats as azs

    from ambidex_bayes.fit import fit

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        result = fit(
            spec,
            prepared,
            settings=settings,
            cache_dir=False,
            progressbar=False,
            verbose=False,
            centring=centring,
            **options,
        )
    wall = time.perf_counter() - start
    ess = min(float(azs.ess(result.idata["posterior"][name]).to_numpy()) for name in HYPER)
    return result, wall, ess


#: The latent fit's predictor-model parameters (its slowest-mixing ones are among them).
PREDICTOR_MODEL = ["x_mu_mean", "x_mu_sd", "x_within_sd", "x_mu:w_c"]


def _predictor_model_ess(result) -> int | None:
    """Smallest bulk ESS over :data:`PREDICTOR_MODEL` (None for an observed fit)."""
    import arviz_stats as azs

    posterior = result.idata["posterior"]
    names = [name for name in PREDICTOR_MODEL if name in posterior]
    if not names:
        return None
    return round(min(float(azs.ess(posterior[name]).to_numpy()) for name in names))


def run(
    persons: int,
    diaries: int,
    draws: int,
    tune: int | None,
    chains: int,
    target_accept: float | None = None,
) -> pd.DataFrame:
    """Fit M3 observed and latent, twice each; one row per fit."""
    from ambidex_bayes.fit import SamplerSettings
    from ambidex_bayes.spec import load_spec

    spec = load_spec("M3")
    rows = []
    for attempt, seed in (("first", 1), ("again", 2)):
        prepared = prepared_study(persons, diaries, seed)
        for centring in ("observed", "latent"):
            settings = SamplerSettings(
                draws=draws, tune=tune, chains=chains, seed=seed, target_accept=target_accept
            )
            result, wall, ess = timed_fit(spec, prepared, settings, centring=centring)
            rows.append(
                {
                    "fit": attempt,
                    "centring": centring,
                    "wall_s": round(wall, 1),
                    "min_bulk_ess": round(ess),
                    "ess_per_s": round(ess / wall, 1),
                    "between": round(float(result.posterior["x_pm"].mean()), 3),
                    "predictor_model_min_ess": _predictor_model_ess(result),
                }
            )
    table = pd.DataFrame(rows)
    wall = table.pivot(index="fit", columns="centring", values="wall_s")
    table["latent_over_observed"] = table["fit"].map(wall["latent"] / wall["observed"]).round(2)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--persons", type=int, default=2000)
    parser.add_argument("--diaries", type=int, default=8)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument(
        "--tune",
        type=int,
        default=None,
        help="for both fits (default: the library's, 500 for latent fits above the low-rank limit)",
    )
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument(
        "--target-accept",
        type=float,
        default=None,
        help="for both fits (default: the library's, 0.8 for latent fits above the low-rank limit)",
    )
    args = parser.parse_args()
    table = run(args.persons, args.diaries, args.draws, args.tune, args.chains, args.target_accept)
    print(f"M3, {args.persons} persons x {args.diaries} diaries, true between effect 0.6")
    print(table.to_string(index=False))
    print(f"(numpy {np.__version__})")


if __name__ == "__main__":
    main()
