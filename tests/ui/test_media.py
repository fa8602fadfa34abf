"""The run page's media tab and the compare page's images, in Chromium against a real server
holding runs that real tether processes logged (images from the main process and a spawned
rank, histograms, tables, text) and ``tether sync`` uploaded, blobs included."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tether.server.app import STATIC_DIR
from tether.server.testing import LiveServer

from .conftest import ARTIFACTS, client_env, screenshot, sign_in

PROJECT = "uimedia"
STEPS = 5
HISTOGRAM_STEPS = 40
LONG_STEPS = 2_100
BIG_ROWS = 100_000

# Two runs. In "media-a" the main process logs three images a step under "samples", a spawned
# rank (label rank1) one more; histograms of a drifting normal; a small table with image cells
# at two steps; a 100,000-row table; Markdown with HTML and a javascript: link in it; plain
# text. "media-b" logs "samples" only, for the compare page; "media-c" one image whose bytes the
# test then deletes from the server's blob store.
TRAINING = """
import multiprocessing as mp, os
import numpy as np
import tether

def picture(step, i, tint):
    y, x = np.mgrid[0:48, 0:64]
    image = np.zeros((48, 64, 3), dtype=np.uint8)
    image[..., 0] = (x * 4 + step * 40) % 256
    image[..., 1] = (y * 5 + i * 70) % 256
    image[..., 2] = tint
    return image

def rank(run):
    os.environ["RANK"] = "1"
    for step in range(STEPS):
        run.log({"samples": tether.Image(picture(step, 9, 30), caption=f"rank s{step}")}, step=step)
        run.log({"weights": tether.Histogram(np.arange(step + 10.0))}, step=step)

if __name__ == "__main__":
    run = tether.init(project="uimedia", name="media-a", id="media-a")
    child = mp.get_context("spawn").Process(target=rank, args=(run,))
    child.start()
    child.join(120)
    rng = np.random.default_rng(0)
    for step in range(STEPS):
        images = [tether.Image(picture(step, i, 200), caption=f"s{step}-{i}") for i in range(3)]
        run.log({"samples": images}, step=step)
    for step in range(HISTOGRAM_STEPS):
        values = rng.normal(step / 10, 1 + step / 40, 5000)
        run.log({"weights": tether.Histogram(values)}, step=step)
    # More steps than one page of the media API gives (the UI's pages are 2,000 items).
    for step in range(LONG_STEPS):
        run.log({"long": tether.Histogram(np.array([0.0, 1.0, step % 7]), bins=4)}, step=step)
    for step in (0, 7):
        rows = [
            [i, f"label-{step}-{i}", (i * 37 % 11) / 10, tether.Image(picture(step, i, 90))]
            for i in range(12)
        ]
        table = tether.Table(columns=["id", "label", "score", "image"], rows=rows)
        run.log({"preds": table}, step=step)
    big = [[i, f"row {i}", i % 997] for i in range(BIG_ROWS)]
    run.log({"big": tether.Table(columns=["i", "name", "mod"], rows=big)}, step=0)
    run.log({"notes": tether.Text(NOTES, format="markdown")}, step=0)
    run.log({"log": tether.Text("line one\\n  <b>two</b>", format="plain")}, step=0)
    run.finish()

    run = tether.init(project="uimedia", name="media-none", id="media-none")
    run.log({"loss": 1.0})
    run.finish()

    run = tether.init(project="uimedia", name="media-c", id="media-c")
    run.log({"lost": tether.Image(picture(0, 0, 255), caption="gone")}, step=0)
    run.finish()

    run = tether.init(project="uimedia", name="media-b", id="media-b")
    for step in range(STEPS):
        images = [tether.Image(picture(step, i, 0), caption=f"b{step}-{i}") for i in range(2)]
        run.log({"samples": images}, step=step)
    run.finish()
"""

NOTES = """# Evaluation report

Accuracy went **up** and loss went *down*; see `eval.py` and [the docs](https://example.com/docs).

<script>window.__pwned = 1</script>
<img src=x onerror="window.__pwned = 2">
[click me](javascript:window.__pwned=3) and ![pixel](javascript:window.__pwned=4)

- first point
- second point

| metric | value |
|---|--:|
| acc | 0.93 |
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    if not (STATIC_DIR / "index.html").is_file():
        pytest.skip("the web UI is not built: run scripts/build-web.sh")
    live = LiveServer(tmp_path_factory.mktemp("ui-media-server")).start()
    try:
        directory = tmp_path_factory.mktemp("ui-media-runs")
        script = f"STEPS = {STEPS}\nHISTOGRAM_STEPS = {HISTOGRAM_STEPS}\nBIG_ROWS = {BIG_ROWS}\n"
        script += f"LONG_STEPS = {LONG_STEPS}\n"
        script += f"NOTES = {NOTES!r}\n" + textwrap.dedent(TRAINING)
        (directory / "train.py").write_text(script)
        env = client_env(live, TETHER_MODE="offline", TETHER_SYSTEM_INTERVAL_S="0")
        for command in (["train.py"], ["-m", "tether.cli", "sync", "-q", "."]):
            subprocess.run(
                [sys.executable, *command], cwd=directory, env=env, check=True, timeout=180,
                capture_output=True,
            )  # fmt: skip
        yield live
    finally:
        live.stop()


@pytest.fixture
def page(browser: Any, server: LiveServer) -> Iterator[Any]:
    """A signed-in page; page errors fail the test."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    sign_in(context, server)
    context.set_default_timeout(15_000)
    new_page = context.new_page()
    errors: list[str] = []
    new_page.on("pageerror", lambda error: errors.append(str(error)))
    yield new_page
    context.close()
    assert not errors, errors


def _media_url(server: LiveServer, run: str = "media-a") -> str:
    return f"{server.base_url}/projects/{PROJECT}/runs/{run}/media"


def _api(server: LiveServer, path: str) -> Any:
    url = f"{server.base_url}/api/v1/projects/{PROJECT}{path}"
    response = httpx.get(url, headers=server.headers, timeout=30)
    response.raise_for_status()
    return response.json()


def _loaded_images(locator: Any) -> list[bool]:
    """Whether each image under ``locator`` loaded (its bytes arrived and decoded)."""
    return locator.locator("img").evaluate_all(  # type: ignore[no-any-return]
        "images => images.map(i => i.complete && i.naturalWidth > 0)"
    )


def _wait_loaded(page: Any, selector: str, count: int) -> None:
    page.wait_for_function(
        "([s, n]) => { const i = [...document.querySelectorAll(s)];"
        " return i.length === n && i.every(x => x.complete && x.naturalWidth > 0); }",
        arg=[selector, count],
    )


def test_image_grid_shows_a_step_with_captions_and_writers(page: Any, server: LiveServer) -> None:
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/media?key=samples" in r.url else None)
    page.goto(_media_url(server))
    panel = page.locator('.image-panel[data-key="samples"]')
    last = STEPS - 1
    panel.locator(f'.media-body[data-shown-step="{last}"]').wait_for()
    _wait_loaded(page, '.image-panel[data-key="samples"] .media-image img', 4)
    captions = panel.locator(".caption").all_inner_texts()
    assert captions == [f"s{last}-0", f"s{last}-1", f"s{last}-2", f"rank s{last}"]
    # Two writers: each group is titled with the writer's label, main first.
    groups = panel.locator(".image-group").evaluate_all("g => g.map(x => x.dataset.writer)")
    assert groups == ["main", "rank1"]
    assert panel.locator(".step-label").inner_text().startswith(f"step {last}")
    screenshot(page, "media-tab", full_page=True)

    # The slider's first step: only that step's images are asked for and shown.
    panel.locator('input[type="range"]').focus()
    page.keyboard.press("Home")
    panel.locator('.media-body[data-shown-step="0"]').wait_for()
    _wait_loaded(page, '.image-panel[data-key="samples"] .media-image img', 4)
    assert panel.locator(".caption").all_inner_texts() == ["s0-0", "s0-1", "s0-2", "rank s0"]
    assert all("step=" in url for url in asked), asked
    assert {re.search(r"step=(\d+)", url).group(1) for url in asked} == {"0", str(last)}  # type: ignore[union-attr]
    page.keyboard.press("ArrowRight")
    panel.locator('.media-body[data-shown-step="1"]').wait_for()
    assert panel.locator(".caption").first.inner_text() == "s1-0"


def test_histogram_heatmap_draws_and_hover_names_step_bin_and_count(
    page: Any, server: LiveServer
) -> None:
    page.goto(_media_url(server))
    panel = page.locator('.histogram-panel[data-key="weights"]')
    canvas = panel.locator(f'canvas[data-drawn="{HISTOGRAM_STEPS}"]')
    canvas.wait_for()
    coloured = canvas.evaluate(
        "c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] === 255) n++; return n; }"
    )
    assert coloured > 10_000  # the cells, not only the axes
    answer = _api(server, "/runs/media-a/media?key=weights")
    items = {i["step"]: i["meta"] for i in answer if i["writer"] == "main"}  # the first series
    box = canvas.bounding_box()
    left, right, top, bottom = 60, 10, 8, 24  # HistogramPanel's margins
    plot_w, plot_h = box["width"] - left - right, box["height"] - top - bottom
    lo = min(m["edges"][0] for m in items.values())
    hi = max(m["edges"][-1] for m in items.values())
    for col in (0, HISTOGRAM_STEPS - 1):
        # The middle of the column, at the height of that step's mean.
        x = box["x"] + left + plot_w * (col + 0.5) / HISTOGRAM_STEPS
        meta = items[col]
        y = box["y"] + top + plot_h * (1 - (col / 10 - lo) / (hi - lo))
        page.mouse.move(x, y)
        tip = panel.locator(f'.heatmap-tip[data-step="{col}"]')
        tip.wait_for()
        bin_ = int(tip.get_attribute("data-bin"))
        assert bin_ >= 0
        pixel = (hi - lo) / plot_h  # the pointer lands on a whole (device) pixel
        assert meta["edges"][bin_] - pixel <= col / 10 <= meta["edges"][bin_ + 1] + pixel
        assert int(tip.get_attribute("data-count")) == meta["counts"][bin_]
        text = tip.inner_text()
        assert f"step {col}" in text and f"count {meta['counts'][bin_]:,}" in text and "[" in text
    panel.screenshot(path=(_artifact("media-histogram")))
    # Colour by each step's own largest bin: the same cells, other colours.
    pixels = "c => c.toDataURL()"
    before = canvas.evaluate(pixels)
    panel.get_by_label("per step").check()
    page.wait_for_function("([c, b]) => c.toDataURL() !== b", arg=[canvas.element_handle(), before])
    # The rank's histograms are a series of their own.
    panel.locator('select[aria-label="series"]').select_option(label="rank1")
    panel.locator(f'.heatmap[data-steps="{STEPS}"] canvas[data-drawn="{STEPS}"]').wait_for()
    page.mouse.move(box["x"] + 5, box["y"] + 5)  # the axis: no tip
    panel.locator(".heatmap-tip").wait_for(state="detached")


def test_a_histogram_over_more_steps_than_a_page_is_read_whole(
    page: Any, server: LiveServer
) -> None:
    page.goto(_media_url(server))
    panel = page.locator('.histogram-panel[data-key="long"]')
    panel.locator(f'.heatmap[data-steps="{LONG_STEPS}"]').wait_for()
    # At most 1,000 columns drawn, evenly spaced, the last step among them.
    canvas = panel.locator('canvas[data-drawn="1000"]')
    canvas.wait_for()
    box = canvas.bounding_box()
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] - 11, box["y"] + box["height"] / 2)
    # The last columns hold steps from the second page.
    assert int(panel.locator(".heatmap-tip").get_attribute("data-step")) > 2_000


def _artifact(name: str) -> str:
    """Where a screenshot of one panel goes."""
    ARTIFACTS.mkdir(exist_ok=True)
    return str(ARTIFACTS / f"{name}.png")


def _column(panel: Any, index: int) -> list[str]:
    return panel.locator(".table-row").evaluate_all(  # type: ignore[no-any-return]
        "(rows, c) => rows.sort((a, b) => a.offsetTop - b.offsetTop)"
        ".map(r => r.children[c].textContent)",
        index,
    )


def test_table_sorts_filters_shows_thumbnails_and_picks_a_step(
    page: Any, server: LiveServer
) -> None:
    page.goto(_media_url(server))
    panel = page.locator('.table-panel[data-key="preds"]')
    panel.locator('.row-count[data-rows="12"]').wait_for()
    assert _column(panel, 2)[:2] == ["label-7-0", "label-7-1"]  # the newest step first
    # A thumbnail in view loads (they are lazy: the panel must be on screen).
    panel.scroll_into_view_if_needed()
    panel.locator("img.thumb").first.evaluate(
        "i => new Promise(r => i.complete && i.naturalWidth ? r() : i.addEventListener('load', r))"
    )
    assert panel.locator("img.thumb").count() == 12

    panel.locator('button[data-column="score"]').click()
    scores = [float(s) for s in _column(panel, 3)]
    assert scores == sorted(scores) and scores[0] < scores[-1]
    panel.locator('button[data-column="score"]').click()
    assert [float(s) for s in _column(panel, 3)] == sorted(scores, reverse=True)
    assert panel.locator('button[data-column="score"]').get_attribute("aria-sort") == "descending"
    panel.screenshot(path=(_artifact("media-table")))

    panel.locator('input[aria-label="filter rows"]').fill("LABEL-7-1")  # any case
    panel.locator('.row-count[data-rows="3"]').wait_for()  # label-7-1, -10, -11
    assert sorted(_column(panel, 2)) == ["label-7-1", "label-7-10", "label-7-11"]

    # Another step's table: the filter stays.
    panel.locator('input[aria-label="filter rows"]').fill("-1")
    panel.locator('select[aria-label="step"]').select_option(label="step 0")
    panel.locator(".table-row").get_by_text("label-0-10", exact=True).wait_for()
    assert sorted(_column(panel, 2)) == ["label-0-1", "label-0-10", "label-0-11"]


def test_a_100k_row_table_keeps_only_a_window_of_rows_in_the_dom(
    page: Any, server: LiveServer
) -> None:
    page.goto(_media_url(server))
    panel = page.locator('.table-panel[data-key="big"]')
    panel.locator(f'.row-count[data-rows="{BIG_ROWS}"]').wait_for()
    assert panel.locator(".table-row").count() < 60
    scroller = panel.locator(".table-scroll")
    scroller.evaluate("e => { e.scrollTop = e.scrollHeight; }")
    panel.locator(f'.table-row[data-row="{BIG_ROWS - 1}"]').wait_for()
    assert panel.locator(".table-row").count() < 60
    assert _column(panel, 2)[-1] == f"row {BIG_ROWS - 1}"
    panel.screenshot(path=(_artifact("media-table-end")))
    # Sorted by "mod" descending, the first rows hold 996.
    scroller.evaluate("e => { e.scrollTop = 0; }")
    panel.locator('button[data-column="mod"]').click()
    panel.locator('button[data-column="mod"]').click()
    panel.locator('.table-row[data-row="996"]').wait_for()
    assert set(_column(panel, 3)[:5]) == {"996"}


def test_markdown_is_rendered_and_sanitised(page: Any, server: LiveServer) -> None:
    page.goto(_media_url(server))
    text = page.locator('.text-panel[data-key="notes"] .markdown')
    text.locator("h1").wait_for()
    assert text.locator("h1").inner_text() == "Evaluation report"
    assert text.locator("strong").inner_text() == "up"
    assert text.locator("table td").all_inner_texts() == ["acc", "0.93"]
    assert text.locator("li").count() == 2
    assert text.locator('a[href="https://example.com/docs"]').count() == 1
    # The HTML is shown as text; nothing of it runs, and no javascript: URL is kept.
    assert "<script>window.__pwned = 1</script>" in text.inner_text()
    assert text.locator("script, [onerror], iframe").count() == 0
    hrefs = text.locator("a, img").evaluate_all(
        "els => els.map(e => e.getAttribute('href') ?? e.getAttribute('src'))"
    )
    assert not [h for h in hrefs if "javascript" in (h or "")], hrefs
    text.get_by_text("click me").click()
    assert page.evaluate("window.__pwned") is None
    plain = page.locator('.text-panel[data-key="log"] pre.plain-text')
    assert plain.inner_text() == "line one\n  <b>two</b>"
    assert plain.locator("b").count() == 0


def test_a_run_without_media_says_so(page: Any, server: LiveServer) -> None:
    page.goto(_media_url(server, "media-none"))
    empty = page.locator(".media-tab .empty")
    empty.wait_for()
    assert "logged no images, histograms, tables or text" in empty.inner_text()


def test_compare_page_shows_images_side_by_side(page: Any, server: LiveServer) -> None:
    page.goto(f"{server.base_url}/projects/{PROJECT}/compare?runs=media-a,media-b")
    panel = page.locator('.compare-media .image-panel[data-key="samples"]')
    last = STEPS - 1
    for run in ("media-a", "media-b"):
        panel.locator(f'.compare-run[data-run="{run}"][data-shown-step="{last}"]').wait_for()
    _wait_loaded(page, ".compare-media .media-image img", 4 + 2)
    assert panel.locator('.compare-run[data-run="media-b"] .caption').all_inner_texts() == [
        f"b{last}-0",
        f"b{last}-1",
    ]
    # The two columns sit side by side.
    a, b = (
        panel.locator(f'.compare-run[data-run="{r}"]').bounding_box()
        for r in ("media-a", "media-b")
    )
    assert a["x"] + a["width"] <= b["x"] and abs(a["y"] - b["y"]) < 1
    panel.locator('input[type="range"]').focus()
    page.keyboard.press("Home")
    for run in ("media-a", "media-b"):
        panel.locator(f'.compare-run[data-run="{run}"][data-shown-step="0"]').wait_for()
    assert panel.locator('.compare-run[data-run="media-a"] .caption').first.inner_text() == "s0-0"
    _wait_loaded(page, ".compare-media .media-image img", 4 + 2)
    screenshot(page, "media-compare", full_page=True)


def test_an_image_whose_bytes_are_not_on_the_server_says_so(page: Any, server: LiveServer) -> None:
    (item,) = _api(server, "/runs/media-c/media?key=lost")
    # The run's record stays, its bytes go (as when an upload of them has not happened yet).
    for path in (server.data_dir / "blobs").rglob(f"*{item['sha256']}*"):
        path.unlink()
    page.goto(_media_url(server, "media-c"))
    panel = page.locator('.image-panel[data-key="lost"]')
    panel.locator(".image-missing").wait_for()
    assert panel.locator("img").count() == 0
    assert panel.locator(".caption").inner_text() == "gone"


LIVE = """
import sys, time
from pathlib import Path
import numpy as np
import tether

stop = Path(sys.argv[1])
run = tether.init(project="uimedia", name="media-live", id="media-live")
for step in range(600):
    if stop.exists():
        break
    pixels = np.full((16, 16, 3), step % 256, dtype=np.uint8)
    run.log({"frames": tether.Image(pixels, caption=f"frame {step}")}, step=step)
    time.sleep(0.3)
run.finish()
"""


def test_a_live_run_s_images_follow_the_newest_step(
    page: Any, server: LiveServer, tmp_path: Any
) -> None:
    (tmp_path / "live.py").write_text(textwrap.dedent(LIVE))
    stop = tmp_path / "stop"
    env = client_env(server, TETHER_SYSTEM_INTERVAL_S="0")
    process = subprocess.Popen(
        [sys.executable, "live.py", str(stop)], cwd=tmp_path, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        url = f"{server.base_url}/api/v1/projects/{PROJECT}/runs/media-live/media/steps?key=frames"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            answer = httpx.get(url, headers=server.headers, timeout=10)
            if answer.status_code == 200 and answer.json():
                break
            time.sleep(0.2)
        page.goto(_media_url(server, "media-live"))
        slider = page.locator('.image-panel[data-key="frames"] .step-slider')
        slider.wait_for()
        first = int(slider.get_attribute("data-steps") or 0)
        # New steps arrive without a reload, and the panel keeps showing the newest.
        page.wait_for_function(
            "n => { const s = document.querySelector('.image-panel .step-slider');"
            " return s && Number(s.dataset.steps) > n + 1; }",
            arg=first,
            timeout=30_000,
        )
        steps = int(slider.get_attribute("data-steps") or 0)
        page.locator(f'.image-panel .caption:text-is("frame {steps - 1}")').or_(
            page.locator(f'.image-panel .caption:text-is("frame {steps}")')
        ).first.wait_for()
    finally:
        stop.touch()
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr


def test_an_owner_qualified_run_page_loads_media_from_the_owner_s_paths(
    page: Any, server: LiveServer
) -> None:
    answer = httpx.get(f"{server.base_url}/api/v1/owners", headers=server.headers, timeout=30)
    owner = next(o["name"] for o in answer.json() if o["default"])
    page.goto(f"{server.base_url}/owners/{owner}/projects/{PROJECT}/runs/media-a/media")
    _wait_loaded(page, '.image-panel[data-key="samples"] .media-image img', 4)
    sources = page.locator(".media-image img").evaluate_all("i => i.map(x => x.src)")
    prefix = f"/api/v1/owners/{owner}/projects/{PROJECT}/runs/media-a/blobs/"
    assert all(prefix in src for src in sources), sources
