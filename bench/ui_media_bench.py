"""The web UI's media views in headless Chromium against a real tether server.

    python bench/ui_media_bench.py            # 100 images a step, a 100,000-row table
    python bench/ui_media_bench.py --quick    # small sizes, a smoke test
    python bench/ui_media_bench.py --write    # also rewrite RESULTS.md's ui_media_bench section

Data, made by a real tether process (offline) and uploaded with ``tether sync``, blobs
included: a run that logged ``images`` images (256x256 RGB PNGs, noise over a gradient so
they do not compress to nothing) at each of three steps, and a run that logged one table of
``rows`` rows (an int, a string, a float, a bool).

Measured, each in a fresh browser context (cold cache), ``repeats`` times, medians:

1. Images: navigation start to every image of the newest step loaded and decoded
   (``complete && naturalWidth``; the grid is lazy, and at 1920x1080 every image of 100 lies
   within Chromium's lazy-load distance); then a step change on the slider (a key press) to
   every image of that step loaded.
2. Table: navigation start to the first rows on screen; a click on a column header to the
   first row of the new order; typing a filter to the filtered row count shown.

Times come from the page's own ``performance.now()``, read when a ``requestAnimationFrame``
poll first sees the condition, so they include up to one frame (16.7 ms) of polling.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import fmt_num, machine_lines, median, table, update_section
from tether.server.testing import CHROMIUM_ARGS

SECTION = "ui_media_bench"
PROJECT = "bench-media-ui"
CHROMIUM = os.environ.get("TETHER_BENCH_CHROMIUM", "/usr/bin/chromium")
VIEWPORT = {"width": 1920, "height": 1080}

DATA = """
import sys
import numpy as np
import tether

images, rows = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
gradient = np.linspace(0, 200, 256, dtype=np.float32)[None, :, None]
run = tether.init(project="bench-media-ui", name="images", id="images")
for step in range(3):
    batch = []
    for i in range(images):
        noise = rng.integers(0, 56, (256, 256, 3), dtype=np.uint8)
        pixels = (gradient + noise + (step * 30 + i) % 50).astype(np.uint8)
        batch.append(tether.Image(pixels, caption=f"step {step} image {i}"))
    run.log({"samples": batch}, step=step)
run.finish()
run = tether.init(project="bench-media-ui", name="table", id="table")
data = [[i, f"row {i}", (i * 7919 % 10007) / 10007, i % 3 == 0] for i in range(rows)]
run.log({"big": tether.Table(columns=["id", "name", "score", "flag"], rows=data)}, step=0)
run.finish()
"""

NOW_WHEN = """([condition, arg]) => new Promise((resolve, reject) => {
  const check = new Function("arg", condition);
  const deadline = performance.now() + 120000;
  const poll = () => {
    if (check(arg)) resolve(performance.now());
    else if (performance.now() > deadline) reject(new Error("not met in 120 s: " + condition));
    else requestAnimationFrame(poll);
  };
  poll();
})"""
ALL_IMAGES = """const images = [...document.querySelectorAll('.image-panel .media-image img')];
  return document.querySelector(`.media-body[data-shown-step="${arg.step}"]`) !== null
    && images.length === arg.count && images.every((i) => i.complete && i.naturalWidth > 0);"""
FIRST_ROW = "return document.querySelector('.table-row') !== null;"
FIRST_ROW_IS = "const r = document.querySelector('.table-row'); return r && r.dataset.row === arg;"
ROW_COUNT = 'return document.querySelector(`.row-count[data-rows="${arg}"]`) !== null;'


@dataclass
class Sizes:
    images: int = 100
    rows: int = 100_000
    repeats: int = 5


def say(message: str) -> None:
    print(f"[ui_media_bench] {message}", file=sys.stderr, flush=True)


def make_data(tmp: Path, sizes: Sizes, base_url: str, api_key: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TETHER_")}
    env.update(TETHER_BASE_URL=base_url, TETHER_API_KEY=api_key, TETHER_MODE="offline")
    env["TETHER_SYSTEM_INTERVAL_S"] = "0"
    (tmp / "data.py").write_text(textwrap.dedent(DATA))
    for command in (
        ["data.py", str(sizes.images), str(sizes.rows)],
        ["-m", "tether.cli", "sync", "-q", "."],
    ):
        subprocess.run([sys.executable, *command], cwd=tmp, env=env, check=True, timeout=900)


def now_when(page: Any, condition: str, arg: Any) -> float:
    return float(page.evaluate(NOW_WHEN, [condition, arg]))


def fresh_page(browser: Any, base_url: str, api_key: str) -> tuple[Any, Any]:
    context = browser.new_context(viewport=VIEWPORT)
    signed_in = context.request.post(
        base_url + "/api/v1/session",
        data=json.dumps({"key": api_key}),
        headers={"Content-Type": "application/json"},
    )
    assert signed_in.ok, signed_in.text()
    context.set_default_timeout(120_000)
    return context, context.new_page()


def measure_images(page: Any, base_url: str, sizes: Sizes) -> tuple[float, float]:
    page.goto(f"{base_url}/projects/{PROJECT}/runs/images/media", wait_until="commit")
    shown = now_when(page, ALL_IMAGES, {"step": 2, "count": sizes.images})
    page.locator('.image-panel input[type="range"]').focus()
    start = page.evaluate("performance.now()")
    page.keyboard.press("ArrowLeft")
    stepped = now_when(page, ALL_IMAGES, {"step": 1, "count": sizes.images})
    return shown, stepped - start


def measure_table(page: Any, base_url: str, sizes: Sizes) -> tuple[float, float, float]:
    page.goto(f"{base_url}/projects/{PROJECT}/runs/table/media", wait_until="commit")
    first = now_when(page, FIRST_ROW, None)
    # Descending by score: the row whose score is highest comes first.
    header = page.locator('button[data-column="score"]')
    header.click()
    start = page.evaluate("performance.now()")
    header.click()
    best = max(range(sizes.rows), key=lambda i: ((i * 7919 % 10007) / 10007, -i))
    sorted_at = now_when(page, FIRST_ROW_IS, str(best)) - start
    expected = sum(1 for i in range(sizes.rows) if "row 99" in f"row {i}")
    box = page.locator('input[aria-label="filter rows"]')
    start = page.evaluate("performance.now()")
    box.fill("row 99")
    filtered = now_when(page, ROW_COUNT, str(expected)) - start
    return first, sorted_at, filtered


def report(sizes: Sizes, results: dict[str, list[float]], argv: list[str], load: float) -> str:
    rows = [
        (f"{sizes.images} images of a step, from navigation", results["images"]),
        (f"the next step's {sizes.images} images, from the key press", results["step"]),
        (f"first rows of a {sizes.rows:,}-row table, from navigation", results["first_rows"]),
        ("the table sorted by a column, from the click", results["sort"]),
        ("the table filtered, from typing", results["filter"]),
    ]
    body = [
        f"## Media in the web UI ({SECTION})",
        "",
        machine_lines("ui_media_bench.py", argv, load),
        "",
        table(
            ["measure", "median ms", "min ms", "max ms"],
            [(name, fmt_num(median(v)), fmt_num(min(v)), fmt_num(max(v))) for name, v in rows],
        ),
        "",
        f"{sizes.repeats} repeats, each in a fresh browser context (cold cache), "
        f"{VIEWPORT['width']}x{VIEWPORT['height']}.",
    ]
    return "\n".join(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke test")
    parser.add_argument("--write", action="store_true", help="rewrite RESULTS.md's section")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from tether.server.app import STATIC_DIR
    from tether.server.testing import LiveServer

    if not (STATIC_DIR / "index.html").is_file():
        sys.exit("the web UI is not built: run scripts/build-web.sh")
    if not Path(CHROMIUM).exists():
        sys.exit(f"no Chromium at {CHROMIUM} (set TETHER_BENCH_CHROMIUM)")
    load = os.getloadavg()[0]
    sizes = Sizes(images=20, rows=5_000, repeats=2) if args.quick else Sizes()
    results: dict[str, list[float]] = {
        k: [] for k in ("images", "step", "first_rows", "sort", "filter")
    }
    with tempfile.TemporaryDirectory(prefix="tether-ui-media-bench-") as name:
        tmp = Path(name)
        with LiveServer(tmp / "server") as server:
            say(f"server at {server.base_url}; making data in {tmp}")
            make_data(tmp, sizes, server.base_url, server.api_key)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, args=list(CHROMIUM_ARGS)
                )
                try:
                    for repeat in range(sizes.repeats):
                        say(f"repeat {repeat + 1} of {sizes.repeats}")
                        context, page = fresh_page(browser, server.base_url, server.api_key)
                        shown, stepped = measure_images(page, server.base_url, sizes)
                        context.close()
                        context, page = fresh_page(browser, server.base_url, server.api_key)
                        first, sorted_at, filtered = measure_table(page, server.base_url, sizes)
                        context.close()
                        for key, value in zip(
                            results, (shown, stepped, first, sorted_at, filtered), strict=True
                        ):
                            results[key].append(value)
                finally:
                    browser.close()
    section = report(sizes, results, sys.argv[1:], load)
    print(section)
    if args.write:
        update_section(SECTION, section)


if __name__ == "__main__":
    main()
