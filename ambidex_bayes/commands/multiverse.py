"""``ambidex-bayes multiverse DATA [DATA ...]``: one model over a grid of choices.

Fits the model (M3 by default) once per cell of the grid data sets x prior sets x centring
x controls x detrend x standardize, on a local Dask cluster (or ``--scheduler``), and
writes into the result folder the table of cells (``multiverse.csv``), the figure of the
key estimate across them (``multiverse.png``) and a short summary (``multiverse.md``). The
cells' rows are kept in the folder as they arrive, so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ambidex_bayes import constants

__all__ = ["NAME", "HELP", "add_arguments", "run", "OUTPUTS"]

NAME = "multiverse"
HELP = "fit one model over a grid of data sets, prior sets and preparation choices"

#: The files the command writes into its result folder (besides the stored rows).
OUTPUTS = ("multiverse.csv", "multiverse.png", "multiverse.md")

#: ``off``/``on``/``both`` of a yes-or-no dimension, as the grid's values.
SWITCH = {"off": (False,), "on": (True,), "both": (False, True)}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``multiverse``."""
    p.add_argument("data", nargs="+", help="diary files (CSV, Parquet, Excel, SPSS .sav)")
    p.add_argument(
        "--mapping",
        nargs="+",
        required=True,
        help="column-mapping TOML file: one for every data file, or one per data file",
    )
    p.add_argument("--sheet", help="Excel sheet name or number (all data files)")
    g = p.add_argument_group("the grid")
    g.add_argument(
        "--priors",
        nargs="+",
        default=["default"],
        help="prior sets: bundled names (default, weakly_informative, informative, "
        "sceptical) or TOML files (default: default)",
    )
    g.add_argument(
        "--centring",
        nargs="+",
        default=["observed"],
        help="centrings: observed, latent (person means estimated with the model, M1-M3), "
        "auto (latent where the observed means' reliability is below 0.7) (default: observed)",
    )
    for name, what in (
        ("controls", "the mapping's day-level controls in the model"),
        ("detrend", "a linear trend over occasions removed"),
        ("standardize", "outcome and predictors standardised"),
    ):
        g.add_argument(
            f"--{name}",
            choices=list(SWITCH),
            default="off",
            help=f"{what}: off, on, or both (default off)",
        )
    g.add_argument("--spec", default="M3", help="model spec of every cell (default M3)")
    g.add_argument(
        "--units",
        choices=["original", "model"],
        default="original",
        help="units of the key estimates: the raw variables' (default) or the fitted columns'",
    )
    g.add_argument("--prob", type=float, help="credible-interval width (default 0.95)")
    r = p.add_argument_group("running")
    r.add_argument(
        "--out",
        default="multiverse_results",
        help="result folder: new, empty, or one of an earlier run of the same grid (resumed); "
        f"{', '.join(OUTPUTS)} are written into it (default multiverse_results)",
    )
    r.add_argument(
        "--restart", action="store_true", help="delete the stored cells in --out and start afresh"
    )
    r.add_argument(
        "--scheduler",
        help="address of a running Dask scheduler (tcp://HOST:8786), or 'serial' to run in "
        "this process; default: a local cluster with one worker per core",
    )
    r.add_argument("--workers", type=int, help="workers of the local cluster (default: cores)")
    r.add_argument("--backend", choices=["pymc", "nutpie", "numpyro"], help="NUTS backend")
    r.add_argument("--draws", type=int, help=f"draws per chain (default {constants.DRAWS})")
    r.add_argument("--tune", type=int, help=f"tuning steps per chain (default {constants.TUNE})")
    r.add_argument("--chains", type=int, help=f"chains per fit (default {constants.CHAINS})")
    r.add_argument("--seed", type=int, help=f"seed of every fit (default {constants.SEED})")
    r.add_argument(
        "--target-accept",
        type=float,
        help=f"target acceptance rate (default {constants.TARGET_ACCEPT})",
    )
    r.add_argument(
        "--cache-dir", help="keep every cell's fit in this folder of saved fits (default: none)"
    )
    r.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    r.add_argument(
        "--strict",
        action="store_true",
        help="exit with status 3 when a cell failed or did not pass its convergence checks",
    )


def _config(args: argparse.Namespace):
    from ambidex_bayes.errors import AmbidexError
    from ambidex_bayes.multiverse import DataSet, MultiverseConfig

    mappings = list(args.mapping)
    if len(mappings) == 1:
        mappings *= len(args.data)
    if len(mappings) != len(args.data):
        raise AmbidexError(
            f"--mapping: give one mapping for every data file, or one per data file "
            f"({len(args.data)}), not {len(args.mapping)}."
        )
    sheet = int(args.sheet) if args.sheet and args.sheet.isdigit() else args.sheet
    fields = {
        k: v
        for k, v in {
            "backend": args.backend,
            "draws": args.draws,
            "tune": args.tune,
            "chains": args.chains,
            "seed": args.seed,
            "target_accept": args.target_accept,
            "prob": args.prob,
        }.items()
        if v is not None
    }
    return MultiverseConfig(
        datasets=tuple(
            DataSet(path, mapping, sheet=sheet)
            for path, mapping in zip(args.data, mappings, strict=True)
        ),
        priors=tuple(args.priors),
        centring=tuple(args.centring),
        controls=SWITCH[args.controls],
        detrend=SWITCH[args.detrend],
        standardize=SWITCH[args.standardize],
        spec=args.spec,
        units=args.units,
        **fields,
    )


def _inputs(args: argparse.Namespace) -> list[Path]:
    """The existing files the command reads: no output may be one of them."""
    names = [*args.data, *args.mapping, *args.priors, args.spec]
    return [Path(name) for name in names if name and Path(name).exists()]


def run(args: argparse.Namespace) -> int:
    """Run ``multiverse``; returns the exit status."""
    from ambidex_bayes.commands._options import print_table
    from ambidex_bayes.multiverse import (
        compact_table,
        describe_multiverse,
        plot_multiverse,
        run_multiverse,
    )
    from ambidex_bayes.output_paths import OutputFolder

    config = _config(args)  # the grid's choices are checked before anything is read
    out = OutputFolder(args.out, inputs=_inputs(args), what="result folder")
    for name in OUTPUTS:  # an input or a folder of that name is refused before any fit
        out.target(name)
    table = run_multiverse(
        config,
        args.out,
        scheduler=args.scheduler,
        n_workers=args.workers,
        restart=args.restart,
        progressbar=not args.no_progress,
        cache_dir=args.cache_dir or False,
    )
    print_table(compact_table(table))
    out.table("multiverse.csv", table)
    figure = None
    if table["g11_mean"].notna().any():
        figure = out.figure("multiverse.png", plot_multiverse(table), dpi=150).name
    else:
        print("note: no cell estimated the cross-level interaction, so no figure is drawn.")
    out.text("multiverse.md", describe_multiverse(table, figure=figure))
    print("written: " + ", ".join(str(p) for p in out.written))
    failed = table[(table["error"] != "") | ~table["converged"]]
    if args.strict and len(failed):
        print(
            f"strict mode: {len(failed)} of {len(table)} cells failed or did not converge: "
            + ", ".join(failed["cell"]),
            file=sys.stderr,
        )
        return 3
    return 0
