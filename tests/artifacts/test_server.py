"""Artifacts on the server, on SQLite and PostgreSQL: ``K_ARTIFACT`` records ingested from
real segments, versions committed only once their blobs are in, the read routes, aliases,
deletion, lineage, streamed downloads and refusals (a real server; real ``tether sync``)."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import httpx
import pytest

import tether
from tether.server.testing import LiveServer
from tether.store import format as fmt

from .server_helpers import (
    file_entry,
    log_info,
    segment_of,
    sync_run,
    write_artifact,
)

MiB = 1024 * 1024


def test_versions_files_aliases_and_dedup(
    server: LiveServer, http: httpx.Client, run_dir: Path
) -> None:
    """Two versions (one file over a chunk), a re-log of the same files (no new version,
    its alias moves), every route's answer, a streamed file equal to what was logged."""
    big = bytes(range(256)) * (16 * MiB // 256) + b"tail"  # 16 MiB + 4: two chunks
    head_a, head_b = b"head weights a" * 100, b"head weights b" * 100
    with tether.init(project="art", dir=run_dir, console="off", mode="offline") as run:
        big_entry, big_blobs = file_entry("backbone/weights.bin", big)
        a_entry, a_blobs = file_entry("head.bin", head_a)
        first = log_info("model", [big_entry, a_entry], epoch=1)
        write_artifact(run, first, {**big_blobs, **a_blobs})
        b_entry, b_blobs = file_entry("head.bin", head_b)
        second = log_info("model", [big_entry, b_entry], aliases=("latest", "best"), epoch=2)
        write_artifact(run, second, {**big_blobs, **b_blobs})
        write_artifact(run, {**first, "aliases": ["prod"]}, {})  # v0 again: an alias only
    assert len(big_entry["chunks"]) == 2
    sync_run(server, run)
    listed = http.get("/projects/art/artifacts").json()
    assert listed == [
        {
            "name": "model",
            "type": "model",
            "versions": 2,
            "latest": "v1",
            "aliases": {"latest": "v1", "best": "v1", "prod": "v0"},
            "updated": listed[0]["updated"],
        }
    ]
    assert http.get("/projects/art/artifacts", params={"type": "dataset"}).json() == []
    versions = http.get("/projects/art/artifacts/model/versions").json()
    assert [v["version"] for v in versions] == ["v1", "v0"]
    assert versions[0]["aliases"] == ["latest", "best"] and versions[1]["aliases"] == ["prod"]
    assert versions[0]["digest"] == second["digest"] and versions[0]["files"] == 2
    assert versions[0]["size"] == len(big) + len(head_b)
    assert versions[0]["metadata"] == {"epoch": 2}
    assert versions[0]["run"] == {"id": run.id, "name": run.name}
    detail = http.get("/projects/art/artifacts/model/best").json()
    assert detail["version"] == "v1" and detail["producer"]["id"] == run.id
    assert detail["files"] == sorted(second["files"], key=lambda f: f["path"])
    assert http.get("/projects/art/artifacts/model/latest").json()["digest"] == second["digest"]
    with http.stream("GET", "/projects/art/artifacts/model/v1/files/backbone/weights.bin") as got:
        assert got.status_code == 200
        assert got.headers["content-length"] == str(len(big))
        assert got.headers["content-disposition"] == "attachment; filename*=UTF-8''weights.bin"
        digest = hashlib.sha256()
        for piece in got.iter_bytes():
            digest.update(piece)
    assert digest.hexdigest() == big_entry["sha256"]
    assert http.get("/projects/art/artifacts/model/v0/files/head.bin").content == head_a
    # The owner's server holds the backbone's chunks once (the run sent each once).
    missing = http.post(
        f"/projects/art/runs/{run.id}/blobs/missing", json={"sha256": big_entry["chunks"]}
    ).json()
    assert missing["missing"] == []


def test_a_version_is_invisible_until_its_last_chunk_arrives(
    server: LiveServer, http: httpx.Client, run_dir: Path
) -> None:
    """The record first, the blobs after (as a direct-to-S3 upload or an interrupted one
    does): pending, then committed by the blob that completes it, with its aliases."""
    data = b"x" * (16 * MiB) + b"y" * 1000
    with tether.init(project="pend", dir=run_dir, console="off", mode="offline") as run:
        entry, blobs = file_entry("ckpt.pt", data)
        small, small_blobs = file_entry("config.json", b"{}")
        write_artifact(run, log_info("ckpt", [entry, small], aliases=("best",)), {})
    writer, body = segment_of(run.dir)
    base = f"/projects/pend/runs/{run.id}"
    assert http.put(f"{base}/segments/{writer}", content=body).status_code == 200
    order = [*small_blobs.items(), *blobs.items()]
    for sha, piece in order:
        assert http.get("/projects/pend/artifacts").json() == []
        assert http.get("/projects/pend/artifacts/ckpt/latest").status_code == 404
        answer = http.put(f"{base}/blobs/{sha}", content=piece)
        assert answer.status_code == 201, answer.text
    [version] = http.get("/projects/pend/artifacts/ckpt/versions").json()
    assert version["version"] == "v0" and version["aliases"] == ["latest", "best"]
    assert len(order) == 3


def test_aliases_deletion_lineage_and_not_found(
    server: LiveServer, http: httpx.Client, run_dir: Path
) -> None:
    with tether.init(project="life", dir=run_dir, console="off", mode="offline") as producer:
        infos = []
        for n in range(3):
            entry, blobs = file_entry("w.bin", b"weights %d" % n)
            infos.append(log_info("net", [entry]))
            write_artifact(producer, infos[-1], blobs)
    sync_run(server, producer)
    with tether.init(project="life", dir=run_dir, console="off", mode="offline") as consumer:
        use = {"op": "use", "name": "net", "ref": "v1", "digest": infos[1]["digest"]}
        consumer._writer.append([fmt.RecordKind.ARTIFACT, time.time(), use])
    sync_run(server, consumer)
    art = "/projects/life/artifacts/net"
    detail = http.get(f"{art}/v1").json()
    assert detail["consumers"] == [{"id": consumer.id, "name": consumer.name}]
    assert http.put(f"{art}/aliases/prod", json={"version": "v1"}).status_code == 200
    assert http.get(f"{art}/prod").json()["version"] == "v1"
    assert http.put(f"{art}/aliases/prod", json={"version": "v0"}).status_code == 200
    assert http.get(f"{art}/prod").json()["version"] == "v0"
    assert http.put(f"{art}/aliases/latest", json={"version": "v0"}).status_code == 422
    assert http.put(f"{art}/aliases/v2", json={"version": "v0"}).status_code == 422
    assert http.put(f"{art}/aliases/x", json={"version": "v9"}).status_code == 404
    assert http.delete(f"{art}/aliases/prod").status_code == 200
    assert http.delete(f"{art}/aliases/prod").status_code == 404
    assert http.delete(f"{art}/v2").status_code == 200  # the newest: latest falls back
    assert http.get(f"{art}/latest").json()["version"] == "v1"
    missing = http.get(f"{art}/v2")
    assert missing.status_code == 404
    assert "v0, v1" in missing.json()["detail"] and "latest" in missing.json()["detail"]
    assert http.get("/projects/life/artifacts/nothing/v0").status_code == 404
    # Logged again, the deleted files are a new version with a new number, never v2 again.
    with tether.init(project="life", dir=run_dir, console="off", mode="offline") as again:
        entry, blobs = file_entry("w.bin", b"weights 2")
        write_artifact(again, log_info("net", [entry]), blobs)
    sync_run(server, again)
    assert [v["version"] for v in http.get(f"{art}/versions").json()] == ["v3", "v1", "v0"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"digest": "0" * 64}, "artifact.digest"),
        ({"name": "a/b"}, "artifact.name"),
        ({"name": ".."}, "artifact.name"),
        ({"aliases": ["v3"]}, "artifact.aliases"),
        ({"op": "drop"}, "artifact.op"),
        ({"files": [{"path": "../x", "size": 1, "sha256": "a" * 64}]}, "artifact.files[0].path"),
        ({"files": [{"path": "x", "size": -1, "sha256": "a" * 64}]}, "artifact.files[0].size"),
        # A one-blob file holds at most CHUNK_BYTES; sizes near 2**63 overflowed the total.
        ({"files": [{"path": "x", "size": 2**63 - 1, "sha256": "a" * 64},
                    {"path": "y", "size": 2**63 - 1, "sha256": "a" * 64}]},
         "artifact.files[0].size"),
        ({"files": [{"path": "x", "size": 1, "sha256": "a" * 64},
                    {"path": "y", "size": 16 * MiB + 1, "sha256": "a" * 64}]},
         "artifact.files[1].size"),
        ({"files": [{"path": "x", "size": 5, "sha256": "a" * 64, "chunks": ["b" * 64]}]},
         "artifact.files[0].chunks"),
        ({"metadata": [1]}, "artifact.metadata"),
    ],
)  # fmt: skip
def test_malformed_records_are_refused_naming_the_field(
    server: LiveServer, http: httpx.Client, change: dict[str, object], field: str
) -> None:
    entry, _ = file_entry("x", b"x")
    info = {**log_info("m", [entry]), **change}
    body = fmt.MAGIC + fmt.encode_frame(0, [[int(fmt.RecordKind.ARTIFACT), 1.0, info]])
    answer = http.put("/projects/bad/runs/r1/segments/w1", content=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "/projects/art/artifacts/a%2Fb/v0", 404),
        ("get", "/projects/art/artifacts/m/v0/files/x", 404),
        ("get", "/projects/art/artifacts?type=", 422),
        ("delete", "/projects/art/artifacts/model/best", 405),
        ("put", "/projects/art/artifacts/model/aliases/x", 422),
    ],
)
def test_malformed_requests_are_4xx(
    http: httpx.Client, method: str, path: str, status: int
) -> None:
    answer = http.request(method, path, json={"version": "nope"} if method == "put" else None)
    assert 400 <= answer.status_code < 500 and answer.status_code != 500


def test_another_run_of_the_owner_sends_no_blob_again(
    server: LiveServer, http: httpx.Client, run_dir: Path
) -> None:
    """A second run of the same owner logs the same backbone: the server links the blobs
    the owner holds to it (nothing sent) and the version commits; another owner must send
    the bytes (tests/server/test_media_api.py)."""
    backbone, blobs = file_entry("backbone.bin", b"shared backbone" * 1000)
    runs = []
    for head in (b"head 1", b"head 2"):
        with tether.init(project="own", dir=run_dir, console="off", mode="offline") as run:
            head_entry, head_blobs = file_entry("head.bin", head)
            write_artifact(run, log_info("ft", [backbone, head_entry]), {**blobs, **head_blobs})
        runs.append((run, head_entry["sha256"]))
    sync_run(server, runs[0][0])
    second, head_sha = runs[1]
    asked = http.post(
        f"/projects/own/runs/{second.id}/blobs/missing",
        json={"sha256": [backbone["sha256"], head_sha]},
    ).json()
    assert asked["missing"] == [head_sha]
    sync_run(server, second)
    assert [v["version"] for v in http.get("/projects/own/artifacts/ft/versions").json()] == [
        "v1",
        "v0",
    ]
    got = http.get(f"/projects/own/runs/{second.id}/blobs/{backbone['sha256']}")
    assert got.content == b"shared backbone" * 1000
