"""``ambidex-bayes compare-priors SPEC --priors a,b,c``: one model under several prior sets.

A thin caller of :func:`ambidex_bayes.priors.compare_priors`: it reads the data and the
spec, fits the model under each prior set (compiled once), prints the side-by-side tables and
optionally writes them (CSV) and the figures (PNG) to a folder.
"""

from __future__ import annotations

import argparse

__all__ = ["NAME", "HELP", "add_arguments", "run"]

NAME = "compare-priors"
HELP = "fit one model under several prior sets and compare the results side by side"


def _widths(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated prior SDs, got {text!r}"
        ) from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``compare-priors``."""
    from ambidex_bayes.commands._options import add_data_options, add_sampler_options

    p.add_argument("spec", help="spec file or bundled spec name (e.g. M3)")
    add_data_options(p, required=False)
    p.add_argument("--example", action="store_true", help="use the bundled synthetic example data")
    p.add_argument(
        "--priors",
        required=True,
        help="comma-separated prior sets: bundled names (default, weakly_informative, "
        "sceptical, informative) or TOML files",
    )
    p.add_argument("--out", help="folder for the tables (CSV) and figures (PNG)")
    p.add_argument(
        "--bf-widths",
        type=_widths,
        help="prior SDs of the interaction at which to show its Bayes factor (comma-separated)",
    )
    p.add_argument(
        "--no-reuse",
        action="store_true",
        help="compile a fresh model for every prior set (for timing comparisons)",
    )
    add_sampler_options(p)


def run(args: argparse.Namespace) -> int:
    """Run ``compare-priors``."""
    from ambidex_bayes.commands._options import (
        input_paths,
        prepared_inputs,
        print_table,
        sampler_settings,
        strict_status,
    )
    from ambidex_bayes.output_paths import OutputFolder
    from ambidex_bayes.priors import compare_priors
    from ambidex_bayes.spec import load_spec

    out = OutputFolder(args.out, inputs=input_paths(args)) if args.out else None

    settings = sampler_settings(args)  # checked before the data are read
    spec = load_spec(args.spec)
    prepared = prepared_inputs(args)
    names = [n.strip() for n in args.priors.split(",") if n.strip()]
    comparison = compare_priors(
        spec,
        prepared,
        names,
        settings=settings,
        cache_dir=args.cache_dir,
        refit=args.refit,
        reuse=not args.no_reuse,
        progressbar=not args.no_progress,
        bf_widths=args.bf_widths,
    )

    def section(title: str, frame, name: str) -> None:
        print(f"\n== {title}")
        print_table(frame)
        if out is not None:
            print(f"written: {out.table(f'{name}.csv', frame)}")

    section(
        "Posterior mean [interval] under each prior set", comparison.side_by_side(), "estimates"
    )
    section("Cross-level interaction", comparison.interaction(), "interaction")
    if len(comparison.slopes):
        cols = [
            "prior_set",
            "moderator_label",
            "moderator",
            "mean",
            "ci_lower",
            "ci_upper",
            "p_positive",
        ]
        section(
            "Simple slopes (population level, original units)",
            comparison.slopes[cols],
            "simple_slopes",
        )
    section(
        "Prior-to-posterior contraction",
        comparison.wide("contraction", "contraction"),
        "contraction",
    )
    section("Power-scaling verdicts", comparison.wide("sensitivity", "verdict"), "sensitivity")
    bf = comparison.bayes_factors
    section(
        "Savage-Dickey Bayes factor of the interaction",
        bf[["prior_set", "prior", "bf10", "bf01"]],
        "bayes_factors",
    )
    for row in bf.itertuples(index=False):
        if row.note:
            print(f"  {row.prior_set}: {row.note}")
    if out is not None:
        out.table("bayes_factors.csv", bf)
    for name, curve in comparison.bf_curves.items():
        section(f"BF10 against the prior SD ({name})", curve, f"bf_width_{name}")
    section("Timings (seconds)", comparison.timings, "timings")
    attrs = comparison.timings.attrs
    print(
        f"compare_priors wall {attrs['wall_s']:.1f} s: per-set rows "
        f"{comparison.timings['total_s'].sum():.1f} s (compile "
        f"{comparison.timings['compile_s'].sum():.1f} s, sampling "
        f"{comparison.timings['sample_s'].sum():.1f} s), other {attrs['other_s']:.1f} s "
        f"(base model, saving fits), summaries {attrs['summaries_s']:.1f} s"
    )
    for note in comparison.notes:
        print(f"note: {note}")
    if out is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from ambidex_bayes.priors import (
            plot_bf_sensitivity,
            plot_prior_forest,
            plot_prior_sensitivity,
        )

        figures = {
            "forest": lambda ax: plot_prior_forest(comparison, ax=ax),
            "sensitivity": lambda ax: plot_prior_sensitivity(comparison.sensitivity, ax=ax),
        }
        if comparison.bf_curves:
            figures["bf_sensitivity"] = lambda ax: plot_bf_sensitivity(comparison.bf_curves, ax=ax)
        for name, draw in figures.items():
            fig, ax = plt.subplots(figsize=(7, 5), layout="constrained")
            draw(ax)
            out.figure(f"{name}.png", fig)
        print(f"\nwritten: tables and figures in {out.path}")
    return strict_status(args, list(comparison.fits.values()))
