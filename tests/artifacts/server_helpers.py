"""Artifacts as a client writes them (blobs in ``<run>/blobs``, a ``[14, time, info]``
record), and a server per database, for the server-side artifact tests."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tether
from tether.server.testing import LiveServer
from tether.store import format as fmt

POSTGRES_URL_ENV = "TETHER_TEST_POSTGRES_URL"


def server_per_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A live server on SQLite, or on a fresh PostgreSQL database (dropped after)."""
    from tests.server.accounts import server_on

    yield from server_on(request.param, tmp_path_factory.mktemp("artifacts") / "data")


def sync_run(server: LiveServer, run: tether.Run) -> None:
    """``tether sync`` of the run's directory to ``server``, every body accepted."""
    from tether.sync.offline import sync_paths

    report = sync_paths([run.dir], base_url=server.base_url, api_key=server.api_key, progress=False)
    assert report.ok, report


def file_entry(
    path: str, data: bytes, chunk: int | None = None
) -> tuple[dict[str, Any], dict[str, bytes]]:
    """A manifest entry for ``data`` and its blobs (split at ``chunk`` bytes when given)."""
    from tether.artifacts.chunks import CHUNK_BYTES

    chunk = chunk or CHUNK_BYTES
    entry: dict[str, Any] = {
        "path": path,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    if len(data) <= chunk:
        return entry, {entry["sha256"]: data}
    pieces = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    blobs = {hashlib.sha256(p).hexdigest(): p for p in pieces}
    entry["chunks"] = [hashlib.sha256(p).hexdigest() for p in pieces]
    return entry, blobs


def log_info(
    name: str, files: list[dict[str, Any]], *, aliases: tuple[str, ...] = ("latest",), **meta: Any
) -> dict[str, Any]:
    from tether.artifacts.manifest import digest_of

    return {
        "op": "log",
        "name": name,
        "type": "model",
        "digest": digest_of(files),
        "metadata": meta,
        "aliases": list(aliases),
        "files": files,
    }


def write_artifact(run: tether.Run, info: dict[str, Any], blobs: dict[str, bytes]) -> None:
    """The blobs into the run's blobs dir, then the record (as the client does)."""
    folder = run.dir / "blobs"
    folder.mkdir(exist_ok=True)
    for sha, data in blobs.items():
        (folder / sha).write_bytes(data)
    run._writer.append([fmt.RecordKind.ARTIFACT, time.time(), info])


def segment_of(run_dir: Path) -> tuple[str, bytes]:
    [segment] = [p for p in (run_dir / fmt.SEGMENTS_DIR).iterdir()]
    return segment.stem.rsplit("-", 1)[1], segment.read_bytes()
