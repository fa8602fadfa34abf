"""A page's first API answer comes inside its HTML (``server/first_answer.py``): the app
shows it in its first render and never asks the server for it."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import PROJECT, UiServer


def _api_requests(page: Any) -> list[str]:
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "/api/v1/" in r.url else None)
    return requests


@pytest.mark.parametrize(
    ("query", "asked_for_instead"),
    [
        ("", "order=-start_time&limit=100&offset=0"),
        (
            "?order=name&state=finished&search=run&cols=config.lr",
            "order=name&limit=100&search=run&state=finished&offset=0",
        ),
        # "~", quotes, "*" and brackets, as URLSearchParams writes them
        ('?filter=name ~ "^ui-run-[0-9]*"', "offset=0"),
    ],
)
def test_runs_table_shows_its_first_page_without_asking(
    page: Any, ui_server: UiServer, query: str, asked_for_instead: str
) -> None:
    requests = _api_requests(page)
    # The rows are in the DOM once the app's script has run (before DOMContentLoaded): its
    # first render had them, no answer was waited for.
    page.add_init_script(
        "document.addEventListener('DOMContentLoaded', () => { window.__rowsAtScriptEnd ="
        " document.querySelectorAll('.runs-row[data-run]').length; })"
    )
    page.goto(f"{ui_server.url}/projects/{PROJECT}{query}")
    page.locator(".runs-row[data-run]").first.wait_for()
    page.wait_for_timeout(500)  # anything the app asks for after its first rows
    assert page.evaluate("() => window.__rowsAtScriptEnd") > 0
    # The workspace's charts, keys and views ask after it; the first page is never asked.
    first_pages = [url for url in requests if "/runs?" in url and asked_for_instead in url]
    assert first_pages == [], first_pages
    assert not page.locator("#tether-first").count()  # taken, and removed


def test_run_page_shows_its_run_without_asking(page: Any, ui_server: UiServer) -> None:
    requests = _api_requests(page)
    run_id = ui_server.runs["ui-run-1"]
    page.goto(f"{ui_server.url}/projects/{PROJECT}/runs/{run_id}/config")
    page.locator(".run-page").wait_for()
    page.wait_for_timeout(300)
    assert f"{ui_server.url}/api/v1/projects/{PROJECT}/runs/{run_id}" not in requests


def test_a_page_without_an_embedded_answer_asks_for_it(page: Any, ui_server: UiServer) -> None:
    # A brush makes the table's filter differ from the URL's: the embedded answer is not the
    # one the table wants, so it is dropped and the table asks the server.
    requests = _api_requests(page)
    page.goto(f"{ui_server.url}/projects/{PROJECT}?brush=config.lr:0:1")
    page.locator(".runs-scroll[data-ready='1']").wait_for()
    assert any("/runs?" in url and "offset=0" in url for url in requests), requests
