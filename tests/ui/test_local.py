"""`tether ui DIR` in the browser: no key needed, even with a stale key from another server."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from .conftest import screenshot

RUN = """
import tether
with tether.init(project="local", name="local-run", id="local-run") as run:
    for step in range(100):
        run.log({"loss": 1.0 / (step + 1)})
    print("hello from the local run")
"""


def _wait_for_import(url: str, timeout: float = 30) -> None:
    """`tether ui` imports in the background: wait until the API (no key) lists the run."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = httpx.get(url + "/api/v1/projects/local/runs", timeout=10)
        if response.is_success and response.json()["total"] == 1:
            return
        time.sleep(0.2)
    raise AssertionError("tether ui never imported the run")


def test_tether_ui_needs_no_key(browser: Any, tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(RUN)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TETHER_")}
    env["TETHER_MODE"] = "offline"
    subprocess.run([sys.executable, "train.py"], cwd=tmp_path, env=env, check=True, timeout=120)
    ui = subprocess.Popen(
        [sys.executable, "-m", "tether.cli", "ui", str(tmp_path), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    context = browser.new_context()
    try:
        assert ui.stdout is not None
        match = re.search(r"(http://127\.0\.0\.1:\d+)", ui.stdout.readline())
        assert match, "tether ui printed no URL"
        url = match.group(1)
        _wait_for_import(url)
        # A key left by another server on this address must not lock the user out.
        context.add_init_script("localStorage.setItem('tether.apiKey', 'tth_from_elsewhere')")
        page = context.new_page()
        page.goto(url + "/projects/local")
        page.locator('.runs-row[data-run="local-run"]').wait_for(timeout=30_000)
        assert page.locator("form.key-form").count() == 0
        page.goto(url + "/projects/local/runs/local-run")
        page.wait_for_function(
            "() => document.querySelector('.panel[data-key=\"loss\"] .chart')?.dataset.drawn"
        )
        screenshot(page, "local-ui-run")
        page.get_by_role("link", name="console").click()
        page.get_by_text("hello from the local run").wait_for()
    finally:
        context.close()
        ui.send_signal(signal.SIGINT)
        try:
            ui.wait(timeout=20)
        except subprocess.TimeoutExpired:
            ui.kill()
            ui.wait(timeout=20)
