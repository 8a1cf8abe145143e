"""``ambidex-bayes compare FIT FIT ...``: compare saved fits of one data set.

Prints PSIS-LOO per model with its Pareto k diagnostics and the remedy used, the ELPD
differences with standard errors and stacking weights, Bayesian R² (marginal and
conditional) and, where a model with and one without the cross-level interaction are
given, the share of slope variance the moderator explains. ``--kfold K`` adds
leave-persons-out cross-validation (K refits per model).
"""

from __future__ import annotations

import argparse

__all__ = ["NAME", "HELP", "add_arguments", "run"]

NAME = "compare"
HELP = "compare saved fits: PSIS-LOO with Pareto k, leave-persons-out K-fold, stacking, R²"

#: The remedies of :func:`ambidex_bayes.checks.comparison.psis_loo` (kept here so that building
#: the parser does not import the statistics modules).
_REMEDIES = ("auto", "integrated", "refit", "none")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the ``compare`` command."""
    parser.add_argument("fits", nargs="+", help="fit files of one data set (at least two)")
    parser.add_argument(
        "--remedy",
        choices=_REMEDIES,
        default="auto",
        help="what to do about high Pareto k (default auto: integrated, then exact refits)",
    )
    parser.add_argument(
        "--max-refits", type=int, help="most exact refits for rows with high Pareto k (default 10)"
    )
    parser.add_argument(
        "--kfold", type=int, metavar="K", help="also run leave-persons-out K-fold with K folds"
    )
    parser.add_argument("--jobs", type=int, default=1, help="folds fitted at the same time")
    g = parser.add_argument_group("sampling of refits (default: each fit's own settings)")
    g.add_argument("--backend", choices=["pymc", "nutpie", "numpyro"])
    g.add_argument("--draws", type=int)
    g.add_argument("--tune", type=int)
    g.add_argument("--chains", type=int)
    g.add_argument("--cache-dir", help="folder of saved refits (default .ambidex_cache)")
    parser.add_argument("--seed", type=int, help="seed of the fold assignment")
    parser.add_argument("--out", help="folder for CSV tables")


def run(args: argparse.Namespace) -> int:
    """Run the command; returns the exit status."""
    from ambidex_bayes.checks import comparison, r2
    from ambidex_bayes.commands._options import input_paths, print_table
    from ambidex_bayes.engine.limits import check_seed
    from ambidex_bayes.errors import AmbidexError
    from ambidex_bayes.fit import SamplerSettings, load_fit
    from ambidex_bayes.output_paths import OutputFolder

    out = OutputFolder(args.out, inputs=input_paths(args)) if args.out else None

    # checked before the fits are read
    settings = SamplerSettings(
        backend=args.backend, draws=args.draws, tune=args.tune, chains=args.chains
    )
    if args.seed is not None:
        check_seed(args.seed)
    fits = {}
    for path in args.fits:
        fit = load_fit(path)
        if fit.spec.name in fits:
            raise AmbidexError(
                f"{path}: two fits are named {fit.spec.name!r}; compare differently named specs."
            )
        fits[fit.spec.name] = fit
    result = comparison.compare_fits(
        fits,
        remedy=args.remedy,
        max_refits=args.max_refits,
        kfold=args.kfold is not None,
        k=args.kfold,
        n_jobs=args.jobs,
        settings=settings,
        cache_dir=args.cache_dir,
        seed=args.seed,
    )
    print("PSIS-LOO (a new day of a known person):")
    print_table(result.loo_table)
    for note in result.notes:
        print(f"note: {note}")
    print("\nComparison (PSIS-LOO):")
    print_table(result.loo_compare)
    if result.kfold_compare is not None:
        print("\nComparison (leave-persons-out K-fold: a new person):")
        print_table(result.kfold_compare)
    r2_table = r2.r2_table(fits)
    print("\nBayesian R²:")
    print_table(r2_table)
    pair = r2.slope_models(fits)
    share = None
    if pair is not None:
        share = r2.slope_variance_explained(fits[pair[0]], fits[pair[1]])
        print("\nShare of person-slope variance explained by the moderator:")
        print_table(share)
    if out is not None:
        tables = {
            "loo.csv": result.loo_table,
            "loo_compare.csv": result.loo_compare,
            "r2.csv": r2_table,
            "kfold_compare.csv": result.kfold_compare,
            "slope_variance_explained.csv": share,
        }
        for name, table in tables.items():
            if table is not None:
                print(f"written: {out.table(name, table)}")
    return 0
