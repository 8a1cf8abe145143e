"""Command-line interface ``ambidex-bayes``: a thin layer over the library.

Commands: ``simulate``, ``fit``, ``summary``, ``slopes``, ``report``, ``run``. Errors the user
can fix (data, specs, files) are printed as one clear message with exit status 2.
"""

from __future__ import annotations

import argparse
import atexit
import gc
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from ambidex_bayes.commands import (
    compare,
    compare_priors,
    moderation,
    multiverse,
    power,
    ppc,
    prior_check,
    sbc,
)
from ambidex_bayes.commands._options import (
    add_data_options,
    add_pair_options,
    add_sampler_options,
    check_csv_option,
    data_inputs,
    floats,
    input_paths,
    prepared_inputs,
    print_table,
    sampler_settings,
    strict_status,
)
from ambidex_bayes.errors import AmbidexError

__all__ = ["main", "build_parser"]

#: The commands defined in modules of :mod:`ambidex_bayes.commands`, in the order ``--help``
#: lists them (after this module's own). Each module defines ``NAME``, ``HELP``,
#: ``add_arguments(parser)`` and ``run(args) -> int``.
COMMAND_MODULES = (moderation, ppc, compare, compare_priors, prior_check, power, sbc, multiverse)


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
    stored = p.add_mutually_exclusive_group()
    stored.add_argument(
        "--log-likelihood",
        dest="log_likelihood",
        action="store_true",
        help="also store the pointwise log-likelihood in the fit file, for ArviZ's own "
        "functions (draws x rows numbers; this toolkit's LOO, LOO-PIT and comparison compute "
        "it from the posterior by blocks of rows and do not need it)",
    )
    stored.add_argument(
        "--no-log-likelihood",
        dest="log_likelihood",
        action="store_false",
        help="do not store the pointwise log-likelihood (the default)",
    )
    p.set_defaults(log_likelihood=False)
    p.add_argument(
        "--centring",
        choices=["observed", "latent", "auto"],
        help="person-mean centring of the level-1 predictor (default: the spec's; auto for the "
        "bundled M1-M3, observed for M0 and spec files without a centring key): latent "
        "estimates the person means with the model (M1-M3); auto takes latent where the "
        "observed person means' reliability is below 0.7 and latent centring can fit the "
        "model",
    )
    add_sampler_options(p)

    p = sub.add_parser("summary", help="posterior summary of a saved fit")
    p.add_argument("fit", help="fit file")
    p.add_argument("--csv", help="also write the table to this CSV file")

    p = sub.add_parser("slopes", help="simple slopes of the level-1 predictor at moderator values")
    p.add_argument("fit", help="fit file")
    p.add_argument(
        "--at", type=floats, help="raw moderator values, comma-separated (default mean ± 1 SD)"
    )
    p.add_argument(
        "--which", choices=["population", "new_person", "observed_average"], default="population"
    )
    p.add_argument("--csv", help="also write the table to this CSV file")
    add_pair_options(p)

    p = sub.add_parser("report", help="write a report folder from saved fits of one data set")
    p.add_argument("fits", nargs="+", help="fit files (e.g. the ladder)")
    p.add_argument(
        "--out",
        required=True,
        help="report folder: new, empty, or an earlier report (replaced as a whole); a folder "
        "with other files is refused",
    )
    add_pair_options(p)

    p = sub.add_parser("run", help="the main job: ladder, summaries, slopes, figure, report")
    add_data_options(p, required=False)
    p.add_argument("--example", action="store_true", help="use the bundled synthetic example data")
    p.add_argument("--models", help="folder of ladder spec files (default: the bundled ladder)")
    p.add_argument("--at", type=floats, help="raw moderator values for simple slopes")
    p.add_argument(
        "--centring",
        choices=["observed", "latent", "auto"],
        help="person-mean centring of the level-1 predictor in M1-M3 (default: each spec's; "
        "auto for the bundled ladder, observed for spec files without a centring key): "
        "latent estimates the person means with the model; auto takes latent where the "
        "observed person means' reliability is below 0.7 and latent centring can fit the "
        "model; M0 has no predictor and is fitted as it is",
    )
    p.add_argument(
        "--out",
        default="report",
        help="report folder (default ./report): new, empty, or an earlier report (replaced as "
        "a whole); a folder with other files is refused",
    )
    add_pair_options(p)
    add_sampler_options(p)

    for module in COMMAND_MODULES:
        p = sub.add_parser(module.NAME, help=module.HELP)
        module.add_arguments(p)
    return parser


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
        log_likelihood=args.log_likelihood,
        centring=args.centring,
    )
    failed = None
    if args.out:
        try:  # a copy of the file the cache folder took: the draws are not encoded again
            result.save_copy(args.out)
        except OSError as err:  # checked before sampling, so: disk full, lost mount, ...
            failed = f"{args.out}: the fit could not be written ({err.strerror or err})."
    if result.path is None:
        _save_elsewhere(result)
    print(f"fit saved: {result.path}" if result.path else "fit not saved (see the warnings)")
    if failed:
        kept = f"The fit is saved at {result.path} instead." if result.path else ""
        print(f"error: {failed} {kept}".rstrip(), file=sys.stderr)
    from ambidex_bayes.centring_record import centring_line

    print(centring_line(result.meta))
    print_table(posterior_summary(result))
    return 2 if failed else strict_status(args, [result])


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


def _cmd_summary(args: argparse.Namespace) -> int:
    from ambidex_bayes.engine.result import load_fit
    from ambidex_bayes.results.summary import posterior_summary

    check_csv_option(args.csv, args)
    # the table needs neither the log-likelihood nor the person effects' draws
    result = load_fit(args.fit, log_likelihood=False, person_effects=False)
    from ambidex_bayes.centring_record import centring_line

    print(f"{result.spec.name}: {result.formula}")
    # fits saved before their meta recorded the reliability: the fit's prepared data hold it
    level1 = result.prepared.mapping.level1
    saved = result.prepared.person_mean_reliability.get(level1[0]) if level1 else None
    print(centring_line(result.meta, reliability=saved if result.terms.between else None))
    print_table(posterior_summary(result), args.csv)
    print(result.convergence)
    return 0


def _cmd_slopes(args: argparse.Namespace) -> int:
    from ambidex_bayes.fit import load_fit
    from ambidex_bayes.results import simple_slopes

    check_csv_option(args.csv, args)
    result = load_fit(args.fit)
    slopes = simple_slopes(
        result,
        at=args.at,
        which=args.which,
        warn=False,
        focal=args.focal,
        moderator=args.moderator,
    )
    print(slopes.description)
    print_table(slopes.table, args.csv)
    if slopes.table.attrs.get("moderator_kind") == "factor":
        from ambidex_bayes.moderation import slope_differences

        print()
        print("Contrasts between levels (differences of their slopes):")
        print_table(slope_differences(slopes))
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
    analysis = analysis_from_fits(fits)
    if args.focal or args.moderator:
        from ambidex_bayes.moderation import focus_pair

        analysis = focus_pair(analysis, focal=args.focal, moderator=args.moderator)
    path = write_report(analysis, args.out, inputs=inputs)
    print(f"report written: {path}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from ambidex_bayes import constants
    from ambidex_bayes.errors import OutputError
    from ambidex_bayes.ladder import ladder_specs
    from ambidex_bayes.output_paths import check_report_folder
    from ambidex_bayes.pipeline import run_analysis
    from ambidex_bayes.report import write_report

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
        centring=args.centring,
    )
    from ambidex_bayes.centring_record import centring_line

    print()
    for name, result in analysis.fits.items():  # each model's centring, and why
        print(f"{name}: {centring_line(result.meta)}")
    if args.focal or args.moderator:
        from ambidex_bayes.moderation import focus_pair

        analysis = focus_pair(analysis, focal=args.focal, moderator=args.moderator, at=args.at)
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
    return strict_status(args, list(analysis.fits.values()))


_COMMANDS = {
    "simulate": _cmd_simulate,
    "fit": _cmd_fit,
    "summary": _cmd_summary,
    "slopes": _cmd_slopes,
    "report": _cmd_report,
    "run": _cmd_run,
}


def _skip_collection_at_exit() -> None:
    """Let the interpreter's exit leave the command's objects to the operating system.

    While Python clears its modules at exit it collects cyclic garbage several times, each
    time walking every object still tracked; after a fit (PyTensor graphs, numba's types,
    the draws: some 400,000 objects) that was about a CPU-second, a quarter of the fit
    command's own work. An exit handler freezes the objects (:func:`gc.freeze`), so those
    collections skip them; objects alive at exit are left to the operating system, as
    Python may always do. The other exit handlers (closing logs, removing temporary
    folders) run as before: they do not depend on the collector.
    """
    atexit.unregister(gc.freeze)  # registered once, however often main runs
    atexit.register(gc.freeze)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``ambidex-bayes``; returns the exit status."""
    _skip_collection_at_exit()
    args = build_parser().parse_args(argv)
    commands = dict(_COMMANDS)
    commands.update({m.NAME: m.run for m in COMMAND_MODULES})
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
