"""Version numbers known offline: one index per runs directory, project and artifact name.

``<dir>/tether/artifacts/<project>/<name>.json`` lists the versions this directory's runs
logged (``v0, v1, …`` in the order they were logged, one per distinct digest) and the aliases
they set; ``<name>/<digest>.json`` beside it keeps each version's files, so
``use_artifact`` and ``download`` work offline. Every change happens under an exclusive
``flock`` of ``<name>.lock`` (two processes of one job, two jobs of one folder) and is
written to a temporary file renamed into place, so a reader never sees half an index.

The server owns the real numbers: a version another machine logged meanwhile makes the
server's ``v3`` this index's ``v2``. An ``Artifact`` built from here says so with
``committed=False``.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from tether import _tokens
from tether.artifacts.artifact import Artifact, Reader
from tether.artifacts.manifest import ArtifactFile, check_name, is_version
from tether.media.blobs import read_blob

INDEX_DIR: Final = "artifacts"


class LocalIndex:
    """The artifacts of one project logged under one runs directory (``<dir>/tether``)."""

    def __init__(self, runs_root: Path, project: str) -> None:
        if not project or "/" in project or project in (".", "..") or "\x00" in project:
            raise ValueError(f"project {project!r:.80} cannot name a folder of artifacts")
        self.folder = Path(runs_root) / INDEX_DIR / project

    # -- reading ----------------------------------------------------------------------------
    def load(self, name: str) -> dict[str, Any]:
        """The index of ``name``: ``{"versions": [...], "aliases": {alias: "vN"}}``."""
        path = self.folder / f"{check_name(name)}.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"versions": [], "aliases": {}}
        except (OSError, ValueError) as exc:
            raise OSError(f"the artifact index {path} cannot be read ({exc})") from exc
        if not isinstance(data, dict):
            return {"versions": [], "aliases": {}}
        data.setdefault("versions", [])
        data.setdefault("aliases", {})
        return data

    def names(self) -> list[str]:
        """The artifact names this directory logged in the project."""
        if not self.folder.is_dir():
            return []
        return sorted(p.stem for p in self.folder.glob("*.json") if not p.stem.startswith("."))

    def resolve(self, name: str, ref: str) -> dict[str, Any]:
        """The version entry ``ref`` (``vN`` or an alias) names; ``ValueError`` naming the
        versions and aliases there are."""
        data = self.load(name)
        version = ref if is_version(ref) else data["aliases"].get(ref)
        for entry in data["versions"]:
            if entry.get("version") == version:
                return dict(entry)
        raise ValueError(_unknown(name, ref, data))

    def artifact(self, name: str, ref: str, *, project: str) -> Artifact:
        """The version ``ref`` names as an ``Artifact`` reading the producing run's blobs."""
        entry = self.resolve(name, ref)
        return Artifact(
            name=name,
            version=entry["version"],
            type=str(entry.get("type", "")),
            digest=entry["digest"],
            files=self.files(name, entry["digest"]),
            metadata=entry.get("metadata") or {},
            aliases=self.aliases_of(name, entry["version"]),
            committed=False,
            project=project,
            reader=blob_reader(Path(entry["run_dir"])),
            producer={"id": entry.get("run")},
        )

    def versions(self, name: str) -> list[dict[str, Any]]:
        """Every version entry of ``name``, oldest first, each with its ``aliases``."""
        data = self.load(name)
        return [{**e, "aliases": _aliases_of(data, e["version"])} for e in data["versions"]]

    def files(self, name: str, digest: str) -> list[ArtifactFile]:
        path = self.folder / check_name(name) / f"{digest}.json"
        listed = json.loads(path.read_text(encoding="utf-8"))
        return [ArtifactFile.from_info(entry) for entry in listed]

    # -- writing ----------------------------------------------------------------------------
    def add(
        self,
        name: str,
        *,
        digest: str,
        type: str,
        files: Sequence[ArtifactFile],
        metadata: Mapping[str, Any],
        aliases: Sequence[str],
        run_id: str,
        run_dir: Path,
    ) -> dict[str, Any]:
        """Record a logged version; returns its entry (an existing one when the digest is
        already a version: its aliases move, no new version)."""
        manifest = self.folder / name / f"{digest}.json"
        if not manifest.exists():
            _write_atomic(manifest, json.dumps([f.to_info() for f in files]))
        with self._locked(name):
            data = self.load(name)
            entry = next((e for e in data["versions"] if e.get("digest") == digest), None)
            if entry is None:
                entry = {
                    "version": f"v{len(data['versions'])}",
                    "digest": digest,
                    "type": type,
                    "metadata": dict(metadata),
                    "size": sum(f.size for f in files),
                    "files": len(files),
                    "run": run_id,
                    "run_dir": str(run_dir),
                    "created": time.time(),
                }
                data["versions"].append(entry)
            for alias in aliases:
                data["aliases"][alias] = entry["version"]
            self._save(name, data)
        return {**entry, "aliases": _aliases_of(data, entry["version"])}

    def set_alias(self, name: str, version: str, alias: str, *, remove: bool = False) -> None:
        with self._locked(name):
            data = self.load(name)
            if remove:
                if data["aliases"].get(alias) == version:
                    del data["aliases"][alias]
            else:
                data["aliases"][alias] = version
            self._save(name, data)

    def aliases_of(self, name: str, version: str) -> list[str]:
        return _aliases_of(self.load(name), version)

    def _save(self, name: str, data: dict[str, Any]) -> None:
        _write_atomic(self.folder / f"{name}.json", json.dumps(data, indent=1, sort_keys=True))

    @contextlib.contextmanager
    def _locked(self, name: str) -> Iterator[None]:
        import fcntl

        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder / f"{name}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock


def blob_reader(run_dir: Path) -> Reader:
    """A reader of files whose chunks are blobs of ``run_dir``."""

    def read(file: ArtifactFile) -> Iterator[bytes]:
        for sha256 in file.blobs:
            yield read_blob(run_dir, sha256)

    return read


def _aliases_of(data: Mapping[str, Any], version: str) -> list[str]:
    return sorted(alias for alias, v in data["aliases"].items() if v == version)


def _unknown(name: str, ref: str, data: Mapping[str, Any]) -> str:
    versions = [str(e.get("version")) for e in data["versions"]]
    if not versions:
        return (
            f"artifact {name!r} has no version here; log one with run.log_artifact(path, "
            f"name={name!r}), or check the name (`tether artifact ls PROJECT`)"
        )
    shown = ", ".join(versions[:5] + (["…"] if len(versions) > 10 else []) + versions[5:][-5:])
    aliases = ", ".join(sorted(data["aliases"])) or "none"
    return (
        f"artifact {name!r} has no version {ref!r}: its versions are {shown}, its aliases "
        f"{aliases}; ask for one of these, e.g. '{name}:{versions[-1]}'"
    )


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.parent / f".tmp-{os.getpid()}-{_tokens.token_hex(6)}"
    try:
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
