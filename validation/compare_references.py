"""Print ambidex_bayes's estimates beside lme4's and brms' for each validation data set.

Reads the data and reference fixtures of ``tests/fixtures/validation/`` (made by
``validation/references.R``), fits the same model with ambidex_bayes (default priors, the
Gaussian fast path, nutpie) and prints one Markdown table per data set: our posterior mean
(SD), lme4's REML estimate (SE) and ML estimate, brms' posterior mean (SD), and for fixed
effects the gap between our mean and lme4's REML estimate in lme4 standard errors. No R is
needed.

Run from the repository root::

    .venv/bin/python validation/compare_references.py
    .venv/bin/python validation/compare_references.py --draws 2000 --chains 4 sleepstudy
"""

from __future__ import annotations

import argparse
import math

import pandas as pd
from reference_fits import CASES, comparison_table


def _cell(mean: float, spread: float) -> str:
    if math.isnan(mean):
        return "-"
    return f"{mean:.4g}" if math.isnan(spread) else f"{mean:.4g} ({spread:.3g})"


def markdown(table: pd.DataFrame) -> str:
    """The comparison table as Markdown (estimates with their SE or posterior SD)."""
    lines = [
        "| parameter | ours: mean (SD) | lme4 REML (SE) | lme4 ML | brms: mean (SD) "
        "| gap / lme4 SE |",
        "|---|---|---|---|---|---|",
    ]
    for row in table.itertuples():
        label = {"sd": "sd", "cor": "cor", "residual": "", "fixed": ""}[row.kind]
        name = f"{label}({row.parameter})" if label else row.parameter
        gap = "" if math.isnan(row.gap_in_lme4_se) else f"{row.gap_in_lme4_se:.2f}"
        lines.append(
            f"| {name} | {_cell(row.ours_mean, row.ours_sd)} "
            f"| {_cell(row.lme4_reml, row.lme4_reml_se)} | {row.lme4_ml:.4g} "
            f"| {_cell(row.brms_mean, row.brms_sd)} | {gap} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    from ambidex_bayes.fit import SamplerSettings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", help=f"data sets (default: all of {', '.join(CASES)})")
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    unknown = [name for name in args.cases if name not in CASES]
    if unknown:
        parser.error(f"unknown data set {unknown[0]!r}; known: {', '.join(CASES)}")
    settings = SamplerSettings(draws=args.draws, tune=args.tune, chains=args.chains, seed=args.seed)
    for name in args.cases or list(CASES):
        case = CASES[name]
        reference = case.reference()
        result = case.fit(settings)
        table = comparison_table(case, result, reference)
        versions = ", ".join(f"{k} {v}" for k, v in reference["software"].items())
        print(f"\n## {reference['source']}: {reference['formula']}\n")
        print(
            f"ours: {result.meta['method']}, {args.chains} chains x {args.draws} draws, "
            f"seed {args.seed}; references: {versions}"
        )
        if "brms" in reference:
            b = reference["brms"]["settings"]
            print(
                f"brms: default priors, {b['chains']} chains x {b['iter'] - b['warmup']} draws, "
                f"seed {b['seed']}"
            )
        print()
        print(markdown(table))


if __name__ == "__main__":
    main()
