"""End to end in a real browser: the report opens in headless Chromium, renders, loads every image and
logs nothing to the console.

Uses Debian's `chromium` package (`.ci/run` installs it where missing); skipped with the reason when it
is absent. The browser profile lives in tmp_path and the network is off, so nothing is fetched or kept.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reports import render_report
from tests.support.paths import ROOT
from tests.support.report_run import add_hostile_example, make_run

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Debian's `chromium` is not installed; `.ci/run` installs it (apt-get install -y chromium)",
)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # a page that tried the network would fail visibly
    "--enable-logging=stderr",
    "--v=0",
]
CONSOLE = re.compile(r":CONSOLE[:(]\d+\)?\] (.*)")
TIMEOUT_S = 300


def chromium(page: Path, work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium on a local page with a throw-away profile in `work`."""
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={work / 'profile'}", *args, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        cwd=work,
        check=False,
    )


def console_messages(stderr: str) -> list[str]:
    """Messages the page wrote to the console (errors, warnings, logs), from Chromium's stderr log."""
    return CONSOLE.findall(stderr)


def marker(dom: str, name: str) -> str | None:
    """An attribute the page's script sets on <html> after the load event."""
    match = re.search(rf'<html[^>]*\s{name}="([^"]*)"', dom)
    return match[1] if match else None


def test_console_and_image_checks_catch_a_broken_page(tmp_path: Path) -> None:
    """The checks below can fail: a page with a script error and a broken image is caught."""
    page = tmp_path / "broken.html"
    script = (ROOT / "reports" / "templates" / "sort.js").read_text()
    page.write_text(
        '<!DOCTYPE html><html><body><img src="data:image/png;base64,AAAA">'
        f"<script>{script}</script><script>notDefined();</script></body></html>"
    )
    result = chromium(page, tmp_path, "--dump-dom")
    assert any("notDefined" in m for m in console_messages(result.stderr)), result.stderr[-2000:]
    assert marker(result.stdout, "data-images-broken") == "1"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = make_run(tmp_path_factory.mktemp("browser"), lean=True)
    add_hostile_example(run)
    return render_report(run)


def test_report_loads_every_image_without_console_messages(report: Path, tmp_path: Path) -> None:
    result = chromium(report, tmp_path, "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    assert console_messages(result.stderr) == []
    dom = result.stdout
    assert marker(dom, "data-rendered") == "yes", "the page's script did not run to the load event"
    images = report.read_text(encoding="utf-8").count("<img ")
    assert images > 10 and marker(dom, "data-images") == str(images)
    assert marker(dom, "data-images-broken") == "0"
    assert re.findall(r'<img [^>]*src="(?!data:image/(?:png|webp);base64,)', dom) == []


def test_report_screenshot_is_not_blank(report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    result = chromium(report, tmp_path, "--window-size=1400,2400", f"--screenshot={shot}")
    assert shot.is_file(), result.stderr[-2000:]
    with Image.open(shot) as image:
        pixels = np.asarray(image.convert("L"))
    assert pixels.shape == (2400, 1400)
    # Text, tables and figures: plenty of non-white pixels and many grey levels, not an empty page.
    assert (pixels < 200).mean() > 0.02
    assert len(np.unique(pixels)) > 50


def test_sort_script_orders_numbers_with_missing_values_last(tmp_path: Path) -> None:
    script = (ROOT / "reports" / "templates" / "sort.js").read_text()
    rows = "".join(
        f'<tr><td>{name}</td><td data-sort="{key}">{key or "–"}</td></tr>'
        for name, key in [("a", "2"), ("b", ""), ("c", "10"), ("d", "-1.5")]
    )
    page = tmp_path / "sort.html"
    page.write_text(
        '<!DOCTYPE html><html><body><table class="sortable"><thead><tr><th>name</th><th>value</th></tr>'
        f"</thead><tbody>{rows}</tbody></table><script>{script}</script><script>"
        "function order() { return Array.from(document.querySelectorAll('tbody td:first-child'))"
        ".map(function (td) { return td.textContent; }).join(''); }"
        "var head = document.querySelectorAll('th')[1];"
        "head.click(); document.documentElement.setAttribute('data-up', order());"
        "head.click(); document.documentElement.setAttribute('data-down', order());"
        "</script></body></html>"
    )
    result = chromium(page, tmp_path, "--dump-dom")
    assert console_messages(result.stderr) == []
    assert (marker(result.stdout, "data-up"), marker(result.stdout, "data-down")) == ("dacb", "cadb")
