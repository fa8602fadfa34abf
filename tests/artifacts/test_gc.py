"""``tether server gc``: blobs no media, artifact version or running run references go;
anything referenced meanwhile, or younger than the grace, stays (a real server, its real
database and store, the collection run beside it)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
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


def test_gc_during_an_upload_of_the_same_blob_links_nothing_without_its_bytes(
    tmp_path: Path, run_dir: Path
) -> None:
    """gc collects a blob while a run uploads the same bytes again (the upload only hashes
    them: the store held them when it began): the upload must not link bytes that are gone.
    Deterministic: the upload's body runs the collection between its chunks."""
    from sqlalchemy import select

    from tether.server.media_blobs import BlobCollectedError, receive
    from tether.server.storage.schema import blobs, run_blobs, runs

    with LiveServer(tmp_path / "server") as server:
        http = httpx.Client(
            base_url=server.base_url + "/api/v1", headers=server.headers, timeout=60
        )
        with tether.init(project="gc", dir=run_dir, console="off", mode="offline") as run:
            pass
        report = sync_paths(
            [run.dir], base_url=server.base_url, api_key=server.api_key, progress=False
        )
        assert report.ok, report  # a finished run: gc does not keep what it holds
        data = b"sent once, sent again"
        sha = hashlib.sha256(data).hexdigest()
        put = http.put(f"/projects/gc/runs/{run.id}/blobs/{sha}", content=data)
        assert put.status_code == 201, put.text
        http.close()
        store = LocalBlobStore(server.data_dir / "blobs")
        engine = make_engine(f"sqlite:///{server.data_dir / 'tether.db'}")
        with engine.connect() as connection:
            run_pk = connection.execute(
                select(runs.c.id).where(runs.c.run_id == run.id)
            ).scalar_one()
        collected: list[str] = []

        def body() -> Iterator[bytes]:
            yield data[:5]
            collected.extend(collect(engine, store, grace_s=0).deleted)
            yield data[5:]

        with pytest.raises(BlobCollectedError):
            receive(engine, store, run_pk, sha, body(), media_type="text/plain")
        assert collected == [sha] and not store.exists(sha)
        with engine.connect() as connection:
            assert connection.execute(select(blobs).where(blobs.c.sha256 == sha)).first() is None
            linked = select(run_blobs).where(run_blobs.c.sha256 == sha)
            assert connection.execute(linked).first() is None
        # Sent again, the bytes are stored and linked.
        assert receive(engine, store, run_pk, sha, [data], media_type="text/plain").created
        assert store.read(sha) == data
        engine.dispose()


def test_gc_counts_a_media_ref_only_from_a_run_that_holds_the_blob(
    tmp_path: Path, run_dir: Path
) -> None:
    """A run that names a hash in a media row or a table's ``meta.refs`` without holding
    the blob (``run_blobs``) does not keep it alive; the run that holds and names it does."""
    from sqlalchemy import insert, select

    from tether.server.storage.schema import media, runs, writers

    with LiveServer(tmp_path / "server") as server:
        http = httpx.Client(
            base_url=server.base_url + "/api/v1", headers=server.headers, timeout=60
        )
        with tether.init(project="gc", dir=run_dir, console="off", mode="offline") as holder:
            pass
        with tether.init(project="gc", dir=run_dir, console="off", mode="offline") as namer:
            namer.log({"x": 1})
        report = sync_paths(
            [holder.dir, namer.dir],
            base_url=server.base_url,
            api_key=server.api_key,
            progress=False,
        )
        assert report.ok, report
        sent = {}
        for name in (b"orphan a", b"orphan b", b"kept"):
            sha = hashlib.sha256(name).hexdigest()
            put = http.put(f"/projects/gc/runs/{holder.id}/blobs/{sha}", content=name)
            assert put.status_code == 201, put.text
            sent[name] = sha
        http.close()
        store = LocalBlobStore(server.data_dir / "blobs")
        engine = make_engine(f"sqlite:///{server.data_dir / 'tether.db'}")
        with engine.begin() as connection:
            pks = {
                row.run_id: row.id
                for row in connection.execute(
                    select(runs.c.id, runs.c.run_id).where(runs.c.run_id.in_([holder.id, namer.id]))
                )
            }
            writer_of = {
                run_pk: connection.execute(
                    select(writers.c.id).where(writers.c.run_pk == run_pk)
                ).scalar()
                for run_pk in pks.values()
            }

            def media_row(run_pk: int, kind: str, sha: str | None, refs: list[str]) -> None:
                connection.execute(
                    insert(media).values(
                        run_pk=run_pk,
                        writer_pk=writer_of[run_pk],
                        key="m",
                        step=0,
                        idx=0,
                        kind=kind,
                        sha256=sha,
                        size=None,
                        media_type=None,
                        meta={"refs": refs},
                        time=0.0,
                    )
                )

            # The namer names two blobs it never sent; the holder names the third.
            media_row(pks[namer.id], "image", sent[b"orphan a"], [])
            media_row(pks[namer.id], "table", None, [sent[b"orphan b"]])
            media_row(pks[holder.id], "table", None, [sent[b"kept"]])
        result = collect(engine, store, grace_s=0)
        assert sorted(result.deleted) == sorted([sent[b"orphan a"], sent[b"orphan b"]])
        assert store.exists(sent[b"kept"])
        assert not store.exists(sent[b"orphan a"]) and not store.exists(sent[b"orphan b"])
        engine.dispose()
