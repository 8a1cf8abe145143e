"""Copies of a fit's person effects held at once while its posterior is completed and saved.

Builds the fast-path M3 of a simulated panel of PERSONS x 10 diaries, gives it fake draws of
the hyperparameters (no sampling), and then does what a fit does after sampling:
:func:`ambidex_bayes.engine.sampling.complete_marginal` (the person effects of every draw),
the check for non-finite draws, the convergence check, saving the fit and
:meth:`~ambidex_bayes.engine.result.FitResult.hold_person_effects_on_disk`. It prints the
peak of traced allocations (``tracemalloc``) of each step in units of the fit's person
effects (chains x draws x persons x effects x 8 bytes), the unit
:data:`ambidex_bayes.memory.DRAW_COPIES` counts in.

Run from the repository root::

    .venv/bin/python benchmarks/bench_completion.py                   # 20,000 persons
    .venv/bin/python benchmarks/bench_completion.py --persons 5000
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import xarray as xr

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _fake_hyperparameters(built, chains: int, draws: int, seed: int) -> xr.DataTree:
    """Plausible draws of every variable the completion reads (fixed effects, SDs, the
    correlation, the residual SD)."""
    from ambidex_bayes.terms import correlation_name

    design = built.marginal
    rng = np.random.default_rng(seed)
    shape = (chains, draws)
    values = {name: rng.normal(0.0, 0.05, shape) for name in design.fixed_names}
    for name in design.group_names:
        values[f"{name}_sigma"] = np.abs(rng.normal(0.5, 0.05, shape))
    values["sigma"] = np.abs(rng.normal(1.0, 0.02, shape))
    names = list(design.group_names)
    if len(names) > 1:
        values[correlation_name(names[0], names[1])] = rng.uniform(-0.2, 0.2, shape)
    posterior = xr.Dataset(
        {name: (("chain", "draw"), v) for name, v in values.items()},
        coords={"chain": np.arange(chains), "draw": np.arange(draws)},
    )
    return xr.DataTree.from_dict({"posterior": posterior})


def main() -> None:
    from bench_run import _study

    from ambidex_bayes.data import load_diary
    from ambidex_bayes.diagnostics import check_convergence
    from ambidex_bayes.engine.cache import fit_meta, sampling_model
    from ambidex_bayes.engine.result import FitResult
    from ambidex_bayes.engine.sampling import complete_marginal, refuse_nonfinite_draws
    from ambidex_bayes.fit import SamplerSettings
    from ambidex_bayes.output_paths import save_fit_or_warn
    from ambidex_bayes.prepare import prepare
    from ambidex_bayes.spec import load_spec

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    data, mapping = _study(args.persons, 10, args.seed)
    prepared = prepare(load_diary(data, mapping))
    spec = load_spec("M3")
    settings = SamplerSettings().resolved()
    built = sampling_model(spec, prepared, settings)
    if not built.is_marginal:
        raise SystemExit("M3 is not fitted by the fast path here; nothing to measure")
    idata = _fake_hyperparameters(built, int(settings.chains), int(settings.draws), args.seed)
    effects = len(built.marginal.group_names)
    unit = int(settings.chains) * int(settings.draws) * args.persons * effects * 8
    print(
        f"{args.persons:,} persons, {settings.chains} chains x {settings.draws} draws, "
        f"{effects} person effects: {unit / 1e9:.2f} GB of person-effect draws",
        flush=True,
    )

    def show(step: str, peak: int) -> None:
        print(f"{step:<44} peak {peak / 1e9:6.2f} GB = {peak / unit:.2f} x the person effects")

    with tempfile.TemporaryDirectory(prefix="bench_completion_") as tmp:
        start = time.perf_counter()
        tracemalloc.start()
        idata = complete_marginal(idata, built, settings, log_likelihood=False)
        refuse_nonfinite_draws(idata, spec)
        show("complete the posterior, check it is finite", tracemalloc.get_traced_memory()[1])
        tracemalloc.reset_peak()
        convergence = check_convergence(idata, warn=False)
        meta = fit_meta("bench", settings, prepared, built, wall_seconds=0.0)
        result = FitResult.from_model(built, prepared, idata, meta=meta, convergence=convergence)
        del idata
        show("check convergence", tracemalloc.get_traced_memory()[1])
        tracemalloc.reset_peak()
        save_fit_or_warn(result, Path(tmp) / "m3.nc", where="the benchmark's folder")
        show("save the fit", tracemalloc.get_traced_memory()[1])
        result.hold_person_effects_on_disk()
        held = tracemalloc.get_traced_memory()[0]
        print(f"held once read from the file: {held / unit:.2f} x the person effects")
        gc.collect()
        held = tracemalloc.get_traced_memory()[0]
        print(f"held after gc.collect():      {held / unit:.2f} x the person effects")
        tracemalloc.stop()
        print(f"{time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
