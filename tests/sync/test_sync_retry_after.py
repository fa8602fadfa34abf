"""``tether sync`` honours ``Retry-After`` on 429 and 503 (issue 11), as the uploader does: a
busy server or a restarting proxy is waited for as it asks, within bounds, and the upload then
completes. The proxy is a real HTTP server on loopback in front of the real tether server."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import tether
from tether.errors import ServerError
from tether.server.testing import LiveServer
from tether.sync.offline import BUSY_WAIT_MAX_S, RETRY_BASE_S, busy_wait, sync_paths

RETRY_AFTER_S = 2


class BusyOnceProxy(http.server.ThreadingHTTPServer):
    """Forwards every request to ``upstream``, except the first segment upload, which it
    answers 503 with ``Retry-After`` in the header only (as a load balancer does)."""

    def __init__(self, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream = upstream
        self.lock = threading.Lock()
        self.refused_at: float | None = None
        self.puts: list[float] = []  # when each segment upload arrived (monotonic)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: BusyOnceProxy

    def log_message(self, *args: object) -> None:
        pass

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.command == "PUT":
            with self.server.lock:
                now = time.monotonic()
                self.server.puts.append(now)
                refuse = self.server.refused_at is None
                if refuse:
                    self.server.refused_at = now
            if refuse:
                self.send_response(503)
                self.send_header("Retry-After", str(RETRY_AFTER_S))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host",)}
        answer = httpx.request(
            self.command, self.server.upstream + self.path, headers=headers, content=body,
            timeout=30,
        )  # fmt: skip
        self.send_response(answer.status_code)
        for name, value in answer.headers.items():
            if name.lower() not in ("transfer-encoding", "connection", "content-encoding"):
                self.send_header(name, value)
        self.end_headers()
        self.wfile.write(answer.content)

    do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = _forward  # noqa: N815 (http.server names)


@pytest.fixture
def proxy(live_server: LiveServer) -> Iterator[BusyOnceProxy]:
    server = BusyOnceProxy(live_server.base_url)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()


def test_sync_waits_as_a_503_asks_then_uploads_everything(
    proxy: BusyOnceProxy, live_server: LiveServer, run_dir: Path
) -> None:
    with tether.init(project="busy", dir=run_dir, console="off") as run:
        for step in range(50):
            run.log({"loss": 1.0 / (step + 1)})
    report = sync_paths([run.dir], base_url=proxy.url, api_key=live_server.api_key, progress=False)
    assert report.ok, report.runs
    # The retry came no sooner than the proxy asked (before: after 0.5 s, as for any error).
    assert proxy.refused_at is not None and len(proxy.puts) >= 2
    assert proxy.puts[1] - proxy.refused_at >= RETRY_AFTER_S
    api = tether.Api(base_url=live_server.base_url, api_key=live_server.api_key)
    assert len(api.run(f"busy/{run.id}").history(["loss"])) == 50


def test_busy_waits_are_bounded() -> None:
    def answer(status: int, retry_after: object) -> ServerError:
        return ServerError("busy", status=status, body={"retry_after": retry_after})

    assert busy_wait(answer(429, 10**9)) == BUSY_WAIT_MAX_S
    assert busy_wait(answer(503, 0)) == RETRY_BASE_S  # never a busy loop
    assert busy_wait(answer(429, 3)) == 3.0
    assert busy_wait(answer(500, 3)) is None  # not a wait the server asked for
    assert busy_wait(answer(429, "soon")) is None
