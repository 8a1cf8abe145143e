"""The main job's memory after sampling: the estimate by part, and its refusal before
sampling with what to do."""

from __future__ import annotations

import pytest

from ambidex_bayes import memory
from ambidex_bayes.errors import ResourceError

LADDER = [1, 1, 2, 2]  # person effects per person of M0..M3


def test_estimate_by_part_equals_hand_computation():
    parts = memory.analysis_bytes(rows=16_000, persons=2_000, effects=LADDER, draws=1000, chains=4)
    s = 4000
    # the fits read their person effects from their files: one fit's (the largest) at a time
    assert parts["person effects of one fit"] == s * 2000 * 2 * 8 * memory.DRAW_COPIES
    assert "person effects of the other fits" not in parts
    # 4000 x 16,000 numbers > 5e7: held as float32
    assert parts["pointwise log-likelihoods"] == 4 * s * 16_000 * 4
    assert "LOO-PIT weights" not in parts  # computed by blocks of rows
    assert parts["replicated data"] == 2 * 1000 * 16_000 * 8
    assert parts["data, designs and blocks"] == (
        16_000 * memory.BYTES_PER_FIT_ROW + memory.CHECK_BLOCK_NUMBERS * 8
    )
    small = memory.analysis_bytes(rows=100, persons=20, effects=[2], draws=100, chains=2)
    assert small["pointwise log-likelihoods"] == 200 * 100 * 8
    assert small["replicated data"] == 2 * 200 * 100 * 8  # fewer draws than the checks use
    without = memory.analysis_bytes(
        rows=100, persons=20, effects=[2], draws=100, chains=2, log_likelihood=False
    )
    assert "pointwise log-likelihoods" not in without and "LOO-PIT weights" not in without
    # beyond 50,000 rows the report's checks replicate fewer data sets (250 at 200,000 rows)
    large = memory.analysis_bytes(
        rows=200_000, persons=20_000, effects=LADDER, draws=1000, chains=4, log_likelihood=False
    )
    assert large["replicated data"] == 2 * 250 * 200_000 * 8
    assert large["person effects of one fit"] == s * 20_000 * 2 * 8 * memory.DRAW_COPIES
    # without a fit cache every fit holds its own person effects as well
    held = memory.analysis_bytes(
        rows=16_000, persons=2_000, effects=LADDER, draws=1000, chains=4, effects_on_disk=False
    )
    assert held["person effects of the other fits"] == s * 2000 * (6 - 2) * 8
    # the person slopes: 3 blocks of 500 persons x 4000 draws, and each person's summaries
    assert parts["person slopes"] == 3 * 500 * s * 8 + 2000 * memory.BYTES_PER_PERSON_SLOPE
    assert small["person slopes"] == 3 * 20 * 200 * 8 + 20 * memory.BYTES_PER_PERSON_SLOPE
    no_slopes = memory.analysis_bytes(rows=100, persons=20, effects=[1, 1], draws=100, chains=2)
    assert "person slopes" not in no_slopes


def test_estimate_grows_linearly_with_rows_never_with_rows_times_persons():
    def total(rows, persons):
        return sum(
            memory.analysis_bytes(
                rows=rows, persons=persons, effects=LADDER, draws=1000, chains=4
            ).values()
        )

    # from 500,000 rows on, the report's checks replicate their fewest data sets (100)
    base = total(600_000, 20_000)
    more_persons = total(600_000, 40_000)
    more_rows = total(800_000, 20_000)
    # doubling persons adds only the largest fit's effects' draws (2 effects x 4000 draws x
    # 8 bytes each, DRAW_COPIES times) and each person's slope summaries (the person slopes'
    # blocks stay the same size)
    assert more_persons - base == (
        20_000 * 2 * memory.DRAW_COPIES * 4000 * 8 + 20_000 * memory.BYTES_PER_PERSON_SLOPE
    )
    # each further 200,000 rows add the same: linear in rows
    assert total(1_000_000, 20_000) - more_rows == more_rows - base


def test_job_too_large_is_refused_with_what_to_do(monkeypatch):
    monkeypatch.delenv(memory.SKIP_VARIABLE, raising=False)
    monkeypatch.setattr(memory, "available_memory", lambda: 4_000_000_000)  # 4 GB
    with pytest.raises(ResourceError) as info:
        memory.check_analysis_memory(
            rows=200_000, persons=20_000, effects=LADDER, draws=1000, chains=4
        )
    message = str(info.value)
    assert "200,000 rows and 20,000 persons" in message
    assert "pointwise log-likelihoods" in message and "replicated data" in message
    assert "--draws 250 with --chains 4" in message
    assert "--no-log-likelihood" in message
    assert memory.SKIP_VARIABLE in message


def test_job_that_fits_passes_and_the_check_can_be_skipped(monkeypatch):
    monkeypatch.delenv(memory.SKIP_VARIABLE, raising=False)
    monkeypatch.setattr(memory, "available_memory", lambda: 64_000_000_000)
    parts = memory.check_analysis_memory(
        rows=16_000, persons=2_000, effects=LADDER, draws=1000, chains=4
    )
    assert sum(parts.values()) < 0.8 * 64_000_000_000
    monkeypatch.setattr(memory, "available_memory", lambda: 1_000)
    monkeypatch.setenv(memory.SKIP_VARIABLE, "1")
    memory.check_analysis_memory(rows=16_000, persons=2_000, effects=LADDER, draws=1000, chains=4)


def test_run_analysis_refuses_a_job_too_large_before_any_sampling(monkeypatch):
    """The main job checks its memory after building every model and before the first fit."""
    import importlib

    from ambidex_bayes import datasets
    from ambidex_bayes.data import ColumnMapping

    pipeline = importlib.import_module("ambidex_bayes.pipeline")

    def no_sampling(*args, **kwargs):
        raise AssertionError("sampling started although the job cannot fit in memory")

    monkeypatch.setattr(pipeline, "fit", no_sampling)
    monkeypatch.setattr(memory, "available_memory", lambda: 1_000_000)  # 1 MB free
    monkeypatch.delenv(memory.SKIP_VARIABLE, raising=False)
    mapping = ColumnMapping.from_toml(datasets.example_mapping_path())
    with pytest.raises(ResourceError, match=r"The main job on 397 rows and 97 persons, 4 models"):
        pipeline.run_analysis(datasets.example_path(), mapping, progressbar=False, verbose=False)


def test_the_estimate_s_parts_are_the_arrays_the_job_holds(tmp_path):
    """At a small size, each part of the estimate is the size of the arrays the code makes:
    a fit's person effects (``DRAW_COPIES`` times), the report's replicated data, the person
    slopes' blocks (``PERSON_SLOPE_BLOCK_COPIES`` times) and, for fits that store it, the
    pointwise log-likelihood of every fit."""
    import importlib

    import numpy as np
    from fake_fit_results import pair_result, person_effect_names

    from ambidex_bayes.checks import ppc, predictive, report_section
    from ambidex_bayes.checks.log_likelihood import row_log_likelihood
    from ambidex_bayes.moderation import person_slopes

    assert memory.CHECK_DRAWS == predictive.MAX_DRAWS
    assert memory.CHECK_NUMBERS == report_section.REPORT_PPC_NUMBERS
    assert memory.CHECK_MIN_DRAWS == report_section.REPORT_MIN_PPC_DRAWS
    slopes_module = importlib.import_module("ambidex_bayes.moderation.person_slopes")
    assert memory.PERSON_SLOPE_BLOCK_NUMBERS == slopes_module.BLOCK_NUMBERS
    fit = pair_result()
    sizes = fit.posterior.sizes
    rows = len(fit.prepared.frame)
    effects = person_effect_names(fit)
    asked = {
        "rows": rows,
        "persons": sizes["pid__factor_dim"],
        "effects": [1, len(effects)],  # a null model and this one
        "draws": sizes["draw"],
        "chains": sizes["chain"],
    }
    parts = memory.analysis_bytes(**asked, log_likelihood=False)
    held = sum(fit.posterior[name].values.nbytes for name in effects)
    assert parts["person effects of one fit"] == memory.DRAW_COPIES * held
    fit.save(tmp_path / "fit.nc")
    fit.hold_person_effects_on_disk()
    assert parts["person effects of one fit"] == memory.DRAW_COPIES * sum(
        fit.posterior[name].values.nbytes for name in effects
    )
    replicated = ppc.posterior_predictive(fit, max_draws=report_section._ppc_max_draws(fit))
    assert parts["replicated data"] == replicated.y_rep.nbytes + replicated.mu.nbytes
    slopes = person_slopes(fit).parts  # read by blocks from the fit's file, as in the job
    block = slopes.block(0, slopes.block_persons)
    assert block.shape == (sizes["chain"], sizes["draw"], asked["persons"])  # one block here
    assert parts["person slopes"] == (
        memory.PERSON_SLOPE_BLOCK_COPIES * block.nbytes
        + asked["persons"] * memory.BYTES_PER_PERSON_SLOPE
    )
    stored = memory.analysis_bytes(**asked, log_likelihood=True)
    ll = np.concatenate([b.values for _, b in row_log_likelihood(fit).blocks(10**9)], axis=-1)
    assert ll.shape == (sizes["chain"], sizes["draw"], rows)
    assert stored["pointwise log-likelihoods"] == 2 * ll.nbytes


@pytest.mark.parametrize(("cache_dir", "on_disk"), [(None, True), (False, False)])
def test_the_job_counts_every_fits_person_effects_without_a_fit_cache(
    cache_dir, on_disk, monkeypatch, tmp_path
):
    """Fits read their person effects from the fit cache's files; without a cache
    (``cache_dir=False``) each fit holds its own, and the job's estimate must count them."""
    from ambidex_bayes.datasets import example_mapping_path, example_path
    from ambidex_bayes.pipeline import run_analysis

    asked = {}

    def record(**kwargs):
        asked.update(kwargs)
        raise ResourceError("stop before sampling")

    monkeypatch.setattr(memory, "check_analysis_memory", record)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ResourceError, match="stop before sampling"):
        run_analysis(
            example_path(),
            example_mapping_path(),
            cache_dir=cache_dir,
            progressbar=False,
            verbose=False,
        )
    assert asked["effects_on_disk"] is on_disk
