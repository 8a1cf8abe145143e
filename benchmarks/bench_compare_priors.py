"""Time compare-priors: compiling a model per prior set ("cold") vs. compiling once ("warm").

On the bundled synthetic example (M3, four prior sets) this runs :func:`compare_priors`
twice, without the fit cache:

* **cold**: ``reuse=False`` - every prior set builds and compiles its own model (log density
  and gradient, start, log-likelihood functions), as separate ``fit`` calls would;
* **warm**: ``reuse=True`` - the model is compiled once (prior parameters are ``pm.Data``)
  and every further set only sets numbers before sampling.

It prints the wall time of each run and, per set, the seconds spent building, compiling,
sampling and finishing (log-likelihood; on the Gaussian fast path, which ``fit`` uses by
default, also the exact person-effect draws). "Sampling" includes what ``pm.sample`` itself
compiles on every call (the initial-point and trace functions) and the start-up of its
worker processes. Run from the repository root::

    python -m benchmarks.bench_compare_priors            # 4 chains x (1000 tune + 1000 draws)
    python -m benchmarks.bench_compare_priors --fast     # 2 chains x (200 + 200)
    python -m benchmarks.bench_compare_priors --fast --repeat 3   # lowest of 3 runs each

To include PyTensor's C compilation in the first run, point it at an empty cache folder:
``PYTENSOR_FLAGS=base_compiledir=/tmp/pytensor-cold python -m benchmarks.bench_compare_priors``.
"""

from __future__ import annotations

import argparse
import time

SETS = ("default", "weakly_informative", "sceptical", "informative")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="2 chains x (200 tune + 200 draws)")
    parser.add_argument("--spec", default="M3")
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument(
        "--repeat", type=int, default=1, help="alternate cold and warm runs this many times"
    )
    args = parser.parse_args(argv)

    start = time.perf_counter()
    import pandas as pd

    from ambidex_bayes import datasets
    from ambidex_bayes.data import ColumnMapping, load_diary
    from ambidex_bayes.fit import SamplerSettings
    from ambidex_bayes.prepare import prepare
    from ambidex_bayes.priors import compare_priors
    from ambidex_bayes.spec import load_spec

    print(f"imports: {time.perf_counter() - start:.1f} s")
    mapping = ColumnMapping.from_toml(datasets.example_mapping_path())
    prepared = prepare(load_diary(datasets.example_path(), mapping))
    spec = load_spec(args.spec)
    settings = (
        SamplerSettings(backend="pymc", draws=200, tune=200, chains=2)
        if args.fast
        else SamplerSettings(backend="pymc")
    ).resolved()
    sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    print(
        f"{spec.name} on the bundled example ({len(prepared.frame)} rows), prior sets "
        f"{', '.join(sets)}; {settings.chains} chains x ({settings.tune} tune + "
        f"{settings.draws} draws)"
    )
    pd.set_option("display.width", 160)
    from ambidex_bayes.model import build_model

    t0 = time.perf_counter()
    build_model(spec, prepared)  # first Bambi model of the process: paid by neither run
    print(f"first model build in this process: {time.perf_counter() - t0:.1f} s")
    runs: dict[str, list[dict[str, float]]] = {"cold": [], "warm": []}
    labels = {"cold": "cold (compile per set)", "warm": "warm (compile once)"}
    for repeat in range(args.repeat):
        for mode, reuse in (("cold", False), ("warm", True)):
            t0 = time.perf_counter()
            comparison = compare_priors(
                spec,
                prepared,
                sets,
                settings=settings,
                cache_dir=False,
                reuse=reuse,
                progressbar=False,
                verbose=False,
            )
            wall = time.perf_counter() - t0
            timings = comparison.timings
            sampling = float(timings["sample_s"].sum())
            run = {
                "wall": wall,
                "compile": float(timings["compile_s"].sum()),
                "sampling": sampling,
                "outside_sampling": wall - sampling,
            }
            runs[mode].append(run)
            print(f"\n{labels[mode]}, run {repeat + 1}: wall {wall:.1f} s")
            print(timings.round(2).to_string(index=False))
            print(
                f"  compile {run['compile']:.1f} s, sampling {sampling:.1f} s, everything "
                f"but sampling {run['outside_sampling']:.1f} s"
            )
    print(
        "\nSampling is the same work in both modes; its time follows the machine's load. "
        "The lowest time over the runs:"
    )
    for mode, label in labels.items():
        best = {key: min(r[key] for r in runs[mode]) for key in runs[mode][0]}
        print(
            f"  {label:24s} wall {best['wall']:6.1f} s   compile {best['compile']:5.1f} s   "
            f"everything but sampling {best['outside_sampling']:5.1f} s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
