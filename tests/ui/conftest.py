"""The web UI in a real browser: headless Chromium (Playwright) against a real ``tether server``
on 127.0.0.1, holding runs that real tether processes wrote and ``tether sync`` uploaded.

Skipped with a reason when Playwright, Chromium or the built UI (``scripts/build-web.sh``) is
missing. Screenshots of the main pages land in ``test-artifacts/``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tether.server.app import STATIC_DIR
from tether.server.testing import CHROMIUM_ARGS as BROWSER_ARGS
from tether.server.testing import LiveServer

playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")

CHROMIUM = os.environ.get("TETHER_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = list(BROWSER_ARGS)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PROJECT = "uitest"

# Three runs; in each, two spawned ranks log train/loss (two series), the main process logs
# val/* and prints in colour, the ranks print to stdout and stderr.
TRAINING = """
import math, multiprocessing as mp, os, sys
import tether

def rank(run, r):
    os.environ["RANK"] = str(r)
    for step in range(200):
        run.log({"train/loss": 2.0 * math.exp(-step / 60) + 0.2 * r}, step=step)
    print(f"\\x1b[32mrank {r}\\x1b[0m finished \\x1b[1mOK\\x1b[0m")
    print(f"rank {r} complains on stderr", file=sys.stderr)

if __name__ == "__main__":
    for i in range(3):
        run = tether.init(
            project="uitest", name=f"ui-run-{i}", tags=["ui"], group="g",
            config={"lr": 0.01 * (i + 1), "batch": 32, "model": {"depth": 4 + i}},
        )
        ranks = [mp.get_context("spawn").Process(target=rank, args=(run, r)) for r in range(2)]
        for p in ranks:
            p.start()
        for p in ranks:
            p.join(60)
        for step in range(300):
            acc = 1 - math.exp(-step / (80 + 20 * i))
            run.log({"val/acc": acc, "lr": 0.01 * (i + 1)}, step=step)
            if step % 50 == 0:
                print(f"\\x1b[1;34mstep {step}\\x1b[0m acc \\x1b[33m{step / 300:.2f}\\x1b[0m")
        run.summary["best_acc"] = 0.9 + i / 100
        run.finish()
"""


@dataclass
class UiServer:
    server: LiveServer
    runs: dict[str, str]  # name -> id

    @property
    def url(self) -> str:
        return self.server.base_url

    def api(self, path: str) -> Any:
        response = httpx.get(self.url + "/api/v1" + path, headers=self.server.headers, timeout=30)
        response.raise_for_status()
        return response.json()


def client_env(server: LiveServer, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TETHER_")}
    env.update(TETHER_BASE_URL=server.base_url, TETHER_API_KEY=server.api_key)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def make_runs(directory: Path, server: LiveServer) -> None:
    """Train offline with real processes, then upload with the real ``tether sync``."""
    (directory / "train.py").write_text(textwrap.dedent(TRAINING))
    env = client_env(server, TETHER_MODE="offline")
    for command in (["train.py"], ["-m", "tether.cli", "sync", "-q", "."]):
        subprocess.run(
            [sys.executable, *command], cwd=directory, env=env, check=True, timeout=180,
            capture_output=True,
        )  # fmt: skip


@pytest.fixture(scope="package")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiServer]:
    if not (STATIC_DIR / "index.html").is_file():
        pytest.skip("the web UI is not built: run scripts/build-web.sh")
    server = LiveServer(tmp_path_factory.mktemp("ui-server")).start()
    try:
        make_runs(tmp_path_factory.mktemp("ui-runs"), server)
        runs = httpx.get(
            f"{server.base_url}/api/v1/projects/{PROJECT}/runs", headers=server.headers, timeout=30
        ).json()["runs"]
        yield UiServer(server, {run["name"]: run["id"] for run in runs})
    finally:
        server.stop()


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (set TETHER_TEST_CHROMIUM)")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def sign_in(context: Any, server: LiveServer) -> None:
    """Sign the browser context in as the web UI does: the key once, for a session cookie."""
    response = context.request.post(
        server.base_url + "/api/v1/session",
        data=json.dumps({"key": server.api_key}),
        headers={"Content-Type": "application/json"},
    )
    assert response.ok, response.text()


@pytest.fixture
def page(browser: Any, ui_server: UiServer) -> Iterator[Any]:
    """A page signed in to the server (a session cookie); page errors fail the test."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    sign_in(context, ui_server.server)
    context.set_default_timeout(15_000)
    new_page = context.new_page()
    errors: list[str] = []
    new_page.on("pageerror", lambda error: errors.append(str(error)))
    yield new_page
    context.close()
    assert not errors, errors


def screenshot(page: Any, name: str, *, full_page: bool = False) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)
