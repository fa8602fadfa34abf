"""The web UI in headless Chromium against a real tether server, with big runs.

    python bench/ui_bench.py            # full sizes (~8 min), rewrites RESULTS.md's section
    python bench/ui_bench.py --quick    # small sizes, prints the section only
    python bench/ui_bench.py --no-mlflow  # skip the same runs table in MLflow's UI
    python bench/ui_bench.py --workspace  # the project workspace on 10,000 runs (issue 16):
                                          # bench/_ui_workspace.py, its own RESULTS section

Everything runs on this machine, on 127.0.0.1:

1. Data, made by real tether processes (offline) and uploaded: a run of 20 keys x 100,000
   steps (``tether sync``), 10,000 small runs with varied config and summary (their segment
   files PUT through the API by a few threads: ``tether sync`` sends one run at a time), and
   a run that printed 1,000,000 console lines (``tether sync``).
2. Run page: a fresh browser context (cold cache) opens the run; the time from navigation
   start to the last of the 20 charts first drawn (uPlot's ``draw`` hook stamps
   ``performance.now()`` on each chart). At 1920x1080 all 20 charts lie within the band the
   page loads eagerly (the viewport plus one screen).
3. Runs table: navigation start to the first row on screen; then clicks on column headers
   (name, duration, ``summary.acc``, ``config.lr``), each timed from the click to the first
   row of the new order on screen; then frame times while scrolling through all 10,000 rows.
4. Console: navigation start to the first lines on screen, to all 1,000,000 lines loaded
   (pages fetched and parsed in a worker), the main thread's long tasks over that load, then
   frame times while scrolling (a scripted scroll of 3,000 px a frame, with jumps), both
   while lines are still loading and after.
5. For reference: navigation to the app's first render, and the same API requests timed
   from Python (the server alone).

Frame times are the intervals between ``requestAnimationFrame`` callbacks (16.7 ms at 60 Hz
when nothing stalls). "Stale frames" counts frames whose rows did not cover the viewport.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from _browser import FIRST_ROW, first_shown_ms, watch_first
from _common import (
    fmt_num,
    fmt_ratio,
    machine_lines,
    median,
    table,
    update_section,
    version_of,
)
from tether.server.testing import CHROMIUM_ARGS as BROWSER_ARGS

SCRIPT = Path(__file__).resolve()
REPO = SCRIPT.parent.parent
SECTION = "ui_bench"
PROJECT = "bench-ui"
CHROMIUM = os.environ.get("TETHER_BENCH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = list(BROWSER_ARGS)
VIEWPORT = {"width": 1920, "height": 1080}

TARGET_CHARTS_MS = 1500.0
TARGET_FIRST_ROWS_MS = 1000.0
TARGET_SORT_MS = 300.0


@dataclass
class Sizes:
    keys: int = 20
    steps: int = 100_000
    runs: int = 10_000
    lines: int = 1_000_000
    repeats: int = 5

    @classmethod
    def quick(cls) -> Sizes:
        return cls(keys=4, steps=5_000, runs=300, lines=20_000, repeats=2)


@dataclass
class Results:
    sizes: Sizes
    charts_ms: list[float] = field(default_factory=list)
    first_rows_ms: list[float] = field(default_factory=list)
    sort_ms: dict[str, list[float]] = field(default_factory=dict)
    table_frames: list[float] = field(default_factory=list)
    table_stale: int = 0
    console_first_ms: list[float] = field(default_factory=list)
    console_all_ms: list[float] = field(default_factory=list)
    console_frames_loading: list[float] = field(default_factory=list)
    console_frames_loaded: list[float] = field(default_factory=list)
    console_stale: int = 0
    idle_frames: list[float] = field(default_factory=list)
    console_long_tasks: list[tuple[int, float]] = field(default_factory=list)
    shell_ms: list[float] = field(default_factory=list)
    mlflow_first_rows_ms: list[float] = field(default_factory=list)
    mlflow_note: str = "not measured (--no-mlflow)"
    api_ms: dict[str, list[float]] = field(default_factory=dict)
    setup_s: dict[str, float] = field(default_factory=dict)


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- data -----------------------------------------------------------------------------------
CHARTS_RUN = """
import math, sys, tether
keys, steps = int(sys.argv[1]), int(sys.argv[2])
names = [f"{'train' if k % 2 else 'val'}/metric_{k:02d}" for k in range(keys)]
run = tether.init(project="bench-ui", name="charts", id="charts", console="off")
for step in range(steps):
    x = step / steps
    run.log({name: math.sin(40 * x + k) * (1 - x) + k for k, name in enumerate(names)}, step=step)
run.finish()
"""

TABLE_RUNS = """
import random, sys, tether
random.seed(0)
for i in range(int(sys.argv[1])):
    run = tether.init(
        project="bench-ui", name=f"sweep-{random.randrange(10**6):06d}", console="off",
        config={"lr": 10 ** random.uniform(-5, -1), "batch": random.choice([16, 32, 64, 128]),
                "optimizer": random.choice(["adam", "sgd", "lion"]), "seed": i},
        tags=[random.choice(["baseline", "ablation", "sweep"])], group=f"g{i % 20}",
    )
    for step in range(5):
        run.log({"loss": random.random() / (step + 1)})
    run.summary["acc"] = random.random()
    run.finish()
"""

CONSOLE_RUN = """
import sys, tether
run = tether.init(project="bench-ui", name="console", id="console")
for i in range(int(sys.argv[1])):
    if i % 10 == 0:
        print(f"\\x1b[1;34mstep {i}\\x1b[0m loss=\\x1b[33m{1 / (i + 1):.6f}\\x1b[0m lr=0.001")
    else:
        print(f"step {i} batch {i % 97} loss={1 / (i + 1):.6f} grad_norm={i % 13 / 7:.4f}")
run.finish()
"""


def client_env(base_url: str, api_key: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TETHER_")}
    env.update(TETHER_BASE_URL=base_url, TETHER_API_KEY=api_key, TETHER_MODE="offline")
    return env


def start_child(directory: Path, code: str, args: list[str], env: dict[str, str]) -> Any:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "make.py").write_text(textwrap.dedent(code))
    return subprocess.Popen(
        [sys.executable, "make.py", *args],
        cwd=directory,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish_child(process: Any, timeout: float = 1800) -> None:
    _, err = process.communicate(timeout=timeout)
    if process.returncode != 0:
        raise RuntimeError(f"data child failed ({process.returncode}):\n{err[-2000:]}")


def sync(directory: Path, env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "tether.cli", "sync", "-q", str(directory)],
        env=env, check=True, timeout=1800, capture_output=True,
    )  # fmt: skip


def put_segments(directory: Path, base_url: str, api_key: str) -> None:
    """Upload every run's segment files through the API, a few runs at a time."""
    from tether.store import layout
    from tether.sync.run_upload import writer_id_of

    headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/octet-stream"}

    def upload(client: httpx.Client, run_dir: Path) -> None:
        run_id = run_dir.name.rsplit("-", 1)[-1]
        for segment in sorted((run_dir / "segments").glob("*.tseg")):
            path = f"/api/v1/projects/{PROJECT}/runs/{run_id}/segments/{writer_id_of(segment)}"
            response = client.put(path, params={"offset": 0}, content=segment.read_bytes())
            response.raise_for_status()

    run_dirs = layout.list_run_dirs(directory)
    with (
        httpx.Client(base_url=base_url, headers=headers, timeout=60) as client,
        ThreadPoolExecutor(4) as pool,
    ):
        for future in [pool.submit(upload, client, run_dir) for run_dir in run_dirs]:
            future.result()


def make_data(tmp: Path, sizes: Sizes, base_url: str, api_key: str, results: Results) -> None:
    env = client_env(base_url, api_key)
    started = time.perf_counter()
    children = {
        "charts": start_child(tmp / "charts", CHARTS_RUN, [str(sizes.keys), str(sizes.steps)], env),
        "table": start_child(tmp / "table", TABLE_RUNS, [str(sizes.runs)], env),
        "console": start_child(tmp / "console", CONSOLE_RUN, [str(sizes.lines)], env),
    }
    for name, process in children.items():
        finish_child(process)
        say(f"  {name}: written after {time.perf_counter() - started:.0f} s")
    results.setup_s["write"] = time.perf_counter() - started
    uploads = {
        "charts": lambda: sync(tmp / "charts", env),
        "table": lambda: put_segments(tmp / "table", base_url, api_key),
        "console": lambda: sync(tmp / "console", env),
    }
    for name, upload in uploads.items():
        begin = time.perf_counter()
        upload()
        results.setup_s[f"upload {name}"] = time.perf_counter() - begin
        say(f"  {name}: uploaded in {results.setup_s[f'upload {name}']:.0f} s")


# -- browser measurements -------------------------------------------------------------------
SCROLL_FRAMES = """
async ({selector, rows, frames, delta, check}) => {
  const el = document.querySelector(selector);
  const out = [];
  let stale = 0;
  let last = performance.now();
  let n = 0;
  return await new Promise((resolve) => {
    function step(t) {
      out.push(t - last);
      last = t;
      // Did the last frame show rows over the whole viewport? (A separate pass: reading
      // layout here would force it and distort the frame times.)
      if (check) {
        const box = el.getBoundingClientRect();
        const shown = [...el.querySelectorAll(rows)].map((r) => r.getBoundingClientRect());
        const top = Math.min(...shown.map((r) => r.top));
        const bottom = Math.max(...shown.map((r) => r.bottom));
        if (!shown.length || top > box.top + 40 || bottom < box.bottom - 1) stale++;
      }
      if (n % 60 === 59) el.scrollTop = Math.random() * el.scrollHeight;  // a jump
      else el.scrollTop += delta;
      if (el.scrollTop + el.clientHeight >= el.scrollHeight - 1) el.scrollTop = 0;
      if (++n < frames) requestAnimationFrame(step);
      else resolve({frames: out.slice(1), stale});
    }
    requestAnimationFrame(step);
  });
}
"""


IDLE_FRAMES = """
async () => await new Promise((resolve) => {
  const out = [];
  let last = performance.now();
  function step(t) {
    out.push(t - last);
    last = t;
    if (out.length < 301) requestAnimationFrame(step); else resolve(out.slice(1));
  }
  requestAnimationFrame(step);
})
"""


LONG_TASKS = """
window.__longTasks = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) window.__longTasks.push(entry.duration);
}).observe({type: "longtask", buffered: true});
"""


class Browser:
    def __init__(self, playwright: Any, base_url: str, api_key: str) -> None:
        self.browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        self.base_url = base_url
        self.api_key = api_key

    def page(self) -> Any:
        """A fresh context: empty cache and storage, signed in (a session cookie), and the main
        thread's long tasks (over 50 ms) recorded in ``window.__longTasks``."""
        context = self.browser.new_context(viewport=VIEWPORT)
        signed_in = context.request.post(  # the session cookie, as the UI's sign-in gets it
            self.base_url + "/api/v1/session",
            data=json.dumps({"key": self.api_key}),
            headers={"Content-Type": "application/json"},
        )
        assert signed_in.ok, signed_in.text()
        context.add_init_script(LONG_TASKS)
        context.set_default_timeout(120_000)
        return context.new_page()

    def close(self) -> None:
        self.browser.close()


def measure_charts(browser: Browser, sizes: Sizes, results: Results) -> None:
    for _ in range(sizes.repeats):
        page = browser.page()
        page.goto(f"{browser.base_url}/projects/{PROJECT}/runs/charts")
        page.wait_for_function(
            f"() => document.querySelectorAll('.chart[data-first-drawn]').length === {sizes.keys}",
            polling=50,
        )
        drawn = page.eval_on_selector_all(
            ".chart[data-first-drawn]", "cs => cs.map(c => Number(c.dataset.firstDrawn))"
        )
        results.charts_ms.append(max(drawn))
        page.context.close()


def first_name(page: Any) -> str:
    return page.eval_on_selector(".runs-row[data-run] .c-name", "e => e.innerText")


def measure_table(browser: Browser, sizes: Sizes, results: Results) -> None:
    api = httpx.Client(
        base_url=browser.base_url, headers={"Authorization": f"Bearer {browser.api_key}"}
    )
    orders = {"name": "name", "duration": "-duration", "summary.acc": "-summary.acc"}
    orders["config.lr"] = "-config.lr"
    for _ in range(sizes.repeats):
        page = browser.page()
        watch_first(page, FIRST_ROW)
        page.goto(f"{browser.base_url}/projects/{PROJECT}?cols=config.lr,summary.acc")
        results.first_rows_ms.append(first_shown_ms(page))
        results.shell_ms.append(float(page.get_attribute("#app", "data-shown-at")))
        for column, order in orders.items():
            expected = api.get(
                f"/api/v1/projects/{PROJECT}/runs", params={"order": order, "limit": 1}
            ).json()["runs"][0]["name"]
            started = page.evaluate(
                f"() => {{ const t = performance.now(); document.querySelector("
                f"'.runs-head [data-column=\"{column}\"]').click(); return t; }}"
            )
            handle = page.wait_for_function(
                f"""() => {{
                  const s = document.querySelector('.runs-scroll');
                  const row = document.querySelector('.runs-row[data-run] .c-name');
                  return s.dataset.order === {json.dumps(order)} && s.dataset.ready === '1'
                    && row && row.innerText === {json.dumps(expected)} && performance.now();
                }}""",
                polling="raf",
            )
            results.sort_ms.setdefault(column, []).append(handle.json_value() - started)
        page.context.close()
    page = browser.page()
    page.goto(f"{browser.base_url}/projects/{PROJECT}")
    page.wait_for_selector(".runs-row[data-run]")
    scroll = page.evaluate(
        SCROLL_FRAMES,
        {"selector": ".runs-scroll", "rows": ".runs-row", "frames": 600, "delta": 400},
    )
    results.table_frames = scroll["frames"]
    check = {"selector": ".runs-scroll", "rows": ".runs-row", "frames": 300, "delta": 400}
    results.table_stale = page.evaluate(SCROLL_FRAMES, {**check, "check": True})["stale"]
    page.context.close()
    api.close()


def measure_api(browser: Browser, sizes: Sizes, results: Results) -> None:
    """The same requests without a browser: what the server alone takes."""
    requests = {
        "GET runs?order=-start_time&limit=100 (first page)": (
            f"/api/v1/projects/{PROJECT}/runs",
            {"order": "-start_time", "limit": 100},
        ),
        "GET runs?order=-summary.acc&limit=100 (a sort)": (
            f"/api/v1/projects/{PROJECT}/runs",
            {"order": "-summary.acc", "limit": 100},
        ),
        "GET history?keys=K&samples=512 (one chart)": (
            f"/api/v1/projects/{PROJECT}/runs/charts/history",
            {"keys": "val/metric_00", "samples": 512},
        ),
        "GET console?after=0&limit=50000 (one background page)": (
            f"/api/v1/projects/{PROJECT}/runs/console/console",
            {"after": 0, "limit": 50_000},
        ),
    }
    headers = {"Authorization": f"Bearer {browser.api_key}"}
    with httpx.Client(base_url=browser.base_url, headers=headers, timeout=120) as client:
        for name, (path, params) in requests.items():
            for _ in range(sizes.repeats):
                started = time.perf_counter()
                client.get(path, params=params).raise_for_status()
                results.api_ms.setdefault(name, []).append((time.perf_counter() - started) * 1e3)


def measure_console(browser: Browser, sizes: Sizes, results: Results) -> None:
    for index in range(max(2, sizes.repeats // 2)):
        page = browser.page()
        page.goto(f"{browser.base_url}/projects/{PROJECT}/runs/console/console")
        handle = page.wait_for_function(
            "() => document.querySelector('.cl') && performance.now()", polling="raf"
        )
        results.console_first_ms.append(handle.json_value())
        spec = {"selector": ".console-scroll", "rows": ".cl", "frames": 300, "delta": 3000}
        if index == 0:  # scroll while the rest is still loading in the background
            scroll = page.evaluate(SCROLL_FRAMES, spec)
            results.console_frames_loading = scroll["frames"]
        page.wait_for_function(
            "() => document.querySelector('.console').dataset.done === '1'",
            polling=100,
            timeout=600_000,
        )
        results.console_all_ms.append(float(page.get_attribute(".console", "data-done-at")))
        if index > 0:  # a load without scripted scrolling: the loading's own main-thread cost
            long_tasks = page.evaluate("window.__longTasks")
            results.console_long_tasks.append((len(long_tasks), sum(long_tasks)))
        lines = int(page.get_attribute(".console", "data-lines"))
        if lines != sizes.lines:
            raise RuntimeError(f"the console loaded {lines} lines, not {sizes.lines}")
        if index == 0:
            results.idle_frames = page.evaluate(IDLE_FRAMES)
            scroll = page.evaluate(SCROLL_FRAMES, {**spec, "frames": 600})
            results.console_frames_loaded = scroll["frames"]
            scroll = page.evaluate(SCROLL_FRAMES, {**spec, "check": True})
            results.console_stale += scroll["stale"]
        page.context.close()


# -- MLflow's UI --------------------------------------------------------------------------
MLFLOW_TIMEOUT_MS = 60_000


def load_mlflow_runs(db: Path, experiment_id: str, runs: int) -> str:
    """``runs`` finished runs (param ``lr``, metric ``acc``) written straight into MLflow's
    SQLite tables, as its store writes them; returns the newest run's name."""
    import sqlite3
    import uuid

    rng = random.Random(0)
    now = int(time.time() * 1000)
    rows: dict[str, list[tuple[Any, ...]]] = {"runs": [], "params": [], "metrics": [], "tags": []}
    name = ""
    for i in range(runs):
        run_id = uuid.uuid4().hex
        name = f"sweep-{rng.randrange(10**6):06d}"
        start = now - (runs - i) * 1000
        rows["runs"].append(
            (run_id, name, "UNKNOWN", "", "", "bench", "FINISHED", start,
             start + rng.randrange(1_000, 100_000), "", "active",
             f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts", int(experiment_id))
        )  # fmt: skip
        rows["params"].append(("lr", repr(10 ** rng.uniform(-5, -1)), run_id))
        rows["metrics"].append(("acc", rng.random(), start + 500, run_id, 0, 0))
        rows["tags"].append(("mlflow.runName", name, run_id))
    connection = sqlite3.connect(db, timeout=120)
    try:
        with connection:
            connection.executemany(
                "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, "
                "user_id, status, start_time, end_time, source_version, lifecycle_stage, "
                "artifact_uri, experiment_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows["runs"],
            )
            connection.executemany(
                "INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)", rows["params"]
            )
            for table_name in ("metrics", "latest_metrics"):
                connection.executemany(
                    f"INSERT INTO {table_name} (key, value, timestamp, run_uuid, step, is_nan) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    rows["metrics"],
                )
            connection.executemany(
                "INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)", rows["tags"]
            )
    finally:
        connection.close()
    return name


def measure_mlflow(playwright_browser: Any, tmp: Path, sizes: Sizes, results: Results) -> None:
    """MLflow's runs table (its experiment page) on the same number of runs: navigation start
    to the newest run's row on screen (MLflow's default order), a bounded wait per load."""
    from mlflow.tracking import MlflowClient

    from server_bench import mlflow_server

    tmp.mkdir(parents=True, exist_ok=True)
    with mlflow_server(tmp) as (url, db, _pid):
        client = MlflowClient(tracking_uri=url)
        experiment_id = client.create_experiment("bench-ui")
        # A model-training experiment: without the kind the UI opens its GenAI overview.
        client.set_experiment_tag(
            experiment_id, "mlflow.experimentKind", "custom_model_development"
        )
        newest = load_mlflow_runs(db, experiment_id, sizes.runs)
        seen = client.search_runs([experiment_id], max_results=50_000)
        if len(seen) != sizes.runs or "lr" not in seen[0].data.params:
            raise RuntimeError(f"MLflow sees {len(seen)} runs, not {sizes.runs}")
        say(f"  mlflow: {len(seen):,} runs loaded")
        timeouts = 0
        for _ in range(sizes.repeats):
            context = playwright_browser.new_context(viewport=VIEWPORT)
            watch_first(
                context,
                "() => [...document.querySelectorAll('.ag-row')].some((r) => "
                f"r.textContent.includes({json.dumps(newest)}))",
            )
            page = context.new_page()
            try:
                page.goto(f"{url}/#/experiments/{experiment_id}/runs")
                results.mlflow_first_rows_ms.append(first_shown_ms(page, MLFLOW_TIMEOUT_MS))
            except Exception as exc:  # a bounded wait: reported, not fatal
                if "Timeout" not in type(exc).__name__ + str(exc):
                    raise
                timeouts += 1
            finally:
                context.close()
        results.mlflow_note = (
            f"did not finish in {MLFLOW_TIMEOUT_MS / 1000:.0f} s "
            f"({timeouts} of {sizes.repeats} loads)"
            if timeouts
            else ""
        )


# -- report ---------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def frames_row(what: str, frames: list[float]) -> list[str]:
    return [
        what,
        str(len(frames)),
        fmt_num(median(frames)),
        fmt_num(percentile(frames, 0.95)),
        fmt_num(max(frames) if frames else float("nan")),
        str(sum(1 for f in frames if f > 50)),
    ]


def verdict(value: float, target: float) -> str:
    return "yes" if value <= target else "**NO**"


def report(results: Results, argv: list[str], load_at_start: float) -> str:
    s = results.sizes
    charts = median(results.charts_ms)
    first_rows = median(results.first_rows_ms)
    lines = [
        "## Web UI (`bench/ui_bench.py`)",
        "",
        machine_lines(SCRIPT.name, argv, load_at_start),
        f"Headless Chromium ({CHROMIUM}), viewport {VIEWPORT['width']}x{VIEWPORT['height']}, "
        "a fresh browser context (cold cache) per page load; server: `tether server` on "
        f"SQLite, 127.0.0.1. Medians of {s.repeats} page loads. First rows (here and in "
        "MLflow) are timed on the page's own clock, at the frame after they came "
        "(`bench/_browser.py`); until 2026-11-29 they were Playwright's first poll after the "
        "load event, about 100 ms later on the workspace.",
        "",
        table(
            ["measure", "median", "target", "met"],
            [
                [
                    f"run page: {s.keys} charts x {s.steps:,} points, navigation to all drawn",
                    f"{fmt_num(charts)} ms",
                    f"{TARGET_CHARTS_MS:,.0f} ms",
                    verdict(charts, TARGET_CHARTS_MS),
                ],
                [
                    f"runs table ({s.runs:,} runs): navigation to first rows",
                    f"{fmt_num(first_rows)} ms",
                    f"{TARGET_FIRST_ROWS_MS:,.0f} ms",
                    verdict(first_rows, TARGET_FIRST_ROWS_MS),
                ],
                *[
                    [
                        f"runs table: sort by {column} (click to first row)",
                        f"{fmt_num(median(values))} ms",
                        f"{TARGET_SORT_MS:,.0f} ms",
                        verdict(median(values), TARGET_SORT_MS),
                    ]
                    for column, values in results.sort_ms.items()
                ],
                [
                    f"console ({s.lines:,} lines): navigation to first lines",
                    f"{fmt_num(median(results.console_first_ms))} ms",
                    "",
                    "",
                ],
                [
                    "console: navigation to every line loaded (background pages)",
                    f"{fmt_num(median(results.console_all_ms) / 1000)} s",
                    "",
                    "",
                ],
                [
                    "console: main-thread long tasks (> 50 ms) during that whole load",
                    f"{fmt_num(median(n for n, _ in results.console_long_tasks))} tasks, "
                    f"{fmt_num(median(t for _, t in results.console_long_tasks))} ms in all",
                    "",
                    "",
                ],
            ],
        ),
        "",
        "For reference, what the figures above contain: the page itself (navigation to the "
        "app's first render, cold cache) and the server alone (the same requests from Python, "
        "no browser):",
        "",
        table(
            ["reference", "median"],
            [
                ["navigation to the app's first render", f"{fmt_num(median(results.shell_ms))} ms"],
                *[
                    [f"server alone: {name}", f"{fmt_num(median(values))} ms"]
                    for name, values in results.api_ms.items()
                ],
            ],
        ),
        "",
        "Frame times while scrolling (ms between animation frames; 16.7 at 60 Hz):",
        "",
        table(
            ["scrolling", "frames", "median", "p95", "max", "frames > 50 ms"],
            [
                frames_row(
                    "idle page, no scrolling (the machine's own noise)", results.idle_frames
                ),
                frames_row(f"runs table, {s.runs:,} runs (400 px/frame)", results.table_frames),
                frames_row(
                    f"console, {s.lines:,} lines, while loading (3,000 px/frame)",
                    results.console_frames_loading,
                ),
                frames_row(
                    f"console, {s.lines:,} lines, all loaded (3,000 px/frame)",
                    results.console_frames_loaded,
                ),
            ],
        ),
        "",
        "Frames whose rows did not cover the viewport (a second pass of 300 frames that reads "
        f"the layout each frame): runs table {results.table_stale}, console "
        f"{results.console_stale} (after loading). Rows of pages not fetched yet show as "
        "placeholders and are not counted as stale.",
        "",
        "Setup (not measured above): "
        + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in results.setup_s.items())
        + ".",
        "",
        *mlflow_lines(results),
    ]
    return "\n".join(lines)


def mlflow_lines(results: Results) -> list[str]:
    s = results.sizes
    tether_ms = median(results.first_rows_ms)
    mlflow_ms = median(results.mlflow_first_rows_ms)
    shown = f"{fmt_num(mlflow_ms)} ms" if results.mlflow_first_rows_ms else "n/a"
    if results.mlflow_note:
        shown = (
            f"{shown} ({results.mlflow_note})"
            if results.mlflow_first_rows_ms
            else results.mlflow_note
        )
    return [
        f"The same page in MLflow's UI (`mlflow server` {version_of('mlflow')} on SQLite, "
        f"127.0.0.1; {s.runs:,} finished runs in one experiment, each with a param `lr` and "
        "a metric `acc`, written straight into MLflow's SQLite tables and checked through "
        "`MlflowClient.search_runs`). Same browser, flags, viewport and fresh context per "
        f'load; a load is given {MLFLOW_TIMEOUT_MS / 1000:.0f} s. "First rows" in MLflow: '
        "the newest run's row (its default order) in the experiment page's runs grid "
        "(`.ag-row`).",
        "",
        table(
            ["measure", "tether", "MLflow", "vs tether"],
            [
                [
                    f"runs table ({s.runs:,} runs): navigation to first rows",
                    f"{fmt_num(tether_ms)} ms",
                    shown,
                    fmt_ratio(mlflow_ms, tether_ms),
                ],
                [
                    "runs table: sort by a column (click to first re-sorted row)",
                    "see above",
                    "not measured",
                    "n/a",
                ],
                [
                    f"run page: {s.keys} charts x {s.steps:,} points, navigation to all drawn",
                    f"{fmt_num(median(results.charts_ms))} ms",
                    "not measured",
                    "n/a",
                ],
            ],
        ),
        "",
        "Not measured in MLflow (yet): a sort in its runs grid and its run page's metric "
        "charts; MLflow has no console view to compare with.",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke test")
    parser.add_argument("--no-mlflow", action="store_true", help="skip MLflow's UI")
    parser.add_argument("--write", action="store_true", help="write RESULTS.md even if --quick")
    parser.add_argument(
        "--workspace", action="store_true", help="the project workspace (bench/_ui_workspace.py)"
    )
    args = parser.parse_args()
    argv = sys.argv[1:]
    if args.workspace:
        from _ui_workspace import run_workspace

        run_workspace(quick=args.quick, mlflow=not args.no_mlflow, write=args.write, argv=argv)
        return
    from playwright.sync_api import sync_playwright

    from tether.server.app import STATIC_DIR
    from tether.server.testing import LiveServer

    if not (STATIC_DIR / "index.html").is_file():
        sys.exit("the web UI is not built: run scripts/build-web.sh")
    if not Path(CHROMIUM).exists():
        sys.exit(f"no Chromium at {CHROMIUM} (set TETHER_BENCH_CHROMIUM)")
    load_at_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    sizes = Sizes.quick() if args.quick else Sizes()
    results = Results(sizes=sizes)
    random.seed(0)
    with tempfile.TemporaryDirectory(prefix="tether-ui-bench-") as name:
        tmp = Path(name)
        with LiveServer(tmp / "server") as server:
            say(f"server at {server.base_url}; making data in {tmp}")
            make_data(tmp, sizes, server.base_url, server.api_key, results)
            with sync_playwright() as playwright:
                browser = Browser(playwright, server.base_url, server.api_key)
                try:
                    say("run page")
                    measure_charts(browser, sizes, results)
                    say("runs table")
                    measure_table(browser, sizes, results)
                    say("console")
                    measure_console(browser, sizes, results)
                    say("API alone")
                    measure_api(browser, sizes, results)
                    if not args.no_mlflow:
                        say("MLflow's runs table")
                        measure_mlflow(browser.browser, tmp / "mlflow", sizes, results)
                finally:
                    browser.close()
    body = report(results, argv, load_at_start)
    print(body)
    if not args.quick or args.write:
        update_section(SECTION, body)
        say(f"wrote the {SECTION} section of {SCRIPT.parent / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
