"""The built wheel: bundled specs and prior sets ship inside it, and it fits a model away
from the checkout."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Run in a child interpreter started with ``-I`` (no PYTHONPATH, no user site, no current
#: folder on ``sys.path``): the installed copy goes first on ``sys.path``, the editable
#: install's finder (which maps ``ambidex_bayes`` to the checkout) is taken off
#: ``sys.meta_path``, and after the fit every imported ``ambidex_bayes`` module must come
#: from the installed copy.
CHILD = r"""
import sys
site = sys.argv[1]
sys.path.insert(0, site)
sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in repr(f)]
import ambidex_bayes
from ambidex_bayes.cli import main
from ambidex_bayes.spec import models_dir
assert ambidex_bayes.__file__.startswith(site), ambidex_bayes.__file__
assert str(models_dir()).startswith(site), models_dir()
status = main(sys.argv[2:])
outside = sorted(
    name for name, module in list(sys.modules.items())
    if name.startswith("ambidex_bayes")
    and getattr(module, "__file__", None)
    and not module.__file__.startswith(site)
)
assert not outside, outside
sys.exit(status)
"""


def _copy_sources(dest: Path) -> Path:
    """The files a wheel is built from, copied so the build leaves the checkout untouched."""
    dest.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(
        ROOT / "ambidex_bayes",
        dest / "ambidex_bayes",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"),
    )
    return dest


@pytest.mark.fit
def test_built_wheel_runs_a_bundled_model_outside_the_checkout(tmp_path: Path):
    """Build the wheel, install it into a bare folder and fit M3 from elsewhere.

    The cheapest honest route: installing the wheel with its dependencies into a fresh
    virtual environment would download and install the whole scientific stack on every run.
    Instead the wheel is built without build isolation (the project's own setuptools), then
    installed without dependencies into an empty folder with ``pip install --target``. A child
    interpreter of this environment, started with ``-I`` and with the editable install's
    finder removed, imports the package from that folder only (checked for every imported
    ``ambidex_bayes`` module), so the dependencies come from this environment but every file
    of the package, the bundled specs and prior sets included, comes from the wheel. It runs
    ``ambidex-bayes fit --example --spec M3 --priors sceptical`` from a folder outside the
    repository and the fit file must appear there.
    """
    src = _copy_sources(tmp_path / "src")
    dist = tmp_path / "dist"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(src)],
        check=True,
        cwd=tmp_path,
    )
    (wheel,) = dist.glob("ambidex_bayes-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for spec in ("m0_null", "m1_random_intercept", "m2_random_slope", "m3_cross_level"):
        assert f"ambidex_bayes/models/{spec}.toml" in names
    for prior_set in ("default", "weakly_informative", "sceptical", "informative"):
        assert f"ambidex_bayes/models/priors/{prior_set}.toml" in names
    assert "ambidex_bayes/models/priors/README.md" in names
    assert not any(n.startswith("models/") for n in names)

    site = tmp_path / "site"
    subprocess.run(
        [*pip, "install", "--no-deps", "--no-compile", "--target", str(site), str(wheel)],
        check=True,
        cwd=tmp_path,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = elsewhere / "m3.nc"
    args = ["fit", "--example", "--spec", "M3", "--priors", "sceptical", "--out", str(out)]
    args += ["--draws", "50", "--tune", "50", "--chains", "1", "--backend", "pymc"]
    args += ["--no-progress", "--cache-dir", str(elsewhere / "cache")]
    done = subprocess.run(
        [sys.executable, "-I", "-c", CHILD, str(site), *args],
        cwd=elsewhere,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert out.stat().st_size > 10_000
    assert "fit saved" in done.stdout
