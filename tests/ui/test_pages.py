"""Projects, runs table, run page (charts, console, config), compare and errors, in Chromium."""

from __future__ import annotations

import re
from typing import Any

from tether.server.testing import LiveServer

from .conftest import PROJECT, UiServer, screenshot, sign_in


def runs_url(ui: UiServer, query: str = "") -> str:
    return f"{ui.url}/projects/{PROJECT}{query}"


def run_url(ui: UiServer, name: str, tab: str = "") -> str:
    return f"{ui.url}/projects/{PROJECT}/runs/{ui.runs[name]}{'/' + tab if tab else ''}"


def test_projects_page_lists_the_project(page: Any, ui_server: UiServer) -> None:
    page.goto(ui_server.url + "/")
    link = page.get_by_role("link", name=PROJECT)
    link.wait_for()
    row = page.locator("table.projects tbody tr", has=link)
    assert row.locator("td.num").inner_text() == "3"
    screenshot(page, "projects")
    link.click()
    page.wait_for_url(re.compile(f"/owners/admin/projects/{PROJECT}$"))
    page.locator(".runs-row[data-run]").first.wait_for()


def test_runs_table_lists_sorts_and_filters(page: Any, ui_server: UiServer) -> None:
    page.goto(runs_url(ui_server))
    rows = page.locator(".runs-row[data-run]")
    rows.first.wait_for()
    assert rows.count() == 3
    assert sorted(rows.locator(".c-name").all_inner_texts()) == ["ui-run-0", "ui-run-1", "ui-run-2"]
    assert rows.locator(".c-state").all_inner_texts() == ["finished"] * 3
    screenshot(page, "runs-table")

    # Newest first by default; a click on "name" sorts on the server, ascending.
    page.locator('.runs-head [data-column="name"]').click()
    page.wait_for_url(re.compile(r"order=name"))
    page.wait_for_function(
        "() => document.querySelector('.runs-row[data-run] .c-name')?.innerText === 'ui-run-0'"
    )
    page.locator('.runs-head [data-column="name"]').click()
    page.wait_for_url(re.compile(r"order=-name"))
    page.wait_for_function(
        "() => document.querySelector('.runs-row[data-run] .c-name')?.innerText === 'ui-run-2'"
    )

    # The search box filters on the server.
    page.get_by_placeholder("search run names").fill("run-1")
    page.wait_for_function("() => document.querySelector('.runs-scroll').dataset.total === '1'")
    assert rows.locator(".c-name").all_inner_texts() == ["ui-run-1"]
    page.get_by_placeholder("search run names").fill("")
    page.wait_for_function("() => document.querySelector('.runs-scroll').dataset.total === '3'")

    # State filter: nothing crashed.
    page.get_by_label("state").select_option("crashed")
    page.get_by_text("No run matches these filters.").wait_for()
    page.get_by_label("state").select_option("")

    # A click on a tag or a group adds its clause to the workspace's filter (in the URL).
    rows.first.locator(".c-tags .tag").click()
    page.wait_for_url(re.compile(r"filter=tags\+has\+%22ui%22"))
    rows.first.locator(".c-group button").click()
    page.wait_for_url(re.compile(r"and\+group\+%3D\+%22g%22"))
    assert page.get_by_label("filter", exact=True).input_value() == 'tags has "ui" and group = "g"'
    page.wait_for_function("() => document.querySelector('.runs-scroll').dataset.total === '3'")


def test_runs_table_adds_config_and_summary_columns(page: Any, ui_server: UiServer) -> None:
    page.goto(runs_url(ui_server, "?order=name"))
    page.locator(".runs-row[data-run]").first.wait_for()
    # The keys whose values differ between the runs show by default.
    cells = page.locator(".runs-row[data-run] .c-config\\.lr")
    cells.first.wait_for()
    assert cells.all_inner_texts() == ["0.01", "0.02", "0.03"]
    page.locator(".runs-row[data-run] .c-summary\\.best_acc").first.wait_for()
    # One the same in every run is added from the picker.
    page.get_by_text("Columns").click()
    page.get_by_label("config.batch").check()
    page.get_by_text("Columns").click()
    page.wait_for_url(re.compile(r"cols=config\.batch"))
    assert page.locator(".runs-row[data-run] .c-config\\.batch").all_inner_texts() == ["32"] * 3
    # Sorting by a config key happens on the server too.
    page.locator('.runs-head [data-column="config.lr"]').click()
    page.wait_for_url(re.compile(r"order=-config\.lr"))
    page.wait_for_function(
        "() => document.querySelector('.runs-row[data-run] .c-name')?.innerText === 'ui-run-2'"
    )
    assert cells.all_inner_texts() == ["0.03", "0.02", "0.01"]
    screenshot(page, "runs-table-columns")
    # The choice is in the URL: a reload keeps it.
    page.reload()
    page.locator(".runs-row[data-run] .c-config\\.batch").first.wait_for()


def test_run_page_draws_one_chart_per_key_and_one_series_per_writer(
    page: Any, ui_server: UiServer
) -> None:
    page.goto(run_url(ui_server, "ui-run-0"))
    panels = page.locator(".panel")
    panels.first.wait_for()
    assert sorted(panels.evaluate_all("ps => ps.map(p => p.dataset.key)")) == [
        "lr",
        "train/loss",
        "val/acc",
    ]
    page.wait_for_function(
        "() => [...document.querySelectorAll('.panel .chart')]"
        ".filter(c => c.dataset.drawn).length === 3"
    )
    loss = page.locator('.panel[data-key="train/loss"]')
    assert loss.get_attribute("data-series-count") == "2"
    # uPlot's own legend: the x value plus one entry per writer.
    assert loss.locator(".u-legend .u-series").count() == 3
    assert loss.locator(".u-legend .u-series .u-label").all_inner_texts()[1:] == ["rank0", "rank1"]
    assert page.locator('.panel[data-key="val/acc"]').get_attribute("data-series-count") == "1"
    # Sections by prefix.
    sections = page.locator("details.section").evaluate_all("s => s.map(d => d.dataset.section)")
    assert sections == ["", "train", "val"]
    screenshot(page, "run-charts", full_page=True)

    # Smoothing, log scale and the time axis redraw without errors.
    drawn = loss.locator(".chart").get_attribute("data-drawn")
    page.get_by_label("smoothing").fill("0.9")
    page.get_by_label("log scale").check()
    page.get_by_label("x axis").select_option("relative")
    page.wait_for_function(
        f"() => document.querySelector('.panel[data-key=\"train/loss\"] .chart')"
        f".dataset.drawn !== '{drawn}'"
    )
    assert loss.get_attribute("data-series-count") == "2"
    page.get_by_label("log scale").uncheck()
    page.get_by_label("smoothing").fill("0")
    page.get_by_label("x axis").select_option("step")

    # Drag to zoom: the chart re-fetches with more samples and shows a reset button.
    loss.locator(".u-legend .u-series .u-label", has_text="step").wait_for()
    over = loss.locator(".u-over")
    over.scroll_into_view_if_needed()
    box = over.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()
    loss.get_by_text("reset zoom").wait_for()
    loss.get_by_text("reset zoom").click()
    loss.get_by_text("reset zoom").wait_for(state="detached")


def test_console_shows_every_writer_and_filters(page: Any, ui_server: UiServer) -> None:
    page.goto(run_url(ui_server, "ui-run-1", "console"))
    console = page.locator(".console")
    page.wait_for_function("() => document.querySelector('.console')?.dataset.done === '1'")
    assert console.get_attribute("data-lines") == "10"  # 6 from main, 2 from each rank
    texts = page.locator(".cl .ct").all_inner_texts()
    assert "rank 0 finished OK" in texts
    assert "rank 1 complains on stderr" in texts
    assert "step 250 acc 0.83" in texts
    # ANSI colours became spans with classes, the escape codes are gone.
    assert page.locator(".cl .ct .a-f2").first.inner_text() == "rank 0"
    assert "\x1b" not in "".join(texts)
    screenshot(page, "run-console")

    page.get_by_label("writer").select_option("rank1")
    page.wait_for_function("() => document.querySelector('.console').dataset.shown === '2'")
    assert set(page.locator(".cl .cw").all_inner_texts()) == {"rank1"}
    page.get_by_label("stream").select_option("stderr")
    page.wait_for_function("() => document.querySelector('.console').dataset.shown === '1'")
    assert page.locator(".cl .ct").all_inner_texts() == ["rank 1 complains on stderr"]
    page.get_by_label("writer").select_option("")
    page.get_by_label("stream").select_option("")
    page.get_by_placeholder("search lines").fill("STEP 1")
    page.wait_for_function("() => document.querySelector('.console').dataset.shown === '0'")
    page.get_by_placeholder("search lines").fill("step 1")  # lower case: any case
    page.wait_for_function("() => document.querySelector('.console').dataset.shown === '2'")


def test_config_and_summary_tables(page: Any, ui_server: UiServer) -> None:
    page.goto(run_url(ui_server, "ui-run-2", "config"))
    config = page.locator('table[data-table="config"]')
    config.wait_for()
    keys, values = config.locator("th").all_inner_texts(), config.locator("td").all_inner_texts()
    rows = dict(zip(keys, values, strict=True))
    assert rows == {"batch": "32", "lr": "0.03", "model.depth": "6"}
    summary = page.locator('table[data-table="summary"]')
    assert "best_acc" in summary.locator("th").all_inner_texts()
    assert page.locator("table.writers tbody tr").count() == 3
    screenshot(page, "run-config")
    page.get_by_role("link", name="system").click()
    # The run's own sampler recorded the machine: the tab draws its charts.
    page.locator(".system-tab").wait_for()


def test_compare_overlays_runs_and_diffs_configs(page: Any, ui_server: UiServer) -> None:
    page.goto(runs_url(ui_server, "?order=name"))
    page.locator(".runs-row[data-run]").first.wait_for()
    page.get_by_label("select ui-run-0").check()
    page.get_by_label("select ui-run-2").check()
    page.get_by_role("button", name="Compare (2)").click()
    page.wait_for_url(re.compile(r"/compare\?runs="))
    assert page.locator(".compare-page").get_attribute("data-runs") == "2"
    page.wait_for_function(
        "() => [...document.querySelectorAll('.panel .chart')]"
        ".filter(c => c.dataset.drawn).length === 3"
    )
    for key in ("val/acc", "train/loss", "lr"):
        assert page.locator(f'.panel[data-key="{key}"]').get_attribute("data-series-count") == "2"
    labels = page.locator('.panel[data-key="val/acc"] .u-legend .u-series .u-label')
    assert labels.all_inner_texts()[1:] == ["ui-run-0", "ui-run-2"]
    config = page.locator('table[data-table="config"]')
    assert config.locator('tr[data-key="lr"]').get_attribute("class") == "differs"
    assert config.locator('tr[data-key="batch"]').get_attribute("class") == ""
    assert config.locator('tr[data-key="lr"] td').all_inner_texts() == ["0.01", "0.03"]
    screenshot(page, "compare", full_page=True)


def test_missing_run_and_page_show_messages(page: Any, ui_server: UiServer) -> None:
    page.goto(f"{ui_server.url}/projects/{PROJECT}/runs/no-such-run")
    page.locator(".error-box[data-status='404']").wait_for()
    assert "no-such-run" in page.locator(".error-box").inner_text()
    page.goto(f"{ui_server.url}/projects/no-such-project")
    page.locator(".error-box[data-status='404']").wait_for()
    page.goto(f"{ui_server.url}/elsewhere/entirely")
    page.get_by_text("No such page").wait_for()


def test_api_key_form_appears_on_401_and_signs_in(browser: Any, ui_server: UiServer) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(ui_server.url + f"/projects/{PROJECT}")
        form = page.locator("form.key-form")
        form.wait_for()
        screenshot(page, "api-key-form")
        form.locator("input").fill(ui_server.server.api_key)
        form.get_by_role("button", name="Sign in").click()
        page.locator(".runs-row[data-run]").first.wait_for()
        # A session cookie, not the key (tests/ui/test_sign_in.py checks the details).
        assert page.evaluate("localStorage.getItem('tether.apiKey')") is None
    finally:
        context.close()


def test_server_gone_shows_a_message(browser: Any, tmp_path: Any) -> None:
    server = LiveServer(tmp_path / "gone").start()
    context = browser.new_context()
    try:
        sign_in(context, server)
        page = context.new_page()
        page.goto(server.base_url + "/")
        page.get_by_text("No projects yet").wait_for()
        server.stop()
        # Move within the open page (a reload could not even load the page).
        page.evaluate("history.pushState(null, '', '/projects/x')")
        page.evaluate("dispatchEvent(new PopStateEvent('popstate'))")
        page.get_by_text("Cannot reach the tether server").wait_for()
        # Said once: the saved views' menu, which asked too, no longer adds its own copy
        # (under load both were on screen, and this wait found two).
        page.wait_for_load_state("networkidle")
        assert page.get_by_text(re.compile("cannot reach the tether server", re.I)).count() == 1
    finally:
        context.close()
        server.stop()
