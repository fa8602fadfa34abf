"""The run page's system tab and overview, and environment columns in the runs table, in
Chromium against a real server holding runs that real tether processes wrote (system samples
and environment records through the run's own writer) and ``tether sync`` uploaded."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tether.server.app import STATIC_DIR
from tether.server.testing import LiveServer

from .conftest import client_env, screenshot, sign_in

PROJECT = "uisystem"
COMMIT = "3f2a9c1d0b8e7f6a5c4d3e2f1a0b9c8d7e6f5a4b"

# A run on a made-up machine with two GPUs: 120 samples 5 s apart, an environment with a
# dirty git tree. Its environment records are dated an hour ahead so they win over the one
# the run's own capture writes at init(); the sampler is off (TETHER_SYSTEM_INTERVAL_S=0).
TRAINING = """
import json, sys, time
import tether
from tether.store import format as fmt

environment = json.loads(sys.argv[1])
run = tether.init(project="uisystem", name="gpu-run", id="gpu-run", config={"lr": 0.1})
start = time.time()
for i in range(120):
    sample = {
        "host.cpu_percent": 40.0 + (i % 10) * 3,
        "host.mem_used_bytes": 12 * 2**30 + i * 2**24,
        "host.mem_available_bytes": 100 * 2**30 - i * 2**24,
        "host.swap_used_bytes": 0,
        "host.disk_read_bps": 2e6 + (i % 7) * 1e5,
        "host.disk_write_bps": 1e6,
        "host.net_sent_bps": 5e5,
        "host.net_recv_bps": 3e6 + (i % 5) * 1e5,
        "host.disk_used_bytes": 400 * 2**30,
        "host.disk_total_bytes": 1024 * 2**30,
        "proc.cpu_percent": 180.0 + (i % 4) * 10,
        "proc.rss_bytes": 3 * 2**30 + i * 2**20,
        "proc.threads": 40 + i % 3,
        "proc.count": 5,
    }
    for gpu in range(2):
        sample.update({
            f"gpu.{gpu}.util_percent": 90.0 - gpu * 30 + (i % 5),
            f"gpu.{gpu}.mem_used_bytes": (60 + gpu * 10) * 2**30,
            f"gpu.{gpu}.mem_total_bytes": 141 * 2**30,
            f"gpu.{gpu}.proc_mem_bytes": (58 + gpu * 10) * 2**30,
            f"gpu.{gpu}.temp_c": 60 + gpu * 5 + i % 3,
            f"gpu.{gpu}.power_w": 500.0 + gpu * 50 + (i % 6) * 5,
            f"gpu.{gpu}.power_limit_w": 700.0,
            f"gpu.{gpu}.sm_clock_mhz": 1980,
        })
    run._writer.append([fmt.K_SYSTEM, start + 5.0 * i, sample])
    run.log({"loss": 1.0 / (i + 1)}, step=i)
run._writer.append([fmt.K_ENVIRONMENT, time.time() + 3600, environment])
run.finish()
"""

# Appends a sample every 0.2 s until told to stop: a running run's system charts must follow.
LIVE = """
import sys, time
from pathlib import Path
import tether
from tether.store import format as fmt

stop = Path(sys.argv[1])
run = tether.init(project="uisystem", name="live-system", id="live-system")
for i in range(1500):
    if stop.exists():
        break
    run._writer.append([fmt.K_SYSTEM, time.time(), {"host.cpu_percent": float(i % 50)}])
    time.sleep(0.2)
run.finish()
"""

DIFF = (
    "diff --git a/train.py b/train.py\n"
    "index 1111111..2222222 100644\n"
    "--- a/train.py\n"
    "+++ b/train.py\n"
    "@@ -1,3 +1,3 @@\n"
    " import tether\n"
    "-lr = 0.01\n"
    "+lr = 0.1\n"
)
PACKAGES = {
    "numpy": "2.1.0",
    "numba": "0.60.0",
    "torch": "2.4.0",
    "tether": "0.1.0",
    **{f"pkg-{i:03d}": f"1.{i}" for i in range(200)},
}
ENVIRONMENT = {
    "python": {"version": "3.11.9", "executable": "/usr/bin/python3", "implementation": "cpython"},
    "platform": {"system": "Linux", "release": "6.1.0", "machine": "x86_64", "hostname": "gpu-box"},
    "cpu": {"model": "AMD EPYC 9654 96-Core Processor", "count": 192},
    "memory": {"total_bytes": 1536 * 2**30},
    "gpu": {
        "devices": [
            {"index": 0, "name": "NVIDIA H200", "memory_total_bytes": 141 * 2**30},
            {"index": 1, "name": "NVIDIA H200", "memory_total_bytes": 141 * 2**30},
        ],
        "driver_version": "550.54.15",
        "cuda_version": "12.4",
    },
    "torch": {"version": "2.4.0+cu124", "cuda_version": "12.4", "cuda_available": True},
    "packages": PACKAGES,
    "command": {
        "argv": ["train.py", "--lr", "0.1", "--name", "two words"],
        "cwd": "/home/me/project",
        "executable": "/usr/bin/python3",
    },
    "launcher": {"WORLD_SIZE": "1", "CUDA_VISIBLE_DEVICES": "0,1"},
    "git": {
        "root": "/home/me/project",
        "commit": COMMIT,
        "branch": "main",
        "remote": "https://github.com/me/project.git",
        "dirty": True,
        "diff": DIFF,
        "diff_truncated": False,
    },
}
NO_SAMPLER = {"TETHER_SYSTEM_INTERVAL_S": "0"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    if not (STATIC_DIR / "index.html").is_file():
        pytest.skip("the web UI is not built: run scripts/build-web.sh")
    live = LiveServer(tmp_path_factory.mktemp("ui-system-server")).start()
    try:
        directory = tmp_path_factory.mktemp("ui-system-runs")
        (directory / "train.py").write_text(textwrap.dedent(TRAINING))
        env = client_env(live, TETHER_MODE="offline", **NO_SAMPLER)
        for command in (
            ["train.py", json.dumps(ENVIRONMENT)],
            ["-m", "tether.cli", "sync", "-q", "."],
        ):
            subprocess.run(
                [sys.executable, *command], cwd=directory, env=env, check=True, timeout=180,
                capture_output=True,
            )  # fmt: skip
        yield live
    finally:
        live.stop()


@pytest.fixture
def page(browser: Any, server: LiveServer) -> Iterator[Any]:
    """A page holding the server's key, allowed the clipboard; page errors fail the test."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.base_url)
    sign_in(context, server)
    context.set_default_timeout(15_000)
    new_page = context.new_page()
    errors: list[str] = []
    new_page.on("pageerror", lambda error: errors.append(str(error)))
    yield new_page
    context.close()
    assert not errors, errors


def _run_url(server: LiveServer, run: str, tab: str) -> str:
    return f"{server.base_url}/projects/{PROJECT}/runs/{run}/{tab}"


def _drawn(page: Any, count: int) -> None:
    page.wait_for_function(
        "n => [...document.querySelectorAll('.panel .chart')].filter(c => c.dataset.drawn).length"
        " === n",
        arg=count,
    )


def test_system_tab_draws_a_chart_per_family(page: Any, server: LiveServer) -> None:
    page.goto(_run_url(server, "gpu-run", "system"))
    page.locator(".system-tab").wait_for()
    sections = page.locator("details.section").evaluate_all("s => s.map(d => d.dataset.section)")
    assert sections == ["host", "process tree", "gpu"]
    keys = page.locator(".panel").evaluate_all("ps => ps.map(p => p.dataset.key)")
    assert keys == [
        "host.cpu", "host.memory", "host.disk_io", "host.network", "host.disk_usage",
        "proc.cpu", "proc.rss", "proc.threads", "proc.count",
        "gpu.util", "gpu.memory", "gpu.temp", "gpu.power", "gpu.clock",
    ]  # fmt: skip
    page.set_viewport_size({"width": 1400, "height": 5000})  # every chart near the viewport
    _drawn(page, len(keys))
    titles = page.locator(".panel-title").all_inner_texts()
    assert titles[:2] == ["CPU %", "memory"] and "GPU power vs limit" in titles

    def legend(key: str) -> list[str]:
        labels = page.locator(f'.panel[data-key="{key}"] .u-legend .u-series .u-label')
        return labels.all_inner_texts()[1:]  # the first is the x axis

    # Per GPU device a line; power against its limit; the host's and the tree's memory.
    assert legend("gpu.util") == ["gpu0", "gpu1"]
    assert legend("gpu.power") == ["gpu0", "gpu1", "gpu0 limit", "gpu1 limit"]
    assert legend("gpu.memory") == [
        "gpu0", "gpu1", "gpu0 process tree", "gpu1 process tree", "gpu0 total", "gpu1 total",
    ]  # fmt: skip
    assert legend("host.memory") == [
        "host used", "process tree RSS", "host available", "swap used",
    ]  # fmt: skip
    util = page.locator('.panel[data-key="gpu.util"] .chart')
    assert util.get_attribute("data-points") == "120"
    # Values read in their unit: bytes as GiB, power in W (the legend shows the last sample).
    memory_values = page.locator('.panel[data-key="host.memory"] .u-legend .u-series .u-value')
    assert memory_values.all_inner_texts()[1].endswith("GiB")
    assert page.locator('.panel[data-key="gpu.power"] .u-legend .u-value').nth(3).inner_text() == (
        "700 W"
    )
    page.set_viewport_size({"width": 1400, "height": 1000})
    screenshot(page, "run-system", full_page=True)

    # The x axis is time (no step), and a drag zooms as on the metric charts.
    assert page.get_by_label("x axis").locator("option").all_inner_texts() == [
        "time (since start)",
        "time (wall clock)",
    ]
    panel = page.locator('.panel[data-key="gpu.util"]')
    panel.scroll_into_view_if_needed()
    box = panel.locator(".u-over").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()
    panel.get_by_role("button", name="reset zoom").wait_for()
    panel.get_by_role("button", name="reset zoom").click()
    assert panel.get_by_role("button", name="reset zoom").count() == 0


def test_overview_shows_code_command_hardware_and_packages(page: Any, server: LiveServer) -> None:
    page.goto(_run_url(server, "gpu-run", "overview"))
    git = page.locator('.card[data-card="git"]')
    git.locator("code.commit").wait_for()
    assert git.locator("code.commit").inner_text() == COMMIT
    assert git.locator(".badge.dirty").inner_text().startswith("dirty")
    assert git.locator('[data-fact="branch"] td').inner_text() == "main"
    git.get_by_role("button", name="copy").click()
    git.get_by_role("button", name="copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == COMMIT

    # The diff viewer: closed at first, then lines marked as added and removed.
    assert page.locator(".diff-view").count() == 0
    git.get_by_role("button", name="show the diff").click()
    assert page.locator(".diff-view .dl.add").all_inner_texts() == ["+lr = 0.1"]
    assert page.locator(".diff-view .dl.del").all_inner_texts() == ["-lr = 0.01"]
    assert page.locator(".diff-view .dl.hunk").count() == 1

    command = page.locator('.card[data-card="command"]')
    assert command.locator("code.command-line").inner_text() == (
        "train.py --lr 0.1 --name 'two words'"
    )
    assert command.locator('[data-fact="cwd"] td').inner_text() == "/home/me/project"
    software = page.locator('.card[data-card="software"]')
    assert software.locator('[data-fact="python"] td').inner_text() == "3.11.9 cpython"
    assert software.locator('[data-fact="torch"] td').inner_text().startswith("2.4.0+cu124")
    hardware = page.locator('.card[data-card="hardware"]')
    assert "AMD EPYC 9654" in hardware.locator('[data-fact="CPU"] td').inner_text()
    assert hardware.locator('[data-fact="memory"] td').inner_text() == "1.50 TiB"
    assert hardware.locator("table.gpus tbody tr td:nth-child(2)").all_inner_texts() == [
        "NVIDIA H200",
        "NVIDIA H200",
    ]
    screenshot(page, "run-overview", full_page=True)

    packages = page.locator('.card[data-card="packages"]')
    assert packages.locator("tr[data-package]").count() == len(PACKAGES)
    packages.get_by_placeholder("filter packages").fill("NUM")
    page.wait_for_function(
        "() => document.querySelectorAll('.card[data-card=\"packages\"] tr[data-package]')"
        ".length === 2"
    )
    rows = packages.locator("tr[data-package]")
    assert rows.locator("th").all_inner_texts() == ["numba", "numpy"]
    assert rows.locator("td").all_inner_texts() == ["0.60.0", "2.1.0"]
    assert packages.get_by_text(f"2 of {len(PACKAGES)}").count() == 1
    packages.get_by_placeholder("filter packages").fill("no-such-package")
    page.wait_for_function(
        "() => !document.querySelector('.card[data-card=\"packages\"] tr[data-package]')"
    )


def test_runs_table_adds_environment_columns(page: Any, server: LiveServer) -> None:
    page.goto(f"{server.base_url}/projects/{PROJECT}")
    page.locator(".runs-row[data-run]").first.wait_for()
    page.get_by_text("Columns").click()
    page.get_by_label("environment.git.commit").check()
    page.get_by_label("environment.gpu.name").check()
    page.get_by_text("Columns").click()
    row = page.locator('.runs-row[data-run="gpu-run"]')
    assert row.locator(".c-environment\\.git\\.commit").inner_text() == COMMIT
    assert row.locator(".c-environment\\.gpu\\.name").inner_text() == "NVIDIA H200"
    page.locator('.runs-head [data-column="environment.git.commit"]').click()
    page.wait_for_url(re.compile(r"order=-environment\.git\.commit"))
    screenshot(page, "runs-table-environment")


def test_a_running_run_s_system_charts_follow(
    page: Any, server: LiveServer, tmp_path: Path
) -> None:
    (tmp_path / "live.py").write_text(textwrap.dedent(LIVE))
    stop = tmp_path / "stop"
    process = subprocess.Popen(
        [sys.executable, "live.py", str(stop)], cwd=tmp_path, env=client_env(server, **NO_SAMPLER),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        url = f"{server.base_url}/api/v1/projects/{PROJECT}/runs/live-system"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            answer = httpx.get(url, headers=server.headers, timeout=10)
            if answer.status_code == 200 and answer.json().get("system_metrics"):
                break
            time.sleep(0.2)
        page.goto(_run_url(server, "live-system", "system"))
        chart = page.locator('.panel[data-key="host.cpu"] .chart')
        page.wait_for_function(
            "() => document.querySelector('.panel[data-key=\"host.cpu\"] .chart')?.dataset.drawn"
        )
        first = int(chart.get_attribute("data-points") or 0)
        page.wait_for_function(
            "n => Number(document.querySelector('.panel[data-key=\"host.cpu\"] .chart')"
            ".dataset.points) > n",
            arg=first,
            timeout=20_000,
        )
    finally:
        stop.touch()
        try:
            process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()


SAMPLED = """
import time
import tether

with tether.init(project="localsys", name="sampled", id="sampled") as run:
    for step in range(30):
        run.log({"loss": 1.0 / (step + 1)})
        time.sleep(0.05)
"""


def test_tether_ui_shows_the_real_sampler_and_environment(browser: Any, tmp_path: Path) -> None:
    """The real sampler and environment capture of a local run, read by `tether ui DIR`."""
    (tmp_path / "train.py").write_text(textwrap.dedent(SAMPLED))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TETHER_")}
    env.update(TETHER_MODE="offline", TETHER_SYSTEM_INTERVAL_S="0.2")
    subprocess.run([sys.executable, "train.py"], cwd=tmp_path, env=env, check=True, timeout=120)
    ui = subprocess.Popen(
        [sys.executable, "-m", "tether.cli", "ui", str(tmp_path), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
    )  # fmt: skip
    context = browser.new_context(viewport={"width": 1400, "height": 3000})
    try:
        assert ui.stdout is not None
        match = re.search(r"(http://127\.0\.0\.1:\d+)", ui.stdout.readline())
        assert match, "tether ui printed no URL"
        url = match.group(1)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # `tether ui` imports the run in the background
            answer = httpx.get(f"{url}/api/v1/projects/localsys/runs/sampled", timeout=10)
            if answer.is_success and answer.json()["state"] == "finished":
                break
            time.sleep(0.2)
        page = context.new_page()
        page.goto(f"{url}/projects/localsys/runs/sampled/system")
        page.locator(".system-tab").wait_for()
        keys = page.locator(".panel").evaluate_all("ps => ps.map(p => p.dataset.key)")
        assert {"host.cpu", "host.memory", "proc.cpu", "proc.rss", "proc.count"} <= set(keys)
        _drawn(page, len(keys))
        points = page.locator('.panel[data-key="proc.rss"] .chart').get_attribute("data-points")
        assert int(points or 0) >= 3
        screenshot(page, "local-system", full_page=True)
        page.get_by_role("link", name="overview").click()
        python = page.locator('.card[data-card="software"] [data-fact="python"] td')
        assert python.inner_text().startswith("{}.{}.{}".format(*sys.version_info[:3]))
        command = page.locator('.card[data-card="command"] code.command-line')
        assert command.inner_text() == "train.py"
    finally:
        context.close()
        ui.send_signal(signal.SIGINT)
        try:
            ui.wait(timeout=20)
        except subprocess.TimeoutExpired:
            ui.kill()
            ui.wait(timeout=20)
