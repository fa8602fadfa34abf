"""The blob stores, each against the real thing: a directory, and SeaweedFS's S3 endpoint
(``scripts/seaweedfs.sh``); and a server whose blob store is S3, end to end."""

from __future__ import annotations

import hashlib
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import tether
from tether.server.blobs import BlobMismatchError, BlobStore, BlobTooLargeError, open_blob_store
from tether.server.blobs.local import LocalBlobStore
from tether.server.testing import LiveServer
from tether.sync.offline import sync_paths

from .conftest import S3Endpoint, sample_items


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    if request.param == "local":
        yield open_blob_store(None, tmp_path)
        return
    endpoint: S3Endpoint = request.getfixturevalue("s3")
    from tether.server.blobs.s3 import S3BlobStore

    yield S3BlobStore.from_url(endpoint.blob_url, endpoint.environ())


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_put_exists_open_delete(store: BlobStore) -> None:
    data = b"\x89PNG" + bytes(range(256)) * 5000  # 1.3 MB: several chunks each way
    name = sha(data)
    assert not store.exists(name)
    assert store.put_stream(name, iter([data[:1000], data[1000:]])) == len(data)
    assert store.exists(name)
    assert store.read(name) == data
    assert store.put_stream(name, [data]) == len(data)  # again: harmless, still one blob
    store.delete(name)
    assert not store.exists(name)
    store.delete(name)  # absent: nothing happens
    with pytest.raises(FileNotFoundError):
        store.read(name)


def test_bytes_that_hash_otherwise_are_not_kept(store: BlobStore) -> None:
    data = b"right bytes"
    with pytest.raises(BlobMismatchError):
        store.put_stream(sha(data), [b"wrong bytes"])
    assert not store.exists(sha(data))
    with pytest.raises(BlobTooLargeError):
        store.put_stream(sha(data * 10), [data] * 10, limit=50)
    assert not store.exists(sha(data * 10))
    with pytest.raises(ValueError):
        store.put_stream("../" + "a" * 61, [data])


def test_local_store_is_private_and_sharded(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    name = sha(b"x")
    store.put_stream(name, [b"x"])
    path = store.path(name)
    assert path == tmp_path / "blobs" / name[:2] / name
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "blobs").stat().st_mode) == 0o700
    assert sorted(p.name for p in path.parent.iterdir()) == [name]  # no temporary left


def test_concurrent_puts_of_one_blob_leave_one_whole_file(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    data = bytes(range(256)) * 4096
    name = sha(data)
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def put() -> None:
        try:
            start.wait(30)
            store.put_stream(name, (data[i : i + 65536] for i in range(0, len(data), 65536)))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=put) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert store.read(name) == data
    assert [p.name for p in store.path(name).parent.iterdir()] == [name]


def test_blob_urls_name_a_store_or_say_which_forms(tmp_path: Path) -> None:
    assert isinstance(open_blob_store(f"file://{tmp_path}/b", tmp_path), LocalBlobStore)
    for bad in ("ftp://host/x", "file://relative/x", "s3://"):
        with pytest.raises(ValueError, match=r"s3://bucket/prefix|file:///"):
            open_blob_store(bad, tmp_path)
    from tether.server.blobs.s3 import S3BlobStore

    with pytest.raises(ValueError, match="plain http"):
        S3BlobStore.from_url("s3://b/p", {"AWS_ENDPOINT_URL": "http://s3.example.org"})


def test_server_on_s3_stores_each_blob_once(
    s3: S3Endpoint, tmp_path: Path, run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two runs (of two users would be the same) send the same bytes: the store holds them
    once, each run reads them back, and the server's own data dir holds no blob."""
    for name, value in s3.environ().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TETHER_SERVER_BLOB_URL", s3.blob_url)
    from tether.server.blobs.s3 import S3BlobStore

    direct = S3BlobStore.from_url(s3.blob_url, s3.environ())
    with LiveServer(tmp_path / "server") as server:
        runs = []
        for number in range(2):
            with tether.init(project="media", dir=run_dir, console="off", mode="offline") as run:
                run.log({"n": number})
                from .conftest import write_media

                blobs = write_media(run, sample_items())
            runs.append(run)
            report = sync_paths(
                [run.dir], base_url=server.base_url, api_key=server.api_key, progress=False
            )
            assert report.ok, report
        for run in runs:
            for name, data in blobs.items():
                url = f"{server.base_url}/api/v1/projects/media/runs/{run.id}/blobs/{name}"
                answer = httpx.get(url, headers=server.headers, timeout=60)
                assert answer.status_code == 200 and answer.content == data
        assert all(direct.exists(name) for name in blobs)
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
        objects = [
            meta["path"] for batch in obstore.list(bucket, prefix=s3.prefix) for meta in batch
        ]
        assert len(objects) == len(blobs)  # each blob once, whichever run sent it
        assert not (tmp_path / "server" / "blobs").exists()


def test_a_store_that_is_down_answers_503_with_retry_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An S3 endpoint that refuses connections: the blob waits on the client (503, retry
    later), never a 500; reading what was linked before is a 503 as well."""
    monkeypatch.setenv("TETHER_SERVER_BLOB_URL", "s3://bucket/prefix")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    with LiveServer(tmp_path / "server") as server:
        base = f"{server.base_url}/api/v1/projects/p/runs/r1/blobs"
        answer = httpx.put(f"{base}/{sha(b'x')}", content=b"x", headers=server.headers, timeout=60)
        assert answer.status_code == 503, answer.text
        assert answer.headers["retry-after"] and answer.json()["retry_after"] >= 1
        missing = httpx.post(
            f"{base}/missing", json={"sha256": [sha(b"x")]}, headers=server.headers, timeout=60
        )
        assert missing.json()["missing"] == [sha(b"x")]


def test_a_64_mib_blob_streams_through_the_server(live_server: LiveServer) -> None:
    """The server never holds a blob's body: its memory grows by far less than the 64 MiB
    sent (read from the real process, as a bound)."""
    from .test_memory import PeakRss

    piece = bytes(range(256)) * 4096  # 1 MiB
    digest = hashlib.sha256()
    for _ in range(64):
        digest.update(piece)
    url = f"{live_server.base_url}/api/v1/projects/p/runs/big/blobs/{digest.hexdigest()}"
    assert live_server.process is not None
    httpx.put(
        url.rsplit("/", 1)[0] + "/" + sha(b"warm"), content=b"warm", headers=live_server.headers
    )
    with PeakRss(live_server.process.pid) as rss:
        base = rss.process.memory_info().rss
        answer = httpx.put(
            url, content=iter([piece] * 64), headers=live_server.headers, timeout=120
        )
    assert answer.status_code == 201, answer.text
    assert answer.json()["size"] == 64 * 1024 * 1024
    assert rss.peak - base < 24 * 1024 * 1024, (rss.peak - base) / 2**20


def test_tether_server_refuses_a_blob_url_it_cannot_use(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tether.cli", "server", "--port", "0",
         "--data-dir", str(tmp_path / "d"), "--blob-url", "ftp://host/blobs"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert "ftp://host/blobs" in done.stderr and "s3://bucket/prefix" in done.stderr
    assert "Traceback" not in done.stderr
