"""Fixtures for the server tests: an S3 endpoint (SeaweedFS) for the blob store, and runs
holding media made on disk in the real format (blob files and ``K_FILE`` records)."""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

import tether
from tether.store import format as fmt

# Set by scripts/test.sh (scripts/seaweedfs.sh prints it): http://KEY:SECRET@HOST:PORT/BUCKET
S3_URL = os.environ.get("TETHER_TEST_S3_URL")


@dataclass(frozen=True)
class S3Endpoint:
    """A bucket of a live S3 endpoint, with a prefix of the test's own."""

    endpoint: str
    access_key: str
    secret_key: str
    bucket: str
    prefix: str

    @property
    def blob_url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def environ(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": "us-east-1",
        }


@pytest.fixture
def s3() -> S3Endpoint:
    """SeaweedFS's S3 endpoint (``scripts/seaweedfs.sh``); skipped only outside CI when
    ``TETHER_TEST_S3_URL`` is unset."""
    if not S3_URL:
        if os.environ.get("CI") == "true":
            pytest.fail("TETHER_TEST_S3_URL is not set; CI runs the S3 tests (scripts/test.sh)")
        pytest.skip("TETHER_TEST_S3_URL not set (scripts/seaweedfs.sh prints one)")
    parts = urlsplit(S3_URL)
    assert parts.hostname and parts.port and parts.username and parts.password, S3_URL
    return S3Endpoint(
        endpoint=f"{parts.scheme}://{parts.hostname}:{parts.port}",
        access_key=parts.username,
        secret_key=parts.password,
        bucket=parts.path.strip("/"),
        prefix="test-" + secrets.token_hex(6),
    )


@dataclass(frozen=True)
class Logged:
    """One media object to put in a run: ``data`` None for a histogram (no blob)."""

    key: str
    step: int
    kind: str
    data: bytes | None
    meta: dict[str, Any]
    index: int = 0
    media_type: str = "image/png"


def info_of(item: Logged) -> dict[str, Any]:
    info: dict[str, Any] = {
        "key": item.key,
        "step": item.step,
        "index": item.index,
        "kind": item.kind,
        "meta": item.meta,
    }
    if item.data is not None:
        info.update(
            sha256=hashlib.sha256(item.data).hexdigest(),
            size=len(item.data),
            media_type=item.media_type,
        )
    return info


def write_media(run: tether.Run, items: list[Logged]) -> dict[str, bytes]:
    """Blob files and file records for ``items`` in a live run (as the client writes them:
    the blob first, then the record); returns ``{sha256: bytes}``."""
    written = {}
    blobs = run.dir / "blobs"
    blobs.mkdir(exist_ok=True)
    for item in items:
        info = info_of(item)
        if item.data is not None:
            (blobs / info["sha256"]).write_bytes(item.data)
            written[info["sha256"]] = item.data
        run._writer.append([fmt.K_FILE, time.time(), info])
    return written


def sample_items(tag: bytes = b"") -> list[Logged]:
    """Two images (one step with two), a histogram, a text and a table with an image cell."""
    cell = b"\x89PNG cell" + tag
    cell_sha = hashlib.sha256(cell).hexdigest()
    table = (
        b'{"columns": ["name", "img"], "data": [["a", {"_type": "image", "sha256": "'
        + cell_sha.encode()
        + b'", "media_type": "image/png", "width": 1, "height": 1}]]}'
    )
    image = {"width": 2, "height": 1, "channels": 3, "format": "png"}
    return [
        Logged("samples", 0, "image", b"\x89PNG zero" + tag, image),
        Logged("samples", 1, "image", b"\x89PNG one-a" + tag, {**image, "caption": "a"}),
        Logged("samples", 1, "image", b"\x89PNG one-b" + tag, image, index=1),
        Logged(
            "weights",
            3,
            "histogram",
            None,
            {
                "counts": [1, 2],
                "edges": [0.0, 0.5, 1.0],
                "nan": 0,
                "posinf": 0,
                "neginf": 0,
                "total": 3,
                "min": 0.0,
                "max": 1.0,
            },
        ),
        Logged(
            "notes",
            2,
            "text",
            b"# hello" + tag,
            {"format": "markdown", "chars": 7},
            media_type="text/markdown",
        ),
        Logged(
            "cells", 1, "image", cell, {"width": 1, "height": 1, "channels": 3, "format": "png"}
        ),
        Logged(
            "table",
            4,
            "table",
            table,
            {"columns": ["name", "img"], "n_rows": 1, "refs": [cell_sha]},
            media_type="application/json",
        ),
    ]


@pytest.fixture
def media_run(run_dir: Path) -> Iterator[tuple[tether.Run, dict[str, bytes]]]:
    """A finished offline run holding ``sample_items()``, and its blobs."""
    with tether.init(project="media", dir=run_dir, console="off", mode="offline") as run:
        run.log({"loss": 1.0})
        written = write_media(run, sample_items())
    yield run, written


# One server for the workspace tests (filters, groups, views, bulk): tests/server/sweep.py.
from tests.server.sweep import database_engine, workspace  # noqa: E402, F401
