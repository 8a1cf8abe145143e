"""``ambidex-bayes sbc``: simulation-based calibration of a model and its sampler.

Draws parameters and data from the prior, fits each data set, and tests whether the ranks of
the drawn values among the posterior draws are uniform; ``--centring latent`` checks the
latent-centred model (person means as parameters); with further level-1 predictors in the
design (``--design FILE``) and ``--every-predictor`` every predictor's parameters are ranked.
Writes the per-parameter table
(CSV), the verdict (text), ECDF-difference plots and rank histograms (PNG) into the result
folder, where the individual results are kept as they arrive (an interrupted run resumes).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ambidex_bayes.commands._simulation import (
    add_centring_option,
    add_design_file_option,
    add_design_option,
    add_every_predictor_option,
    add_run_options,
    design_overrides,
    run_options,
    sampler_fields,
)

__all__ = ["NAME", "HELP", "add_arguments", "run"]

NAME = "sbc"
HELP = "simulation-based calibration: does the model recover what its prior generates?"

#: Exit status of ``--strict`` when the ranks are not uniform.
NOT_CALIBRATED = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the ``sbc`` command."""
    parser.add_argument("--sims", type=int, default=100, help="simulated data sets (default 100)")
    parser.add_argument("--spec", default="M3", help="model spec (default M3)")
    parser.add_argument(
        "--priors",
        help="prior set that generates the parameters; must set every prior (default "
        "weakly_informative; with --centring latent, the latent model's own priors)",
    )
    parser.add_argument(
        "--fit-priors",
        help="prior set for fitting (default: --priors); a different set makes a "
        "deliberately miscalibrated check",
    )
    parser.add_argument("--persons", type=int, default=97, help="persons in each data set")
    parser.add_argument(
        "--rank-draws", type=int, default=99, help="posterior draws each rank is taken among"
    )
    parser.add_argument(
        "--alpha", type=float, default=0.05, help="family-wise level of the uniformity test"
    )
    parser.add_argument(
        "--no-fast-path",
        action="store_true",
        help="fit with full NUTS instead of the fast path (to check one against the other)",
    )
    parser.add_argument(
        "--strict", action="store_true", help=f"exit with status {NOT_CALIBRATED} if not calibrated"
    )
    add_centring_option(
        parser,
        what="latent draws the predictor too; --priors and --fit-priors then give the "
        "parameters shared with the observed model, the predictor model's keep the latent "
        "model's own priors; default observed (also for the bundled M1-M3, whose own "
        "centring is auto: the data are drawn from one model)",
        choices=("observed", "latent"),
    )
    add_every_predictor_option(parser)
    add_design_file_option(parser)
    add_design_option(parser)
    add_run_options(parser, default_out="sbc_results")


def run(args: argparse.Namespace) -> int:
    """Run the command; returns the exit status."""
    from ambidex_bayes.commands._options import input_paths, print_table
    from ambidex_bayes.design.outputs import write_outputs
    from ambidex_bayes.design.sbc import SBCConfig, run_sbc, sbc_ranks
    from ambidex_bayes.design.sbc_plots import plot_rank_histograms, plot_sbc_ecdf
    from ambidex_bayes.design.sbc_stats import sbc_calibration
    from ambidex_bayes.output_paths import OutputFolder
    from ambidex_bayes.priors.sets import read_prior_set

    for prior_set in (args.priors, args.fit_priors):  # fail here, not in every task
        if prior_set:
            read_prior_set(prior_set)
    OutputFolder(args.out, inputs=input_paths(args), what="result folder")  # before any work

    config = SBCConfig(
        spec=args.spec,
        priors=args.priors,
        fit_priors=args.fit_priors,
        simulations=args.sims,
        rank_draws=args.rank_draws,
        design={**design_overrides(args), "n_persons": args.persons},
        fast_path=not args.no_fast_path,
        centring=args.centring,
        every_predictor=args.every_predictor,
        **sampler_fields(args),
    )
    results = run_sbc(config, args.out, **run_options(args))
    ranks = sbc_ranks(results)
    calibration = sbc_calibration(ranks, config.rank_draws, alpha=args.alpha)
    print(calibration.verdict)
    print_table(calibration.table)
    written = write_outputs(
        Path(args.out),
        tables={"sbc_table": calibration.table, "sbc_ranks": ranks},
        text={"sbc_verdict": calibration.verdict},
        figures={
            "sbc_ecdf": plot_sbc_ecdf(calibration, ranks),
            "sbc_rank_histograms": plot_rank_histograms(ranks, config.rank_draws),
        },
    )
    print("written: " + ", ".join(str(p) for p in written))
    if args.strict and not calibration.calibrated:
        return NOT_CALIBRATED
    return 0
