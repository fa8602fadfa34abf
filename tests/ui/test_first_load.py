"""A page's first API request leaves while the app's script is still loading (index.html's
early request), and the app uses that response instead of asking again."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from .conftest import PROJECT, UiServer

SCRIPT = re.compile(r"/assets/index-[^/]+\.js$")


def _api_requests(page: Any) -> list[str]:
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "/api/v1/" in r.url else None)
    return requests


def _load_with_the_script_held(page: Any, url: str, requests: list[str]) -> None:
    """Open ``url`` with the app's script held back until an API request has left."""
    held: list[Any] = []
    # A Python function: Playwright marks handlers with an attribute, which a bound
    # builtin like list.append cannot carry.
    page.route(SCRIPT, lambda route: held.append(route))  # noqa: PLW0108
    page.goto(url, wait_until="commit")
    deadline = time.monotonic() + 10
    while not (requests and held) and time.monotonic() < deadline:
        page.wait_for_timeout(20)
    assert held, "the app's script was never requested"
    assert requests, "no API request left before the app's script arrived"
    held[0].continue_()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", "order=-start_time&limit=100&offset=0"),
        (
            "?order=name&state=finished&search=run&cols=config.lr",
            "order=name&limit=100&search=run&state=finished&offset=0",
        ),
    ],
)
def test_runs_table_asks_for_its_first_page_once_and_early(
    page: Any, ui_server: UiServer, query: str, expected: str
) -> None:
    requests = _api_requests(page)
    _load_with_the_script_held(page, f"{ui_server.url}/projects/{PROJECT}{query}", requests)
    first_page = f"{ui_server.url}/api/v1/projects/{PROJECT}/runs?{expected}"
    assert requests == [first_page]
    page.locator(".runs-row[data-run]").first.wait_for()
    page.wait_for_timeout(500)  # anything the app would ask for after its first rows
    # The workspace's charts, keys and views ask after it; the first page is never asked again.
    assert requests.count(first_page) == 1


def test_run_page_asks_for_its_run_once_and_early(page: Any, ui_server: UiServer) -> None:
    requests = _api_requests(page)
    run_id = ui_server.runs["ui-run-1"]
    url = f"{ui_server.url}/projects/{PROJECT}/runs/{run_id}/config"
    _load_with_the_script_held(page, url, requests)
    detail = f"{ui_server.url}/api/v1/projects/{PROJECT}/runs/{run_id}"
    assert requests == [detail]
    page.locator(".run-page").wait_for()
    assert requests.count(detail) == 1
