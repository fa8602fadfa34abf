"""A page's first API answer, sent inside the ``index.html`` that would ask for it.

A fresh tab on a project's workspace otherwise waits for the HTML, then for a script that
sends the first API request, then for that answer, and paints its table a frame later than
the app could have. So the UI route answers the API request the page's first render makes (a
runs table's first page, or a run) itself, through the whole application as any API request
(the same authentication, roles, validation and errors), and puts the answer into the page
as a JSON data block at the end of the body: ``<script type="application/json"
id="tether-first">``. A data block is never executed, so the Content-Security-Policy's "no
inline script" holds. The page before the block is sent first, so the browser loads the
scripts while the answer is made. The app takes it in its first render when the path it would
ask for is the same (``web/src/firstAnswer.ts``).

Only a 200 is embedded, and only one made within ``WAIT_S``; otherwise the page asks as usual
and shows what it gets.
The paths and parameters here are those the app writes (``web/src/api.ts`` ``projectPath``,
``web/src/workspace/api.ts`` ``runsParams``), encoded as ``encodeURIComponent`` and
``URLSearchParams`` encode, so that the app finds its own request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Final
from urllib.parse import quote, quote_plus, unquote

import msgspec
from starlette.requests import Request
from starlette.types import Message

ELEMENT_ID: Final = "tether-first"
WAIT_S: Final = 1.0  # the longest a page waits for its first answer
RUNS_PAGE: Final = 100  # web/src/pages/Runs.tsx PAGE
# Of the page's request headers, those the API reads: who asks, and for which host.
_FORWARDED: Final = frozenset({b"host", b"cookie", b"authorization"})


def _component(text: str) -> str:
    """As ``encodeURIComponent``."""
    return quote(text, safe="!*'()")


def _form(text: str) -> str:
    """As ``URLSearchParams`` writes a name or value (``~`` escaped, ``*`` not)."""
    return quote_plus(text, safe="*").replace("~", "%7E")


def first_api_path(parts: list[str], query: Mapping[str, str]) -> str | None:
    """The API path (below ``/api/v1``) the app's first render asks for on the page at
    ``parts`` (the URL path's decoded segments), or None when it asks for nothing embeddable."""
    owner = ""
    if len(parts) >= 4 and parts[0] == "owners" and parts[2] == "projects":
        owner = f"/owners/{_component(parts[1])}"
        parts = parts[2:]
    if len(parts) < 2 or parts[0] != "projects":
        return None
    project = f"{owner}/projects/{_component(parts[1])}"
    if len(parts) == 2:
        params = {"order": query.get("order", "-start_time"), "limit": str(RUNS_PAGE)}
        for name in ("search", "state", "filter"):
            if query.get(name):
                params[name] = query[name]
        encoded = "&".join(f"{_form(k)}={_form(v)}" for k, v in params.items())
        return f"{project}/runs?{encoded}&offset=0"
    if parts[2] == "runs" and len(parts) in (4, 5):
        return f"{project}/runs/{_component(parts[3])}"
    return None


async def answer(request: Request, api_path: str) -> bytes | None:
    """The body of a GET of ``/api/v1`` + ``api_path`` made with the page request's
    credentials, through the whole application; None unless it answered 200."""
    path, _, query_string = api_path.partition("?")
    raw_path = f"/api/v1{path}".encode()
    scope = {
        "type": "http",
        "asgi": request.scope.get("asgi", {"version": "3.0"}),
        "http_version": request.scope.get("http_version", "1.1"),
        "method": "GET",
        "scheme": request.scope.get("scheme", "http"),
        "server": request.scope.get("server"),
        "client": request.scope.get("client"),
        "root_path": "",
        "path": unquote(f"/api/v1{path}"),
        "raw_path": raw_path,
        "query_string": query_string.encode(),
        "headers": [
            *((k, v) for k, v in request.scope["headers"] if k.lower() in _FORWARDED),
            (b"accept", b"application/json"),
        ],
    }
    status = 0
    chunks: list[bytes] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await request.app(scope, receive, send)
    return b"".join(chunks) if status == 200 else None


def split(index_html: bytes) -> tuple[bytes, bytes]:
    """``index_html`` cut where the answer goes: at the end of the body. The app's module
    script runs once the document is parsed, so the block is there when it looks; and the
    part before can be sent while the answer is made (the browser fetches the scripts)."""
    at = index_html.rfind(b"</body>")
    if at < 0:
        at = len(index_html)
    return index_html[:at], index_html[at:]


def block(api_path: str, body: bytes) -> bytes:
    """The answer to ``api_path`` as a JSON data block."""
    # "<" escaped: the text can then hold no "</script>" nor "<!--" that would end the block.
    data = b'{"path":' + msgspec.json.encode(api_path) + b',"body":' + body + b"}"
    return (
        f'<script type="application/json" id="{ELEMENT_ID}">'.encode()
        + data.replace(b"<", b"\\u003c")
        + b"</script>"
    )


async def answer_within(request: Request, api_path: str, seconds: float) -> bytes | None:
    """``answer``, or None if it takes longer than ``seconds``: the page then goes without
    it (the app asks, and shows that it is loading) rather than staying blank meanwhile."""
    task = asyncio.ensure_future(answer(request, api_path))
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if task in done:
        return task.result()
    task.add_done_callback(lambda late: late.cancelled() or late.exception())  # dropped
    return None
