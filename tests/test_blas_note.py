"""PyTensor's BLAS search runs once per machine and its meaning is said once, in plain words."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from ambidex_bayes.model.pytensor_blas import NO_BLAS_NOTE

_SCRIPT = """
import warnings
warnings.simplefilter("error")
from ambidex_bayes.model.pytensor_blas import configure_blas
print(repr(configure_blas()))
"""


def _run(tmp_path, **extra):
    env = dict(os.environ)
    env.pop("PYTENSOR_FLAGS", None)
    env["AMBIDEX_PYTENSOR_CACHE_DIR"] = str(tmp_path / "record")
    env.update(extra)
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip(), done.stderr


def test_search_once_then_read_the_record_without_a_warning(tmp_path):
    first_out, first_err = _run(tmp_path)
    record = json.loads((tmp_path / "record" / "blas.json").read_text())
    assert repr(record["ldflags"]) == first_out
    # the note is said exactly when PyTensor found nothing, and not PyTensor's own warning
    assert ("Note (shown once)" in first_err) == (record["ldflags"] == "")
    assert "could not link to a BLAS" not in first_err

    second_out, second_err = _run(tmp_path)
    assert second_out == first_out
    assert "Note (shown once)" not in second_err


def test_stored_flags_are_given_to_pytensor(tmp_path):
    folder = tmp_path / "record"
    folder.mkdir()
    _run(tmp_path)  # writes the record for this environment
    record_file = folder / "blas.json"
    record = json.loads(record_file.read_text())
    record["ldflags"] = "-lm"  # a flag PyTensor accepts; proves the stored value is used
    record_file.write_text(json.dumps(record))
    out, err = _run(tmp_path)
    assert out == repr("-lm")
    assert "Note (shown once)" not in err


def test_a_record_of_another_environment_is_not_used(tmp_path):
    folder = tmp_path / "record"
    folder.mkdir()
    (folder / "blas.json").write_text(json.dumps({"key": "elsewhere", "ldflags": "-lm"}))
    out, _ = _run(tmp_path)
    assert out != repr("-lm")
    assert json.loads((folder / "blas.json").read_text())["key"] != "elsewhere"


def test_the_users_own_flags_are_kept_and_nothing_is_stored(tmp_path):
    out, err = _run(tmp_path, PYTENSOR_FLAGS="blas__ldflags=-lm")
    assert out == repr("-lm")
    assert not (tmp_path / "record" / "blas.json").exists()
    assert "Note (shown once)" not in err


def test_the_note_names_the_record_and_says_results_are_unaffected():
    text = NO_BLAS_NOTE.format(record="/x/blas.json")
    assert "/x/blas.json" in text
    assert "Results are not affected" in text
