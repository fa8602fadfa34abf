"""Media reach the server: the online uploader and ``tether sync`` send each blob before the
segment bytes naming it, once; an upload cut off by a dead server resumes without losing or
repeating anything; a blob over the server's cap is skipped and the rest goes on."""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

import httpx
import pytest

import tether
from tether.api import Api
from tether.errors import ServerUnreachableError
from tether.server.testing import LiveServer
from tether.sync.blobs import ACKED_FILE, named_blobs
from tether.sync.http import HttpClient, ServerError
from tether.sync.offline import sync_paths
from tether.sync.run_upload import RunUpload, Sent
from tether.sync.uploader import retry_delay

from ..conftest import only_run, run_script
from ..server.conftest import Logged, write_media

ONLINE_SCRIPT = """
import numpy as np
import tether

with tether.init(project="media", console="off") as run:
    for step in range(3):
        pixels = np.full((4, 6, 3), step * 40, dtype=np.uint8)
        run.log({"samples": [tether.Image(pixels, caption=f"s{step}"), tether.Image(pixels.T)],
                 "loss": 1.0 / (step + 1)}, step=step)
    run.log({"weights": tether.Histogram(np.arange(100.0)),
             "notes": tether.Text("# done"),
             "grid": tether.Table(columns=["name", "img"],
                                  rows=[["a", tether.Image(np.zeros((2, 2), dtype=np.uint8))]])},
            step=3)
"""


def test_online_run_uploads_its_media(live_server: LiveServer, run_dir: Path) -> None:
    env = {"TETHER_BASE_URL": live_server.base_url, "TETHER_API_KEY": live_server.api_key}
    run_script(run_dir, ONLINE_SCRIPT, env=env)
    local = only_run(run_dir)
    with Api(live_server.base_url, live_server.api_key) as api:
        remote = api.run(f"media/{local.id}")
        assert remote.media_keys() == local.media_keys()
        for key in ("samples", "notes", "grid", "weights"):
            mine, theirs = local.media(key), remote.media(key)
            assert [m.to_dict() for m in mine] == [t.to_dict() for t in theirs], key
        for item in remote.media("samples"):
            assert (
                item.read_bytes() == local.media("samples", step=item.step)[item.index].read_bytes()
            )
        assert remote.media("samples", step=1)[0].to_pil().size == (6, 4)
        assert remote.media("notes")[0].text() == "# done"
        counts, edges = remote.media("weights")[0].histogram()
        assert sum(counts) == 100 and len(edges) == len(counts) + 1
        cell = remote.media("grid")[0].to_pandas()["img"][0]
        assert cell.to_pil().size == (2, 2)  # a table's image cell was uploaded too


def _run_with_two_batches(run_dir: Path) -> tuple[tether.Run, dict[str, bytes], dict[str, bytes]]:
    """Media, then 5 MB of rows (two upload pieces), then more media."""
    image = {"width": 1, "height": 1, "channels": 3, "format": "png"}
    with tether.init(project="media", dir=run_dir, console="off", mode="offline") as run:
        first = write_media(
            run, [Logged("a", i, "image", b"A%d" % i * 1000, image) for i in range(5)]
        )
        run.flush()
        for step in range(12):
            run.log({"pad": "x" * 400_000}, step=step)
        run.flush()
        second = write_media(
            run, [Logged("b", i, "image", b"B%d" % i * 1000, image) for i in range(5)]
        )
    return run, first, second


def test_upload_resumes_after_the_server_died(live_server: LiveServer, run_dir: Path) -> None:
    run, first, second = _run_with_two_batches(run_dir)
    upload = RunUpload(run.dir, project="media", run_id=run.id, base_url=live_server.base_url)
    pieces: list[Sent] = []

    def kill_after_first_piece(sent: Sent) -> None:
        pieces.append(sent)
        # The piece's media records are stored; their blobs were sent before them.
        base = f"{live_server.base_url}/api/v1/projects/media/runs/{run.id}"
        for sha in first:
            answer = httpx.get(f"{base}/blobs/{sha}", headers=live_server.headers)
            assert answer.status_code == 200, sha
        live_server.stop(kill=True)  # SIGKILL: nothing of the server's own shutdown runs

    with HttpClient(live_server.base_url, live_server.api_key) as client:
        upload.align(client)
        with pytest.raises(ServerUnreachableError):
            upload.send_pending(client, on_sent=kill_after_first_piece)
    upload.save()
    assert len(pieces) == 1
    acked = (run.dir / ACKED_FILE).read_text().splitlines()[1:]
    assert set(first) <= set(acked) and not set(second) & set(acked)

    live_server.start()  # the same data, a new process; and a new upload, as `tether sync`
    report = sync_paths(
        [run.dir], base_url=live_server.base_url, api_key=live_server.api_key, progress=False
    )
    assert report.ok, report
    with Api(live_server.base_url, live_server.api_key) as api:
        remote = api.run(f"media/{run.id}")
        keys = {k["key"]: k["count"] for k in remote.media_keys()}
        assert keys == {"a": 5, "b": 5}  # nothing lost, nothing twice
        for key, blobs in (("a", first), ("b", second)):
            for item in remote.media(key):
                assert item.read_bytes() == blobs[item.sha256 or ""]
    assert set((run.dir / ACKED_FILE).read_text().splitlines()[1:]) == set(first) | set(second)
    # A second sync asks nothing again: the acknowledged blobs are known.
    again = sync_paths(
        [run.dir], base_url=live_server.base_url, api_key=live_server.api_key, progress=False
    )
    assert again.ok and again.bytes == 0


def test_a_blob_over_the_cap_is_skipped_and_the_rest_arrives(
    live_server: LiveServer, run_dir: Path
) -> None:
    image = {"width": 1, "height": 1, "channels": 3, "format": "png"}
    with tether.init(project="media", dir=run_dir, console="off", mode="offline") as run:
        small = write_media(run, [Logged("ok", 0, "image", b"small", image)])
        huge = hashlib.sha256(b"huge").hexdigest()  # its bytes are never read: too large
        write_media(run, [Logged("big", 0, "image", b"huge", image)])
        os.truncate(run.dir / "blobs" / huge, 65 * 1024 * 1024)  # sparse: no 65 MB written
        run.log({"loss": 0.5})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = sync_paths(
            [run.dir], base_url=live_server.base_url, api_key=live_server.api_key, progress=False
        )
    assert report.ok, report
    said = [str(w.message) for w in caught if "is not uploaded" in str(w.message)]
    assert len(said) == 1 and "limit" in said[0] and huge[:12] in said[0]
    base = f"{live_server.base_url}/api/v1/projects/media/runs/{run.id}"
    headers = live_server.headers
    assert {k["key"] for k in httpx.get(f"{base}/media/keys", headers=headers).json()} == {
        "ok",
        "big",
    }
    assert httpx.get(f"{base}/blobs/{next(iter(small))}", headers=headers).content == b"small"
    assert httpx.get(f"{base}/blobs/{huge}", headers=headers).status_code == 404


def test_named_blobs_reads_file_records_only() -> None:
    from tether.store import format as fmt

    sha, cell = "a" * 64, "b" * 64
    body = fmt.MAGIC + fmt.encode_frame(
        0,
        [
            [fmt.K_SUMMARY, 1.0, {"sha256": "c" * 64}, []],
            [fmt.K_FILE, 1.0, {"kind": "table", "sha256": sha, "media_type": "application/json",
                               "meta": {"refs": [cell, "bad"]}}],
            [fmt.K_FILE, 1.0, {"kind": "histogram", "meta": {}}],
        ],
    )  # fmt: skip
    assert named_blobs(body) == {sha: "application/json", cell: ""}
    assert named_blobs(body[len(fmt.MAGIC) :]) == named_blobs(body)


def test_a_blob_store_that_is_down_costs_the_training_nothing(
    tmp_path: Path, run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server's S3 store refuses connections: blob PUTs are 503 with a retry_after that
    the uploader waits as asked; the script ends as usual, its media wait on disk, and a
    later sync to a working server sends them."""
    down = {
        "TETHER_SERVER_BLOB_URL": "s3://bucket/prefix",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
        "AWS_ACCESS_KEY_ID": "key",
        "AWS_SECRET_ACCESS_KEY": "secret",
    }
    for name, value in down.items():
        monkeypatch.setenv(name, value)
    with LiveServer(tmp_path / "down") as server:
        for name in down:
            monkeypatch.delenv(name)
        env = {"TETHER_BASE_URL": server.base_url, "TETHER_API_KEY": server.api_key}
        done = run_script(run_dir, ONLINE_SCRIPT, env=env, timeout=120)
        assert "Traceback" not in done.stderr
        local = only_run(run_dir)
        assert local.state == "finished" and len(local.media("samples")) == 6
        with HttpClient(server.base_url, server.api_key) as client:
            blob = local.media("samples")[0]
            assert blob.sha256 is not None
            with pytest.raises(ServerError) as refused:
                client.put_bytes(
                    f"/projects/media/runs/{local.id}/blobs/{blob.sha256}", blob.read_bytes()
                )
        assert refused.value.status == 503
        assert 2.0 <= retry_delay(refused.value, failures=1) <= 2.4  # as asked, not backoff
    with LiveServer(tmp_path / "up") as good:
        report = sync_paths(
            [local.dir], base_url=good.base_url, api_key=good.api_key, progress=False
        )
        assert report.ok, report
        with Api(good.base_url, good.api_key) as api:
            theirs = api.run(f"media/{local.id}").media("samples")
            assert [t.read_bytes() for t in theirs] == [
                m.read_bytes() for m in local.media("samples")
            ]
