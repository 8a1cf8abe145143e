"""Will it fit in memory? Rough estimates checked before reading a data set or starting a run.

A data file or a study design too large for the machine used to fail after minutes (a
``MemoryError`` deep in pandas, or a silent run that never finished its first
simulation). The estimates here are cheap (file size and a sample of the first lines, or
the design's numbers) and deliberately rough; they refuse only what clearly cannot work,
and say what was estimated, so that the user can decide.

Set the environment variable ``AMBIDEX_SKIP_MEMORY_CHECK=1`` to skip the checks (for
example on a machine whose free memory is reported wrongly, as in some containers).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ambidex_bayes.errors import ResourceError

__all__ = [
    "SKIP_VARIABLE",
    "MEMORY_SHARE",
    "available_memory",
    "check_memory",
    "format_bytes",
    "fit_bytes",
    "posterior_bytes",
    "check_fit_memory",
    "CHECK_DRAWS",
    "CHECK_NUMBERS",
    "CHECK_MIN_DRAWS",
    "check_replicates",
    "analysis_bytes",
    "person_slope_bytes",
    "check_analysis_memory",
    "peak_line",
]

#: Environment variable that turns the checks off when set to 1.
SKIP_VARIABLE = "AMBIDEX_SKIP_MEMORY_CHECK"
#: Share of the available memory an estimate may use before it is refused.
MEMORY_SHARE = 0.8

#: Peak bytes per cell of a data table while it is read, checked and prepared (measured on
#: diary tables: about 35 bytes per numeric cell, text cells more).
BYTES_PER_NUMBER_CELL = 40
BYTES_PER_TEXT_CELL = 100
#: Peak bytes per data row of one simulated study while it is simulated, prepared, fitted
#: and summarised (the frame's copies, the model's design matrices).
BYTES_PER_FIT_ROW = 2_000
#: Copies of the person-effect draws held at once while a fit's posterior is completed and
#: saved, with a margin: measured (``benchmarks/bench_completion.py``, M3 at 20,000 persons x
#: 4,000 draws) 1.25 while completed (the draws and the working arrays of a chunk of draws),
#: 1.52 while saved (the draws and the contiguous copy of one effect written to the file);
#: the report's checks hold one (read from the fit's file) besides their blocks.
DRAW_COPIES = 2


def available_memory() -> int | None:
    """Bytes of memory available to new allocations now, or None when unknown."""
    try:
        import psutil
    except ImportError:
        psutil = None
    if psutil is not None:
        return int(psutil.virtual_memory().available)
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def format_bytes(n: float) -> str:
    """``1.5 GB``, ``320 MB``, ``12 kB`` (powers of 1000)."""
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.3g} {unit}"
    return f"{int(n)} bytes"


def fit_bytes(rows: float, persons: float, *, draws: int, chains: int, effects: int = 2) -> int:
    """Peak memory of one simulate-and-fit task, roughly: the data's rows and the draws of
    ``effects`` person effects per person (8 bytes each, a few copies)."""
    data = rows * BYTES_PER_FIT_ROW
    person_draws = persons * effects * draws * chains * 8 * DRAW_COPIES
    return int(data + person_draws)


def check_memory(needed: float, *, what: str, advice: str) -> None:
    """Refuse when ``needed`` bytes exceed :data:`MEMORY_SHARE` of the available memory.

    Parameters
    ----------
    needed : float
        The estimate, in bytes.
    what : str
        What needs it, e.g. ``"data.csv: reading this file (about 2,000,000 rows x 12
        columns)"``.
    advice : str
        What to do instead (a sentence).

    Raises
    ------
    ResourceError
        With the estimate, the available memory, the advice and how to skip the check.
    """
    if os.environ.get(SKIP_VARIABLE, "").strip() in {"1", "true", "yes"}:
        return
    available = available_memory()
    if available is None or needed <= MEMORY_SHARE * available:
        return
    raise ResourceError(
        f"{what} needs about {format_bytes(needed)} of memory, but this machine has "
        f"{format_bytes(available)} available. {advice} The estimate is rough; to try "
        f"anyway, set the environment variable {SKIP_VARIABLE}=1."
    )


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", "."))
    except ValueError:
        return not text.strip()  # an empty cell becomes a missing number
    return True


def text_table_bytes(p: Path, sample: str, sep: str, *, truncated: bool) -> tuple[int, int, int]:
    """Estimated peak bytes, rows and columns of reading the text table ``p``, from its size
    and a sample of its first lines (header first)."""
    import csv
    import io

    try:
        lines = list(csv.reader(io.StringIO(sample, newline=""), delimiter=sep))
    except csv.Error:  # the reader itself says what is wrong with the file
        return 0, 0, 0
    if truncated and len(lines) > 2:
        lines.pop()  # possibly cut off
    header, rows = (lines[0], lines[1:]) if lines else ([], [])
    columns = max(len(header), 1)
    size = p.stat().st_size
    if not rows:
        return size * BYTES_PER_TEXT_CELL, 0, columns
    sample_bytes = len(sample.encode("utf-8", errors="replace"))
    header_bytes = len(sample.split("\n", 1)[0].encode("utf-8", errors="replace")) + 1
    per_row = max((sample_bytes - header_bytes) / len(rows), 1.0) if truncated else None
    n_rows = int(size / per_row) if per_row else len(rows)
    cells = [c for row in rows for c in row[:columns]]
    text_share = sum(not _is_number(c) for c in cells) / max(len(cells), 1)
    per_cell = BYTES_PER_NUMBER_CELL + text_share * (BYTES_PER_TEXT_CELL - BYTES_PER_NUMBER_CELL)
    return int(n_rows * columns * per_cell), n_rows, columns


def check_run_memory(
    *,
    kind: str,
    rows: float,
    persons: float,
    draws: int,
    chains: int,
    simulations: int,
    scheduler: str | None = None,
    n_workers: int | None = None,
    verbose: bool = True,
) -> int:
    """Estimate the memory of a power or SBC run's fits, say it, and refuse what cannot fit.

    Parameters
    ----------
    kind : str
        ``"power"`` or ``"sbc"`` (for messages).
    rows, persons : float
        Rows and persons of the largest simulated study.
    draws, chains : int
        Sampler draws per chain and chains of every fit.
    simulations : int
        Fits in the run.
    scheduler, n_workers
        As for :func:`ambidex_bayes.design.runner.run_tasks`: on a local cluster
        ``n_workers`` fits (default one per core) run at once on this machine; on a remote
        scheduler this machine's memory is not what counts, so only the estimate is printed.

    Returns
    -------
    int
        The estimated peak bytes of one fit.

    Raises
    ------
    ResourceError
        One fit, or the fits running at once on this machine, need more than
        :data:`MEMORY_SHARE` of the available memory.
    """
    per_fit = fit_bytes(rows, persons, draws=draws, chains=chains)
    remote = scheduler not in (None, "serial")
    at_once = 1 if scheduler == "serial" else max(1, int(n_workers or os.cpu_count() or 1))
    if verbose:
        where = "on each worker" if remote else f"{at_once} at a time on this machine"
        print(
            f"{kind}: {simulations:,} simulated studies, the largest with about "
            f"{int(rows):,} rows ({int(persons):,} persons); about {format_bytes(per_fit)} of "
            f"memory per fit, {where}."
        )
    if remote:
        return per_fit
    size = f"the largest simulated study (about {int(rows):,} rows, {int(persons):,} persons)"
    check_memory(
        per_fit,
        what=f"{kind}: one fit of {size}",
        advice="Use fewer persons or diaries per person (or a machine with more memory, or "
        "a Dask cluster with --scheduler).",
    )
    if at_once > 1:
        available = available_memory()
        fits = int(MEMORY_SHARE * available // per_fit) if available else at_once
        check_memory(
            per_fit * at_once,
            what=f"{kind}: {at_once} fits at a time (about {format_bytes(per_fit)} each)",
            advice=f"Run at most {max(fits, 1)} at a time with --workers {max(fits, 1)}.",
        )
    return per_fit


#: Peak bytes per row while one diary study is simulated (measured: about 220).
BYTES_PER_SIMULATED_ROW = 300


def check_simulation_memory(design: object) -> None:
    """Refuse a simulation design whose data set clearly cannot be held in memory.

    ``design`` is a :class:`~ambidex_bayes.simulate.SimulationDesign`; its rows are at most
    ``n_persons`` times the largest number of diaries a person can write.
    """
    persons = int(design.n_persons)
    fixed = design.diaries_dist == "fixed"
    per_person = float(design.diaries_mean if fixed else design.diaries_max)
    rows = persons * per_person
    check_memory(
        rows * BYTES_PER_SIMULATED_ROW,
        what=f"Simulating a study of {persons:,} persons (up to {int(rows):,} rows)",
        advice="Simulate fewer persons or diaries per person, or use a machine with more memory.",
    )


def posterior_bytes(
    *,
    rows: int,
    persons: int,
    effects: int,
    draws: int,
    chains: int,
    log_likelihood: bool,
    latent_means: int = 0,
    imputed: int = 0,
) -> dict[str, int]:
    r"""Bytes of a fit's largest posterior arrays, by part.

    With :math:`S` = chains :math:`\times` draws, the pointwise log-likelihood holds
    :math:`S \times` rows numbers and the person effects :math:`S \times` persons
    :math:`\times` effects numbers, 8 bytes each. :data:`DRAW_COPIES` copies of the person
    effects are held at once while the posterior is assembled; the log-likelihood is computed
    in place, so it counts once (the estimate refuses only what clearly cannot work). A
    latent-centred fit also holds :math:`S \times` persons :math:`\times` ``latent_means``
    person means and :math:`S \times` ``imputed`` imputed predictor values, once each.
    """
    draws_total = draws * chains
    parts = {"person effects": draws_total * persons * effects * 8 * DRAW_COPIES}
    if latent_means:
        parts["latent person means"] = draws_total * persons * latent_means * 8
    if imputed:
        parts["imputed predictor values"] = draws_total * imputed * 8
    if log_likelihood:
        parts["pointwise log-likelihood"] = draws_total * rows * 8
    return parts


def check_fit_memory(
    *,
    source: str,
    rows: int,
    persons: int,
    effects: int,
    draws: int,
    chains: int,
    log_likelihood: bool,
    latent_means: int = 0,
    imputed: int = 0,
) -> None:
    """Refuse a fit whose posterior clearly cannot be held in memory, before sampling.

    The parts are :func:`posterior_bytes`'s (``latent_means`` and ``imputed`` for
    latent-centred fits).

    Raises
    ------
    ResourceError
        With the estimate by part and what to do (fewer draws, no pointwise
        log-likelihood).
    """
    parts = posterior_bytes(
        rows=rows,
        persons=persons,
        effects=effects,
        draws=draws,
        chains=chains,
        log_likelihood=log_likelihood,
        latent_means=latent_means,
        imputed=imputed,
    )
    described = ", ".join(f"{name} {format_bytes(n)}" for name, n in parts.items())
    advice = "Fit fewer draws or chains (--draws, --chains)"
    if log_likelihood:
        advice += (
            ", or leave out the pointwise log-likelihood (fit --no-log-likelihood; "
            "fit(..., log_likelihood=False)), which only LOO needs"
        )
    check_memory(
        sum(parts.values()),
        what=(
            f"{source}: the posterior of {chains} chains x {draws} draws for {rows:,} rows and "
            f"{persons:,} persons ({described})"
        ),
        advice=advice + ".",
    )


#: Most posterior draws the predictive checks use (as
#: :data:`ambidex_bayes.checks.predictive.MAX_DRAWS`).
CHECK_DRAWS = 1000
#: Most numbers (replicated data sets x rows) the report's predictive checks replicate, and
#: the fewest data sets they replicate (as
#: :data:`ambidex_bayes.checks.report_section.REPORT_PPC_NUMBERS` and
#: ``REPORT_MIN_PPC_DRAWS``).
CHECK_NUMBERS = 50_000_000
CHECK_MIN_DRAWS = 100
#: Draws x rows above which the pointwise log-likelihood is held as float32 (4 bytes a
#: number, as :func:`ambidex_bayes.model.marginal.complete_posterior` stores it).
FLOAT32_LOG_LIKELIHOOD_ABOVE = 5e7
#: Numbers a check holds at once besides its draws x rows arrays (blocks of draws or rows of
#: :mod:`ambidex_bayes.checks.indexed_predictor`, :mod:`ambidex_bayes.checks.loo` and
#: :mod:`ambidex_bayes.checks.loo_pit`, a few of them at a time).
CHECK_BLOCK_NUMBERS = 4 * 16_000_000


#: Draws x persons numbers the report's person slopes compute and summarise at a time (as
#: :data:`ambidex_bayes.moderation.person_slopes.BLOCK_NUMBERS`).
PERSON_SLOPE_BLOCK_NUMBERS = 2_000_000
#: Arrays of a block's size the person slopes hold at once (the fixed part plus the person
#: effects, the moderator's term, their sum; on disk, the block read from the fit's file).
PERSON_SLOPE_BLOCK_COPIES = 3
#: Bytes per person of the person slopes' tables (the original and the standardised scale,
#: both kept) and of their summary columns while they are built (measured: 340 to 420).
BYTES_PER_PERSON_SLOPE = 500


def person_slope_bytes(*, persons: int, draws: int, chains: int) -> int:
    r"""Peak bytes of the report's person slopes besides the fit they read.

    With :math:`S` = chains :math:`\times` draws and :math:`J` persons, the slopes are
    computed by blocks of :math:`b = \min(J, \max(1, \lfloor N / S \rfloor))` persons
    (:math:`N` = :data:`PERSON_SLOPE_BLOCK_NUMBERS`), :data:`PERSON_SLOPE_BLOCK_COPIES`
    arrays of :math:`S b` numbers at once, and each person's summary is kept
    (:data:`BYTES_PER_PERSON_SLOPE`):

    .. math::

        8 \cdot c \cdot S b + J \cdot B_{\text{person}}.

    Parameters
    ----------
    persons : int
    draws, chains : int
        Draws per chain and chains of the fit.

    Returns
    -------
    int
        Bytes: at 20,000 persons and 4 chains x 1,000 draws about 58 MB (all draws at once
        would be 640 MB per copy).
    """
    total = max(int(draws) * int(chains), 1)
    block = min(int(persons), max(1, PERSON_SLOPE_BLOCK_NUMBERS // total))
    held = PERSON_SLOPE_BLOCK_COPIES * 8 * total * block
    return int(held + int(persons) * BYTES_PER_PERSON_SLOPE)


def check_replicates(rows: int, samples: int, *, check_draws: int = CHECK_DRAWS) -> int:
    r"""Replicated data sets of the report's predictive checks of a fit of ``rows`` rows and
    ``samples`` posterior draws in all: :math:`\min(S, \max(100, \min(\text{check\_draws},
    \lfloor 5\cdot 10^7 / n \rfloor)))` (:data:`CHECK_MIN_DRAWS`, :data:`CHECK_NUMBERS`)."""
    wanted = max(CHECK_MIN_DRAWS, min(int(check_draws), CHECK_NUMBERS // max(int(rows), 1)))
    return int(min(int(samples), wanted))


def analysis_bytes(
    *,
    rows: int,
    persons: int,
    effects: Sequence[int],
    draws: int,
    chains: int,
    log_likelihood: bool = True,
    check_draws: int = CHECK_DRAWS,
    effects_on_disk: bool = True,
) -> dict[str, int]:
    r"""Bytes the main job holds at its peak, by part.

    With :math:`S` = chains :math:`\times` draws, :math:`n` rows, :math:`J` persons and
    :math:`q_m` person effects in model :math:`m`:

    - the person effects, :math:`8 S J q` numbers :data:`DRAW_COPIES` times: while a fit's
      posterior is completed and saved, and while the checks work on a fit. A fit saved in
      the fit cache reads them from its file on use, one fit at a time
      (:meth:`ambidex_bayes.engine.result.FitResult.hold_person_effects_on_disk`), so only
      the largest model counts, :math:`q = \max_m q_m`; with ``effects_on_disk=False``
      (no fit cache) every fit holds its own, :math:`8 S J \sum_m q_m` besides;
    - with ``log_likelihood``, every fit's stored pointwise log-likelihood, :math:`S n`
      numbers (4 bytes each above :data:`FLOAT32_LOG_LIKELIHOOD_ABOVE` numbers, else 8);
      without it the checks compute it by blocks of rows (the blocks below);
    - the predictive checks: the replicated outcomes and their means,
      :math:`2 \times 8 R n` with :math:`R` = :func:`check_replicates` data sets (at most
      ``check_draws``, at most :data:`CHECK_NUMBERS` numbers beyond 50,000 rows);
    - the data and designs, :data:`BYTES_PER_FIT_ROW` per row, and the blocks the checks
      (PSIS-LOO, LOO-PIT, the linear predictor) work in, :data:`CHECK_BLOCK_NUMBERS`
      numbers;
    - when a model has two person effects per person (a person slope), the report's person
      slopes: their blocks of persons and each person's summary
      (:func:`person_slope_bytes`), never all persons' slope draws at once.

    Nothing grows with rows :math:`\times` persons: the checks index the person effects
    by each row's person.

    Parameters
    ----------
    rows, persons : int
    effects : sequence of int
        Person effects per person of each model of the job (e.g. ``[1, 1, 2, 2]``).
    draws, chains : int
        Draws per chain and chains of every fit.
    log_likelihood : bool
        Whether the fits store the pointwise log-likelihood.
    check_draws : int
        Most draws the predictive checks use.
    effects_on_disk : bool
        Whether the fits are saved (in the fit cache) and read their person effects from
        their files.

    Returns
    -------
    dict of str to int
        Bytes by part.
    """
    total = int(draws) * int(chains)
    largest = max((int(q) for q in effects), default=0)
    parts = {
        "person effects of one fit": int(total * persons * largest * 8 * DRAW_COPIES),
    }
    if not effects_on_disk:
        parts["person effects of the other fits"] = int(
            total * persons * 8 * (sum(int(q) for q in effects) - largest)
        )
    if log_likelihood:
        item = 4 if total * rows > FLOAT32_LOG_LIKELIHOOD_ABOVE else 8
        parts["pointwise log-likelihoods"] = int(len(effects) * total * rows * item)
    replicates = check_replicates(rows, total, check_draws=check_draws)
    parts["replicated data"] = int(2 * replicates * rows * 8)
    parts["data, designs and blocks"] = int(rows * BYTES_PER_FIT_ROW + CHECK_BLOCK_NUMBERS * 8)
    if largest >= 2:
        parts["person slopes"] = person_slope_bytes(persons=persons, draws=draws, chains=chains)
    return parts


def peak_line(needed: float) -> str:
    """One plain line with a job's estimated peak and the memory available now.

    Parameters
    ----------
    needed : float
        The estimate, in bytes.

    Returns
    -------
    str
        E.g. ``"Memory: about 5.6 GB expected at the peak (this machine has 21 GB
        available)."``
    """
    available = available_memory()
    machine = (
        f"this machine has {format_bytes(available)} available"
        if available is not None
        else "the memory available on this machine is unknown"
    )
    return f"Memory: about {format_bytes(needed)} expected at the peak ({machine})."


def check_analysis_memory(
    *,
    rows: int,
    persons: int,
    effects: Sequence[int],
    draws: int,
    chains: int,
    log_likelihood: bool = True,
    check_draws: int = CHECK_DRAWS,
    effects_on_disk: bool = True,
    verbose: bool = False,
) -> dict[str, int]:
    """Refuse, before sampling, a main job whose results and checks cannot be held in memory.

    The estimate is :func:`analysis_bytes` (same parameters); the message names its parts
    and what to do: fewer draws or chains (the person effects are held for every draw kept,
    the predictive checks use at most ``check_draws``), or, for fits that store the
    pointwise log-likelihood, fits without it. With ``verbose`` the estimate is printed
    first, as one line (:func:`peak_line`), also when the job is then refused.

    Returns
    -------
    dict of str to int
        The estimate by part, when it fits.

    Raises
    ------
    ResourceError
        The estimate exceeds :data:`MEMORY_SHARE` of the available memory.
    """
    parts = analysis_bytes(
        rows=rows,
        persons=persons,
        effects=effects,
        draws=draws,
        chains=chains,
        log_likelihood=log_likelihood,
        check_draws=check_draws,
        effects_on_disk=effects_on_disk,
    )
    if verbose:
        print(peak_line(sum(parts.values())), flush=True)
    described = ", ".join(f"{name} {format_bytes(n)}" for name, n in parts.items())
    total = int(draws) * int(chains)
    fitting = max(1, int(check_draws) // max(int(chains), 1))
    advice = (
        f"Keep fewer draws: --draws {fitting} with --chains {chains} keeps {fitting * chains:,} "
        f"draws (the person effects are held for all {total:,} draws kept now, the "
        f"predictive checks use at most {check_draws:,}), or fewer chains"
    )
    if log_likelihood:
        advice += (
            "; or fit fewer models at once (--models with a folder of fewer specs), or fit "
            "the models one by one with `fit --no-log-likelihood` and write the report from "
            "the saved fits with `report`"
        )
    if not effects_on_disk:
        advice += "; or keep a fit cache folder, from which the fits read their person effects"
    check_memory(
        sum(parts.values()),
        what=(
            f"The main job on {rows:,} rows and {persons:,} persons, {len(effects)} models of "
            f"{chains} chains x {draws} draws ({described})"
        ),
        advice=advice + ".",
    )
    return parts
