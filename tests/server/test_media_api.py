"""Media on the server: file records ingested from segments, blobs sent and read back, and
the media routes, on SQLite and PostgreSQL (a real server; raw HTTP as a client sends it)."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

import tether
from tether.server.testing import LiveServer
from tether.store import format as fmt

from .accounts import server_on
from .conftest import sample_items


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """One server per database for the module (each test makes runs of its own)."""
    yield from server_on(request.param, tmp_path_factory.mktemp("media") / "data")


def run_path(run: tether.Run, owner: str = "") -> str:
    return f"{owner}/projects/media/runs/{run.id}"


def upload_segments(http: httpx.Client, run: tether.Run, owner: str = "") -> None:
    for segment in (run.dir / fmt.SEGMENTS_DIR).iterdir():
        writer = segment.stem.rsplit("-", 1)[1]
        answer = http.put(f"{run_path(run, owner)}/segments/{writer}", content=segment.read_bytes())
        assert answer.status_code == 200, answer.text


def put_blobs(
    http: httpx.Client, run: tether.Run, blobs: dict[str, bytes], owner: str = ""
) -> None:
    types = {hashlib.sha256(i.data).hexdigest(): i.media_type for i in sample_items() if i.data}
    for sha, data in blobs.items():
        answer = http.put(
            f"{run_path(run, owner)}/blobs/{sha}",
            content=data,
            headers={"Content-Type": types.get(sha, "image/png")},
        )
        assert answer.status_code in (200, 201), answer.text


def declared_too_large(http: httpx.Client, path: str) -> bytes:
    """The first bytes of the answer to a PUT that declares 65 MiB and sends none of it."""
    url = http.base_url.join(http.base_url.path + path.lstrip("/"))
    assert url.host is not None and url.port is not None
    with socket.create_connection((url.host, url.port), timeout=60) as connection:
        head = (
            f"PUT {url.raw_path.decode()} HTTP/1.1\r\nHost: {url.host}:{url.port}\r\n"
            f"Authorization: {http.headers['Authorization']}\r\n"
            f"Content-Length: {65 << 20}\r\n\r\n"
        )
        connection.sendall(head.encode())
        return connection.recv(100)


@pytest.fixture
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=server.base_url + "/api/v1", headers=server.headers, timeout=60
    ) as client:
        yield client


def test_media_round_trip(
    http: httpx.Client, media_run: tuple[tether.Run, dict[str, bytes]]
) -> None:
    run, blobs = media_run
    base = run_path(run)
    asked = http.post(f"{base}/blobs/missing", json={"sha256": sorted(blobs)})
    assert asked.status_code == 200 and sorted(asked.json()["missing"]) == sorted(blobs)
    put_blobs(http, run, blobs)  # blobs first, then the segment naming them
    upload_segments(http, run)
    assert http.post(f"{base}/blobs/missing", json={"sha256": sorted(blobs)}).json() == {
        "missing": []
    }
    again = http.put(f"{base}/blobs/{next(iter(blobs))}", content=next(iter(blobs.values())))
    assert again.status_code == 200  # idempotent: held already

    keys = http.get(f"{base}/media/keys").json()
    assert keys == [
        {"key": "cells", "kind": "image", "count": 1, "min_step": 1, "max_step": 1},
        {"key": "notes", "kind": "text", "count": 1, "min_step": 2, "max_step": 2},
        {"key": "samples", "kind": "image", "count": 3, "min_step": 0, "max_step": 1},
        {"key": "table", "kind": "table", "count": 1, "min_step": 4, "max_step": 4},
        {"key": "weights", "kind": "histogram", "count": 1, "min_step": 3, "max_step": 3},
    ]
    samples = http.get(f"{base}/media", params={"key": "samples"}).json()
    assert [(s["step"], s["index"], s["writer"]) for s in samples] == [
        (0, 0, "main"),
        (1, 0, "main"),
        (1, 1, "main"),
    ]
    first = samples[1]
    assert first["meta"]["caption"] == "a" and first["media_type"] == "image/png"
    assert set(first) == {
        "key", "step", "index", "writer", "kind", "sha256", "size", "media_type", "meta", "time"
    }  # fmt: skip
    at_one = http.get(f"{base}/media", params={"key": "samples", "step": 1}).json()
    assert [s["index"] for s in at_one] == [0, 1]
    assert (
        http.get(f"{base}/media", params={"key": "samples", "limit": 1, "offset": 2}).json()[0][
            "step"
        ]
        == 1
    )
    assert http.get(f"{base}/media", params={"key": "samples", "writer": "nobody"}).json() == []
    assert http.get(f"{base}/media/steps", params={"key": "samples"}).json() == [0, 1]
    [histogram] = http.get(f"{base}/media", params={"key": "weights"}).json()
    assert histogram["sha256"] is None and histogram["meta"]["counts"] == [1, 2]

    blob = http.get(f"{base}/blobs/{first['sha256']}")
    assert blob.status_code == 200 and blob.content == blobs[first["sha256"]]
    assert blob.headers["content-type"] == "image/png"
    assert blob.headers["cache-control"] == "private, max-age=31536000, immutable"
    assert blob.headers["etag"] == f'"{first["sha256"]}"'
    assert int(blob.headers["content-length"]) == len(blob.content)
    etag = {"If-None-Match": blob.headers["etag"]}
    cached = http.get(f"{base}/blobs/{first['sha256']}", headers=etag)
    assert cached.status_code == 304
    [text] = http.get(f"{base}/media", params={"key": "notes"}).json()
    served = http.get(f"{base}/blobs/{text['sha256']}").headers["content-type"]
    assert served == "text/markdown; charset=utf-8"


def test_malformed_requests_are_4xx(
    http: httpx.Client, media_run: tuple[tether.Run, dict[str, bytes]]
) -> None:
    run, blobs = media_run
    base = run_path(run)
    sha, data = next(iter(blobs.items()))
    assert http.put(f"{base}/blobs/{sha.upper()}", content=data).status_code == 422
    assert http.put(f"{base}/blobs/{sha[:-1]}", content=data).status_code == 422
    wrong = http.put(f"{base}/blobs/{sha}", content=data + b"!")
    assert wrong.status_code == 422 and "hash to" in wrong.json()["detail"]
    assert http.get(f"{base}/blobs/{sha}").status_code == 404  # not linked after a mismatch
    assert http.post(f"{base}/blobs/missing", json={"sha256": ["xyz"]}).status_code == 422
    assert http.post(f"{base}/blobs/missing", json={"sha256": [sha] * 1001}).status_code == 422
    assert http.post(f"{base}/blobs/missing", json={"hashes": [sha]}).status_code == 422
    assert http.post(f"{base}/blobs/missing", content=b"{not json").status_code == 422
    # A body past the cap, streamed without a length: refused as it comes (413), not stored.
    big = iter([b"\0" * (1 << 20)] * 65)
    too_large = http.put(f"{base}/blobs/{'0' * 64}", content=big)
    assert too_large.status_code == 413 and too_large.json()["limit"] == 64 * 1024 * 1024
    assert declared_too_large(http, f"{base}/blobs/{'0' * 64}").startswith(b"HTTP/1.1 413")
    upload_segments(http, run)
    assert http.get(f"{base}/media").status_code == 422  # key is required
    assert http.get(f"{base}/media", params={"key": "k", "step": -1}).status_code == 422
    assert http.get(f"{base}/media", params={"key": "k", "limit": 0}).status_code == 422
    assert http.get(f"{base}/media/steps", params={"key": "a\x00b"}).status_code == 422
    gone = "/projects/media/runs/nosuchrun"
    for path in (f"{gone}/media/keys", f"{gone}/blobs/{sha}", f"{gone}/media?key=a"):
        assert http.get(path).status_code == 404, path
    assert http.get(f"/projects/media/runs/{run.id}/blobs/{'1' * 64}").status_code == 404


NESTED: list[object] = [1]
for _ in range(20):
    NESTED = [NESTED]
BAD_INFOS: dict[str, dict[str, object]] = {
    "file.sha256": {"sha256": "ABC"},
    "file.step": {"step": 2**63},
    "file.key": {"key": ""},
    "file.index": {"index": -1},
    "file.size": {"size": "12"},
    "file.media_type": {"media_type": None},
    "file.meta": {"meta": {"a": NESTED}},
    "file.meta.counts": {"kind": "histogram", "meta": {"counts": [1.5], "edges": [0, 1]}},
    "file.meta.edges": {"kind": "histogram", "meta": {"counts": [1], "edges": [0]}},
    "file.meta.refs": {"kind": "table", "meta": {"refs": ["nope"]}},
    "file.kind": {"kind": 3},
}


def test_malformed_file_records_are_refused_by_field(server: LiveServer) -> None:
    """Each bad info is a 422 naming its field and record (the client then skips it)."""
    good = {"key": "k", "step": 1, "index": 0, "kind": "image", "sha256": "a" * 64, "size": 3,
            "media_type": "image/png", "meta": {}}  # fmt: skip
    wrong = {}
    for number, (field, bad) in enumerate(sorted(BAD_INFOS.items())):
        record = [fmt.K_FILE, 1.0, {**good, **bad}]
        body = fmt.MAGIC + fmt.encode_frame(0, [[fmt.K_HEADER, {"main": True}], record])
        answer = httpx.put(
            f"{server.base_url}/api/v1/projects/p/runs/r1/segments/w{number}",
            content=body,
            headers=server.headers,
            timeout=60,
        )
        said = answer.json()
        if answer.status_code != 422 or said.get("field") != field or said.get("seq") != 1:
            wrong[field] = (answer.status_code, said)
    assert not wrong


def test_unknown_file_kinds_are_kept_on_the_client(server: LiveServer) -> None:
    """An artifact record (a newer client's kind) is accepted and not shown as media."""
    record = [fmt.K_FILE, 1.0, {"kind": "artifact", "path": "model.pt"}]
    body = fmt.MAGIC + fmt.encode_frame(0, [[fmt.K_HEADER, {"main": True}], record])
    base = f"{server.base_url}/api/v1/projects/p/runs/r2"
    answer = httpx.put(f"{base}/segments/w", content=body, headers=server.headers)
    assert answer.status_code == 200, answer.text
    assert httpx.get(f"{base}/media/keys", headers=server.headers).json() == []


def test_a_blob_is_read_only_through_a_run_that_sent_it(
    server: LiveServer, media_run: tuple[tether.Run, dict[str, bytes]], run_dir: Path
) -> None:
    """Knowing a hash gives nothing: another user's run must send the bytes itself (stored
    once all the same), and never reads the first run's blob through its own path."""
    from .accounts import add_user

    run, blobs = media_run
    alice, bob = add_user(server, "alice"), add_user(server, "bob")
    sha, data = next(iter(blobs.items()))
    with alice.client as a, bob.client as b:
        put_blobs(a, run, blobs)
        upload_segments(a, run)
        mine = run_path(run, "/owners/alice")
        assert a.get(f"{run_path(run)}/blobs/{sha}").content == data
        assert b.get(f"{mine}/blobs/{sha}").status_code == 404  # alice's run: hidden
        assert b.get(f"{mine}/media/keys").status_code == 404
        assert b.post(f"{mine}/blobs/missing", json={"sha256": [sha]}).status_code == 404
        assert b.put(f"{mine}/blobs/{sha}", content=data).status_code == 404
        with tether.init(project="media", dir=run_dir, console="off", mode="offline") as other:
            pass
        upload_segments(b, other)
        theirs = run_path(other)
        assert b.post(f"{theirs}/blobs/missing", json={"sha256": [sha]}).json() == {
            "missing": [sha]
        }  # the store holds it, but this run never sent it
        assert b.get(f"{theirs}/blobs/{sha}").status_code == 404
        assert b.put(f"{theirs}/blobs/{sha}", content=b"not the bytes").status_code == 422
        assert b.get(f"{theirs}/blobs/{sha}").status_code == 404
        stored = _stored_files(server)
        assert b.put(f"{theirs}/blobs/{sha}", content=data).status_code == 201
        assert b.get(f"{theirs}/blobs/{sha}").content == data
        assert _stored_files(server) == stored  # held once, whichever runs sent it


def _stored_files(server: LiveServer) -> list[str]:
    return sorted(p.name for p in (server.data_dir / "blobs").rglob("*") if p.is_file())


def test_blobs_of_a_new_run_sent_at_once_all_arrive(server: LiveServer) -> None:
    """A client sends a new run's blobs in parallel, before any segment: whichever request
    makes the run, none fails for it."""
    blobs = {hashlib.sha256(b"blob %d" % n).hexdigest(): b"blob %d" % n for n in range(8)}
    base = f"{server.base_url}/api/v1/projects/fresh/runs/new1/blobs"

    def put(item: tuple[str, bytes]) -> int:
        answer = httpx.put(f"{base}/{item[0]}", content=item[1], headers=server.headers, timeout=60)
        return answer.status_code

    with ThreadPoolExecutor(max_workers=4) as pool:  # the server takes 4 at once per user
        assert list(pool.map(put, blobs.items())) == [201] * len(blobs)
    asked = httpx.post(f"{base}/missing", json={"sha256": list(blobs)}, headers=server.headers)
    assert asked.json() == {"missing": []}


def test_a_database_from_before_media_is_upgraded(
    tmp_path: Path, run_dir: Path, media_run: tuple[tether.Run, dict[str, bytes]]
) -> None:
    """A database at 0006 (no media tables: downgraded to it) is migrated at start, keeps
    its runs, and takes media for them."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect

    from tether.server.storage.db import MIGRATIONS, make_engine, migrate

    run, blobs = media_run
    with LiveServer(tmp_path / "data") as live:
        with httpx.Client(base_url=live.base_url + "/api/v1", headers=live.headers) as http:
            for segment in (run.dir / fmt.SEGMENTS_DIR).iterdir():
                path = f"{run_path(run)}/segments/{segment.stem.rsplit('-', 1)[1]}"
                # Only the magic: the run exists; its records come after the upgrade.
                assert http.put(path, content=segment.read_bytes()[:8]).status_code == 200
        key = live.api_key
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'tether.db'}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0006")
    assert not {"media", "run_blobs", "blobs"} & set(inspect(engine).get_table_names())
    migrate(engine)
    assert {"media", "run_blobs", "blobs"} <= set(inspect(engine).get_table_names())
    engine.dispose()
    with (
        LiveServer(tmp_path / "data", api_key=key) as live,
        httpx.Client(base_url=live.base_url + "/api/v1", headers=live.headers) as http,
    ):
        put_blobs(http, run, blobs)
        upload_segments(http, run)
        keys = http.get(f"{run_path(run)}/media/keys").json()
        assert {k["key"] for k in keys} == {i.key for i in sample_items()}
