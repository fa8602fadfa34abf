"""The page's first API answer inside its index.html (``server/first_answer.py``): the same
answer the API gives, under the same access rules, written where no script can run it."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from starlette.requests import Request

from tests.server.sweep import Workspace
from tether.server import first_answer
from tether.server.app import STATIC_DIR

pytestmark = pytest.mark.skipif(
    not (STATIC_DIR / "index.html").is_file(), reason="the web UI is not built"
)
BLOCK = re.compile(r'<script type="application/json" id="tether-first">(.*?)</script>', re.S)


def embedded(page: httpx.Response) -> Any:
    """The page's embedded answer ({"path", "body"}), or None."""
    assert page.status_code == 200, page.text
    found = BLOCK.findall(page.text)
    assert len(found) <= 1
    return json.loads(found[0]) if found else None


def admin_page(ws: Workspace, path: str) -> httpx.Response:
    return httpx.get(ws.server.base_url + path, headers=ws.server.headers)


def test_the_workspace_page_carries_the_tables_first_page(workspace: Workspace) -> None:
    page = admin_page(workspace, "/projects/sweep")
    answer = embedded(page)
    assert answer["path"] == "/projects/sweep/runs?order=-start_time&limit=100&offset=0"
    assert answer["body"] == workspace.http.get("/api/v1" + answer["path"]).json()
    assert answer["body"]["total"] == 9
    # It holds the caller's data: no cache keeps it.
    assert page.headers["cache-control"] == "no-store"
    # The only script without a source is the data block, which no browser runs.
    inline = [a for a, body in re.findall(r"<script\b([^>]*)>(.*?)</script>", page.text, re.S)
              if "src=" not in a]  # fmt: skip
    assert inline == [' type="application/json" id="tether-first"']


def test_the_path_is_written_as_the_app_writes_it(workspace: Workspace) -> None:
    # URLSearchParams writes a space "+", "~" %7E, a quote %22, and leaves "*" as it is.
    query = {
        "order": "name",
        "state": "finished",
        "search": "lr",
        "filter": 'name ~ "^lr0.0[0-9]*-"',
    }
    page = admin_page(workspace, "/projects/sweep?" + "&".join(
        f"{k}={quote(v)}" for k, v in query.items()))  # fmt: skip
    answer = embedded(page)
    assert answer["path"] == (
        "/projects/sweep/runs?order=name&limit=100&search=lr&state=finished"
        "&filter=name+%7E+%22%5Elr0.0%5B0-9%5D*-%22&offset=0"
    )
    expected = workspace.http.get("/api/v1" + answer["path"]).json()
    assert answer["body"] == expected
    assert [run["name"] for run in expected["runs"]] == [
        f"lr{lr}-s{seed}" for lr in (0.001, 0.01) for seed in (1, 2, 3)
    ]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_query_values_are_encoded_as_url_search_params_encodes_them() -> None:
    value = "".join(chr(c) for c in range(32, 127)) + " é 字 \U0001f600"
    script = "console.log(new URLSearchParams({filter: process.argv[1]}).toString())"
    node = subprocess.run(
        ["node", "-e", script, value], capture_output=True, text=True, check=True
    ).stdout.strip()
    path = first_answer.first_api_path(["projects", "p"], {"filter": value})
    assert path is not None
    assert path.split("&filter=")[1].removesuffix("&offset=0") == node.removeprefix("filter=")


def test_a_run_page_carries_its_run_in_a_teams_project(workspace: Workspace) -> None:
    run = workspace.lab_runs[0]
    carol = workspace.accounts["carol"]  # a viewer of the team
    page = httpx.get(
        f"{workspace.server.base_url}/owners/lab/projects/p/runs/{run.id}/config",
        headers={"Authorization": f"Bearer {carol.key}"},
    )
    answer = embedded(page)
    assert answer["path"] == f"/owners/lab/projects/p/runs/{run.id}"
    assert answer["body"] == carol.client.get(answer["path"]).json()


@pytest.mark.parametrize(
    ("path", "keyed", "cache"),
    [
        ("/projects/sweep", False, "no-store"),  # the API answers 401
        ("/owners/nobody/projects/p", True, "no-store"),  # 404
        ("/projects/sweep/runs/no-such-run", True, "no-store"),  # 404
        ("/projects/sweep?filter=config.lr%20%3C", True, "no-store"),  # a malformed filter: 422
        ("/projects/sweep?order=%3Bdrop", True, "no-store"),  # a refused order: 422
        ("/projects/sweep/compare", True, "no-cache"),  # a page with no first request
        ("/settings/keys", True, "no-cache"),
    ],
)
def test_no_answer_is_embedded_but_a_success(
    workspace: Workspace, path: str, keyed: bool, cache: str
) -> None:
    page = httpx.get(
        workspace.server.base_url + path, headers=workspace.server.headers if keyed else {}
    )
    assert embedded(page) is None  # the page asks itself, and shows what it gets
    assert page.headers["cache-control"] == cache
    assert page.text == (STATIC_DIR / "index.html").read_text()


def test_the_block_cannot_end_early_or_run() -> None:
    body = json.dumps({"name": "</script><script>alert(1)</script><!-- \u2028"}).encode()
    head, tail = first_answer.split(
        b"<html><head><script type=module src=/a.js></script></head><body></body></html>"
    )
    page = head + first_answer.block("/p", body) + tail
    inline = re.findall(rb"<script\b([^>]*)>(.*?)</script>", page, re.S)
    assert [attributes for attributes, _ in inline] == [
        b" type=module src=/a.js",
        b' type="application/json" id="tether-first"',
    ]
    assert page.endswith(b"</script></body></html>")
    assert json.loads(inline[1][1]) == {"path": "/p", "body": json.loads(body)}


def _request_to(app: Any) -> Request:
    return Request({"type": "http", "app": app, "headers": [(b"cookie", b"s=1")]})


async def _slow_api(scope: Any, receive: Any, send: Any) -> None:
    """An ASGI application that answers 200 after 0.3 s, and says what it was asked."""
    await asyncio.sleep(0.3)
    said = json.dumps(
        [scope["path"], scope["query_string"].decode(), scope["headers"][0][0].decode()]
    )
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": said.encode()})


def test_a_slow_first_answer_is_not_waited_for() -> None:
    request = _request_to(_slow_api)
    late = asyncio.run(first_answer.answer_within(request, "/projects/p/runs?a=1", 0.05))
    assert late is None
    came = asyncio.run(first_answer.answer_within(request, "/projects/p/runs?a=1", 5))
    assert came is not None
    assert json.loads(came) == ["/api/v1/projects/p/runs", "a=1", "cookie"]
