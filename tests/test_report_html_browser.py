"""report.html opened in a real browser: headless Chromium (Debian's ``chromium``).

The page a browser builds (``--dump-dom``) must hold the key sections: the table of
contents, the methods paragraph, the fixed-effects table and the moderation figure. Skipped
when Chromium is not installed (``apt-get install chromium``; ``.ci/run`` installs it).
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from report_fakes import fake_analysis


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


CHROMIUM = _chromium()

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium is not installed (Debian: apt-get install chromium)",
)


def _browser(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",  # needed when the tests run as root (containers, CI)
        "--disable-gpu",
        "--no-first-run",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    report = importlib.import_module("ambidex_bayes.report")
    out = tmp_path_factory.mktemp("browser") / "report"
    saved = report.REPORT_SECTIONS
    report.REPORT_SECTIONS = ()  # replicated data and refits are tested with their modules
    try:
        report.write_report(fake_analysis(), out)
    finally:
        report.REPORT_SECTIONS = saved
    return out / "report.html"


def test_the_browser_renders_the_key_sections(page, tmp_path):
    done = _browser("--dump-dom", page.resolve().as_uri(), profile=tmp_path / "profile")
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert '<nav id="toc">' in dom and "Contents" in dom
    toc = dom.split('<nav id="toc">', 1)[1].split("</nav>", 1)[0]
    for anchor in ("methods", "the-moderation-m3", "tables-for-publication"):
        assert f'href="#{anchor}"' in toc
        assert f'id="{anchor}"' in dom
    methods = dom.split('id="methods"', 1)[1].split("<h2", 1)[0]
    assert "The analyses were run in Python" in methods
    fixed = dom.split('id="table-1-fixed-effects"', 1)[1].split("<h3", 1)[0]
    assert "<table>" in fixed and "Posterior SD" in fixed and "unc_cw:sup_c" in fixed
    figure = re.search(r'<img src="data:image/png;base64,[^"]+" alt="moderation">', dom)
    assert figure, "the moderation figure is not in the page"


def test_the_browser_draws_the_page(page, tmp_path):
    shot = tmp_path / "page.png"
    done = _browser(
        f"--screenshot={shot}",
        "--window-size=1200,1600",
        page.resolve().as_uri(),
        profile=tmp_path / "profile",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000  # text, tables and figures, not an empty page
