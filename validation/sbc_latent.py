"""Simulation-based calibration of the latent-centred model (latent person means), and of
the observed model beside it.

Runs :func:`ambidex_bayes.design.sbc.run_sbc` with ``centring="latent"``
(:mod:`ambidex_bayes.design.sbc_latent`: parameters, person means, predictor and outcome
drawn from the latent model's prior on the persons and days of one reference-design study,
each data set fitted with latent centring) and prints the uniformity test of every
parameter's ranks (:func:`ambidex_bayes.design.sbc_stats.sbc_calibration`). The result
folder resumes an interrupted run; the table is written there as ``sbc_table.csv``. With
``--observed`` the observed model's SBC (prior set ``weakly_informative``) runs too, for
comparison. With ``--predictors P`` the covariate study has P level-1 predictors (the
reference design's and P - 1 further ones, each with true person means of its own), every
one enters the model (``every_predictor``) and every predictor's parameters are ranked.

Run from the repository root::

    .venv/bin/python validation/sbc_latent.py --simulations 100
    .venv/bin/python validation/sbc_latent.py --simulations 100 --persons 30 --draws 200 \\
        --chains 2 --rank-draws 39 --workers 2
    .venv/bin/python validation/sbc_latent.py --simulations 50 --predictors 2
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from ambidex_bayes.design.sbc import SBCConfig, run_sbc, sbc_ranks
from ambidex_bayes.design.sbc_stats import sbc_calibration

#: The further level-1 predictors of ``--predictors`` (their covariate values only set the
#: scales and missing values; the SBC draws every parameter from the prior).
FURTHER = (
    {"name": "workload", "g10": -0.2, "g02": 0.3, "x_mean": 2.0, "x_sd_between": 0.6,
     "x_sd_within": 0.9},
    {"name": "sleep", "g10": 0.1, "g02": -0.2, "x_mean": 7.0, "x_sd_between": 0.5,
     "x_sd_within": 1.2},
    {"name": "mood", "g10": 0.2, "g02": 0.1, "x_mean": 4.0, "x_sd_between": 0.7,
     "x_sd_within": 0.8},
)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Run the check; returns the exit status (0, or 3 when a model is not calibrated)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simulations", type=int, default=100)
    parser.add_argument("--persons", type=int, default=30)
    parser.add_argument(
        "--missing-x", type=float, default=0.0, help="share of daily predictor values missing"
    )
    parser.add_argument(
        "--predictors",
        type=int,
        default=1,
        choices=range(1, len(FURTHER) + 2),
        help="level-1 predictors of the covariate study, each in the model (default 1)",
    )
    parser.add_argument("--spec", default="M3")
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--tune", type=int, default=200)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--rank-draws", type=int, default=39)
    parser.add_argument("--backend", default="nutpie")
    parser.add_argument("--no-fast-path", action="store_true", help="full NUTS")
    parser.add_argument("--observed", action="store_true", help="run the observed SBC too")
    parser.add_argument("--workers", type=int, help="a local Dask cluster (default: serial)")
    parser.add_argument("--out", default="validation_results/sbc_latent")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)

    status = 0
    design = {"n_persons": args.persons, "missing_rate_x": args.missing_x}
    if args.predictors > 1:
        design["predictors"] = [dict(p) for p in FURTHER[: args.predictors - 1]]
    for centring in ("latent", "observed") if args.observed else ("latent",):
        config = SBCConfig(
            spec=args.spec,
            simulations=args.simulations,
            rank_draws=args.rank_draws,
            design=design,
            every_predictor=args.predictors > 1,
            backend=args.backend,
            draws=args.draws,
            tune=args.tune,
            chains=args.chains,
            fast_path=not args.no_fast_path,
            seed=args.seed,
            centring=centring if centring == "latent" else None,
        )
        folder = Path(args.out) / centring
        results = run_sbc(
            config,
            folder,
            scheduler="serial" if args.workers is None else None,
            n_workers=args.workers,
            progressbar=False,
        )
        calibration = sbc_calibration(sbc_ranks(results), config.rank_draws)
        failed = int((results["error"].fillna("") != "").sum())
        print(
            f"\n== {centring} centring, {args.spec}, {args.predictors} level-1 predictor(s): "
            f"{len(results)} simulations, {failed} failed"
        )
        if "divergent" in results:
            print(f"fits with divergences: {int((results['divergent'] > 0).sum())}")
        print(calibration.verdict)
        with pd.option_context("display.width", 160, "display.max_columns", 20):
            print(calibration.table.to_string(index=False))
        calibration.table.to_csv(folder / "sbc_table.csv", index=False)
        if not calibration.calibrated:
            status = 3
    return status


if __name__ == "__main__":
    raise SystemExit(main())
