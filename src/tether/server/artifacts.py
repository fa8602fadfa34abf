"""Artifact records in: each ``K_ARTIFACT`` record's info checked into a typed operation.

An artifact record is ``[14, time, info]`` (``docs/format.md``) with ``info["op"]`` one of
``log`` (a new version's files), ``use`` (this run consumed a version: lineage) and ``alias``
(move or remove an alias). Everything the database cannot hold, or no reader could use (a
path that climbs out with ``..``, a chunk list that does not fit the size, a digest that is
not the files' own), is a ``BadRecordError`` naming the field (``artifact.<name>``): the upload
answers 422 and the client skips that record, as for any other.

The files' bytes are not here: each is a blob (or a list of chunk blobs) that the client sends
before the segment naming it. Storing the operations, and committing a version once its blobs
are all there, is ``tether.server.artifact_store``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from tether.server.blobs import is_sha256
from tether.server.ingest_checks import INT64, BadRecordError, check_int, check_number, text
from tether.server.media import _json_of  # one JSON check for media meta and artifact metadata

NAME_CHARS: Final = 128  # artifacts.name, artifact_aliases.alias, artifact_uses.ref
TYPE_CHARS: Final = 64
PATH_CHARS: Final = 1024
MAX_FILES: Final = 100_000
MAX_ALIASES: Final = 64
# A name or alias: no path separator, no ':' (it separates name and ref), no control
# character; "." and ".." are refused apart.
NAME_PATTERN: Final = r"^[^/\\:\x00-\x1f\x7f]{1,128}$"
_NAME = re.compile(NAME_PATTERN)
_VERSION_REF = re.compile(r"^v(0|[1-9][0-9]{0,9})$")
LATEST: Final = "latest"


@dataclass(frozen=True)
class FileEntry:
    path: str
    size: int
    sha256: str
    chunks: list[str] | None  # None: the file is one blob

    def blobs(self) -> list[str]:
        """The blobs holding the file's bytes, in order."""
        return list(self.chunks) if self.chunks else [self.sha256]


@dataclass(frozen=True)
class LogOp:
    time: float
    name: str
    type: str
    digest: str
    metadata: dict[str, Any]
    aliases: list[str]
    files: list[FileEntry]


@dataclass(frozen=True)
class UseOp:
    time: float
    name: str
    ref: str
    digest: str


@dataclass(frozen=True)
class AliasOp:
    time: float
    name: str
    digest: str
    alias: str
    remove: bool


ArtifactOp = LogOp | UseOp | AliasOp


def is_version_ref(ref: str) -> bool:
    """``v0``, ``v1``, ...: a version number, never an alias."""
    return _VERSION_REF.fullmatch(ref) is not None


def check_name(value: Any, field: str) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value) or value in (".", ".."):
        raise BadRecordError(
            field,
            f"{field} is {_typed(value)}: a name is 1 to {NAME_CHARS} characters without '/', "
            "'\\', ':' or control characters, and not '.' or '..'",
        )
    return value


def check_alias(value: Any, field: str) -> str:
    alias = check_name(value, field)
    if is_version_ref(alias):
        raise BadRecordError(field, f"{field} {alias!r} looks like a version number (vN)")
    return alias


def op_of(when: Any, info: Any) -> ArtifactOp:
    """The operation of an artifact record's ``info``; ``BadRecordError`` for what cannot be
    stored."""
    time = check_number(when, "time")
    if not isinstance(info, dict):
        raise BadRecordError("artifact", f"artifact info is {_typed(info)}, not a mapping")
    op = info.get("op")
    name = check_name(info.get("name"), "artifact.name")
    if op == "log":
        return _log_of(time, name, info)
    if op == "use":
        ref = info.get("ref")
        if not isinstance(ref, str) or not _NAME.fullmatch(ref):
            raise BadRecordError("artifact.ref", f"artifact.ref is {_typed(ref)}: vN or an alias")
        return UseOp(time, name, ref, _sha256(info.get("digest"), "artifact.digest"))
    if op == "alias":
        remove = info.get("remove", False)
        if not isinstance(remove, bool):
            raise BadRecordError("artifact.remove", f"artifact.remove is {_typed(remove)}")
        return AliasOp(
            time,
            name,
            _sha256(info.get("digest"), "artifact.digest"),
            check_alias(info.get("alias"), "artifact.alias"),
            remove,
        )
    raise BadRecordError("artifact.op", f"artifact.op is {_typed(op)}, not log, use or alias")


def _log_of(time: float, name: str, info: dict[str, Any]) -> LogOp:
    kind = info.get("type")
    if not isinstance(kind, str) or not 0 < len(kind) <= TYPE_CHARS:
        raise BadRecordError(
            "artifact.type", f"artifact.type is {_typed(kind)}, not text of 1 to {TYPE_CHARS}"
        )
    metadata = info.get("metadata", {})
    if not isinstance(metadata, dict):
        raise BadRecordError("artifact.metadata", f"artifact.metadata is {_typed(metadata)}")
    aliases = info.get("aliases", [])
    if not isinstance(aliases, list) or len(aliases) > MAX_ALIASES:
        raise BadRecordError(
            "artifact.aliases", f"artifact.aliases must be a list of at most {MAX_ALIASES} names"
        )
    raw_files = info.get("files")
    if not isinstance(raw_files, list) or len(raw_files) > MAX_FILES:
        raise BadRecordError(
            "artifact.files", f"artifact.files must be a list of at most {MAX_FILES} files"
        )
    files = [_file_of(raw, index) for index, raw in enumerate(raw_files)]
    if len({f.path for f in files}) != len(files):
        raise BadRecordError("artifact.files.path", "artifact.files names a path twice")
    digest = _sha256(info.get("digest"), "artifact.digest")
    actual = _digest_of(files)
    if actual != digest:
        raise BadRecordError(
            "artifact.digest",
            f"artifact.digest {digest} is not the digest of its files ({actual})",
        )
    return LogOp(
        time,
        name,
        text(kind),
        digest,
        _json_of(metadata, "artifact.metadata", [0]),
        list(dict.fromkeys(check_alias(a, "artifact.aliases") for a in aliases)),
        files,
    )


def _file_of(raw: Any, index: int) -> FileEntry:
    from tether.artifacts.chunks import CHUNK_BYTES

    where = f"artifact.files[{index}]"
    if not isinstance(raw, dict):
        raise BadRecordError(where, f"{where} is {_typed(raw)}, not a mapping")
    path = raw.get("path")
    if (
        not isinstance(path, str)
        or not 0 < len(path) <= PATH_CHARS
        or path.startswith("/")
        or "\\" in path
        or "\x00" in path
        or any(part in ("", ".", "..") for part in path.split("/"))
    ):
        raise BadRecordError(
            f"{where}.path",
            f"{where}.path is {_typed(path)}: a relative POSIX path of 1 to "
            f"{PATH_CHARS} characters without '.', '..' or empty parts",
        )
    size = check_int(raw.get("size"), f"{where}.size", (0, INT64[1]))
    sha256 = _sha256(raw.get("sha256"), f"{where}.sha256")
    chunks = raw.get("chunks")
    if chunks is None:
        # One blob holds at most CHUNK_BYTES: a larger size is a lie (and sizes near 2**63
        # would overflow the version's total).
        if size > CHUNK_BYTES:
            raise BadRecordError(
                f"{where}.size",
                f"{where}.size is {size}: a file without chunks holds at most {CHUNK_BYTES} "
                "bytes (a larger file lists one chunk per CHUNK_BYTES)",
            )
    else:
        if not isinstance(chunks, list) or not all(is_sha256(c) for c in chunks):
            raise BadRecordError(
                f"{where}.chunks", f"{where}.chunks must be a list of sha256 hashes"
            )
        expected = -(-size // CHUNK_BYTES)
        if len(chunks) != expected or expected < 2:
            raise BadRecordError(
                f"{where}.chunks",
                f"{where}: {size} bytes make {expected} chunks of {CHUNK_BYTES}, not {len(chunks)}",
            )
    return FileEntry(text(path), size, sha256, chunks)


def _digest_of(files: list[FileEntry]) -> str:
    from tether.artifacts.manifest import digest_of

    return digest_of([{"path": f.path, "size": f.size, "sha256": f.sha256} for f in files])


def _sha256(value: Any, field: str) -> str:
    if not is_sha256(value):
        raise BadRecordError(field, f"{field} is {_typed(value)}, not 64 lowercase hex digits")
    return str(value)


def _typed(value: Any) -> str:
    return f"{type(value).__name__} {repr(value)[:60]}"
