"""log_artifact / use_artifact offline: blobs, records, snapshots, dedup, local versions."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import tether
from tether.artifacts import manifest
from tether.artifacts.manifest import ArtifactFile
from tether.media.blobs import BLOBS_DIR
from tether.store import format as fmt
from tether.store import records
from tether.store.segment_names import segment_paths

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
    assert _artifact_records(reader.dir) == [
        {"op": "use", "name": "ckpt", "ref": "same", "digest": first.digest},
        {"op": "use", "name": "ckpt", "ref": "latest", "digest": second.digest},
    ]
