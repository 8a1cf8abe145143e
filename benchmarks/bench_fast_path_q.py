"""Speed of the Gaussian fast path with three person effects (q = 3) against two (q = 2).

Simulates diaries with two daily predictors whose effects vary by person (intercept and
both slopes correlated), and fits on the same data, in this process:

* q = 2: ``y ~ 1 + x1_cw + x2_cw + x1_pm + x2_pm + (x1_cw | person)`` (intercept and one
  slope per person);
* q = 3: ``y ~ 1 + x1_cw + x2_cw + x1_pm + x2_pm + (x1_cw + x2_cw | person)`` (intercept and
  both slopes, three correlations under an LKJ prior).

Both use the fast path (person effects integrated out, drawn exactly afterwards) with the
default backend. Each model is fitted twice: "first" includes building and compiling the
model in this process, "again" is a fit on a second data set of the same size, which
re-uses what can be re-used. The table gives wall time, the smallest bulk ESS over the
hyperparameters (fixed effects, person-effect SDs and correlations, residual SD) and ESS
per second.

Run from the repository root::

    .venv/bin/python benchmarks/bench_fast_path_q.py                    # 2000 persons x 8
    .venv/bin/python benchmarks/bench_fast_path_q.py --persons 200 --diaries 5

Compare only figures from the same run on the same machine.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

FIXED = "{y} ~ 1 + {x0_within} + {x1_within} + {x0_between} + {x1_between}"
FORMULAS = {
    2: FIXED + " + ({x0_within} | {person})",
    3: FIXED + " + ({x0_within} + {x1_within} | {person})",
}


def simulated_study(persons: int, diaries: int, seed: int):
    """Prepared data: two daily predictors with correlated person slopes."""
    from ambidex_bayes.data import ColumnMapping, load_diary
    from ambidex_bayes.prepare import prepare

    rng = np.random.default_rng(seed)
    cov = np.array([[0.5, 0.1, -0.05], [0.1, 0.3, 0.05], [-0.05, 0.05, 0.2]])
    u = rng.multivariate_normal(np.zeros(3), cov, size=persons)
    means = rng.normal(0.0, 0.5, size=(persons, 2))
    person = np.repeat(np.arange(persons), diaries)
    x = means[person] + rng.standard_normal((len(person), 2))
    y = (
        1.0
        + u[person, 0]
        + (0.4 + u[person, 1]) * x[:, 0]
        + (-0.3 + u[person, 2]) * x[:, 1]
        + 0.2 * means[person, 0]
        + rng.normal(0.0, 0.7, len(person))
    )
    frame = pd.DataFrame({"pid": [f"p{j}" for j in person], "x1": x[:, 0], "x2": x[:, 1], "y": y})
    mapping = ColumnMapping.from_dict({"person": "pid", "outcome": "y", "level1": ["x1", "x2"]})
    return prepare(load_diary(frame, mapping))


def hyper_min_ess(result) -> float:
    """Smallest bulk ESS over the posterior's scalar variables (the hyperparameters)."""
    import arviz_stats as azs

    post = result.posterior
    names = [n for n in post.data_vars if post[n].dims == ("chain", "draw")]
    ess = azs.ess(post[names], method="bulk")
    return float(min(float(ess[n]) for n in names))


def time_fit(q: int, prepared, args) -> dict:
    from ambidex_bayes.fit import SamplerSettings, fit
    from ambidex_bayes.spec import ModelSpec

    spec = ModelSpec.from_dict({"name": f"q{q}", "formula": FORMULAS[q]})
    settings = SamplerSettings(
        backend=args.backend, draws=args.draws, tune=args.tune, chains=args.chains, seed=args.seed
    )
    start = time.perf_counter()
    result = fit(
        spec,
        prepared,
        settings=settings,
        cache_dir=False,
        progressbar=False,
        verbose=False,
        log_likelihood=False,
        rescue=False,
    )
    wall = time.perf_counter() - start
    ess = hyper_min_ess(result)
    return {
        "method": result.meta["method"].split(":")[0],
        "wall_s": wall,
        "min_ess_bulk": ess,
        "ess_per_s": ess / wall,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=2000)
    parser.add_argument("--diaries", type=int, default=8)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--backend", default=None, help="default: the package default")
    args = parser.parse_args(argv)

    data = [simulated_study(args.persons, args.diaries, seed) for seed in (1, 2)]
    rows = []
    for q in (2, 3):
        for label, prepared in zip(("first", "again"), data, strict=True):
            row = {"q": q, "fit": label, **time_fit(q, prepared, args)}
            rows.append(row)
            print(row, flush=True)
    table = pd.DataFrame(rows)
    print(
        f"\n{args.persons} persons x {args.diaries} diaries, {args.chains} chains x "
        f"{args.draws} draws (+{args.tune} tuning)\n"
    )
    print(table.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    again = table[table["fit"] == "again"].set_index("q")
    print(
        f"\nq = 3 / q = 2 (again): wall x{again.loc[3, 'wall_s'] / again.loc[2, 'wall_s']:.2f}, "
        f"ESS/s x{again.loc[3, 'ess_per_s'] / again.loc[2, 'ess_per_s']:.2f}"
    )


if __name__ == "__main__":
    main()
