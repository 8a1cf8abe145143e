"""Coverage of 90% intervals under latent and observed person-mean centring (M3).

Each replication simulates a panel with true person means of the daily predictor
(:func:`ambidex_bayes.model.latent_simulate.simulate_latent_panel`, true between effect 0.6,
within 0.1), fits M3 with ``centring="observed"`` and ``centring="latent"`` and records, for
the between effect, the within slope, the moderator, the cross-level interaction and the SDs
of the person intercepts and slopes, the posterior mean and whether the 90% interval covers
the truth. Two conditions:

``low``
    2-4 diaries per person (reliability of the observed person mean about 0.43): observed
    centring attenuates the between effect (Lüdtke et al., 2008); latent centring should not.
``high``
    30 diaries per person (reliability about 0.99): both should cover at the nominal rate.

The replications run through the Dask design runner (:mod:`ambidex_bayes.design.runner`)
into a resumable result folder; the table (coverage, mean bias, mean interval width per
condition, centring and parameter) is printed and written as ``coverage.csv`` there. With
``r`` replications a coverage's Monte Carlo SE is about ``sqrt(0.09 / r)`` (0.067 at 20,
0.03 at 100).

Run from the repository root::

    .venv/bin/python validation/latent_centring_coverage.py --replications 100
    .venv/bin/python validation/latent_centring_coverage.py --replications 20 --workers 2
"""

from __future__ import annotations

import argparse
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ambidex_bayes.design.runner import run_in_folder
from ambidex_bayes.design.tasks import Task, task_seed
from ambidex_bayes.model.latent_simulate import LatentTruth, observed_reliability

#: The conditions: (persons, smallest and largest number of diaries, truth).
CONDITIONS = {
    "low": (300, (2, 4), LatentTruth()),
    "high": (100, (30, 30), LatentTruth(mu_sd=0.8, within_sd=0.5)),
}

#: Posterior name -> field of LatentTruth.
PARAMETERS = {
    "x_pm": "between",
    "x_cw": "within",
    "w_c": "moderator",
    "x_cw:w_c": "interaction",
    "1|person_sigma": "sd_intercept",
    "x_cw|person_sigma": "sd_slope",
}


@dataclass(frozen=True)
class CoverageConfig:
    """The run's configuration (stored with its results)."""

    replications: int
    draws: int
    tune: int
    chains: int
    seed: int
    backend: str

    def to_dict(self) -> dict:
        """The fields by name."""
        return asdict(self)


def _prepared(frame: pd.DataFrame):
    from ambidex_bayes.data import ColumnMapping, load_diary
    from ambidex_bayes.prepare import prepare

    mapping = ColumnMapping.from_dict(
        {"person": "person", "occasion": "day", "outcome": "y", "level1": ["x"], "level2": ["w"]}
    )
    return prepare(load_diary(frame, mapping))


def replicate(task: Task, config: CoverageConfig) -> dict:
    """Simulate one panel, fit M3 both ways, and return one row of results."""
    from ambidex_bayes.fit import SamplerSettings, fit
    from ambidex_bayes.model.latent_simulate import simulate_latent_panel
    from ambidex_bayes.spec import load_spec

    persons, diaries, truth = CONDITIONS[task.params["condition"]]
    prepared = _prepared(simulate_latent_panel(persons, diaries, truth, seed=task.seed))
    settings = SamplerSettings(
        backend=config.backend,
        draws=config.draws,
        tune=config.tune,
        chains=config.chains,
        seed=task.seed % 2**31,
        cores=1,
    )
    row: dict = {
        "condition": task.params["condition"],
        "reliability": prepared.person_mean_reliability["x"],
    }
    for centring in ("observed", "latent"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # short runs: ESS warnings are expected
            result = fit(
                load_spec("M3"),
                prepared,
                settings=settings,
                cache_dir=False,
                progressbar=False,
                verbose=False,
                log_likelihood=False,
                centring=centring,
            )
        post = result.posterior
        for name, field in PARAMETERS.items():
            draws = post[name].to_numpy().ravel()
            lo, hi = np.quantile(draws, [0.05, 0.95])
            true = getattr(truth, field)
            row[f"{centring}|{name}|mean"] = float(draws.mean())
            row[f"{centring}|{name}|width"] = float(hi - lo)
            row[f"{centring}|{name}|covered"] = bool(lo <= true <= hi)
        row[f"{centring}|divergences"] = int(result.idata["sample_stats"]["diverging"].sum())
        row[f"{centring}|seconds"] = float(result.meta["wall_seconds"])
    return row


def coverage_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Coverage, mean bias and mean width per condition, centring and parameter."""
    out = []
    if "error" in rows:  # failed replications carry their message
        rows = rows[rows["error"].isna() | (rows["error"].astype(str) == "")]
    for condition, group in rows.groupby("condition"):
        truth = CONDITIONS[condition][2]
        for centring in ("observed", "latent"):
            for name, field in PARAMETERS.items():
                true = getattr(truth, field)
                covered = group[f"{centring}|{name}|covered"].astype(float)
                out.append(
                    {
                        "condition": condition,
                        "reliability": round(float(group["reliability"].mean()), 2),
                        "centring": centring,
                        "parameter": name,
                        "truth": true,
                        "coverage_90": round(float(covered.mean()), 2),
                        "mean_bias": round(
                            float(group[f"{centring}|{name}|mean"].mean() - true), 3
                        ),
                        "mean_width": round(float(group[f"{centring}|{name}|width"].mean()), 3),
                        "replications": len(group),
                    }
                )
    return pd.DataFrame(out)


def main() -> None:
    from functools import partial

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--replications", type=int, default=100)
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--tune", type=int, default=500)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--backend", default="nutpie")
    parser.add_argument("--folder", default="latent_coverage_results")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--scheduler", default=None, help='"serial", or a scheduler address')
    args = parser.parse_args()
    config = CoverageConfig(
        args.replications, args.draws, args.tune, args.chains, args.seed, args.backend
    )
    tasks = [
        Task(f"{c}-{r:04d}", task_seed(args.seed, "latent-coverage", c, r), {"condition": c})
        for c in CONDITIONS
        for r in range(args.replications)
    ]
    for c, (_, diaries, truth) in CONDITIONS.items():
        rel = observed_reliability(truth, float(np.mean(diaries)))
        print(f"{c}: reliability of the observed person mean about {rel:.2f}")
    rows = run_in_folder(
        args.folder,
        kind="latent-centring-coverage",
        config=config,
        tasks=tasks,
        work=partial(replicate, config=config),
        scheduler=args.scheduler,
        n_workers=args.workers,
    )
    table = coverage_table(rows)
    table.to_csv(Path(args.folder) / "coverage.csv", index=False)
    print(table.to_markdown(index=False))


if __name__ == "__main__":
    main()
