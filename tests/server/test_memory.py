"""What uploads cost the server (issue 11): a request holds a few times its body, not ~20x,
and a user's uploads beyond the limit are answered 429 with Retry-After, which the uploader
honours. Memory is read from the real server process (psutil), as a bound, never a time."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import pytest

import tether
from tether.server.testing import LiveServer
from tether.store import format as fmt
from tether.sync.http import ServerError
from tether.sync.uploader import Uploader, backoff_delay, retry_delay

MIB = 1024 * 1024
PEAK_RSS_LIMIT = 400 * MIB


@pytest.fixture(scope="module")
def body_16mib(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """16 MiB of whole frames of many small rows, as the client writes them."""
    base = tmp_path_factory.mktemp("big")
    with tether.init(project="p", dir=base, id="big", console="off", system=False) as run:
        for i in range(760_000):
            run.log({"a": i, "b": 0.5})
    [segment] = list((run.dir / fmt.SEGMENTS_DIR).iterdir())
    data = segment.read_bytes()
    end = len(fmt.MAGIC)
    while (frame := fmt.frame_at(data, end)) is not None and frame[1] <= 16 * MIB:
        end = frame[1]
    assert end > 15 * MIB, end
    return data[:end]


class PeakRss:
    """The highest RSS of a process, sampled every few milliseconds until stopped."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            self._stop.wait(0.005)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def test_three_concurrent_16mib_uploads_stay_under_400mb(tmp_path: Path, body_16mib: bytes) -> None:
    with LiveServer(tmp_path / "srv") as server:
        assert server.process is not None

        def upload(n: int) -> httpx.Response:
            return httpx.put(
                f"{server.base_url}/api/v1/projects/mem/runs/r{n}/segments/w{n}",
                content=body_16mib,
                headers=server.headers,
                timeout=300,
            )

        # The project exists first: three first uploads at once would race to create it (409).
        httpx.put(
            f"{server.base_url}/api/v1/projects/mem/runs/r0/segments/w0",
            content=fmt.MAGIC,
            headers=server.headers,
        ).raise_for_status()
        with PeakRss(server.process.pid) as rss, ThreadPoolExecutor(3) as pool:
            answers = list(pool.map(upload, range(3)))
        for answer in answers:
            assert answer.status_code == 200, answer.text
            assert answer.json()["offset"] == len(body_16mib)
        assert rss.peak < PEAK_RSS_LIMIT, f"peak RSS {rss.peak / MIB:.0f} MiB"
        rows = httpx.get(
            f"{server.base_url}/api/v1/projects/mem/runs/r2", headers=server.headers
        ).json()["last_step"]
        assert rows > 600_000  # all of it stored, piece by piece


class HeldUpload:
    """An upload that has started and sends the rest of its body only when released."""

    def __init__(self, server: LiveServer, run: str) -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        self.response: httpx.Response | None = None

        def body() -> Iterator[bytes]:
            yield fmt.MAGIC
            self.started.set()
            self.release.wait(120)

        def send() -> None:
            self.response = httpx.put(
                f"{server.base_url}/api/v1/projects/held/runs/{run}/segments/w",
                content=body(),
                headers=server.headers,
                timeout=180,
            )

        self.thread = threading.Thread(target=send, daemon=True)
        self.thread.start()
        assert self.started.wait(60)

    def finish(self) -> httpx.Response:
        self.release.set()
        self.thread.join(180)
        assert self.response is not None
        return self.response


@pytest.fixture
def one_upload_per_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    monkeypatch.setenv("TETHER_SERVER_UPLOADS_PER_USER", "1")
    with LiveServer(tmp_path / "srv") as server:
        yield server


def test_uploads_over_the_per_user_limit_get_429_with_retry_after(
    one_upload_per_user: LiveServer,
) -> None:
    server = one_upload_per_user
    held = HeldUpload(server, "first")
    url = f"{server.base_url}/api/v1/projects/held/runs/second/segments/w"
    # The held upload's server side may take a moment to begin: wait for it, not for a time.
    deadline = time.monotonic() + 60
    busy = httpx.put(url, content=fmt.MAGIC, headers=server.headers)
    while busy.status_code == 200 and time.monotonic() < deadline:
        busy = httpx.put(url, content=fmt.MAGIC, headers=server.headers)
    assert busy.status_code == 429, busy.text
    assert int(busy.headers["retry-after"]) >= 1
    assert busy.json()["retry_after"] == int(busy.headers["retry-after"])
    assert "in flight" in busy.json()["detail"]
    assert held.finish().status_code == 200
    after = httpx.put(url, content=fmt.MAGIC, headers=server.headers)
    assert after.status_code == 200, after.text  # the slot was given back


def test_the_uploader_waits_what_retry_after_says() -> None:
    busy = ServerError("busy", status=429, body={"detail": "busy", "retry_after": 7})
    assert 7.0 <= retry_delay(busy, failures=1) <= 7 * 1.2
    failed = ServerError("failed", status=503, body={"detail": "down"})
    assert retry_delay(failed, failures=1) <= backoff_delay(1) * 1.5


def test_the_uploader_gets_through_a_busy_server(
    one_upload_per_user: LiveServer, tmp_path: Path
) -> None:
    server = one_upload_per_user
    with tether.init(project="busy", dir=tmp_path / "client", id="r", console="off") as run:
        for i in range(100):
            run.log({"loss": float(i)})
    held = HeldUpload(server, "holder")
    uploader = Uploader(
        run.dir, project="busy", run_id="r", base_url=server.base_url, api_key=server.api_key
    )
    uploader.start()
    try:
        deadline = time.monotonic() + 60
        while "429" not in (uploader.last_error or "") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "429" in (uploader.last_error or ""), uploader.last_error
        # The slot frees while wait() runs: a 429 is an answer to wait on, not a failure.
        threading.Timer(1.0, held.finish).start()
        assert uploader.wait(60), uploader.last_error
    finally:
        uploader.stop()
        held.release.set()
    detail = httpx.get(
        f"{server.base_url}/api/v1/projects/busy/runs/r", headers=server.headers
    ).json()
    assert detail["last_step"] == 99
