"""``ambidex-bayes ppc FIT``: posterior predictive checks of a saved fit.

Prints the test statistics with their posterior predictive p-values, the share of
predictions outside a declared scale range, how many persons the per-person checks flag,
and the LOO-PIT uniformity test (:func:`~ambidex_bayes.checks.loo_pit.loo_pit_uniformity`,
the test the LOO-PIT figure draws); ``--out`` also writes the tables (CSV) and figures (PNG).
"""

from __future__ import annotations

import argparse

__all__ = ["NAME", "HELP", "add_arguments", "run"]

NAME = "ppc"
HELP = "posterior predictive checks of a saved fit (statistics, persons, LOO-PIT)"


def _names(text: str) -> list[str]:
    names = [v.strip() for v in text.split(",") if v.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated person ids, got {text!r}")
    return names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the ``ppc`` command."""
    parser.add_argument("fit", help="fit file")
    parser.add_argument("--seed", type=int, help="seed of the replicated residuals")
    parser.add_argument("--max-draws", type=int, help="posterior draws used at most (default 1000)")
    parser.add_argument(
        "--persons", type=_names, help="person ids for the grouped check, comma-separated"
    )
    parser.add_argument("--prob", type=float, help="interval width (default 0.95)")
    parser.add_argument("--csv", help="also write the statistics table to this CSV file")
    parser.add_argument("--out", help="folder for CSV tables and PNG figures")


def run(args: argparse.Namespace) -> int:
    """Run the command; returns the exit status."""
    from ambidex_bayes.checks import plots, ppc
    from ambidex_bayes.checks.loo_pit import loo_pit_tree, loo_pit_uniformity
    from ambidex_bayes.commands._options import check_csv_option, input_paths, print_table
    from ambidex_bayes.fit import load_fit
    from ambidex_bayes.output_paths import OutputFolder

    check_csv_option(args.csv, args)  # outputs are checked before any work
    out = OutputFolder(args.out, inputs=input_paths(args)) if args.out else None
    fit = load_fit(args.fit)
    draws = ppc.posterior_predictive(fit, seed=args.seed, max_draws=args.max_draws)
    checks = ppc.statistic_checks(draws, prob=args.prob)
    print(f"{fit.spec.name}: {draws.n_draws} replicated data sets of {draws.outcome}")
    print_table(checks.table.drop(columns=["description"]), args.csv)
    outside = ppc.range_check(draws, prob=args.prob)
    if len(outside):
        print("\nShare of predictions outside the scale range:")
        print_table(outside)
    persons = ppc.person_checks(draws)
    print("\nPersons flagged by the per-person checks:")
    print_table(ppc.flagged_persons(persons))
    pit_tree = loo_pit_tree(fit, draws)
    uniformity = loo_pit_uniformity(pit_tree, prob=args.prob)
    print(
        f"\nLOO-PIT: uniformity test {uniformity.method}, p = {uniformity.p_value:.2g}: "
        + (
            f"not below {uniformity.alpha:.2g}, no sign of miscalibration."
            if uniformity.calibrated
            else f"below {uniformity.alpha:.2g}, miscalibrated; {uniformity.n_marked} diaries "
            "contribute most to the departure."
        )
    )
    chosen = args.persons
    if chosen:
        print("\nGrouped check of the chosen persons:")
        print_table(ppc.person_intervals(draws, chosen, prob=args.prob))
    if out is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        out.table("ppc_statistics.csv", checks.table)
        out.table("ppc_persons.csv", persons)
        fig, ax = plt.subplots(figsize=(6.5, 4), layout="constrained")
        plots.plot_ppc_density(ppc.density_overlay(draws), ax=ax)
        out.figure("ppc_density.png", fig, bbox_inches="tight")
        out.figure("ppc_statistics.png", plots.plot_ppc_statistics(checks), bbox_inches="tight")
        fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
        plots.plot_loo_pit(pit_tree, prob=uniformity.prob, ax=ax)
        out.figure("loo_pit.png", fig, bbox_inches="tight")
        if chosen:
            fig, ax = plt.subplots(figsize=(8, 3.5), layout="constrained")
            plots.plot_person_intervals(ppc.person_intervals(draws, chosen), ax=ax)
            out.figure("ppc_persons.png", fig, bbox_inches="tight")
        for path in out.written:
            print(f"written: {path}")
    return 0
