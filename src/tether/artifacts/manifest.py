"""What an artifact version is made of, and the fields of its ``ARTIFACT`` records.

One owner for these facts, shared by the client, ``tether sync`` and the server:

- **names**: an artifact name is 1 to 128 of ``A-Z a-z 0-9 . _ -``, starting with a letter
  or digit, never ``..`` (it is part of a URL and of a cache path); an alias is the same up
  to 64 characters and never looks like a version (``v3``);
- **refs**: ``name:ref`` where ``ref`` is ``vN`` or an alias (``latest`` when left out);
- **files**: ``ArtifactFile(path, size, sha256, chunks)``, a relative POSIX path;
- **digest**: ``digest_of(files)``, the sha256 of the msgspec JSON of the files sorted by
  path with the keys ``path, size, sha256`` only: equal contents, equal digest, whoever
  logged them (the server recomputes it and refuses a record whose digest differs);
- **records**: ``log_info``, ``use_info``, ``alias_info`` build ``info`` of
  ``[14, time, info]`` (docs/format.md, docs/artifacts.md).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from tether.artifacts.chunks import is_chunked
from tether.media.blobs import is_sha256

NAME_PATTERN: Final = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
ALIAS_PATTERN: Final = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
VERSION_PATTERN: Final = r"v(0|[1-9][0-9]{0,17})"
_NAME: Final = re.compile(NAME_PATTERN)
_ALIAS: Final = re.compile(ALIAS_PATTERN)
_VERSION: Final = re.compile(VERSION_PATTERN)
LATEST: Final = "latest"
OPS: Final = ("log", "use", "alias")
# A version lists at most this many files: its record must fit well inside one upload.
MAX_FILES: Final = 10_000
MAX_PATH_CHARS: Final = 1024
MAX_ALIASES: Final = 64  # a version's aliases in one record (the server's limit too)


@dataclass(frozen=True, slots=True)
class ArtifactFile:
    """One file of an artifact version: its path inside the artifact (POSIX, relative),
    size, sha256 of its bytes, and the hashes of its chunks (empty when it is one blob)."""

    path: str
    size: int
    sha256: str
    chunks: tuple[str, ...] = ()

    @property
    def blobs(self) -> tuple[str, ...]:
        """The blobs that hold this file's bytes, in order."""
        return self.chunks or (self.sha256,)

    def to_info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"path": self.path, "size": self.size, "sha256": self.sha256}
        if self.chunks:
            info["chunks"] = list(self.chunks)
        return info

    @classmethod
    def from_info(cls, info: Mapping[str, Any]) -> ArtifactFile:
        """From a record's or the server's file entry; ``ValueError`` naming the field."""
        path, size, sha256 = info.get("path"), info.get("size"), info.get("sha256")
        if not isinstance(path, str) or not is_relative_path(path):
            raise ValueError(f"artifact file path {path!r:.80} is not a relative POSIX path")
        if type(size) is not int or size < 0:
            raise ValueError(f"artifact file {path!r}: size {size!r} is not a byte count")
        if not is_sha256(sha256):
            raise ValueError(f"artifact file {path!r}: sha256 {sha256!r:.80} is not a sha256")
        chunks = info.get("chunks") or ()
        if not isinstance(chunks, (list, tuple)) or not all(map(is_sha256, chunks)):
            raise ValueError(f"artifact file {path!r}: chunks must be a list of sha256")
        if is_chunked(size) != bool(chunks):
            raise ValueError(
                f"artifact file {path!r}: {size} bytes is stored as "
                f"{'chunks' if is_chunked(size) else 'one blob'}, but chunks are "
                f"{'missing' if is_chunked(size) else 'listed'}"
            )
        return cls(path, size, str(sha256), tuple(chunks))


def is_relative_path(path: str) -> bool:
    """A path inside an artifact: POSIX, relative, no ``.``/``..``/empty parts."""
    if not path or len(path) > MAX_PATH_CHARS or "\\" in path or "\x00" in path:
        return False
    return all(part not in ("", ".", "..") for part in path.split("/"))


def digest_of(files: Iterable[ArtifactFile | Mapping[str, Any]]) -> str:
    """The version's digest: sha256 hex of the msgspec JSON of ``[{path, size, sha256}]``
    sorted by path. Takes ``ArtifactFile``s or their ``to_info()`` dicts."""
    entries: list[dict[str, Any]] = []
    for item in files:
        if isinstance(item, ArtifactFile):
            entries.append({"path": item.path, "size": item.size, "sha256": item.sha256})
        else:
            entries.append({"path": item["path"], "size": item["size"], "sha256": item["sha256"]})
    entries.sort(key=lambda entry: str(entry["path"]))
    return hashlib.sha256(msgspec.json.encode(entries)).hexdigest()


# -- names and refs ------------------------------------------------------------------------
def check_name(name: object, *, what: str = "name") -> str:
    """``name`` if it can name an artifact; else ``ValueError``/``TypeError`` with the fix."""
    if not isinstance(name, str):
        raise TypeError(f"artifact {what} must be a str, got {type(name).__name__} {name!r:.80}")
    if not _NAME.fullmatch(name) or ".." in name:
        raise ValueError(
            f"artifact {what} {name!r:.140} is not accepted: use 1 to 128 letters, digits, "
            "'.', '_' or '-', starting with a letter or digit, without '/' or '..' "
            "(for example 'resnet50-imagenet')"
        )
    return name


def check_alias(alias: object) -> str:
    """``alias`` if it can be an alias (not a version: ``v3`` is a version's own name)."""
    if not isinstance(alias, str):
        raise TypeError(f"artifact alias must be a str, got {type(alias).__name__} {alias!r:.80}")
    if _VERSION.fullmatch(alias) or not _ALIAS.fullmatch(alias) or ".." in alias:
        raise ValueError(
            f"artifact alias {alias!r:.80} is not accepted: use 1 to 64 letters, digits, '.', "
            "'_' or '-' (for example 'best' or 'prod'); 'v' and a number names a version, "
            "not an alias"
        )
    return alias


def check_aliases(aliases: object) -> list[str]:
    if isinstance(aliases, str):
        aliases = (aliases,)
    if not isinstance(aliases, (list, tuple, set, frozenset)):
        raise TypeError(
            f"aliases must be a list of str, got {type(aliases).__name__}; "
            "pass aliases=['latest', 'best']"
        )
    checked = list(dict.fromkeys(check_alias(alias) for alias in aliases))
    if len(checked) > MAX_ALIASES:
        raise ValueError(
            f"{len(checked)} aliases for one version: at most {MAX_ALIASES}; keep the ones "
            "you look versions up by"
        )
    return checked


def is_version(ref: str) -> bool:
    return _VERSION.fullmatch(ref) is not None


def split_ref(spec: object) -> tuple[str, str]:
    """``"name:ref"`` (``ref`` a version ``vN`` or an alias; ``latest`` when left out) as
    ``(name, ref)``; ``ValueError`` naming what is wrong and the accepted form."""
    if not isinstance(spec, str):
        raise TypeError(
            f"an artifact is named 'name:alias' or 'name:vN', not {type(spec).__name__} "
            f"{spec!r:.80}"
        )
    name, sep, ref = spec.partition(":")
    if not sep:
        ref = LATEST
    check_name(name)
    if not (is_version(ref) or _ALIAS.fullmatch(ref)) or ".." in ref:
        raise ValueError(
            f"artifact {spec!r:.140}: {ref!r:.80} is neither a version ('v0', 'v3') nor an "
            "alias ('latest', 'best'); write 'name:latest' or 'name:v3'"
        )
    return name, ref


# -- records -------------------------------------------------------------------------------
def log_info(
    *,
    name: str,
    type: str,
    files: Sequence[ArtifactFile],
    metadata: Mapping[str, Any],
    aliases: Sequence[str],
) -> dict[str, Any]:
    """``info`` of a ``log`` record: a new version (or an existing one, same digest)."""
    return {
        "op": "log",
        "name": name,
        "type": type,
        "digest": digest_of(files),
        "metadata": dict(metadata),
        "aliases": list(aliases),
        "files": [file.to_info() for file in files],
    }


def use_info(*, name: str, ref: str, digest: str) -> dict[str, Any]:
    """``info`` of a ``use`` record: this run consumed that version (lineage)."""
    return {"op": "use", "name": name, "ref": ref, "digest": digest}


def alias_info(*, name: str, digest: str, alias: str, remove: bool = False) -> dict[str, Any]:
    """``info`` of an ``alias`` record: set (or remove) an alias of a version this run has."""
    return {"op": "alias", "name": name, "digest": digest, "alias": alias, "remove": remove}


def files_of(info: Mapping[str, Any]) -> list[ArtifactFile]:
    """The files of a ``log`` record's (or the server's version's) ``info``."""
    listed = info.get("files")
    if not isinstance(listed, list):
        raise ValueError("an artifact version needs a list of files")
    return [ArtifactFile.from_info(entry) for entry in listed]
