"""Wall time and peak memory of the main job (``run``) against one M3 fit of the same data.

Simulates a panel of PERSONS x DIARIES rows from the reference design, then, each in a fresh
subprocess with an empty fit cache,

(a) the main job as the ``run`` command does it: :func:`ambidex_bayes.pipeline.run_analysis`
    (the model ladder M0 -> M3, posterior summaries, ICC, simple slopes) followed by
    :func:`ambidex_bayes.report.write_report` (moderation, predictive checks, LOO, R²);
(b) one fit of M3 on the same prepared data (storing the pointwise log-likelihood or not,
    as the job fits it: :data:`ambidex_bayes.pipeline.STORE_LOG_LIKELIHOOD`),

and prints the wall time and peak resident memory of each (``resource.getrusage(
RUSAGE_CHILDREN).ru_maxrss`` read after each subprocess ends) and the ratio (a)/(b) of wall
times. The data are simulated inside each subprocess (not timed) with the same seed. First
it prints the job's memory estimate by part (:func:`ambidex_bayes.memory.analysis_bytes`,
the estimate the job checks before sampling); after the job, its table of stage times (the
report's sections broken down into their parts).

Run from the repository root::

    .venv/bin/python benchmarks/bench_run.py                           # 2000 x 8
    .venv/bin/python benchmarks/bench_run.py --persons 20000 --diaries 10
    .venv/bin/python benchmarks/bench_run.py --no-report               # run_analysis only
    .venv/bin/python benchmarks/bench_run.py --draws 250 --chains 4    # fewer draws kept
    .venv/bin/python benchmarks/bench_run.py --persons 100000 --diaries 10 --job-only

Both arms run on this machine in the same invocation; compare only ratios from one run.

With ``--person-slopes`` it measures instead the report's person-slopes step alone
(:func:`ambidex_bayes.moderation.person_slopes` on the original and the standardised scale,
both results kept, as :func:`ambidex_bayes.moderation.report_section.moderation_results`
keeps them) on a fake M3 fit of the simulated panel: known normal draws of the slope, the
interaction and the person slope effects (``--chains`` x ``--draws``, default 4 x 1000), no
sampling. It prints the step's peak of traced allocations above what was held before
(``tracemalloc``), the peak resident memory during the step (``VmHWM`` after resetting it)
and the step's wall time. With ``--on-disk`` the fake posterior is first written to a fit
file and the person slope effects are read from it on use, as the job's saved fits read
them (:meth:`ambidex_bayes.engine.result.FitResult.hold_person_effects_on_disk`)::

    .venv/bin/python benchmarks/bench_run.py --persons 20000 --diaries 10 --person-slopes
    .venv/bin/python benchmarks/bench_run.py --persons 20000 --diaries 10 --person-slopes --on-disk
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _study(persons: int, diaries: int, seed: int):
    """The simulated diary table and its column mapping."""
    from ambidex_bayes.data import ColumnMapping
    from ambidex_bayes.simulate import reference_design, simulate_diary

    design = reference_design(
        n_persons=persons, diaries_dist="fixed", diaries_mean=diaries, likert=None, missing_rate=0.0
    )
    study = simulate_diary(design, seed=seed)
    return study.data, ColumnMapping.from_dict(study.mapping)


def _settings(args: argparse.Namespace):
    """Sampler settings of both arms: the defaults, or the draws and chains asked for."""
    from ambidex_bayes.fit import SamplerSettings

    if args.draws is None and args.chains is None:
        return None
    return SamplerSettings(draws=args.draws, chains=args.chains)


def _child(args: argparse.Namespace) -> None:
    """One arm, in this (sub)process; prints one JSON line with its wall time."""
    data, mapping = _study(args.persons, args.diaries, args.seed)
    settings = _settings(args)
    with tempfile.TemporaryDirectory(prefix="bench_run_") as tmp:
        start = time.perf_counter()
        if args.child == "run":
            from ambidex_bayes.pipeline import run_analysis
            from ambidex_bayes.report import write_report

            analysis = run_analysis(
                data,
                mapping,
                settings=settings,
                cache_dir=Path(tmp) / "cache",
                progressbar=False,
                verbose=False,
            )
            if args.report:
                write_report(analysis, Path(tmp) / "report")
            rows = len(analysis.prepared.frame)
            print(analysis.timings.text(), flush=True)
        else:
            from ambidex_bayes.data import load_diary
            from ambidex_bayes.fit import fit
            from ambidex_bayes.pipeline import STORE_LOG_LIKELIHOOD
            from ambidex_bayes.prepare import prepare
            from ambidex_bayes.spec import load_spec

            prepared = prepare(load_diary(data, mapping))
            fit(
                load_spec("M3"),
                prepared,
                settings=settings,
                cache_dir=Path(tmp) / "cache",
                progressbar=False,
                verbose=False,
                log_likelihood=STORE_LOG_LIKELIHOOD,
            )
            rows = len(prepared.frame)
        wall = time.perf_counter() - start
    own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux
    print(json.dumps({"wall": wall, "rows": rows, "own_peak": own_peak}), flush=True)


def _measure(args: argparse.Namespace, arm: str) -> dict[str, float]:
    """Run one arm in a subprocess; its wall time, rows and peak RSS (bytes)."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        arm,
        "--persons",
        str(args.persons),
        "--diaries",
        str(args.diaries),
        "--seed",
        str(args.seed),
    ]
    if not args.report:
        command.append("--no-report")
    for option in ("draws", "chains"):
        if getattr(args, option) is not None:
            command += [f"--{option}", str(getattr(args, option))]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # kB on Linux
    if done.returncode != 0:
        tail = (done.stderr or done.stdout)[-3000:]
        raise SystemExit(f"the {arm} arm failed (exit {done.returncode}):\n{tail}")
    *printed, last = done.stdout.strip().splitlines()
    result = json.loads(last)
    result["peak"] = peak
    result["printed"] = printed
    return result


def _estimate(args: argparse.Namespace) -> str:
    """The job's memory estimate by part, as the job computes it before sampling."""
    from ambidex_bayes.fit import SamplerSettings
    from ambidex_bayes.memory import analysis_bytes, format_bytes
    from ambidex_bayes.pipeline import STORE_LOG_LIKELIHOOD

    settings = (_settings(args) or SamplerSettings()).resolved()
    parts = analysis_bytes(
        rows=args.persons * args.diaries,
        persons=args.persons,
        effects=[1, 1, 2, 2],  # person effects per person of M0..M3
        draws=int(settings.draws),
        chains=int(settings.chains),
        log_likelihood=STORE_LOG_LIKELIHOOD,
    )
    described = ", ".join(f"{name} {format_bytes(n)}" for name, n in parts.items())
    return f"{format_bytes(sum(parts.values()))} ({described})"


def _fake_m3(args: argparse.Namespace, folder: Path):
    """A fake M3 fit of the simulated panel: the model's terms and prepared data, and known
    draws of the parameters the person slopes read (no sampling); with ``--on-disk`` its
    fit file is written in ``folder``."""
    import numpy as np
    import xarray as xr

    from ambidex_bayes.data import load_diary
    from ambidex_bayes.model.build import build_model
    from ambidex_bayes.posterior import PosteriorDraws
    from ambidex_bayes.prepare import prepare
    from ambidex_bayes.spec import load_spec

    data, mapping = _study(args.persons, args.diaries, args.seed)
    prepared = prepare(load_diary(data, mapping))
    terms = build_model(load_spec("M3"), prepared).terms
    ids = prepared.frame[prepared.roles["person"]].astype(str).unique().tolist()
    chains, draws = args.chains or 4, args.draws or 1000
    rng = np.random.default_rng(args.seed)
    sample = ("chain", "draw")
    posterior = xr.Dataset(
        {
            terms.slope: (sample, rng.normal(0.2, 0.05, (chains, draws))),
            terms.interaction: (sample, rng.normal(0.3, 0.05, (chains, draws))),
            terms.group_slope: (
                (*sample, terms.person_dim),
                rng.normal(0.0, 0.25, (chains, draws, len(ids))),
            ),
        },
        coords={"chain": np.arange(chains), "draw": np.arange(draws), terms.person_dim: ids},
    )
    if args.on_disk:
        from ambidex_bayes.fit_reader import disk_variables
        from ambidex_bayes.store import save_datatree

        path = folder / "fake.nc"
        save_datatree(xr.DataTree.from_dict({"posterior": posterior}), path, {})
        name = terms.group_slope
        posterior[name] = xr.DataArray(
            disk_variables(path, "posterior", (name,))[name], coords=posterior[name].coords
        )
    tree = xr.DataTree.from_dict({"posterior": posterior})
    return PosteriorDraws(idata=tree, terms=terms, prepared=prepared)


def _resident_peak() -> int | None:
    """Peak resident bytes of this process since the last reset (``VmHWM``)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _person_slopes_step(args: argparse.Namespace) -> None:
    """Peak memory and wall time of the report's person-slopes step on a fake fit."""
    import gc
    import tracemalloc

    from ambidex_bayes.memory import format_bytes
    from ambidex_bayes.moderation import person_slopes

    with tempfile.TemporaryDirectory(prefix="bench_person_slopes_") as tmp:
        fit = _fake_m3(args, Path(tmp))
        effects = fit.idata["posterior"][fit.terms.group_slope]
        where = "read from the fit file on use" if args.on_disk else "in memory"
        print(
            f"fake M3 fit: {effects.sizes['chain']} chains x {effects.sizes['draw']} draws, "
            f"{args.persons:,} persons ({format_bytes(effects.nbytes)} of person slope effects, "
            f"{where})",
            flush=True,
        )
        gc.collect()
        try:  # reset the peak resident memory (Linux)
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
        except OSError:
            pass
        tracemalloc.start()
        before, _ = tracemalloc.get_traced_memory()
        start = time.perf_counter()
        results = [person_slopes(fit), person_slopes(fit, scale="standardised")]
        wall = time.perf_counter() - start
        held, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        resident = _resident_peak()
        print(f"person slopes (original and standardised): {wall:.1f} s")
        print(f"  traced peak above the start: {format_bytes(peak - before)}")
        print(f"  traced and still held by the two results: {format_bytes(held - before)}")
        if resident is not None:
            print(f"  peak resident memory during the step: {format_bytes(resident)}")
        del results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=2000)
    parser.add_argument("--diaries", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--draws", type=int, help="draws per chain (default: the package's)")
    parser.add_argument("--chains", type=int, help="chains (default: the package's)")
    parser.add_argument(
        "--no-report", dest="report", action="store_false", help="time run_analysis only"
    )
    parser.add_argument(
        "--job-only", action="store_true", help="run the job only, not the single M3 fit (b)"
    )
    parser.add_argument(
        "--person-slopes",
        action="store_true",
        help="measure the report's person-slopes step alone, on a fake fit (no sampling)",
    )
    parser.add_argument(
        "--on-disk",
        action="store_true",
        help="with --person-slopes: read the person effects from a fit file on use",
    )
    parser.add_argument("--child", choices=("run", "m3"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.person_slopes:
        _person_slopes_step(args)
        return
    if args.child:
        _child(args)
        return
    sampler = "" if _settings(args) is None else f", draws {args.draws}, chains {args.chains}"
    print(
        f"cores: {os.cpu_count()}, {args.persons} persons x {args.diaries} diaries{sampler}",
        flush=True,
    )
    print(f"memory estimate of the job: {_estimate(args)}", flush=True)
    # The job first: RUSAGE_CHILDREN holds the largest peak of the children so far, so the
    # job's peak is read before the (smaller) single fit runs.
    job = _measure(args, "run")
    print("\n".join(job["printed"]), flush=True)
    what = "run_analysis + write_report" if args.report else "run_analysis"
    print(f"rows: {job['rows']:,}")
    print(f"(a) {what}: {job['wall']:8.1f} s, peak RSS {job['peak'] / 1e9:.2f} GB")
    if args.job_only:
        return
    single = _measure(args, "m3")
    print(f"(b) one M3 fit: {single['wall']:8.1f} s, peak RSS {single['own_peak'] / 1e9:.2f} GB")
    print(f"ratio (a)/(b): {job['wall'] / single['wall']:.1f}")


if __name__ == "__main__":
    main()
