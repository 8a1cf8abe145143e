r"""Reliability of M3 fits at the reference study's size, per backend and centring.

Simulates diary studies shaped like the reference study (85-100 persons, 1-7 diaries each,
about 400 rows, continuous scores rounded to two decimals) for each true SD of the person
slopes in ``--slope-sds`` (default 0, 0.03 and 0.15), ``--datasets`` studies per condition,
fits M3 (correlated person intercept and slope, LKJ prior) with :func:`ambidex_bayes.fit.fit`
on every backend in ``--backends`` with the centring of ``--centring`` (``observed``, the
default, ``latent`` or ``auto``; see :mod:`ambidex_bayes.centring`; library defaults for
everything not given), and prints per condition and backend (the table's title names the
centring, and ``latent`` counts the fits that used latent centring):

- ``pass``: the share of fits meeting the strict criteria: R-hat <= 1.01, bulk-ESS >= 400
  and tail-ESS >= 400 for every reported parameter (fixed effects, SDs, correlation,
  residual SD), and no divergent transition. With fewer draws than 4 x 1000, the ESS
  threshold is scaled by ``draws x chains / 4000`` (``--scale-ess``), so that a quick look
  with few draws asks the same share of the draws;
- the median and smallest over fits of the smallest bulk- and tail-ESS of a fit, the
  number of fits with a divergence (and of divergences), the largest R-hat, the parameter
  that most often has the smallest bulk-ESS;
- ``ESS/s``: the median over fits of the smallest bulk-ESS divided by the fit's wall time
  (building, compiling, sampling and completing the posterior, as a user waits for it),
  and its ratio to plain Bambi 0.21 + nutpie (independent person effects ``(x | person)``,
  Bambi's default priors, 4 x (1000 + 1000)) on the same data sets in the same run. All
  fits run in one process, as in a model ladder or a simulation: with nutpie the fast path
  is compiled by the first fit and re-used by the later ones (latent fits pad the persons to
  one of a few model sizes, see :func:`ambidex_bayes.engine.latent_sampling.model_persons`,
  so studies of 85-100 persons share three compiled models), while plain Bambi compiles
  every fit. The line under the table gives each backend's first fit alone (its compiling
  included) with its ESS per second;
- ``agree``: for the first ``--reference-datasets`` studies of a condition, a long
  reference fit (fast path, nutpie, the same centring, ``--reference-draws`` draws per
  chain) gives each parameter's posterior mean and SD; a fit agrees when every difference
  is within ``--z-max`` standard errors, the standard error combining both runs' Monte
  Carlo standard errors (:math:`|\bar\theta - \bar\theta_{ref}| \le z
  \sqrt{\mathrm{MCSE}^2 + \mathrm{MCSE}_{ref}^2}`, likewise for the SD). Printed as
  agreeing fits / compared fits, with the largest standardised difference.
- ``2nd try``: how many fits failed at first and were sampled once more by ``fit``'s
  announced second try (higher target acceptance, longer tuning; ``--no-rescue`` switches
  it off); such a fit counts as passing when its second try passes, and its wall time
  includes both tries.
- ``lambda``: the range of the observed person means' reliability over the studies (the
  lower of the two predictors' with ``--second-predictor``; see
  :mod:`ambidex_bayes.reliability`; ``auto`` takes latent centring below 0.7), also given
  per fit; ``latent``: how many fits used latent centring (all with ``latent``; with ``auto``, those
  whose observed person means' reliability was below the threshold); ``s/fit``: the
  median wall time of a fit.

The plain-Bambi arm and the reference fits are skipped with ``--no-plain`` and
``--reference-datasets 0``. Fits run one after the other; ``--cores`` is the number of
chains sampled at once (default: the library's). A quick look::

    .venv/bin/python benchmarks/bench_reliability.py --datasets 2 --backends pymc,nutpie

and the full run of the issue (about 30 fits per backend)::

    .venv/bin/python benchmarks/bench_reliability.py --datasets 10

and the same for latent person-mean centring with nutpie (the plain arm and the
reference fits skipped)::

    .venv/bin/python benchmarks/bench_reliability.py --datasets 10 --backends nutpie \
        --no-plain --reference-datasets 0 --centring latent

``--second-predictor`` gives every study a second daily predictor with the first's
reliability (:data:`SECOND_PREDICTOR`) and fits M3 with both predictors' within and between
parts (the plain arm too); with latent centring both have latent person means.

Compare wall times and ESS per second only within one run on one machine.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

#: Seed of the first simulated study (each condition and study adds to it).
BASE_SEED = 20261201


#: The second daily predictor of ``--second-predictor``: the first one's SDs (so the same
#: reliability of its observed person means), a negative within slope, a between effect
#: four times the first's and person means correlated 0.3 with the first's.
SECOND_PREDICTOR = {
    "name": "workload",
    "g10": -0.3,
    "g02": 0.4,
    "x_mean": 3.0,
    "x_sd_between": 0.55,
    "x_sd_within": 1.0,
}


def reference_sized_study(slope_sd: float, seed: int, *, second_predictor: bool = False):
    """Prepared M3 data of one study of the reference study's size.

    The reference design of :func:`ambidex_bayes.simulate.reference_design` on a
    continuous scale with the true SD of person slopes ``slope_sd``, 85-100 persons (drawn
    from ``seed``), 1-7 diaries each (truncated Poisson, mean 4.2), 2% missing outcomes,
    and every score rounded to two decimals (as averaged questionnaire scales are stored);
    with ``second_predictor`` a second daily predictor (:data:`SECOND_PREDICTOR`).
    """
    from ambidex_bayes.data import ColumnMapping, load_diary
    from ambidex_bayes.prepare import prepare
    from ambidex_bayes.simulate import reference_design, simulate_diary

    persons = int(np.random.default_rng([seed, 85]).integers(85, 101))
    more = {}
    if second_predictor:
        more = {"predictors": [SECOND_PREDICTOR], "mean_corr": [[1.0, 0.3], [0.3, 1.0]]}
    design = reference_design(n_persons=persons, likert=None, tau1=float(slope_sd), **more)
    study = simulate_diary(design, seed=seed)
    data = study.data.copy()
    mapping = study.mapping
    for column in (mapping["outcome"], *mapping["level1"], *mapping["level2"]):
        data[column] = data[column].round(2)
    return prepare(load_diary(data, ColumnMapping.from_dict(mapping)))


def study_spec(prepared):
    """The bundled M3 with the within and between parts of every daily predictor."""
    from ambidex_bayes.design.predictor_terms import spec_with_every_predictor
    from ambidex_bayes.spec import load_spec

    return spec_with_every_predictor(load_spec("M3"), len(prepared.mapping.level1))


def fit_quietly(prepared, settings, *, rescue: bool = True, centring: str = "observed"):
    """Fit M3 (:func:`study_spec`) without printing or saving; return (wall seconds,
    FitResult).

    ``centring`` is passed to :func:`ambidex_bayes.fit.fit` (``"observed"``, ``"latent"``
    or ``"auto"``); the wall time covers everything a user waits for.
    """
    from ambidex_bayes.diagnostics import ConvergenceWarning
    from ambidex_bayes.fit import fit

    with warnings.catch_warnings():
        # the table below reports the diagnostics; the per-fit warning would repeat them
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        result = fit(
            study_spec(prepared),
            prepared,
            settings=settings,
            cache_dir=False,
            progressbar=False,
            verbose=False,
            log_likelihood=False,
            rescue=rescue,
            centring=centring,
        )
        return time.perf_counter() - start, result


def fit_record(result, wall: float, ess_min: float) -> dict:
    """The strict criteria and speed of one fit."""
    from ambidex_bayes import constants

    conv = result.convergence
    table = conv.table
    passed = (
        conv.n_divergent == 0
        and float(table["rhat"].max()) <= constants.RHAT_MAX
        and float(table["ess_bulk"].min()) >= ess_min
        and float(table["ess_tail"].min()) >= ess_min
    )
    return {
        "wall": wall,
        "passed": bool(passed),
        "ess_bulk": float(table["ess_bulk"].min()),
        "ess_tail": float(table["ess_tail"].min()),
        "worst": str(table["ess_bulk"].idxmin()),
        "rhat": float(table["rhat"].max()),
        "divergent": int(conv.n_divergent),
        "ess_per_s": float(table["ess_bulk"].min()) / wall,
        "rescued": "rescue" in result.meta,
        "centring": str(result.meta.get("centring", "observed")),
    }


def agreement(result, reference) -> float:
    """Largest standardised gap of posterior means and SDs between a fit and the reference."""
    import arviz_stats as azs

    from ambidex_bayes.diagnostics import parameter_names

    post, ref = result.posterior, reference.posterior
    worst = 0.0
    for name in parameter_names(ref):
        a, b = post[name], ref[name]
        for method, stat in (("mean", lambda v: v.mean()), ("sd", lambda v: v.std())):
            gap = abs(float(stat(a)) - float(stat(b)))
            err = np.hypot(float(azs.mcse(a, method=method)), float(azs.mcse(b, method=method)))
            worst = max(worst, gap / err if err > 0 else np.inf)
    return worst


def run_plain_quietly(prepared, seed: int, cores: int | None) -> tuple[float, float]:
    """Plain Bambi + nutpie (independent person effects), 4 x (1000 + 1000): (wall, min ESS)."""
    import bambi as bmb
    from bench_fit import _min_ess

    formula = study_spec(prepared).render(prepared.formula_fields())
    data = prepared.frame[[c for c in prepared.frame.columns if c in formula]].dropna()
    start = time.perf_counter()
    model = bmb.Model(formula, data)
    extra = {} if cores is None else {"cores": cores}
    idata = model.fit(
        inference_method="nutpie",
        draws=1000,
        tune=1000,
        chains=4,
        random_seed=seed,
        progressbar=False,
        **extra,
    )
    wall = time.perf_counter() - start
    post = idata["posterior"].to_dataset()
    names = [n for n in post.data_vars if post[n].dims == ("chain", "draw")]
    return wall, _min_ess(post, names)


def _median(values) -> float:
    return float(np.median(values)) if len(values) else float("nan")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=10, help="studies per condition")
    parser.add_argument("--slope-sds", default="0,0.03,0.15", help="true SDs of person slopes")
    parser.add_argument("--backends", default="pymc,nutpie,numpyro")
    parser.add_argument("--draws", type=int, default=None, help="default: the library's")
    parser.add_argument("--tune", type=int, default=None)
    parser.add_argument("--chains", type=int, default=None)
    parser.add_argument("--target-accept", type=float, default=None)
    parser.add_argument("--cores", type=int, default=None, help="chains sampled at once")
    parser.add_argument("--full-nuts", action="store_true", help="no fast path")
    parser.add_argument(
        "--centring",
        choices=("observed", "latent", "auto"),
        default="observed",
        help="centring of every fit (see ambidex_bayes.centring)",
    )
    parser.add_argument("--no-rescue", action="store_true", help="no second try for a failing fit")
    parser.add_argument("--seed", type=int, default=BASE_SEED)
    parser.add_argument("--no-plain", action="store_true", help="skip plain Bambi + nutpie")
    parser.add_argument("--reference-datasets", type=int, default=1)
    parser.add_argument("--reference-draws", type=int, default=10_000)
    parser.add_argument("--z-max", type=float, default=4.0)
    parser.add_argument(
        "--scale-ess",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="scale the ESS threshold with draws x chains / 4000",
    )
    parser.add_argument(
        "--second-predictor",
        action="store_true",
        help="studies with a second daily predictor (SECOND_PREDICTOR), in every fit's model",
    )
    parser.add_argument("--csv", type=Path, default=None, help="also write one row per fit")
    args = parser.parse_args(argv)
    # PyMC's per-fit progress lines would bury the table (its warnings still show)
    logging.getLogger("pymc").setLevel(logging.WARNING)

    from ambidex_bayes import constants
    from ambidex_bayes.fit import SamplerSettings

    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    slope_sds = [float(v) for v in args.slope_sds.split(",")]
    draws = args.draws or constants.DRAWS
    chains = args.chains or constants.CHAINS
    ess_min = constants.ESS_BULK_MIN
    if args.scale_ess:
        ess_min *= min(1.0, draws * chains / 4000)
    print(
        f"cores on machine: {os.cpu_count()}; chains at once: {args.cores or 'library default'}; "
        f"draws {draws}, tune {args.tune or constants.TUNE}, chains {chains}, "
        f"target_accept {args.target_accept or constants.TARGET_ACCEPT}; "
        f"centring: {args.centring}; fast path: {not args.full_nuts}; "
        f"second try: {not args.no_rescue}; "
        f"pass: R-hat <= {constants.RHAT_MAX}, "
        f"bulk and tail ESS >= {ess_min:.0f}, no divergence",
        flush=True,
    )

    rows: list[dict] = []
    plain: dict[float, list[float]] = {sd: [] for sd in slope_sds}
    for c, slope_sd in enumerate(slope_sds):
        for i in range(args.datasets):
            seed = args.seed + 1000 * c + i
            prepared = reference_sized_study(slope_sd, seed, second_predictor=args.second_predictor)
            results = {}
            for backend in backends:
                settings = SamplerSettings(
                    backend=backend,
                    draws=args.draws,
                    tune=args.tune,
                    chains=args.chains,
                    seed=seed,
                    target_accept=args.target_accept,
                    fast_path=not args.full_nuts,
                    cores=args.cores,
                )
                wall, results[backend] = fit_quietly(
                    prepared, settings, rescue=not args.no_rescue, centring=args.centring
                )
                rec = fit_record(results[backend], wall, ess_min)
                rec.update(slope_sd=slope_sd, study=i, seed=seed, backend=backend)
                rec["rows"] = int(len(prepared.frame))
                rec["reliability"] = min(
                    prepared.person_mean_reliability.get(x, float("nan"))
                    for x in prepared.mapping.level1
                )
                rec["agree_z"] = None
                rows.append(rec)
                print(
                    f"  sd={slope_sd} study {i} ({rec['rows']} rows, "
                    f"lambda {rec['reliability']:.2f}) {backend:>8}: "
                    f"{'pass' if rec['passed'] else 'FAIL'}  bulk {rec['ess_bulk']:.0f} "
                    f"tail {rec['ess_tail']:.0f} R-hat {rec['rhat']:.3f} "
                    f"div {rec['divergent']} ({rec['worst']}) {rec['centring']} {wall:.1f} s"
                    + (" after a second try" if rec["rescued"] else ""),
                    flush=True,
                )
            # the reference runs after the timed fits, so that none of them finds the fast
            # path compiled by it
            if i < args.reference_datasets:
                ref_settings = SamplerSettings(
                    backend="nutpie",
                    draws=args.reference_draws,
                    tune=2000,
                    chains=4,
                    seed=seed,
                    target_accept=0.95,
                    cores=args.cores,
                )
                _, reference = fit_quietly(
                    prepared, ref_settings, rescue=False, centring=args.centring
                )
                ref_rec = fit_record(reference, 1.0, 0.0)
                zs = {b: agreement(r, reference) for b, r in results.items()}
                for rec in rows[-len(backends) :]:
                    rec["agree_z"] = zs[rec["backend"]]
                print(
                    f"  reference sd={slope_sd} study {i}: min bulk-ESS "
                    f"{ref_rec['ess_bulk']:.0f}, max R-hat {ref_rec['rhat']:.3f}, "
                    f"{ref_rec['divergent']} divergent; largest standardised gap: "
                    + ", ".join(f"{b} {z:.2f}" for b, z in zs.items()),
                    flush=True,
                )
            if not args.no_plain:
                wall, ess = run_plain_quietly(prepared, seed, args.cores)
                plain[slope_sd].append(ess / wall)
                print(
                    f"  sd={slope_sd} study {i} plain bambi+nutpie: {ess:.0f} ESS in {wall:.1f} s"
                )

    header = (
        f"{'slope SD':>8} {'backend':>8} {'fits':>4} {'pass':>6} {'bulk med/min':>13} "
        f"{'tail med/min':>13} {'div fits(n)':>11} {'max R-hat':>9} {'ESS/s':>7} "
        f"{'x plain':>7} {'agree (max z)':>14} {'2nd try':>7} {'lambda':>9} {'latent':>6} {'s/fit':>6}  "
        "most often smallest"
    )
    print()
    predictors = " and a second daily predictor" if args.second_predictor else ""
    print(f"M3 fits{predictors} with centring={args.centring!r}")
    print(header)
    print("-" * len(header))
    for slope_sd in slope_sds:
        plain_rate = _median(plain[slope_sd])
        for backend in backends:
            sel = [r for r in rows if r["slope_sd"] == slope_sd and r["backend"] == backend]
            bulk = [r["ess_bulk"] for r in sel]
            tail = [r["ess_tail"] for r in sel]
            rate = _median([r["ess_per_s"] for r in sel])
            zs = [r["agree_z"] for r in sel if r["agree_z"] is not None]
            agree = f"{sum(z <= args.z_max for z in zs)}/{len(zs)} ({max(zs):.1f})" if zs else "-"
            worst = Counter(r["worst"] for r in sel).most_common(1)[0][0]
            lams = [r["reliability"] for r in sel]
            print(
                f"{slope_sd:>8g} {backend:>8} {len(sel):>4} "
                f"{np.mean([r['passed'] for r in sel]):>6.0%} "
                f"{_median(bulk):>6.0f}/{min(bulk):<6.0f} {_median(tail):>6.0f}/{min(tail):<6.0f} "
                f"{sum(r['divergent'] > 0 for r in sel):>4}({sum(r['divergent'] for r in sel):>4}) "
                f"{max(r['rhat'] for r in sel):>11.3f} {rate:>7.1f} {rate / plain_rate:>7.1f} "
                f"{agree:>14} {sum(r['rescued'] for r in sel):>7} "
                f"{min(lams):.2f}-{max(lams):.2f} "
                f"{sum(r['centring'] == 'latent' for r in sel):>6} "
                f"{_median([r['wall'] for r in sel]):>6.1f}  {worst}"
            )
        if not args.no_plain:
            print(
                f"{slope_sd:>8g} {'plain':>8} {len(plain[slope_sd]):>4} {'':>6} "
                f"{'':>13} {'':>13} {'':>11} {'':>9} {plain_rate:>7.1f}"
            )
    firsts = []
    for backend in backends:
        first = next(r for r in rows if r["backend"] == backend)
        firsts.append(f"{backend} {first['wall']:.1f} s ({first['ess_per_s']:.0f} ESS/s)")
    print("first fit of each backend in this process: " + ", ".join(firsts))
    if args.csv is not None:
        with args.csv.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


if __name__ == "__main__":
    main()
