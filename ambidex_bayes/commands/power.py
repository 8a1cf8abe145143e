"""``ambidex-bayes power``: power to detect the cross-level interaction, by simulation.

Simulates many studies per cell of a grid (persons x diaries per person x interaction size,
or with ``--contrast LEVEL`` the slope difference of a factor moderator's level from its
reference level, the factor given by ``--design FILE``) from the reference design, fits each
with the fast path (with ``--centring latent`` on latent person means), and writes the power table
(CSV), a summary (text) and the power curve (PNG) into the result folder, where the
individual results are kept as they arrive (an interrupted run resumes). The power, bias and
coverage of every level-1 predictor's effects the fits estimate are written as the predictor
table (``power_predictors.csv``); with further level-1 predictors in the design
(``[[predictors]]``, each with true person means of its own) ``--every-predictor`` adds them
all to the fits.
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

NAME = "power"
HELP = "power for the cross-level interaction over persons x diaries x effect sizes"


def _numbers(kind: type):
    def parse(text: str) -> list:
        try:
            return [kind(v) for v in text.split(",") if v.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated {kind.__name__} values, got {text!r}"
            ) from None

    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the ``power`` command."""
    parser.add_argument(
        "--persons", type=_numbers(int), default=[97], help="persons, e.g. 50,97,200"
    )
    parser.add_argument(
        "--diaries", type=_numbers(float), default=[4.2], help="mean diaries per person, e.g. 4,7"
    )
    parser.add_argument(
        "--effects",
        type=_numbers(float),
        default=[0.25],
        help="true cross-level interactions in raw units (default 0.25, the example's)",
    )
    parser.add_argument("--sims", type=int, default=100, help="data sets per cell (default 100)")
    parser.add_argument("--spec", default="M3", help="model spec (default M3)")
    parser.add_argument("--priors", help="prior set for the fits (default: the spec's priors)")
    parser.add_argument("--prob", type=float, default=0.95, help="credible-interval width")
    parser.add_argument("--level", type=float, default=0.95, help="threshold of P(interaction > 0)")
    parser.add_argument(
        "--contrast",
        metavar="LEVEL",
        help="a level of the design's factor moderator: power for its slope difference from "
        "the reference level (--effects are then those differences)",
    )
    parser.add_argument(
        "--focal", help="with --contrast: the level-1 predictor whose slope (default the first)"
    )
    add_centring_option(
        parser,
        what="auto: latent where a data set's observed person means' reliability is below "
        "0.7, chosen per data set; default: observed, the same model for every data set (also "
        "for the bundled M1-M3, whose own centring is auto; a spec file's latent is kept)",
    )
    add_every_predictor_option(parser)
    add_design_file_option(parser)
    add_design_option(parser)
    add_run_options(parser, default_out="power_results")


def run(args: argparse.Namespace) -> int:
    """Run the command; returns the exit status."""
    from ambidex_bayes.commands._options import input_paths, print_table
    from ambidex_bayes.design.outputs import write_outputs
    from ambidex_bayes.design.plots import plot_power_curve
    from ambidex_bayes.design.power import (
        PowerConfig,
        describe_power,
        power_table,
        predictor_table,
        run_power,
    )
    from ambidex_bayes.output_paths import OutputFolder
    from ambidex_bayes.priors.sets import read_prior_set

    if args.priors:  # a misspelt name or a bad file fails here, not in every task
        read_prior_set(args.priors)
    OutputFolder(args.out, inputs=input_paths(args), what="result folder")  # before any work

    config = PowerConfig(
        persons=tuple(args.persons),
        diaries=tuple(args.diaries),
        effects=tuple(args.effects),
        simulations=args.sims,
        spec=args.spec,
        priors=args.priors,
        prob=args.prob,
        level=args.level,
        design=design_overrides(args),
        contrast=args.contrast,
        focal=args.focal,
        centring=args.centring,
        every_predictor=args.every_predictor,
        **sampler_fields(args),
    )
    results = run_power(config, args.out, **run_options(args))
    table = power_table(results, config)
    summary = describe_power(table, config)
    print(summary)
    print_table(table)
    tables = {"power_table": table}
    predictors = predictor_table(results, config)
    if not predictors.empty:
        print_table(predictors)
        tables["power_predictors"] = predictors
    written = write_outputs(
        Path(args.out),
        tables=tables,
        text={"power_summary": summary},
        figures={"power_curve": plot_power_curve(table, config=config)},
    )
    print("written: " + ", ".join(str(p) for p in written))
    return 0
