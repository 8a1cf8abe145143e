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
    assert parts["person effects of the fits"] == s * 2000 * 6 * 8
    # 4000 x 16,000 numbers > 5e7: held as float32
    assert parts["pointwise log-likelihoods"] == 4 * s * 16_000 * 4
    assert parts["LOO-PIT weights"] == s * 16_000 * 8
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


def test_estimate_grows_linearly_with_rows_never_with_rows_times_persons():
    def total(rows, persons):
        return sum(
            memory.analysis_bytes(
                rows=rows, persons=persons, effects=LADDER, draws=1000, chains=4
            ).values()
        )

    base = total(200_000, 20_000)
    more_persons = total(200_000, 40_000)
    more_rows = total(400_000, 20_000)
    # doubling persons adds only their effects' draws (6 effects x 4000 draws x 8 bytes each)
    assert more_persons - base == 20_000 * 6 * 4000 * 8
    # each further 200,000 rows add the same: linear in rows
    assert total(600_000, 20_000) - more_rows == more_rows - base


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
