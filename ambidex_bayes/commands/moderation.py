"""``ambidex-bayes moderation FIT``: the moderation analysis of a saved fit in depth.

Prints the slope along the moderator, the Johnson–Neyman region and the posterior of its
boundary, simple slopes on both scales with their difference, the share of persons with a
credibly positive slope, and the within/between effects; ``--out`` also writes the tables
(CSV) and figures (PNG). ``--focal X --moderator W`` choose the pair (default: the first
level-1 predictor and the first moderator); a factor moderator gives the slopes at each level
and their contrasts in place of the curve and the Johnson–Neyman region.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ambidex_bayes.commands._options import add_pair_options, floats

__all__ = ["NAME", "HELP", "add_arguments", "run"]

NAME = "moderation"
HELP = "slope along the moderator, Johnson–Neyman region, person slopes of a saved fit"

#: Rows of the curve printed (evenly spaced over the grid).
_PRINTED_ROWS = 11


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the ``moderation`` command."""
    parser.add_argument("fit", help="fit file of a model with a cross-level interaction")
    values = parser.add_mutually_exclusive_group()
    values.add_argument(
        "--at", type=floats, help="raw moderator values for simple slopes, comma-separated"
    )
    values.add_argument(
        "--percentiles",
        type=floats,
        help="percentiles (0-100) of the moderator over persons for simple slopes, e.g. 10,50,90",
    )
    parser.add_argument("--prob", type=float, help="credible-interval width (default 0.95)")
    parser.add_argument(
        "--level", type=float, default=0.95, help="level of P(slope > 0) for the region"
    )
    parser.add_argument("--points", type=int, default=101, help="moderator values on the curve")
    parser.add_argument(
        "--scale",
        choices=["original", "standardised"],
        default="original",
        help="units of the printed curve (files hold both)",
    )
    parser.add_argument("--out", help="folder for CSV tables and PNG figures")
    add_pair_options(parser)


def run(args: argparse.Namespace) -> int:
    """Run the command; returns the exit status."""
    from ambidex_bayes.commands._options import input_paths, print_table
    from ambidex_bayes.fit import load_fit
    from ambidex_bayes.moderation import moderation_results, write_moderation_files
    from ambidex_bayes.output_paths import OutputFolder

    if args.out:  # checked before any work
        for sub in ("figures", "tables"):
            OutputFolder(Path(args.out) / sub, inputs=input_paths(args))
    result = load_fit(args.fit)
    results = moderation_results(
        result,
        model=result.spec.name,
        at=args.at,
        percentiles=args.percentiles,
        prob=args.prob,
        level=args.level,
        n_points=args.points,
        focal=args.focal,
        moderator=args.moderator,
    )
    curve = results.curve if args.scale == "original" else results.curve_standardised
    if curve is not None and results.johnson_neyman is not None:
        print(curve.description)
        step = max(1, (len(curve.table) - 1) // (_PRINTED_ROWS - 1))
        print_table(curve.table.iloc[::step].drop(columns=["moderator_centred"]))
        print()
        print(results.johnson_neyman.description)
        if len(results.johnson_neyman.regions):
            print_table(results.johnson_neyman.regions)
        print_table(results.johnson_neyman.boundary)
        print()
    slopes = results.slopes if args.scale == "original" else results.slopes_standardised
    print(slopes.description)
    print_table(slopes.table)
    print_table(results.differences)
    if results.persons is not None:
        print()
        print(results.persons.description)
        print_table(results.persons.shares)
    if results.within_between is not None and results.effects is not None:
        print()
        print(results.within_between.description)
        print_table(results.effects.drop(columns=["meaning"]))
        for warning in results.within_between.warnings:
            print(f"WARNING: {warning}")
    for note in results.notes:
        print(f"note: {note}")
    if args.out:
        out = Path(args.out)
        written = write_moderation_files(
            results, out / "figures", out / "tables", inputs=input_paths(args)
        )
        print(f"\nwritten: {len(written)} files under {out}")
    return 0
