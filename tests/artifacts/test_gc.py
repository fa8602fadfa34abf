"""``tether server gc``: blobs no media, artifact version or running run references go;
anything referenced meanwhile, or younger than the grace, stays (a real server, its real
database and store, the collection run beside it)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
from click.testing import CliRunner

import tether
from tether.server.blobs.local import LocalBlobStore
from tether.server.cli import server_group
from tether.server.gc import collect
from tether.server.storage.db import make_engine
from tether.server.testing import LiveServer
from tether.sync.offline import sync_paths

from .server_helpers import file_entry, log_info, write_artifact


def test_gc_deletes_what_nothing_references_and_spares_what_is_referenced_meanwhile(
    tmp_path: Path, run_dir: Path
) -> None:
    with LiveServer(tmp_path / "server") as server:
        http = httpx.Client(
            base_url=server.base_url + "/api/v1", headers=server.headers, timeout=60
        )

        def sync(run: tether.Run) -> None:
            report = sync_paths(
                [run.dir], base_url=server.base_url, api_key=server.api_key, progress=False
            )
            assert report.ok, report

        with tether.init(project="gc", dir=run_dir, console="off", mode="offline") as first:
            old, old_blobs = file_entry("w.bin", b"version zero")
            new, new_blobs = file_entry("w.bin", b"version one")
            write_artifact(first, log_info("m", [old]), old_blobs)
            write_artifact(first, log_info("m", [new]), new_blobs)
        sync(first)
        orphan = b"sent, never named"
        orphan_sha = hashlib.sha256(orphan).hexdigest()
        put = http.put(f"/projects/gc/runs/{first.id}/blobs/{orphan_sha}", content=orphan)
        assert put.status_code == 201
        assert http.delete("/projects/gc/artifacts/m/v0").status_code == 200
        store = LocalBlobStore(server.data_dir / "blobs")
        engine = make_engine(f"sqlite:///{server.data_dir / 'tether.db'}")

        # The CLI with the default grace: everything is young, nothing goes.
        done = CliRunner().invoke(
            server_group, ["--data-dir", str(server.data_dir), "gc"], catch_exceptions=False
        )
        assert done.exit_code == 0, done.output
        assert "deleted 0 " in done.output and "kept 2 younger than 24 h" in done.output
        assert store.exists(old["sha256"]) and store.exists(orphan_sha)

        # Grace 0, and while it runs another run of the owner logs the orphan as an
        # artifact: the orphan is referenced by the time it would go, and stays.
        with tether.init(project="gc", dir=run_dir, console="off", mode="offline") as second:
            entry, blobs = file_entry("late.bin", orphan)
            write_artifact(second, log_info("late", [entry]), blobs)
        seen: list[list[str]] = []

        def meanwhile(candidates: list[str]) -> None:
            seen.append(sorted(candidates))
            sync(second)

        result = collect(engine, store, grace_s=0, on_candidates=meanwhile)
        assert seen == [sorted([old["sha256"], orphan_sha])]
        assert result.deleted == [old["sha256"]] and result.freed_bytes == len(b"version zero")
        assert not store.exists(old["sha256"])
        assert store.exists(orphan_sha) and store.exists(new["sha256"])
        assert http.get("/projects/gc/artifacts/m/v1/files/w.bin").content == b"version one"
        assert http.get("/projects/gc/artifacts/late/v0/files/late.bin").content == orphan
        # The deleted blob is no longer the run's: a client asking is told to send it again.
        asked = http.post(
            f"/projects/gc/runs/{first.id}/blobs/missing", json={"sha256": [old["sha256"]]}
        )
        assert asked.json()["missing"] == [old["sha256"]]
        engine.dispose()
        http.close()
