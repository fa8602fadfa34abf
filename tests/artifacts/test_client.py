"""log_artifact / use_artifact offline: blobs, records, snapshots, dedup, local versions."""

from __future__ import annotations

import hashlib
import http.server
import os
import subprocess
import sys
import threading
import warnings
from pathlib import Path
from typing import Any

import pytest

import tether
from tether import _diagnostics
from tether.artifacts import chunks, manifest
from tether.artifacts.manifest import ArtifactFile
from tether.media.blobs import BLOBS_DIR
from tether.store import format as fmt
from tether.store import records
from tether.store.segment_names import segment_paths

from ..test_no_loss import small_disk  # noqa: F401  (a real 2 MiB tmpfs)

MiB = 1024 * 1024


def _artifact_records(run_dir: Path) -> list[dict[str, Any]]:
    found = []
    for path in segment_paths(run_dir):
        for frame in fmt.scan_frames(path.read_bytes()).frames:
            for raw in frame.records:
                decoded = records.decode_record(raw)
                if isinstance(decoded, records.ArtifactOp):
                    found.append(decoded.info)
    return found


def _init(run_dir: Path, **kwargs: Any) -> tether.Run:
    return tether.init(project="p", dir=run_dir, console="off", mode="offline", system=0, **kwargs)


def test_a_file_is_logged_as_blobs_and_a_log_record(run_dir: Path) -> None:
    src = run_dir / "model.pt"
    src.write_bytes(b"weights" * 1000)
    with _init(run_dir) as run:
        art = run.log_artifact(src, metadata={"acc": 0.5}, aliases=["best"])
    assert (art.name, art.version, art.type, art.committed) == ("model.pt", "v0", "model", False)
    assert art.aliases == ["best", "latest"]  # a new version is the latest one
    sha = hashlib.sha256(src.read_bytes()).hexdigest()
    assert art.files == [ArtifactFile("model.pt", 7000, sha)]
    assert art.digest == manifest.digest_of([{"path": "model.pt", "size": 7000, "sha256": sha}])
    assert (run.dir / BLOBS_DIR / sha).read_bytes() == src.read_bytes()
    [info] = _artifact_records(run.dir)
    assert info == {
        "op": "log",
        "name": "model.pt",
        "type": "model",
        "digest": art.digest,
        "metadata": {"acc": 0.5},
        "aliases": ["best"],
        "files": [{"path": "model.pt", "size": 7000, "sha256": sha}],
    }


def test_a_directory_versions_by_digest_and_use_offline(run_dir: Path) -> None:
    folder = run_dir / "ckpt"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "w.bin").write_bytes(b"w" * 2500)
    (folder / "a.txt").write_text("a")
    with _init(run_dir) as run:
        first = run.log_artifact(folder, name="ckpt", type="dataset")
        again = run.log_artifact(folder, name="ckpt", type="dataset", aliases=["same"])
        (folder / "a.txt").write_text("b")
        second = run.log_artifact(folder, name="ckpt", type="dataset")
    assert [f.path for f in first.files] == ["a.txt", "sub/w.bin"]
    assert (first.version, again.version, second.version) == ("v0", "v0", "v1")
    assert again.digest == first.digest != second.digest
    with _init(run_dir) as reader:
        used = reader.use_artifact("ckpt:same")
        latest = reader.use_artifact("ckpt")
    assert (used.version, used.digest, latest.version) == ("v0", first.digest, "v1")
    assert used.committed is False and used.aliases == ["same"]
    out = used.download(run_dir / "out")
    assert (out / "sub" / "w.bin").read_bytes() == b"w" * 2500
    assert (out / "a.txt").read_text() == "a"
    assert b"".join(used.read("sub/w.bin")) == b"w" * 2500  # one file, without a folder
    with pytest.raises(FileNotFoundError, match=r"ckpt:v0 has no file 'b\.txt'; its files: a\.txt"):
        used.read("b.txt")
    assert _artifact_records(reader.dir) == [
        {"op": "use", "name": "ckpt", "ref": "same", "digest": first.digest},
        {"op": "use", "name": "ckpt", "ref": "latest", "digest": second.digest},
    ]


def test_what_is_logged_is_what_was_read_when_training_overwrites_it(run_dir: Path) -> None:
    # torch.save truncates and rewrites the same inode: a hard link would follow it.
    src = run_dir / "last.ckpt"
    before = os.urandom(300_000)
    src.write_bytes(before)
    with _init(run_dir) as run:
        art = run.log_artifact(src, name="last")
        with open(src, "r+b") as handle:  # in place, as torch.save(path) does
            handle.truncate(0)
            handle.write(b"x" * 100)
    [file] = art.files
    assert (file.size, file.sha256) == (len(before), hashlib.sha256(before).hexdigest())
    out = art.download(run_dir / "out")
    assert (out / "last.ckpt").read_bytes() == before


def test_ten_checkpoints_that_change_at_the_end_store_unchanged_chunks_once(
    run_dir: Path,
) -> None:
    src = run_dir / "model.ckpt"
    src.write_bytes(os.urandom(40 * MiB))  # chunks of 16, 16 and 8 MiB
    with _init(run_dir) as run:
        versions = []
        for i in range(10):
            with open(src, "r+b") as handle:  # only the head changes: the last 1 MiB
                handle.seek(39 * MiB)
                handle.write(bytes([i]) * MiB)
            versions.append(run.log_artifact(src, name="ft"))
    assert [a.version for a in versions] == [f"v{i}" for i in range(10)]
    assert all(len(a.files[0].chunks) == 3 for a in versions)
    assert len({a.files[0].chunks[:2] for a in versions}) == 1
    blobs = list((run.dir / BLOBS_DIR).iterdir())
    assert len(blobs) == 2 + 10  # the two unchanged chunks once, one last chunk per version
    stored = sum(p.stat().st_size for p in blobs)
    assert stored == 2 * chunks.CHUNK_BYTES + 10 * 8 * MiB  # 112 MiB for 400 MiB logged


def test_bad_input_is_refused_naming_it_and_the_fix(run_dir: Path) -> None:
    folder = run_dir / "data"
    folder.mkdir()
    (folder / "ok.txt").write_text("ok")
    outside = run_dir / "secret.txt"
    outside.write_text("s")
    with _init(run_dir) as run:
        here = run.log_artifact(run_dir, name="cwd")  # the runs folder inside is left out
        assert [f.path for f in here.files] == ["data/ok.txt", "secret.txt"]
        with pytest.raises(FileNotFoundError, match=r"'nope\.pt' does not exist"):
            run.log_artifact("nope.pt")
        for bad in ("a/b", "..", "x..y", "", "-lead"):
            with pytest.raises(ValueError, match=r"without '/' or '\.\.'"):
                run.log_artifact(folder, name=bad)
        with pytest.raises(ValueError, match=r"'v2' .*names a version"):
            run.log_artifact(folder, aliases=["v2"])
        with pytest.raises(TypeError, match="metadata must hold numbers"):
            run.log_artifact(folder, metadata={"x": object()})
        with pytest.raises(ValueError, match=r"metadata\['n'\] = 18446744073709551615 is outside"):
            run.log_artifact(folder, metadata={"n": 2**64 - 1})
        deep: dict[str, Any] = {}
        for _ in range(20):
            deep = {"d": deep}
        with pytest.raises(ValueError, match="nests deeper than 16 levels"):
            run.log_artifact(folder, metadata=deep)
        with pytest.raises(ValueError, match="65 aliases for one version: at most 64"):
            run.log_artifact(folder, aliases=[f"a{i}" for i in range(65)])
        art = run.log_artifact(folder, aliases=["best"])
        assert art.name == "data"
        (folder / "a\\b.txt").write_text("x")
        with pytest.raises(ValueError, match=r"under the name 'a\\\\b\.txt' .*rename it"):
            run.log_artifact(folder)
        (folder / "a\\b.txt").unlink()
        bad_bytes = os.path.join(os.fsencode(folder), b"\xff.bin")
        open(bad_bytes, "wb").close()
        with pytest.raises(ValueError, match="not UTF-8"):
            run.log_artifact(folder)
        os.unlink(bad_bytes)
        (folder / "link.txt").symlink_to(outside)
        with pytest.raises(ValueError, match=r"link\.txt' is a symlink to .*secret\.txt.*outside"):
            run.log_artifact(folder)
        (folder / "link.txt").unlink()
        (folder / "inside.txt").symlink_to(folder / "ok.txt")  # inside: followed
        linked = run.log_artifact(folder)
        assert [f.path for f in linked.files] == ["inside.txt", "ok.txt"]
        assert linked.files[0].sha256 == linked.files[1].sha256
        with pytest.raises(
            ValueError,
            match=r"no version 'v99': its versions are v0, v1, its "
            r"aliases best, latest; .*'data:v1'",
        ):
            run.use_artifact("data:v99")
        with pytest.raises(ValueError, match="no version 'prod'"):
            run.use_artifact("data:prod")
        with pytest.raises(ValueError, match="'other' has no version here"):
            run.use_artifact("other:latest")
        with pytest.raises(ValueError, match="neither a version"):
            run.use_artifact("data:../x")
        with pytest.raises(ValueError, match=r"alias 'v1' is not accepted"):
            art.set_alias("v1")
        art.set_alias("prod")
        assert run.use_artifact("data:prod").digest == art.digest
    with pytest.raises(tether.UsageError, match="it can no longer change"):
        run.log_artifact(folder)
    ops = [info["op"] for info in _artifact_records(run.dir)]
    assert ops == ["log", "log", "log", "alias", "use"]


def test_a_full_run_disk_is_a_warning_not_an_error(
    small_disk: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    big = tmp_path / "big.bin"  # the user's file is elsewhere; the run's disk has 2 MiB
    big.write_bytes(os.urandom(3 * MiB))
    _diagnostics.reset_after_fork()  # rate limits of earlier tests must not hide a warning
    with _init(small_disk) as run:
        with pytest.warns(
            tether.TetherWarning,
            match=r"'big' is not logged: could not store a chunk .*No space left",
        ):
            art = run.log_artifact(big, name="big")
        assert art.version is None and art.files == []
        run.log({"loss": 1.0})  # training goes on
    assert [p.name for p in (run.dir / BLOBS_DIR).iterdir()] == []  # no half chunk left
    assert _artifact_records(run.dir) == []  # nothing names chunks that are not there


LOG_FROM_CHILD = """
import multiprocessing, os
import tether

def child(i):
    run = tether.current_run()
    with open(f"f{i}.bin", "wb") as handle:
        handle.write(bytes([i]) * 1000)
    digest = run.log_artifact(f"f{i}.bin", name="shared").digest
    # one write per line: unbuffered print() writes the text and the newline apart, and four
    # children sharing the pipe interleaved them
    os.write(1, f"{digest}\\n".encode())

if __name__ == "__main__":
    with tether.init(project="p", dir=".", console="off", mode="offline", system=0) as run:
        ctx = multiprocessing.get_context("fork")
        procs = [ctx.Process(target=child, args=(i,)) for i in range(4)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        assert all(p.exitcode == 0 for p in procs), [p.exitcode for p in procs]
"""


def test_processes_of_a_run_log_versions_of_one_name_at_once(run_dir: Path) -> None:
    from tether.artifacts.local_index import LocalIndex

    from ..conftest import run_script

    digests = run_script(run_dir, LOG_FROM_CHILD, timeout=120).stdout.split()
    assert len(set(digests)) == 4
    versions = LocalIndex(run_dir / "tether", "p").versions("shared")
    assert sorted(v["version"] for v in versions) == ["v0", "v1", "v2", "v3"]
    assert {v["digest"] for v in versions} == set(digests)  # under the lock, none lost
    [run] = [p for p in (run_dir / "tether").iterdir() if p.name.startswith("run-")]
    logged = [info["digest"] for info in _artifact_records(run) if info["op"] == "log"]
    assert sorted(logged) == sorted(digests)  # each child's record, in its own segment


def test_a_disabled_run_checks_log_artifact_and_stores_nothing(run_dir: Path) -> None:
    (run_dir / "m.pt").write_bytes(b"m")
    with _init(run_dir) as run:
        logged = run.log_artifact(run_dir / "m.pt", name="m")
    with tether.init(project="p", dir=run_dir, mode="disabled") as off:
        art = off.log_artifact(run_dir / "m.pt", name="m")
        assert (art.name, art.version, art.files) == ("m", None, [])
        with pytest.raises(ValueError, match="without '/'"):
            off.log_artifact(run_dir / "m.pt", name="a/b")
        assert off.use_artifact("m:v0").digest == logged.digest  # the local index answers
    assert len([p for p in (run_dir / "tether").iterdir() if p.name.startswith("run-")]) == 1


def test_a_damaged_stored_chunk_is_never_put_in_place(run_dir: Path) -> None:
    from tether.artifacts.cache import ArtifactIntegrityError

    (run_dir / "w.bin").write_bytes(b"good" * 100)
    with _init(run_dir) as run:
        art = run.log_artifact(run_dir / "w.bin", name="w")
    (run.dir / BLOBS_DIR / art.files[0].sha256).write_bytes(b"evil" * 100)  # bit rot
    with pytest.raises(ArtifactIntegrityError, match=r"'w\.bin' came back as 400 bytes"):
        art.download(run_dir / "out")
    assert list((run_dir / "out").iterdir()) == []  # nothing wrong left, no temporary file
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    stale = run_dir / "out" / f".tmp-{dead.stdout.strip()}-0a1b2c"  # a killed download's
    stale.write_bytes(b"half")
    (run.dir / BLOBS_DIR / art.files[0].sha256).write_bytes(b"good" * 100)
    assert (art.download(run_dir / "out") / "w.bin").read_bytes() == b"good" * 100
    assert sorted(p.name for p in (run_dir / "out").iterdir()) == ["w.bin"]


class _Busy(http.server.BaseHTTPRequestHandler):
    """A real server that answers every request 503, as an overloaded tether server does."""

    def _busy(self) -> None:
        body = b'{"detail": "busy"}'
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PUT = do_POST = _busy  # noqa: N815  (the names http.server calls)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.parametrize("server", ["down", "busy"])
def test_use_artifact_with_the_server_down_or_failing_falls_back_to_the_local_index(
    server: str, run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (run_dir / "m.pt").write_bytes(b"m")
    with _init(run_dir) as run:
        logged = run.log_artifact(run_dir / "m.pt", name="m")
    busy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Busy)
    thread = threading.Thread(target=busy.serve_forever, daemon=True)
    thread.start()
    port = busy.server_address[1]
    if server == "down":
        busy.shutdown()
        busy.server_close()  # nobody listens there any more
    monkeypatch.setenv("TETHER_BASE_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("TETHER_API_KEY", "tth_nobody")
    monkeypatch.setenv("TETHER_UPLOAD_TIMEOUT_S", "1")
    _diagnostics.reset_after_fork()  # rate limits of earlier tests must not hide a warning
    online = tether.init(project="p", dir=run_dir, console="off", system=0)
    try:
        with pytest.warns(tether.TetherWarning, match=r"use_artifact\('m:latest'\).*local index"):
            used = online.use_artifact("m")
    finally:
        with warnings.catch_warnings():  # the uploader's own warnings: not this test's
            warnings.simplefilter("ignore")
            online.finish()
        if server == "busy":
            busy.shutdown()
            busy.server_close()
    assert (used.version, used.digest, used.committed) == ("v0", logged.digest, False)
