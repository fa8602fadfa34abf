"""Artifacts between a client and a real server: an offline version sent by ``tether sync``
becomes the server's committed version; ``use_artifact`` online downloads it and checks it;
a corrupted cached file is found and fetched again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import tether
from tether.api import Api
from tether.server.testing import LiveServer
from tether.sync.offline import sync_paths

from ..server.conftest import S3Endpoint, s3  # noqa: F401  (the SeaweedFS fixture)

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path_factory.mktemp("artifact-client") / "data").start()
    try:
        yield live
    finally:
        live.stop()


def test_offline_version_synced_then_used_online_and_cache_repaired(
    server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    src = tmp_path / "ckpt"
    src.mkdir()
    big = os.urandom(17 * MiB)  # two chunks
    (src / "model.pt").write_bytes(big)
    (src / "config.json").write_text('{"layers": 3}')
    with tether.init(project="arts", dir=tmp_path, console="off", mode="offline", system=0) as run:
        logged = run.log_artifact(src, name="net", metadata={"acc": 0.9}, aliases=["best"])
    assert (logged.version, logged.committed) == ("v0", False)
    report = sync_paths(
        [tmp_path], base_url=server.base_url, api_key=server.api_key, progress=False
    )
    assert report.ok, report

    with Api(server.base_url, server.api_key) as api:
        remote = api.artifact("arts/net:best")
        assert (remote.version, remote.committed, remote.digest) == ("v0", True, logged.digest)
        assert remote.files == logged.files and remote.metadata == {"acc": 0.9}
        [listed] = api.artifacts("arts")
        assert (listed["name"], listed["versions"], listed["latest"]) == ("net", 1, "v0")

    env = {"TETHER_BASE_URL": server.base_url, "TETHER_API_KEY": server.api_key}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with tether.init(project="arts", dir=tmp_path / "eval", console="off", system=0) as user:
        used = user.use_artifact("net:latest")
        assert (used.version, used.committed) == ("v0", True)
        folder = used.download()
        cache = tmp_path / "cache" / "tether" / "artifacts"
        assert folder == cache / "admin" / "arts" / "net" / used.digest  # the key's user
        assert (folder / "model.pt").read_bytes() == big
        stamp = (folder / "model.pt").stat().st_mtime_ns
        assert used.download() == folder
        assert (folder / "model.pt").stat().st_mtime_ns == stamp  # not fetched again
        report_file = tmp_path / "report.md"
        report_file.write_text("# eval")
        online = user.log_artifact(report_file, type="report")  # sent by the uploader
        assert user.use_artifact("report.md:v0").digest == online.digest  # not synced yet
        with pytest.raises(ValueError, match=r"'net:v9' is not in project 'arts'"):
            user.use_artifact("net:v9")
        damaged = bytearray(big)
        damaged[5] ^= 0xFF
        (folder / "model.pt").write_bytes(bytes(damaged))
        used.download()
        assert (folder / "model.pt").read_bytes() == big
    with Api(server.base_url, server.api_key) as api:  # the online run sent its use record
        detail = api.client.get_json("/projects/arts/artifacts/net/v0")
        assert [c["id"] for c in detail["consumers"]] == [user.id]
        api.artifact("arts/net:v0").set_alias("prod")
        assert api.artifact("arts/net:prod").digest == logged.digest
        sent = api.artifact("arts/report.md:latest")
        assert (sent.version, sent.digest, sent.type) == ("v0", online.digest, "report")

    # The CLI with a key asks the server.
    listed_cli = _cli(tmp_path, env, "ls", "arts", "--type", "model", "--json")
    assert [row["name"] for row in json.loads(listed_cli.stdout)] == ["net"], listed_cli.stderr
    got = _cli(tmp_path, env, "get", "arts/net:prod", "fetched")
    assert got.returncode == 0, got.stderr
    assert (tmp_path / "fetched" / "model.pt").read_bytes() == big


def _cli(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("TETHER_")}
    return subprocess.run(
        [sys.executable, "-m", "tether.cli", "artifact", *args],
        cwd=cwd,
        env={**full, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_with_an_s3_store_files_come_straight_from_the_store(
    s3: S3Endpoint,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in s3.environ().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TETHER_SERVER_BLOB_URL", s3.blob_url)
    data = os.urandom(16 * MiB + 10)  # two chunks: two presigned URLs, read in order
    (tmp_path / "w.bin").write_bytes(data)
    with LiveServer(tmp_path / "server") as live:
        with tether.init(
            project="s3", dir=tmp_path, console="off", mode="offline", system=0
        ) as run:
            run.log_artifact(tmp_path / "w.bin", name="w")
        report = sync_paths(
            [tmp_path], base_url=live.base_url, api_key=live.api_key, progress=False
        )
        assert report.ok, report
        with Api(live.base_url, live.api_key) as api:
            artifact = api.artifact("s3/w:latest")
    # The server is gone: only presigned URLs to the store can bring the bytes now.
    folder = artifact.download(tmp_path / "out")
    assert (folder / "w.bin").read_bytes() == data


def test_set_alias_inside_a_run_is_a_record_even_with_the_server_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An alias set on a used (server) version inside a run is written to the run, not sent:
    with the server gone it neither raises nor waits, and a later sync moves the alias."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("TETHER_UPLOAD_TIMEOUT_S", "0")
    (tmp_path / "w.bin").write_bytes(b"weights")
    live = LiveServer(tmp_path / "data").start()
    try:
        with tether.init(project="al", dir=tmp_path / "train", mode="offline", console="off",
                         system=0) as run:  # fmt: skip
            logged = run.log_artifact(tmp_path / "w.bin", name="net")
        assert sync_paths(
            [tmp_path / "train"], base_url=live.base_url, api_key=live.api_key, progress=False
        ).ok
        monkeypatch.setenv("TETHER_BASE_URL", live.base_url)
        monkeypatch.setenv("TETHER_API_KEY", live.api_key)
        with tether.init(project="al", dir=tmp_path / "eval", console="off", system=0) as user:
            used = user.use_artifact("net:latest")
            assert (used.version, used.committed) == ("v0", True)
            live.stop()  # nothing listens at the base URL any more
            used.set_alias("best")  # before the fix: ServerUnreachableError into training
            assert "best" in used.aliases
    finally:
        live.stop()
    # The alias is a record of the run, waiting on disk; the next sync carries it.
    again = LiveServer(tmp_path / "data", api_key=live.api_key).start()
    try:
        assert sync_paths(
            [tmp_path / "eval"], base_url=again.base_url, api_key=again.api_key, progress=False
        ).ok
        with Api(again.base_url, again.api_key) as api:
            assert api.artifact("al/net:best").digest == logged.digest
            with pytest.raises(ValueError, match="not in project"):
                api.artifact("al/net:prod")
    finally:
        again.stop()


def test_wait_gives_an_online_runs_artifact_the_servers_number(
    server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another machine logged v0 first, so this directory's local v0 is the server's v1:
    ``wait()`` takes the server's number once the uploader's chunks committed it. Before it
    existed, ``committed`` stayed False and ``version`` the local number forever."""
    (tmp_path / "first.bin").write_bytes(b"another machine's weights")
    with tether.init(project="waits", dir=tmp_path / "elsewhere", console="off",
                     mode="offline", system=0) as elsewhere:  # fmt: skip
        elsewhere.log_artifact(tmp_path / "first.bin", name="net")
    assert sync_paths(
        [tmp_path / "elsewhere"], base_url=server.base_url, api_key=server.api_key, progress=False
    ).ok
    monkeypatch.setenv("TETHER_BASE_URL", server.base_url)
    monkeypatch.setenv("TETHER_API_KEY", server.api_key)
    (tmp_path / "mine.bin").write_bytes(os.urandom(17 * MiB))  # two chunks
    with tether.init(project="waits", dir=tmp_path / "here", console="off", system=0) as run:
        art = run.log_artifact(tmp_path / "mine.bin", name="net", aliases=["best"],
                               metadata={"epoch": 2})  # fmt: skip
        assert (art.version, art.committed) == ("v0", False)  # the local index's number
        assert art.wait(timeout=120) is art
        assert (art.version, art.committed) == ("v1", True)
        assert sorted(art.aliases) == ["best", "latest"]
        assert art.producer == {"id": run.id, "name": run.name}
        assert art.metadata == {"epoch": 2}
        assert art.wait(timeout=0) is art  # committed: no request, no wait
        # The same files again: the server's v1, not a new version.
        again = run.log_artifact(tmp_path / "mine.bin", name="net").wait(timeout=120)
        assert (again.version, again.digest) == ("v1", art.digest)
        # A name the server has no version of yet: waited for after the run (finish sends it).
        (tmp_path / "late.bin").write_bytes(b"late")
        late = run.log_artifact(tmp_path / "late.bin", name="late")
    with Api(server.base_url, server.api_key) as api:
        assert [
            v["version"] for v in api.client.get_json("/projects/waits/artifacts/net/versions")
        ] == ["v1", "v0"]
    assert late.wait(timeout=120).version == "v0"  # sent by the run's finish meanwhile

    with tether.init(project="waits", dir=tmp_path / "off", console="off", mode="offline",
                     system=0) as offline:  # fmt: skip
        local = offline.log_artifact(tmp_path / "late.bin", name="late")
    with pytest.raises(tether.UsageError, match=r"late:v0 is known only to this machine"):
        local.wait()
