"""Media records in: each ``K_FILE`` record's info checked and turned into a ``media`` row.

A file record is ``[9, time, info]`` (``docs/format.md``), one per logged image, histogram,
table or text. What the database cannot hold, or what no reader could use (a bad hash, a
step past 64 bits, meta nested past ``MAX_DEPTH``, a histogram whose edges do not fit its
counts), is a ``BadRecordError`` naming the field: the upload answers 422 and the client
skips that record, as for any other record. A kind this server does not know (an artifact
from a newer client) is kept on the client's disk and not stored here.

The bytes are not here: the client sends them to ``PUT .../blobs/{sha256}`` before the
segment that names them (``tether.server.media_blobs``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Connection, insert

from tether.server.blobs import is_sha256
from tether.server.ingest_checks import (
    INT32,
    INT64,
    KEY_CHARS,
    BadRecordError,
    check_int,
    check_number,
    text,
)
from tether.server.storage.schema import media
from tether.store.records import FileEntry

MEDIA_KINDS: Final = frozenset({"image", "histogram", "table", "text"})
MEDIA_TYPE_CHARS: Final = 128  # media.media_type
# Meta is for what the UI shows at a glance (sizes, captions, a histogram's counts): JSON
# nested this deep at most, and this many values in all.
MAX_DEPTH: Final = 16
MAX_META_ITEMS: Final = 200_000


@dataclass(frozen=True)
class MediaEntry:
    """One logged media object as the ``media`` table keeps it."""

    time: float
    key: str
    step: int
    index: int
    kind: str
    sha256: str | None
    size: int | None
    media_type: str | None
    meta: dict[str, Any]


def entry_of(record: FileEntry) -> MediaEntry | None:
    """The media row of a file record; None for a kind that is not media. Raises
    ``BadRecordError`` (field ``file.<name>``) for what cannot be stored."""
    info = record.info
    when = check_number(record.time, "time")
    kind = info.get("kind")
    if not isinstance(kind, str):
        raise BadRecordError("file.kind", f"file.kind is {_typed(kind)}, not a media kind")
    if kind not in MEDIA_KINDS:
        return None
    key = info.get("key")
    if not isinstance(key, str) or not 0 < len(key) <= KEY_CHARS:
        raise BadRecordError(
            "file.key", f"file.key is {_typed(key)}, not text of 1 to {KEY_CHARS} characters"
        )
    step = check_int(info.get("step"), "file.step", (0, INT64[1]))
    index = check_int(info.get("index", 0), "file.index", (0, INT32[1]))
    meta_value = info.get("meta", {})
    if not isinstance(meta_value, dict):
        raise BadRecordError("file.meta", f"file.meta is {_typed(meta_value)}, not a mapping")
    meta = _json_of(meta_value, "file.meta", [0])
    sha256 = size = media_type = None
    if kind == "histogram":
        _check_histogram(meta)
    else:
        sha256 = info.get("sha256")
        if not is_sha256(sha256):
            raise BadRecordError(
                "file.sha256", f"file.sha256 is {_typed(sha256)}, not 64 lowercase hex digits"
            )
        size = check_int(info.get("size"), "file.size", (0, INT64[1]))
        kind_of_bytes = info.get("media_type")
        if not isinstance(kind_of_bytes, str) or not 0 < len(kind_of_bytes) <= MEDIA_TYPE_CHARS:
            raise BadRecordError(
                "file.media_type",
                f"file.media_type is {_typed(kind_of_bytes)}, not a media type such as image/png",
            )
        media_type = text(kind_of_bytes)
        if kind == "table":
            refs = meta.get("refs", [])
            if not isinstance(refs, list) or not all(is_sha256(ref) for ref in refs):
                raise BadRecordError(
                    "file.meta.refs", "file.meta.refs must be a list of sha256 hashes"
                )
    return MediaEntry(when, text(key), step, index, kind, sha256, size, media_type, meta)


def store_media(
    connection: Connection, run_pk: int, writer_pk: int, entries: Sequence[MediaEntry]
) -> None:
    connection.execute(
        insert(media),
        [
            {
                "run_pk": run_pk,
                "writer_pk": writer_pk,
                "key": entry.key,
                "step": entry.step,
                "idx": entry.index,
                "kind": entry.kind,
                "sha256": entry.sha256,
                "size": entry.size,
                "media_type": entry.media_type,
                "meta": entry.meta,
                "time": entry.time,
            }
            for entry in entries
        ],
    )


def _check_histogram(meta: dict[str, Any]) -> None:
    counts, edges = meta.get("counts"), meta.get("edges")
    if not isinstance(counts, list) or not all(
        isinstance(c, int) and not isinstance(c, bool) for c in counts
    ):
        raise BadRecordError("file.meta.counts", "a histogram's counts must be a list of integers")
    if not isinstance(edges, list) or len(edges) != len(counts) + 1:
        raise BadRecordError(
            "file.meta.edges",
            f"a histogram of {len(counts)} counts needs {len(counts) + 1} edges, "
            f"not {len(edges) if isinstance(edges, list) else _typed(edges)}",
        )
    if not all(isinstance(e, int | float) and not isinstance(e, bool) for e in edges):
        raise BadRecordError("file.meta.edges", "a histogram's edges must be numbers")


def _json_of(value: Any, field: str, budget: list[int], depth: int = 0) -> Any:
    """``value`` as JSON the database keeps: text without NUL, integers in 64 bits, finite
    floats (NaN and infinities become None); anything else refused, naming ``field``."""
    budget[0] += 1
    if budget[0] > MAX_META_ITEMS:
        raise BadRecordError(field, f"{field} holds more than {MAX_META_ITEMS} values")
    if depth > MAX_DEPTH:
        raise BadRecordError(field, f"{field} nests deeper than {MAX_DEPTH} levels")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return check_int(value, field, INT64)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return text(value)
    if isinstance(value, list):
        return [_json_of(item, field, budget, depth + 1) for item in value]
    if isinstance(value, dict):
        result = {}
        for name, item in value.items():
            if not isinstance(name, str):
                raise BadRecordError(field, f"{field} has a key {_typed(name)}, not text")
            result[text(name)] = _json_of(item, field, budget, depth + 1)
        return result
    raise BadRecordError(field, f"{field} is {_typed(value)}, which JSON cannot hold")


def _typed(value: Any) -> str:
    return f"{type(value).__name__} {repr(value)[:60]}"
