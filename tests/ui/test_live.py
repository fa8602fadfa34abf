"""A run that is still training: its charts and console grow in the open page, no reload."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx

from .conftest import UiServer, client_env, screenshot

PROJECT = "uilive"  # its own project, so the runs table of the other tests keeps three runs

SLOW = """
import sys, time
from pathlib import Path
import tether

stop = Path(sys.argv[1])
run = tether.init(project="uilive", name="live-run", id="live-run")
for step in range(3000):
    if stop.exists():
        break
    run.log({"train/loss": 1.0 / (step + 1)}, step=step)
    if step % 5 == 0:
        print(f"live step {step}")
    time.sleep(0.05)
run.finish()
"""


def _points(page: Any) -> int:
    value = page.locator('.panel[data-key="train/loss"] .chart').get_attribute("data-points")
    return int(value or 0)


def _wait_for_run(ui: UiServer, run_id: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            runs = ui.api(f"/projects/{PROJECT}/runs?search={run_id}")["runs"]
        except httpx.HTTPStatusError:  # the project appears with the run's first upload
            runs = []
        if any(run["id"] == run_id and run["last_step"] for run in runs):
            return
        time.sleep(0.2)
    raise AssertionError(f"{run_id} never reached the server")


def test_a_running_run_grows_without_reload(page: Any, ui_server: UiServer, tmp_path: Path) -> None:
    (tmp_path / "slow.py").write_text(textwrap.dedent(SLOW))
    stop = tmp_path / "stop"
    process = subprocess.Popen(
        [sys.executable, "slow.py", str(stop)],
        cwd=tmp_path,
        env=client_env(ui_server.server),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_run(ui_server, "live-run")

        # The runs table shows it as live: a pulsing dot.
        page.goto(f"{ui_server.url}/projects/{PROJECT}?search=live")
        page.locator('.runs-row[data-run="live-run"] .state-running .pulse').wait_for()

        page.goto(f"{ui_server.url}/projects/{PROJECT}/runs/live-run")
        page.locator(".run-page[data-state='running'] .run-header .pulse").wait_for()
        page.wait_for_function(
            "() => document.querySelector('.panel[data-key=\"train/loss\"] .chart')?.dataset.drawn"
        )
        first = _points(page)
        # The page polls every ~3 s: the chart must grow without a reload.
        page.wait_for_function(
            f"() => Number(document.querySelector('.panel[data-key=\"train/loss\"] .chart')"
            f".dataset.points) > {first}",
            timeout=20_000,
        )
        screenshot(page, "run-live")

        page.get_by_role("link", name="console").click()
        page.wait_for_function(
            "() => Number(document.querySelector('.console')?.dataset.lines) > 0"
        )
        lines = int(page.locator(".console").get_attribute("data-lines"))
        page.wait_for_function(
            f"() => Number(document.querySelector('.console').dataset.lines) > {lines}",
            timeout=20_000,
        )
        assert page.locator(".cl .ct").first.inner_text() == "live step 0"
    finally:
        stop.touch()
        try:
            process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0, process.stderr.read() if process.stderr else ""
    # Once it finishes, the page notices and stops pulsing.
    page.locator(".run-page[data-state='finished']").wait_for(timeout=20_000)
