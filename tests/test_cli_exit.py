"""The command line leaves its objects to the operating system at exit.

Python's exit collects cyclic garbage while it clears the modules, walking every object
still tracked; the command freezes them first (:func:`gc.freeze`, from an exit handler), so
those collections skip them. Checked in a fresh interpreter, whose exit is what is tested.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _exit_report(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_the_objects_are_frozen_before_the_exit_collections():
    report = _exit_report(
        """
        import atexit, gc
        before = gc.get_freeze_count()  # the interpreter's own frozen objects
        # registered first, so run last: after the command's exit handler
        atexit.register(lambda: print("frozen", gc.get_freeze_count() > before, flush=True))
        from ambidex_bayes.cli import main
        main(["summary", "--help"])  # prints the help and exits (status 0)
        """
    )
    assert report == "frozen True"
