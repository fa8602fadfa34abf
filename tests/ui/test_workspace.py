"""The project workspace in Chromium: default columns, the filter box (completion, errors that
point at the position), grouping, the charts of all visible runs, parallel coordinates, the
scatter, named views, the view in the URL and bulk actions, against a real server holding a
sweep (3 learning rates x 3 seeds) that a real tether process logged offline and ``tether
sync`` uploaded. One server and one browser page for the module."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tether.server.app import STATIC_DIR
from tether.server.testing import LiveServer

from .conftest import client_env, screenshot, sign_in

PROJECT = "sweep"
SWEEP = """
import math
import tether

for lr in (0.01, 0.03, 0.1):
    for seed in range(3):
        run = tether.init(
            project="sweep", name=f"lr{lr}-s{seed}", group="sweep",
            tags=["baseline"] if lr == 0.01 else ["search"],
            config={"lr": lr, "seed": seed, "optimizer": "adam"},
        )
        for step in range(60):
            loss = 2.0 * math.exp(-step * lr) + 0.05 * seed
            run.log({"train/loss": loss, "val/acc": 1 - loss / 2.2}, step=step)
        run.summary["best_acc"] = round(0.5 + lr * 4 + seed / 100, 4)
        run.finish()
"""


class Sweep:
    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.url = f"{server.base_url}/owners/admin/projects/{PROJECT}"

    def api(self, path: str) -> Any:
        response = httpx.get(
            f"{self.server.base_url}/api/v1/owners/admin/projects/{PROJECT}{path}",
            headers=self.server.headers,
            timeout=30,
        )
        response.raise_for_status()
        return response.json()


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sweep]:
    if not (STATIC_DIR / "index.html").is_file():
        pytest.skip("the web UI is not built: run scripts/build-web.sh")
    server = LiveServer(tmp_path_factory.mktemp("ws-server")).start()
    try:
        directory = tmp_path_factory.mktemp("ws-runs")
        (directory / "sweep.py").write_text(textwrap.dedent(SWEEP))
        env = client_env(server, TETHER_MODE="offline")
        for command in (["sweep.py"], ["-m", "tether.cli", "sync", "-q", "."]):
            subprocess.run(
                [sys.executable, *command], cwd=directory, env=env, check=True, timeout=180,
                capture_output=True,
            )  # fmt: skip
        yield Sweep(server)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def ws(browser: Any, sweep: Sweep) -> Iterator[Any]:
    """One signed-in page for the module; page errors fail the module's last test."""
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    sign_in(context, sweep.server)
    context.set_default_timeout(60_000)  # CI machines are loaded: waits for events, generous
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, errors


def total(page: Any, expected: int) -> None:
    page.wait_for_function(
        f"() => document.querySelector('.runs-scroll')?.dataset.total === '{expected}'"
        " && document.querySelector('.runs-scroll').dataset.ready === '1'"
    )


def apply_filter(page: Any, text: str) -> None:
    """Types a filter and applies it; returns once the page queries it, so that a following
    `total` cannot be met by the previous filter's rows (two filters may match as many runs)."""
    box = page.get_by_label("filter", exact=True)
    box.fill(text)
    box.press("Enter")
    applied(page, text.strip())


def applied(page: Any, text: str) -> None:
    page.wait_for_function(
        "text => document.querySelector('.runs-page')?.dataset.filter === text", arg=text
    )


def charts_drawn(page: Any, key: str, lines: int) -> Any:
    chart = page.locator(f'.ws-chart[data-key="{key}"] .many-lines')
    page.wait_for_function(
        "([key, lines]) => { const c = document.querySelector("
        "`.ws-chart[data-key='${key}'] .many-lines`);"
        " return c && c.dataset.drawn && c.dataset.lines === String(lines); }",
        arg=[key, lines],
    )
    return chart


def test_default_columns_are_the_keys_that_differ(ws: Any, sweep: Sweep) -> None:
    ws.goto(sweep.url + "?order=name")
    total(ws, 9)
    head = ws.locator(".runs-head [data-column]")
    ws.wait_for_function(
        "() => document.querySelector('.runs-head [data-column=\"summary.best_acc\"]')"
    )
    columns = head.evaluate_all("els => els.map(e => e.dataset.column)")
    for column in ("name", "state", "duration", "step", "config.lr", "config.seed"):
        assert column in columns
    assert "summary.best_acc" in columns and "summary.train/loss" in columns
    assert "config.optimizer" not in columns  # the same in every run
    screenshot(ws, "workspace-table")

    # Hide a column and move one: kept per project, also without the URL's parameters.
    ws.get_by_text("Columns (").click()
    ws.locator('.picker-row[data-column="config.seed"] input').click()
    ws.get_by_title("move config.lr left").click()
    ws.get_by_text("Columns (").click()
    ws.wait_for_url(re.compile(r"hidden=config\.seed"))
    ws.goto(sweep.url + "?order=name")
    total(ws, 9)
    ws.wait_for_function("() => document.querySelector('.runs-head [data-column=\"config.lr\"]')")
    columns = head.evaluate_all("els => els.map(e => e.dataset.column)")
    assert "config.seed" not in columns
    assert columns.index("config.lr") < columns.index("step")
    ws.evaluate("() => localStorage.removeItem('tether.columns.admin/sweep')")


def test_filter_box_filters_completes_and_points_at_errors(ws: Any, sweep: Sweep) -> None:
    ws.goto(sweep.url + "?order=name")
    total(ws, 9)
    apply_filter(ws, "config.lr < 0.05 and state = finished")
    total(ws, 6)
    assert "filter=config.lr" in ws.url
    apply_filter(ws, 'tags has "baseline"')
    total(ws, 3)
    apply_filter(ws, 'name ~ "^lr0.1-"')
    total(ws, 3)
    assert sorted(ws.locator(".runs-row[data-run] .c-name").all_inner_texts()) == [
        "lr0.1-s0", "lr0.1-s1", "lr0.1-s2",
    ]  # fmt: skip
    assert ws.locator(".runs-count").inner_text() == "3 runs"
    apply_filter(ws, 'name ~ "^lr0.1-s1$"')
    total(ws, 1)
    assert ws.locator(".runs-count").inner_text() == "1 run"
    apply_filter(ws, 'name ~ "^lr0.1-"')
    total(ws, 3)

    # Completion: the project's keys for the word at the cursor, Tab takes the first.
    box = ws.get_by_label("filter", exact=True)
    box.fill("")
    box.type("config.l")
    ws.locator(".filter-completion li", has_text="config.lr").wait_for()
    box.press("Tab")
    assert box.input_value() == "config.lr "
    box.type("= 0.03")
    assert box.input_value() == "config.lr = 0.03"
    box.press("Enter")
    applied(ws, "config.lr = 0.03")
    total(ws, 3)

    # A malformed filter: the server's message, and a caret under the position it names.
    apply_filter(ws, "config.lr < and state = finished")
    problem = ws.locator(".filter-problem")
    problem.wait_for()
    position = int(ws.locator(".filter-box").get_attribute("data-problem"))
    assert position == len("config.lr < ")
    caret = ws.locator(".filter-caret").inner_text().split("\n")
    assert caret[1].index("^") == position
    screenshot(ws, "workspace-filter-error")
    apply_filter(ws, "")
    total(ws, 9)
    assert ws.locator(".filter-problem").count() == 0

    # Links from before the workspace (?tag=, ?group=<name>) open as the same filter.
    ws.goto(sweep.url + "?tag=baseline&group=sweep")
    total(ws, 3)
    assert box.input_value() == 'group = "sweep" and tags has "baseline"'
    ws.wait_for_url(re.compile(r"^(?!.*(tag=|group=)).*filter=group"))
    apply_filter(ws, "")
    total(ws, 9)

    # A click on a tag adds its clause to the filter.
    ws.locator(".runs-row[data-run] .c-tags .tag", has_text="baseline").first.click()
    total(ws, 3)
    assert box.input_value() == 'tags has "baseline"'
    apply_filter(ws, "")
    total(ws, 9)


def test_charts_of_all_visible_runs_share_colours_hover_and_isolate(ws: Any, sweep: Sweep) -> None:
    ws.goto(sweep.url + "?order=name&smooth=0.5")
    total(ws, 9)
    chart = charts_drawn(ws, "train/loss", 9)
    charts_drawn(ws, "val/acc", 9)
    assert ws.get_by_label("smoothing").input_value() == "0.5"
    # A row's colour is its line's.
    swatch = ws.locator(".runs-row[data-run] .swatch").first
    assert swatch.evaluate("e => getComputedStyle(e).backgroundColor") != "rgba(0, 0, 0, 0)"
    screenshot(ws, "workspace-charts", full_page=True)

    # Hovering a row brings its line forward; hovering a line marks its row and names it.
    first = ws.locator(".runs-row[data-run]").first
    first.hover()
    chart.and_(ws.locator(f'[data-focused="{first.get_attribute("data-run")}"]')).wait_for()
    over = chart.locator(".u-over")
    over.scroll_into_view_if_needed()
    box = over.bounding_box()
    hovered = None
    for fx in (0.1, 0.3, 0.5):
        for fy in (0.1, 0.3, 0.5, 0.7, 0.9):
            ws.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
            if ws.locator(".chart-hover").count():
                hovered = ws.locator(".chart-hover").get_attribute("data-label")
                break
        if hovered:
            break
    assert hovered, "no line came near the pointer"
    row = ws.locator(".runs-row.hovered")
    row.wait_for()
    assert row.locator(".c-name").inner_text() == hovered

    # A click isolates the line: every chart draws only that run; the chip shows all again.
    ws.mouse.down()
    ws.mouse.up()
    series_count = (
        "() => document.querySelector('.ws-chart[data-key=\"val/acc\"]').dataset.seriesCount"
    )
    ws.wait_for_function(f"() => ({series_count})() === '1'")
    ws.get_by_role("button", name=re.compile(f"only {re.escape(hovered)}")).click()
    ws.wait_for_function(f"() => ({series_count})() === '9'")

    # The grid is as wide as the page, and the chart width resizes it.
    ws.get_by_label("chart width").fill("1200")
    ws.wait_for_url(re.compile(r"size=1200"))
    width = ws.locator('.ws-chart[data-key="val/acc"]').bounding_box()["width"]
    assert width > 1200


def test_the_charts_come_in_one_request_sent_with_the_runs_not_after(ws: Any, sweep: Sweep) -> None:
    # Before, the charts asked for the runs' series only once the 1,000 visible runs had come
    # (their ids and keys), a round trip later: the first chart of 1,000 runs waited for both.
    events: list[tuple[str, str]] = []

    def sent(request: Any) -> None:
        events.append(("sent", request.url))

    def done(request: Any) -> None:
        events.append(("done", request.url))

    ws.on("request", sent)
    ws.on("requestfinished", done)
    try:
        ws.goto(sweep.url + "?order=name")
        charts_drawn(ws, "train/loss", 9)
        charts_drawn(ws, "val/acc", 9)
    finally:
        ws.remove_listener("request", sent)
        ws.remove_listener("requestfinished", done)
    charted = [i for i, (what, url) in enumerate(events) if what == "sent" and "/runs/lines" in url]
    assert len(charted) == 1, events
    assert not any("/runs/history" in url for _, url in events)
    visible = next(
        i for i, (what, url) in enumerate(events) if what == "done" and "limit=1000" in url
    )
    assert charted[0] < visible, events


def test_grouping_folds_the_table_and_draws_a_line_per_group(ws: Any, sweep: Sweep) -> None:
    ws.goto(sweep.url)
    total(ws, 9)
    ws.get_by_label("group by").select_option("config.lr")
    ws.wait_for_url(re.compile(r"group=config\.lr"))
    rows = ws.locator(".group-row")
    ws.wait_for_function("() => document.querySelectorAll('.group-row').length === 3")
    assert rows.evaluate_all("els => els.map(e => e.dataset.count)") == ["3", "3", "3"]
    groups = sweep.api("/runs/groups?by=config.lr")
    acc = {str(g["key"]["config.lr"]): g["summary"]["best_acc"] for g in groups}
    assert len(acc) == 3
    chart = charts_drawn(ws, "train/loss", 3)
    ws.get_by_label("aggregate").select_option("median")
    ws.get_by_label("band").select_option("std")
    ws.wait_for_url(re.compile(r"agg=median.*band=std|band=std.*agg=median"))
    chart = charts_drawn(ws, "train/loss", 3)
    screenshot(ws, "workspace-grouped", full_page=True)

    # Hover names the group and its number of runs.
    over = chart.locator(".u-over")
    over.scroll_into_view_if_needed()
    box = over.bounding_box()
    found = ""
    for fy in (0.05, 0.15, 0.3, 0.45, 0.6, 0.75, 0.9):
        ws.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * fy)
        if ws.locator(".chart-hover").count():
            found = ws.locator(".chart-hover").inner_text()
            break
    assert "3 runs" in found, found
    ws.locator(".group-row.hovered").wait_for()

    # A second key, and back to runs.
    ws.get_by_label("group by").select_option("config.seed")
    ws.wait_for_function("() => document.querySelectorAll('.group-row').length === 9")
    ws.locator(".filter-chip", has_text="config.lr").click()
    ws.locator(".filter-chip", has_text="config.seed").click()
    total(ws, 9)


def test_parallel_coordinates_brush_filters_and_scatter(ws: Any, sweep: Sweep) -> None:
    ws.goto(sweep.url + "?panels=parallel,scatter&pc=config.lr,config.seed&pcm=summary.best_acc")
    total(ws, 9)
    parallel = ws.locator('[data-panel="parallel"] .ws-parallel')
    parallel.locator("path.pc-line").nth(8).wait_for(state="attached")
    assert parallel.get_attribute("data-axes") == "config.lr,config.seed,summary.best_acc"
    scatter = ws.locator('[data-panel="scatter"] .ws-scatter')
    ws.get_by_label("scatter x").select_option("config.lr")
    ws.get_by_label("scatter y").select_option("summary.best_acc")
    ws.wait_for_function("() => document.querySelector('.ws-scatter')?.dataset.dots === '9'")
    assert scatter.get_attribute("data-x") == "config.lr"

    # Brush the top of the lr axis (0.1): the table keeps the three lr=0.1 runs.
    axis = parallel.locator('rect.pc-hit[data-axis="config.lr"]')
    box = axis.bounding_box()
    x = box["x"] + box["width"] / 2
    ws.mouse.move(x, box["y"] + 2)
    ws.mouse.down()
    ws.mouse.move(x, box["y"] + box["height"] * 0.2, steps=4)
    ws.mouse.up()
    ws.wait_for_url(re.compile(r"brush=config\.lr"))
    total(ws, 3)
    assert ws.locator("path.pc-line.dim").count() == 6
    ws.wait_for_function("() => document.querySelector('.ws-scatter')?.dataset.dots === '3'")
    screenshot(ws, "workspace-parallel", full_page=True)
    ws.get_by_role("button", name="clear brushes").click()
    total(ws, 9)


def test_named_views_and_the_url_reproduce_the_view(ws: Any, sweep: Sweep) -> None:
    query = (
        "?filter=config.lr+%3E+0.02&group=config.lr&agg=max&band=none&smooth=0.3"
        "&panels=charts,scatter"
    )
    ws.goto(sweep.url + query)
    ws.wait_for_function("() => document.querySelectorAll('.group-row').length === 2")
    assert ws.get_by_label("filter", exact=True).input_value() == "config.lr > 0.02"
    assert ws.get_by_label("aggregate").input_value() == "max"
    ws.get_by_role("button", name="Save view…").click()
    ws.get_by_label("view name").fill("big lrs")
    ws.get_by_role("button", name="Save", exact=True).click()
    ws.wait_for_url(re.compile(r"view=big\+lrs|view=big%20lrs"))
    views = sweep.api("/views")
    assert [v["name"] for v in views] == ["big lrs"]
    assert views[0]["state"]["filter"] == "config.lr > 0.02"
    assert views[0]["state"]["group"] == "config.lr"

    # The default view, then the saved one from the menu.
    ws.goto(sweep.url)
    total(ws, 9)
    ws.get_by_label("view", exact=True).select_option("big lrs")
    ws.wait_for_function("() => document.querySelectorAll('.group-row').length === 2")
    assert ws.get_by_label("band").input_value() == "none"
    assert ws.get_by_label("smoothing").input_value() == "0.3"
    ws.get_by_role("button", name="delete view").click()
    total(ws, 9)
    assert sweep.api("/views") == []


def test_bulk_actions_tag_untag_move_and_delete(ws: Any, sweep: Sweep) -> None:
    ws.goto(sweep.url + "?order=name")
    total(ws, 9)
    ws.get_by_label("select lr0.01-s0").check()
    ws.get_by_label("select lr0.01-s1").check()
    ws.get_by_role("button", name="Tag…", exact=True).click()
    ws.get_by_label("tag", exact=True).fill("picked")
    ws.get_by_role("button", name="Tag 2 runs").click()
    ws.get_by_role("status").filter(has_text="tag: 2 runs changed").wait_for()
    apply_filter(ws, 'tags has "picked"')
    total(ws, 2)

    ws.get_by_label("select lr0.01-s0").check()
    ws.get_by_role("button", name="Untag…").click()
    ws.get_by_label("tag", exact=True).fill("picked")
    ws.get_by_role("button", name="Untag 1 run").click()
    total(ws, 1)

    ws.get_by_label("select lr0.01-s1").check()
    ws.get_by_role("button", name="Move…").click()
    ws.get_by_label("project", exact=True).fill("sweep-archive")
    ws.get_by_role("button", name="Move 1 run").click()
    total(ws, 0)
    moved = httpx.get(
        f"{sweep.server.base_url}/api/v1/owners/admin/projects/sweep-archive/runs",
        headers=sweep.server.headers,
        timeout=30,
    ).json()
    assert [run["name"] for run in moved["runs"]] == ["lr0.01-s1"]

    apply_filter(ws, "")
    total(ws, 8)
    ws.get_by_label("select lr0.01-s2").check()
    ws.get_by_role("button", name="Delete…").click()
    form = ws.locator('.bulk-form[data-action="delete"]')
    assert "Delete 1 run and all its data?" in form.inner_text()
    screenshot(ws, "workspace-bulk-delete")
    ws.get_by_role("button", name="Delete 1 run").click()
    total(ws, 7)
    names = [run["name"] for run in sweep.api("/runs?limit=100")["runs"]]
    assert "lr0.01-s2" not in names and len(names) == 7
    assert json.dumps(names)
