"""The command line's own work around sampling, and the start-up of a quick command.

Two figures the command line is judged by:

1. ``ambidex-bayes summary FIT`` on a saved fit: the wall time of the whole process (start-up,
   imports, reading the file, the table). Target: under 1.5 s.
2. ``ambidex-bayes fit`` of M3 on a simulated panel (default 2000 persons x 8 diaries): the
   wall time of the process minus the time spent sampling (``meta["wall_seconds"]`` of the
   saved fit, which covers sampling, diagnostics and any second try). What is left is the
   command's own work: start-up and imports, reading and checking the data, preparing it,
   building and checking the model, computing the log-likelihood and saving. Target: under
   2 s.

Each command runs as a fresh process (as a user runs it), ``--repeats`` times; the medians
are printed, with the start-up of a bare ``python -c pass`` and of ``python -c "import
pandas"`` measured in the same run as the floor no command can go below. The CPU seconds
(user plus system) of the summary and of importing pandas are printed too: on a machine
shared with other work they vary less than wall times. The fit's model is compiled once
before timing (a warm machine, as after ``make demo``), so compilation is not counted as
overhead; ``--cold`` points the compile caches at empty folders instead.
Python's bytecode of the package is cached too (in the run's temporary folder, even where
``PYTHONDONTWRITEBYTECODE`` is set), as in an installed package: compiling the package's
modules again at every start is not the command's work.

Run from the repository root::

    .venv/bin/python benchmarks/bench_overhead.py
    .venv/bin/python benchmarks/bench_overhead.py --persons 2000 --diaries 8 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SUMMARY_TARGET_S = 1.5
OVERHEAD_TARGET_S = 2.0


def _cli() -> list[str]:
    """The installed command, next to this interpreter."""
    return [str(Path(sys.executable).with_name("ambidex-bayes"))]


def _cpu_seconds() -> float:
    """User plus system CPU seconds of this process's finished children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(cmd: list[str], env: dict[str, str], cpu: list[float] | None = None) -> float:
    """Wall seconds of one process (its CPU seconds appended to ``cpu``, when given); a
    failing command stops the benchmark with its output."""
    start, start_cpu = time.perf_counter(), _cpu_seconds()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}")
    if cpu is not None:
        cpu.append(_cpu_seconds() - start_cpu)
    return elapsed


def _write_panel(folder: Path, persons: int, diaries: int, seed: int) -> tuple[Path, Path]:
    """A simulated panel as a CSV file and its column mapping as a TOML file."""
    from ambidex_bayes.simulate import reference_design, simulate_diary

    design = reference_design(
        n_persons=persons, diaries_dist="fixed", diaries_mean=diaries, likert=None, missing_rate=0.0
    )
    study = simulate_diary(design, seed=seed)
    data = folder / "panel.csv"
    study.data.to_csv(data, index=False)
    roles = study.mapping
    lines = [
        f'person = "{roles["person"]}"',
        f'occasion = "{roles["occasion"]}"',
        f'outcome = "{roles["outcome"]}"',
        "level1 = [" + ", ".join(f'"{c}"' for c in roles["level1"]) + "]",
        "level2 = [" + ", ".join(f'"{c}"' for c in roles["level2"]) + "]",
    ]
    mapping = folder / "mapping.toml"
    mapping.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return data, mapping


def _sampling_seconds(fit_file: Path) -> float:
    """``meta["wall_seconds"]`` stored in a saved fit."""
    from ambidex_bayes.store import load_datatree

    _, attrs = load_datatree(fit_file)
    return float(attrs["meta"]["wall_seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=2000)
    parser.add_argument("--diaries", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cold", action="store_true", help="empty compile caches")
    args = parser.parse_args()

    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
        if args.cold:
            env["PYTENSOR_FLAGS"] = f"base_compiledir={folder / 'pytensor'}"
            env["AMBIDEX_NUMBA_CACHE_DIR"] = str(folder / "numba")
        data, mapping = _write_panel(folder, args.persons, args.diaries, args.seed)
        fit_cmd = [*_cli(), "fit", str(data), "--mapping", str(mapping), "--spec", "M3"]
        fit_cmd += ["--no-progress", "--cache-dir", str(folder / "cache")]

        _timed([*_cli(), "--help"], env)  # writes the bytecode of the command's modules
        _timed([sys.executable, "-c", "import pandas"], env)  # and of pandas
        bare = [_timed([sys.executable, "-c", "pass"], env) for _ in range(args.repeats)]
        pandas_cpu: list[float] = []
        pandas = [
            _timed([sys.executable, "-c", "import pandas"], env, pandas_cpu) for _ in range(3)
        ]
        if not args.cold:  # compile once, so the timed runs measure a warm machine
            _timed([*fit_cmd, "--out", str(folder / "warm.nc")], env)

        fit_walls, overheads = [], []
        for i in range(args.repeats):
            out = folder / f"fit{i}.nc"
            wall = _timed([*fit_cmd, "--out", str(out), "--refit"], env)
            fit_walls.append(wall)
            overheads.append(wall - _sampling_seconds(out))

        summary_cmd = [*_cli(), "summary", str(folder / "fit0.nc")]
        _timed(summary_cmd, env)  # writes the bytecode of the modules only summary imports
        summary_cpu: list[float] = []
        summaries = [_timed(summary_cmd, env, summary_cpu) for _ in range(args.repeats)]

    med = statistics.median
    print(f"panel: {args.persons} persons x {args.diaries} diaries, M3, default backend")
    print(f"python -c pass            {med(bare):6.2f} s")
    print(f"python -c 'import pandas' {med(pandas):6.2f} s  (CPU {med(pandas_cpu):.2f} s)")
    print(
        f"summary of a saved fit    {med(summaries):6.2f} s  "
        f"(target < {SUMMARY_TARGET_S} s; {med(summaries) / med(pandas):.1f}x import pandas; "
        f"CPU {med(summary_cpu):.2f} s)"
    )
    print(f"fit process               {med(fit_walls):6.2f} s")
    print(
        f"fit overhead (process - sampling) {med(overheads):6.2f} s  "
        f"(target < {OVERHEAD_TARGET_S} s; {med(overheads) / med(fit_walls):.0%} of the process)"
    )


if __name__ == "__main__":
    main()
