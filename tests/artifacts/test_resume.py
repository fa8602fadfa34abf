"""A ~100 MiB artifact whose upload the server dies in the middle of: nothing of it is
visible as a version, the next sync sends only the chunks the server lacks (measured on the
server: the bytes it reads), and the version then downloads whole with the server's memory
bounded (a real server killed with SIGKILL, a real ``tether sync`` process)."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx

import tether
from tests.server.test_memory import PeakRss
from tether.server.testing import LiveServer
from tether.sync.offline import sync_paths

from .server_helpers import log_info, write_artifact

MiB = 1024 * 1024
CHUNKS = 6  # 6 x 16 MiB + a tail: 7 blobs, ~97 MiB


def big_artifact(run: tether.Run) -> dict[str, object]:
    """A file of CHUNKS chunks and a tail, written as its chunk blobs (the file itself is
    never whole in memory)."""
    from tether.artifacts.chunks import CHUNK_BYTES

    whole = hashlib.sha256()
    order = []
    for number in range(CHUNKS + 1):
        piece = bytes([number]) * (CHUNK_BYTES if number < CHUNKS else 1234)
        whole.update(piece)
        sha = hashlib.sha256(piece).hexdigest()
        order.append(sha)
        write_artifact_blob(run, sha, piece)
    entry = {
        "path": "ckpt.pt",
        "size": CHUNKS * CHUNK_BYTES + 1234,
        "sha256": whole.hexdigest(),
        "chunks": order,
    }
    info = log_info("big", [entry])
    write_artifact(run, info, {})  # the blobs are written above, one at a time
    return entry


def write_artifact_blob(run: tether.Run, sha: str, data: bytes) -> None:
    folder = run.dir / "blobs"
    folder.mkdir(exist_ok=True)
    (folder / sha).write_bytes(data)


def linked(database: Path) -> int:
    with sqlite3.connect(database, timeout=30) as connection:
        return int(connection.execute("SELECT count(*) FROM run_blobs").fetchone()[0])


def bytes_read(server: LiveServer) -> int:
    assert server.process is not None
    io = Path(f"/proc/{server.process.pid}/io").read_text()
    return int(next(line for line in io.splitlines() if line.startswith("rchar:")).split()[1])


def test_server_killed_mid_upload_resumes_with_the_missing_chunks_only(
    tmp_path: Path, run_dir: Path
) -> None:
    with tether.init(project="big", dir=run_dir, console="off", mode="offline") as run:
        entry = big_artifact(run)
    data_dir = tmp_path / "server"
    server = LiveServer(data_dir).start()
    database = data_dir / "tether.db"
    env = {**os.environ, "TETHER_BASE_URL": server.base_url, "TETHER_API_KEY": server.api_key}
    syncing = subprocess.Popen(
        [sys.executable, "-m", "tether.cli", "sync", "-q", str(run.dir)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 240
        while linked(database) < 2:  # two chunks in: kill the server mid-upload
            assert time.monotonic() < deadline, "the upload never got two chunks in"
            assert syncing.poll() is None, "the sync ended before the server was killed"
            time.sleep(0.02)
        server.stop(kill=True)
    finally:
        syncing.send_signal(signal.SIGKILL)
        syncing.wait(timeout=60)
    had = linked(database)
    assert 2 <= had <= CHUNKS + 1

    server = LiveServer(data_dir, api_key=server.api_key).start()
    try:
        http = httpx.Client(
            base_url=server.base_url + "/api/v1", headers=server.headers, timeout=120
        )
        assert http.get("/projects/big/artifacts").json() == []  # nothing half-there shows
        before = bytes_read(server)
        report = sync_paths(
            [run.dir], base_url=server.base_url, api_key=server.api_key, progress=False
        )
        assert report.ok, report
        received = bytes_read(server) - before
        lacking = (CHUNKS + 1 - had) * 16 * MiB
        # Only what the server lacked came again (the tail chunk counts as a whole one here).
        assert received < lacking + 8 * MiB, (received, had)
        assert linked(database) == CHUNKS + 1
        [version] = http.get("/projects/big/artifacts/big/versions").json()
        assert version["version"] == "v0" and version["size"] == entry["size"]

        assert server.process is not None
        digest = hashlib.sha256()
        with PeakRss(server.process.pid) as rss:
            base = rss.process.memory_info().rss
            with http.stream("GET", "/projects/big/artifacts/big/v0/files/ckpt.pt") as got:
                assert got.headers["content-length"] == str(entry["size"])
                for piece in got.iter_bytes():
                    digest.update(piece)
        assert digest.hexdigest() == entry["sha256"]
        assert rss.peak - base < 48 * MiB, f"the server grew by {(rss.peak - base) / MiB:.0f} MiB"
        http.close()
    finally:
        server.stop()
