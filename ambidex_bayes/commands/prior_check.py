"""``ambidex-bayes prior-check SPEC --priors a,b``: prior predictive checks of prior sets.

A thin caller of :func:`ambidex_bayes.priors.prior_predictive_check`: for each prior set it
draws outcomes and simple slopes from the priors (no fitting), prints the share of
predictions outside the outcome's declared range and the implied slopes, and optionally
writes the table (CSV) and the figures (PNG) to a folder.
"""

from __future__ import annotations

import argparse

__all__ = ["NAME", "HELP", "add_arguments", "run"]

NAME = "prior-check"
HELP = "prior predictive checks: which outcomes and slopes do prior sets expect?"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``prior-check``."""
    from ambidex_bayes.commands._options import add_data_options

    p.add_argument("spec", help="spec file or bundled spec name (e.g. M3)")
    add_data_options(p, required=False)
    p.add_argument("--example", action="store_true", help="use the bundled synthetic example data")
    p.add_argument(
        "--priors",
        default="default,weakly_informative,sceptical,informative",
        help="comma-separated prior sets (bundled names or TOML files)",
    )
    p.add_argument("--draws", type=int, default=500, help="prior draws (default 500)")
    p.add_argument("--seed", type=int, help="random seed")
    p.add_argument("--out", help="folder for the table (CSV) and figures (PNG)")


def run(args: argparse.Namespace) -> int:
    """Run ``prior-check``."""
    from ambidex_bayes.commands._options import input_paths, prepared_inputs, print_table
    from ambidex_bayes.output_paths import OutputFolder
    from ambidex_bayes.priors import prior_predictive_check, prior_predictive_table
    from ambidex_bayes.spec import load_spec

    out = OutputFolder(args.out, inputs=input_paths(args)) if args.out else None

    spec = load_spec(args.spec)
    prepared = prepared_inputs(args, show_warnings=False)
    names = [n.strip() for n in args.priors.split(",") if n.strip()]
    checks = [
        prior_predictive_check(spec, prepared, name, draws=args.draws, seed=args.seed, warn=False)
        for name in names
    ]
    table = prior_predictive_table(checks)
    print_table(table)
    if out is not None:
        out.table("prior_predictive.csv", table)
    for check in checks:
        for line in check.warnings:
            print(f"WARNING: {line}")
        for line in check.notes:
            print(f"note: {line}")
    if out is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from ambidex_bayes.priors import plot_prior_predictive, plot_prior_slopes

        fig, ax = plt.subplots(figsize=(7, 5), layout="constrained")
        plot_prior_predictive(checks, ax=ax)
        out.figure("prior_predictive.png", fig)
        for check in checks:
            if check.slopes is None:
                continue
            fig, ax = plt.subplots(figsize=(7, 5), layout="constrained")
            plot_prior_slopes(check, ax=ax)
            out.figure(f"prior_slopes_{check.prior_set}.png", fig)
        print(f"written: table and figures in {out.path}")
    return 0
