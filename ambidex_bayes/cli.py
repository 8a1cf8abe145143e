"""Command-line interface ``ambidex-bayes``: a thin layer over the library.

Commands: ``simulate``, ``fit``, ``summary``, ``slopes``, ``report``, ``run``. Errors the user
can fix (data, specs, files) are printed as one clear message with exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from ambidex_bayes.errors import AmbidexError

__all__ = ["main", "build_parser"]


def _floats(text: str) -> list[float]:
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
        help="NUTS implementation (default nutpie when installed, else pymc)",
    )
    g.add_argument("--draws", type=int, help="draws per chain after tuning (default 1000)")
    g.add_argument("--tune", type=int, help="tuning steps per chain (default 1000)")
    g.add_argument("--chains", type=int, help="number of chains (default 4)")
    g.add_argument("--seed", type=int, help="random seed")
    g.add_argument("--target-accept", type=float, help="target acceptance rate (default 0.9)")
    g.add_argument(
        "--cores", type=int, help="chains run at the same time (default: one per CPU core)"
    )
    g.add_argument("--cache-dir", help="folder of saved fits (default .ambidex_cache)")
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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``ambidex-bayes``."""
    parser = argparse.ArgumentParser(
        prog="ambidex-bayes",
        description="Bayesian multilevel analysis of daily-diary studies: within-person slopes "
        "and their cross-level moderation.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("simulate", help="simulate a diary data set from the model family")
    p.add_argument(
        "--out",
        required=True,
        help="CSV file to write (a mapping TOML and truth JSON go beside it)",
    )
    p.add_argument("--persons", type=int, default=97)
    p.add_argument("--diaries-mean", type=float, help="mean number of diaries per person")
    p.add_argument("--g10", type=float, help="within-person slope at the average moderator")
    p.add_argument("--g11", type=float, help="cross-level interaction")
    p.add_argument("--seed", type=int, default=1)

    p = sub.add_parser("fit", help="fit one model spec and save the fit")
    add_data_options(p, required=False)
    p.add_argument("--example", action="store_true", help="use the bundled synthetic example data")
    p.add_argument("--spec", required=True, help="spec file or bundled spec name (e.g. M3)")
    p.add_argument(
        "--priors",
        help="prior set applied on top of the spec: a bundled set's name (default, "
        "weakly_informative, sceptical, informative) or a prior-set TOML file",
    )
    p.add_argument(
        "--out",
        help="fit file to write, .nc (default: in the cache folder); an existing file is "
        "replaced only if it is a .nc file and not an input",
    )
    p.add_argument(
        "--no-log-likelihood",
        action="store_true",
        help="do not store the pointwise log-likelihood (smaller fit; LOO needs it)",
    )
    add_sampler_options(p)

    p = sub.add_parser("summary", help="posterior summary of a saved fit")
    p.add_argument("fit", help="fit file")
    p.add_argument("--csv", help="also write the table to this CSV file")

    p = sub.add_parser("slopes", help="simple slopes of the level-1 predictor at moderator values")
    p.add_argument("fit", help="fit file")
    p.add_argument(
        "--at", type=_floats, help="raw moderator values, comma-separated (default mean ± 1 SD)"
    )
    p.add_argument(
        "--which", choices=["population", "new_person", "observed_average"], default="population"
    )
    p.add_argument("--csv", help="also write the table to this CSV file")

    p = sub.add_parser("report", help="write a report folder from saved fits of one data set")
    p.add_argument("fits", nargs="+", help="fit files (e.g. the ladder)")
    p.add_argument(
        "--out",
        required=True,
        help="report folder: new, empty, or an earlier report (replaced as a whole); a folder "
        "with other files is refused",
    )

    p = sub.add_parser("run", help="the main job: ladder, summaries, slopes, figure, report")
    add_data_options(p, required=False)
    p.add_argument("--example", action="store_true", help="use the bundled synthetic example data")
    p.add_argument("--models", help="folder of ladder spec files (default: the bundled ladder)")
    p.add_argument("--at", type=_floats, help="raw moderator values for simple slopes")
    p.add_argument(
        "--out",
        default="report",
        help="report folder (default ./report): new, empty, or an earlier report (replaced as "
        "a whole); a folder with other files is refused",
    )
    add_sampler_options(p)

    for module in _command_modules():
        p = sub.add_parser(module.NAME, help=module.HELP)
        module.add_arguments(p)
    return parser


def _command_modules() -> list:
    import importlib

    from ambidex_bayes.commands import COMMAND_MODULES

    return [importlib.import_module(f"ambidex_bayes.commands.{m}") for m in COMMAND_MODULES]


def sampler_settings(args: argparse.Namespace):
    from ambidex_bayes.fit import SamplerSettings

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
    from ambidex_bayes.pipeline import example_inputs, load_mapping

    if args.example:
        if args.data:
            raise AmbidexError("Give either a data file or --example, not both.")
        return example_inputs()
    if not args.data:
        raise AmbidexError("Give a data file and --mapping, or --example for the bundled data.")
    if not args.mapping:
        raise AmbidexError(
            f"{args.data}: give --mapping MAPPING.toml saying which column plays which role."
        )
    return Path(args.data), load_mapping(args.mapping)


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


def _cmd_simulate(args: argparse.Namespace) -> int:
    from ambidex_bayes.simulate import reference_design, simulate_diary

    overrides = {"n_persons": args.persons}
    if args.diaries_mean is not None:
        overrides["diaries_mean"] = args.diaries_mean
    for key in ("g10", "g11"):
        if getattr(args, key) is not None:
            overrides[key] = getattr(args, key)
    from ambidex_bayes.output_paths import check_output_file, write_file

    out = Path(args.out)
    # the data file and the two files beside it are this command's named output
    check_output_file(out, kind="CSV data file", suffixes=(".csv",))
    check_output_file(out.with_suffix(".mapping.toml"), kind="mapping file", suffixes=(".toml",))
    check_output_file(out.with_suffix(".truth.json"), kind="truth file", suffixes=(".json",))
    study = simulate_diary(reference_design(**overrides), seed=args.seed)
    write_file(out, lambda tmp: study.data.to_csv(tmp, index=False), what="simulated data")
    from ambidex_bayes.data import ColumnMapping

    mapping = ColumnMapping.from_dict(study.mapping)
    _write_mapping_toml(mapping, out.with_suffix(".mapping.toml"))
    truth = json.dumps(study.truth, indent=2)
    write_file(out.with_suffix(".truth.json"), lambda tmp: tmp.write_text(truth), what="truth")
    print(
        f"written: {out} ({len(study.data)} rows), {out.with_suffix('.mapping.toml')}, {out.with_suffix('.truth.json')}"
    )
    return 0


def _write_mapping_toml(mapping, path: Path) -> None:
    d = mapping.to_dict()
    lines = []
    for key in ("person", "occasion", "outcome"):
        if d.get(key):
            lines.append(f'{key} = "{d[key]}"')
    for key in ("level1", "level2", "controls"):
        lines.append(f"{key} = [{', '.join(json.dumps(v) for v in d.get(key, []))}]")
    if d.get("ranges"):
        lines.append("[ranges]")
        lines += [f"{json.dumps(k)} = [{v[0]}, {v[1]}]" for k, v in d["ranges"].items()]
    from ambidex_bayes.output_paths import write_file

    text = "\n".join(lines) + "\n"
    write_file(path, lambda tmp: tmp.write_text(text), what="column mapping")


def _cmd_fit(args: argparse.Namespace) -> int:
    from ambidex_bayes.fit import fit
    from ambidex_bayes.results import posterior_summary
    from ambidex_bayes.spec import load_spec

    settings = sampler_settings(args)  # checked before the data are read
    spec = load_spec(args.spec)
    prior_set = None
    if args.priors:  # a bundled set by name or a file, read and checked before the data
        from ambidex_bayes.priors.sets import read_prior_set

        prior_set = read_prior_set(args.priors)
    if args.out:  # before any sampling
        from ambidex_bayes.output_paths import check_output_file

        check_output_file(args.out, kind="fit file", suffixes=(".nc",), inputs=input_paths(args))
    prepared = prepared_inputs(args)
    if prior_set is not None:  # [relative] entries need the prepared data's declared ranges
        from ambidex_bayes.priors.sets import load_prior_set

        priors = load_prior_set(prior_set, prepared=prepared)
        spec = spec.with_priors(priors, label=Path(args.priors).stem)
    result = fit(
        spec,
        prepared,
        settings=settings,
        cache_dir=args.cache_dir,
        refit=args.refit,
        progressbar=not args.no_progress,
        log_likelihood=not args.no_log_likelihood,
    )
    failed = None
    if args.out:
        try:
            result.save(args.out)
        except OSError as err:  # checked before sampling, so: disk full, lost mount, ...
            failed = f"{args.out}: the fit could not be written ({err.strerror or err})."
    if result.path is None:
        _save_elsewhere(result)
    print(f"fit saved: {result.path}" if result.path else "fit not saved (see the warnings)")
    if failed:
        kept = f"The fit is saved at {result.path} instead." if result.path else ""
        print(f"error: {failed} {kept}".rstrip(), file=sys.stderr)
    print_table(posterior_summary(result.idata, result.terms))
    return 2 if failed else _strict_status(args, [result])


def _save_elsewhere(result) -> None:
    """Save a fit that neither the cache nor ``--out`` took in the temporary folder."""
    import tempfile

    folder = Path(tempfile.gettempdir())
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in result.spec.name)
    path = folder / f"ambidex-fit-{name}-{str(result.meta.get('fit_key', ''))[:16]}.nc"
    try:
        result.save(path)
    except OSError as err:
        print(
            f"WARNING: the fit could not be saved in {folder} either ({err.strerror or err}); "
            "it is lost when this command ends.",
            file=sys.stderr,
        )
    else:
        print(
            f"WARNING: the fit was saved in the temporary folder instead: {path}. Move it "
            "somewhere safe; the system may delete it."
        )


def _strict_status(args: argparse.Namespace, fits: list) -> int:
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


def _cmd_summary(args: argparse.Namespace) -> int:
    from ambidex_bayes.fit import load_fit
    from ambidex_bayes.results import posterior_summary

    check_csv_option(args.csv, args)
    result = load_fit(args.fit)
    print(f"{result.spec.name}: {result.formula}")
    print_table(posterior_summary(result.idata, result.terms), args.csv)
    print(result.convergence)
    return 0


def _cmd_slopes(args: argparse.Namespace) -> int:
    from ambidex_bayes.fit import load_fit
    from ambidex_bayes.results import simple_slopes

    check_csv_option(args.csv, args)
    result = load_fit(args.fit)
    slopes = simple_slopes(
        result.idata, result.terms, result.prepared, at=args.at, which=args.which, warn=False
    )
    print(slopes.description)
    print_table(slopes.table, args.csv)
    for line in slopes.warnings:
        print(f"WARNING: {line}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from ambidex_bayes.fit import load_fit
    from ambidex_bayes.output_paths import check_report_folder
    from ambidex_bayes.pipeline import analysis_from_fits
    from ambidex_bayes.report import write_report

    inputs = input_paths(args)
    check_report_folder(args.out, inputs=inputs)  # before the fits are read
    fits = [load_fit(p) for p in args.fits]
    path = write_report(analysis_from_fits(fits), args.out, inputs=inputs)
    print(f"report written: {path}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from ambidex_bayes import constants
    from ambidex_bayes.errors import OutputError
    from ambidex_bayes.output_paths import check_report_folder
    from ambidex_bayes.pipeline import run_analysis
    from ambidex_bayes.report import write_report
    from ambidex_bayes.spec import ladder_specs

    settings = sampler_settings(args)  # checked before the data are read
    source, mapping = data_inputs(args)
    # the report folder replaces what is there: never an input or the fit cache
    inputs = [*input_paths(args), source, Path(args.cache_dir or constants.CACHE_DIR)]
    check_report_folder(args.out, inputs=inputs)  # before any sampling
    specs = ladder_specs(args.models) if args.models else None
    analysis = run_analysis(
        source,
        mapping,
        specs=specs,
        settings=settings,
        detrend=args.detrend,
        standardize=args.standardize,
        moderator_values=args.at,
        cache_dir=args.cache_dir,
        progressbar=not args.no_progress,
        sheet=args.sheet,
    )
    if analysis.slopes is not None:
        print()
        print(analysis.slopes.description)
        print_table(analysis.slopes.table)
    try:
        path = write_report(analysis, args.out, inputs=inputs)
    except OutputError as err:
        saved = [str(f.path) for f in analysis.fits.values() if f.path is not None]
        kept = (
            f" The fits are saved ({', '.join(saved)}); write the report from them with "
            "`ambidex-bayes report FIT ... --out NEW_FOLDER`."
            if saved
            else ""
        )
        raise OutputError(f"{err}{kept}") from None
    print(f"\nreport written: {path}")
    return _strict_status(args, list(analysis.fits.values()))


_COMMANDS = {
    "simulate": _cmd_simulate,
    "fit": _cmd_fit,
    "summary": _cmd_summary,
    "slopes": _cmd_slopes,
    "report": _cmd_report,
    "run": _cmd_run,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``ambidex-bayes``; returns the exit status."""
    args = build_parser().parse_args(argv)
    commands = dict(_COMMANDS)
    commands.update({m.NAME: m.run for m in _command_modules()})
    try:
        return commands[args.command](args)
    except AmbidexError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: saved fits and reports from earlier steps are intact.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
