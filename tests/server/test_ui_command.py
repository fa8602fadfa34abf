"""`tether ui DIR`: a local server that imports the runs under DIR and follows them live."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

import tether


def _wait_for(check: object, timeout: float = 30.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()  # type: ignore[operator]
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_ui_imports_and_follows_runs_without_login(run_dir: Path) -> None:
    with tether.init(project="local", dir=run_dir, id="first") as run:
        for i in range(50):
            run.log({"loss": float(i)})
    growing = tether.init(project="local", dir=run_dir, id="growing")
    growing.log({"x": 0.0})
    growing.flush()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TETHER_")}
    ui = subprocess.Popen(
        [sys.executable, "-m", "tether.cli", "ui", str(run_dir), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert ui.stdout is not None
        line = ui.stdout.readline()
        url = re.search(r"(http://127\.0\.0\.1:\d+)", line).group(1)  # type: ignore[union-attr]
        api = httpx.Client(base_url=url + "/api/v1", timeout=10)  # no key: local mode

        def runs() -> list[str]:
            response = api.get("/projects/local/runs")
            return sorted(r["id"] for r in response.json()["runs"]) if response.is_success else []

        assert _wait_for(lambda: runs() == ["first", "growing"])
        for i in range(1, 20):
            growing.log({"x": float(i)})
        growing.flush()

        def last_step() -> bool:
            return api.get("/projects/local/runs/growing").json()["last_step"] == 19

        _wait_for(last_step)  # followed while it grows, no restart
        growing.finish()
        _wait_for(lambda: api.get("/projects/local/runs/growing").json()["state"] == "finished")
        page = httpx.get(url + "/projects/local/runs/growing")
        assert page.headers["content-type"].startswith(("text/html", "application/json"))
        assert httpx.get(url + "/api/nope").status_code == 404
    finally:
        ui.send_signal(signal.SIGINT)
        try:
            ui.wait(timeout=20)
        except subprocess.TimeoutExpired:
            ui.kill()
            ui.wait(timeout=20)


def test_ui_refuses_a_non_loopback_host(run_dir: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tether.cli", "ui", str(run_dir), "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2 and "loopback" in result.stderr
