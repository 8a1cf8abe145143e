"""What the commands share: the data and sampler options, reading the inputs, printing tables.

Every command, those in :mod:`ambidex_bayes.cli` and those in the modules of
:mod:`ambidex_bayes.commands`, takes its shared options and helpers from here; the library
modules they need are imported inside the functions, so building the parser stays cheap.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ambidex_bayes import constants
from ambidex_bayes.errors import AmbidexError

__all__ = [
    "floats",
    "add_sampler_options",
    "add_data_options",
    "add_pair_options",
    "sampler_settings",
    "data_inputs",
    "prepared_inputs",
    "input_paths",
    "check_csv_option",
    "print_table",
    "strict_status",
]


def floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {text!r}"
        ) from None


def add_sampler_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("sampling")
    g.add_argument(
        "--backend",
        choices=["pymc", "nutpie", "numpyro"],
        help=f"NUTS implementation (default {constants.BACKEND} when installed, "
        f"else {constants.FALLBACK_BACKEND})",
    )
    g.add_argument(
        "--draws", type=int, help=f"draws per chain after tuning (default {constants.DRAWS})"
    )
    g.add_argument(
        "--tune",
        type=int,
        help=f"tuning steps per chain (default {constants.TUNE}); a latent fit of over 120 "
        f"free parameters tunes for {constants.LARGE_LATENT_TUNE} unless this is given",
    )
    g.add_argument("--chains", type=int, help=f"number of chains (default {constants.CHAINS})")
    g.add_argument("--seed", type=int, help=f"random seed (default {constants.SEED})")
    g.add_argument(
        "--target-accept",
        type=float,
        help=f"target acceptance rate (default {constants.TARGET_ACCEPT})",
    )
    g.add_argument(
        "--cores", type=int, help="chains run at the same time (default: one per CPU core)"
    )
    g.add_argument("--cache-dir", help=f"folder of saved fits (default {constants.CACHE_DIR})")
    g.add_argument("--refit", action="store_true", help="sample even if a saved fit matches")
    g.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    g.add_argument(
        "--strict",
        action="store_true",
        help="exit with status 3 when diagnostics fail (divergences, R-hat > 1.01, "
        "bulk-ESS < 400, Pareto k > 0.7)",
    )


def add_data_options(p: argparse.ArgumentParser, *, required: bool) -> None:
    p.add_argument(
        "data", nargs=None if required else "?", help="diary file (CSV, Parquet, Excel, SPSS .sav)"
    )
    p.add_argument("--mapping", help="column-mapping TOML file (which column plays which role)")
    p.add_argument("--sheet", help="Excel sheet name or number")
    p.add_argument("--detrend", action="store_true", help="remove a linear trend over occasions")
    p.add_argument("--standardize", action="store_true", help="standardise outcome and predictors")


def add_pair_options(p: argparse.ArgumentParser) -> None:
    """``--focal`` and ``--moderator``: the level-1 predictor and moderator analysed."""
    p.add_argument(
        "--focal",
        metavar="X",
        help="level-1 predictor whose slope is analysed, by column name (default: the first)",
    )
    p.add_argument(
        "--moderator",
        metavar="W",
        help="moderator of that slope, by column name (default: the first); a factor gives "
        "the slope at each level and the contrasts between levels",
    )


def sampler_settings(args: argparse.Namespace):
    from ambidex_bayes.engine.settings import SamplerSettings

    return SamplerSettings(
        backend=args.backend,
        draws=args.draws,
        tune=args.tune,
        chains=args.chains,
        seed=args.seed,
        target_accept=args.target_accept,
        cores=getattr(args, "cores", None),
    )


def data_inputs(args: argparse.Namespace):
    # not through the pipeline's load_mapping: importing the pipeline imports every stage
    # of the main job (scipy.optimize among them), which a single fit does not need
    from ambidex_bayes.data import ColumnMapping

    if args.example:
        if args.data:
            raise AmbidexError("Give either a data file or --example, not both.")
        from ambidex_bayes.pipeline import example_inputs

        return example_inputs()
    if not args.data:
        raise AmbidexError("Give a data file and --mapping, or --example for the bundled data.")
    if not args.mapping:
        raise AmbidexError(
            f"{args.data}: give --mapping MAPPING.toml saying which column plays which role."
        )
    return Path(args.data), ColumnMapping.from_toml(args.mapping)


def prepared_inputs(args: argparse.Namespace, *, show_warnings: bool = True):
    """The data named by the data options, read, validated and prepared.

    With ``show_warnings``, preparation warnings (e.g. few diaries per person) are printed.
    """
    from ambidex_bayes.data import load_diary
    from ambidex_bayes.prepare import prepare

    source, mapping = data_inputs(args)
    prepared = prepare(
        load_diary(source, mapping, sheet=args.sheet),
        detrend=args.detrend,
        standardize=args.standardize,
    )
    if show_warnings:
        for line in prepared.warnings:
            print(f"WARNING: {line}")
    return prepared


def input_paths(args: argparse.Namespace) -> list[Path]:
    """The existing files and folders a command reads, as named by its arguments.

    No output of the command may be one of them (or, for a report folder, hold one).
    """
    names = [getattr(args, key, None) for key in ("data", "mapping", "spec", "models", "fit")]
    names += list(getattr(args, "fits", None) or [])
    priors = getattr(args, "priors", None)
    if priors:
        names += [name.strip() for name in priors.split(",")]
    if getattr(args, "example", False):
        from ambidex_bayes import datasets

        names += [datasets.example_path(), datasets.example_mapping_path()]
    return [Path(name) for name in names if name and Path(name).exists()]


def check_csv_option(csv: str | None, args: argparse.Namespace) -> None:
    """Refuse a ``--csv`` file that may not be written, before any work is done."""
    if csv:
        from ambidex_bayes.output_paths import check_output_file

        check_output_file(csv, kind="CSV table", suffixes=(".csv",), inputs=input_paths(args))


def print_table(frame, csv: str | None = None) -> None:
    """Print a table; with ``csv``, also write it there (atomically)."""
    from tabulate import tabulate

    print(tabulate(frame, headers="keys", tablefmt="simple", floatfmt=".3f", showindex=False))
    if csv:
        from ambidex_bayes.output_paths import write_file

        write_file(csv, lambda tmp: frame.to_csv(tmp, index=False), what="CSV table")
        print(f"written: {csv}")


def strict_status(args: argparse.Namespace, fits: list) -> int:
    """0, or 3 with a summary of what failed when --strict is set and diagnostics fail."""
    if not getattr(args, "strict", False):
        return 0
    from ambidex_bayes.strict import strict_problems

    problems = strict_problems(fits)
    if not problems:
        print("strict mode: all diagnostics passed.")
        return 0
    print("strict mode: diagnostics failed:", file=sys.stderr)
    for line in problems:
        print(f"  - {line}", file=sys.stderr)
    return 3
