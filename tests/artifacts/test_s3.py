"""Artifacts with an S3 blob store (SeaweedFS, ``scripts/seaweedfs.sh``): bytes go straight
between the client and the store through presigned URLs, the server checks what came that
way before it links it, and reads hand out presigned GET URLs."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import tether
from tests.server.conftest import S3Endpoint, s3
from tether.server.testing import LiveServer

from .server_helpers import file_entry, log_info, sync_run, write_artifact

MiB = 1024 * 1024
__all__ = ["s3"]  # a fixture, imported for pytest


def server_bytes_written(server: LiveServer) -> int:
    """What the server process wrote, to files and sockets (``/proc/<pid>/io``)."""
    assert server.process is not None
    io = Path(f"/proc/{server.process.pid}/io").read_text()
    return int(next(line for line in io.splitlines() if line.startswith("wchar:")).split()[1])


@pytest.fixture
def s3_server(
    s3: S3Endpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LiveServer]:
    for name, value in s3.environ().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TETHER_SERVER_BLOB_URL", s3.blob_url)
    with LiveServer(tmp_path / "server") as server:
        yield server
    # The tests' SeaweedFS holds 512 MB: this test's 16 MiB go with it.
    import obstore
    from obstore.store import S3Store

    bucket = S3Store(
        s3.bucket,
        endpoint=s3.endpoint,
        access_key_id=s3.access_key,
        secret_access_key=s3.secret_key,
        region="us-east-1",
        client_options={"allow_http": True},
    )
    for batch in obstore.list(bucket, prefix=s3.prefix):
        for meta in batch:
            obstore.delete(bucket, meta["path"])


def test_presigned_put_uploaded_and_get(
    s3_server: LiveServer, s3: S3Endpoint, run_dir: Path
) -> None:
    server = s3_server
    http = httpx.Client(base_url=server.base_url + "/api/v1", headers=server.headers, timeout=120)
    big = bytes(range(256)) * (16 * MiB // 256) + b"end"
    with tether.init(project="s3", dir=run_dir, console="off", mode="offline") as run:
        big_entry, big_blobs = file_entry("model.bin", big)
        small, small_blobs = file_entry("config.json", b'{"lr": 0.1}')
        info = log_info("ckpt", [big_entry, small])
        write_artifact(run, info, {**big_blobs, **small_blobs})
    base = f"/projects/s3/runs/{run.id}/blobs"
    wanted = [*big_entry["chunks"], small["sha256"]]
    asked = http.post(f"{base}/missing", json={"sha256": wanted}).json()
    assert asked["missing"] == wanted and sorted(asked["upload_urls"]) == sorted(wanted)
    assert sorted(asked["upload_staging"]) == sorted(wanted)

    # Bytes that are not the blob, through its URL: refused, and the object is gone.
    tampered = small["sha256"]
    assert httpx.put(asked["upload_urls"][tampered], content=b"not it").status_code == 200
    note = {"staging": asked["upload_staging"][tampered]}
    refused = http.post(f"{base}/{tampered}/uploaded", json=note)
    assert refused.status_code == 422, refused.text
    assert http.post(f"{base}/{tampered}/uploaded", json=note).status_code == 404  # deleted
    assert http.post(f"{base}/{tampered}/uploaded", json={}).status_code == 422  # no staging

    # The real upload: sync sends the blobs to the URLs it is given, then the segment.
    written = server_bytes_written(server)
    sync_run(server, run)
    # Through the server, 16 MiB would be spooled to disk and sent on to the store (written
    # twice); straight to the store, the server only reads them back to check them.
    assert server_bytes_written(server) - written < 4 * MiB
    detail = http.get("/projects/s3/artifacts/ckpt/latest", params={"urls": True}).json()
    assert detail["version"] == "v0"
    by_path = {f["path"]: f for f in detail["files"]}
    got = b"".join(httpx.get(url, timeout=120).content for url in by_path["model.bin"]["urls"])
    assert hashlib.sha256(got).hexdigest() == big_entry["sha256"]
    moved = http.get("/projects/s3/artifacts/ckpt/v0/files/config.json", params={"redirect": True})
    assert moved.status_code == 307 and moved.headers["location"].startswith(s3.endpoint)
    assert httpx.get(moved.headers["location"]).content == b'{"lr": 0.1}'
    streamed = http.get("/projects/s3/artifacts/ckpt/v0/files/model.bin")
    assert streamed.content == big

    # A blob the store holds already gets no URL: another owner's run must send its bytes.
    from tests.server.accounts import add_user

    other = add_user(server, "other")
    with other.client as theirs:
        answer = theirs.post(
            f"/projects/s3/runs/{run.id}/blobs/missing", json={"sha256": [small["sha256"]]}
        ).json()
        assert answer == {"missing": [small["sha256"]]}
        claimed = theirs.post(
            f"/projects/s3/runs/{run.id}/blobs/{small['sha256']}/uploaded",
            json={"staging": "0" * 32},
        )
        assert claimed.status_code == 409
    http.close()


def test_a_second_url_holder_cannot_change_a_stored_blob(
    s3_server: LiveServer, s3: S3Endpoint
) -> None:
    """Presigned PUT URLs write staging objects, never a blob's key: a URL asked for while
    the blob was missing, used after the real upload landed, changes nothing; staged objects
    never confirmed go at the next gc."""
    import time

    from tether.server.blobs.s3 import S3BlobStore
    from tether.server.gc import collect
    from tether.server.storage.db import make_engine

    server = s3_server
    http = httpx.Client(base_url=server.base_url + "/api/v1", headers=server.headers, timeout=60)
    real = b"the owner's bytes"
    sha = hashlib.sha256(real).hexdigest()
    base = "/projects/s3/runs/r0000000holder/blobs"
    owner = http.post(f"{base}/missing", json={"sha256": [sha]}).json()
    intruder = http.post(f"{base}/missing", json={"sha256": [sha]}).json()
    for answer in (owner, intruder):
        assert sha not in answer["upload_urls"][sha]  # not the blob's own key
    assert owner["upload_staging"][sha] != intruder["upload_staging"][sha]

    assert httpx.put(owner["upload_urls"][sha], content=real).status_code == 200
    landed = http.post(f"{base}/{sha}/uploaded", json={"staging": owner["upload_staging"][sha]})
    assert landed.status_code == 201, landed.text
    # Both URLs are still valid: neither reaches the stored blob.
    for answer in (intruder, owner):
        assert httpx.put(answer["upload_urls"][sha], content=b"evil").status_code == 200
    late = http.post(f"{base}/{sha}/uploaded", json={"staging": intruder["upload_staging"][sha]})
    assert late.status_code == 409, late.text
    store = S3BlobStore.from_url(s3.blob_url, s3.environ())
    assert store.read(sha) == real
    assert http.get(f"{base}/{sha}").content == real

    engine = make_engine(f"sqlite:///{server.data_dir / 'tether.db'}")
    result = collect(engine, store, grace_s=3600, now=time.time() + 7200)
    engine.dispose()
    assert result.staged_deleted == 2  # the two "evil" objects, never confirmed
    assert store.delete_staged(older_than=time.time() + 7200) == 0
    http.close()
