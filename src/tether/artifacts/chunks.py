"""The unit of artifact storage and upload: a file is one blob, or 16 MiB chunks.

A file of at most ``CHUNK_BYTES`` is one blob whose sha256 is the file's. A larger file is
split at every ``CHUNK_BYTES`` into chunks, each a blob; the file is the ordered list of their
hashes. So memory stays bounded (one chunk at a time), an upload resumes chunk by chunk, a
chunk that did not change between two versions is stored and sent once, and every chunk fits
the server's 64 MiB blob PUT (``tether.media.blobs.MAX_BLOB_BYTES``).

The split is fixed-size, not content-defined: a checkpoint is rewritten in place with the
same layout, so its unchanged tensors stay at the same offsets and their chunks dedupe; an
insertion near the start of a file changes every later chunk (documented in
docs/artifacts.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, Final

CHUNK_BYTES: Final = 16 * 1024 * 1024


def chunk_count(size: int) -> int:
    """How many chunks a file of ``size`` bytes is stored as (an empty file is one blob)."""
    if size < 0:
        raise ValueError(f"a file size is >= 0, not {size}")
    return max(1, -(-size // CHUNK_BYTES))


def is_chunked(size: int) -> bool:
    """Is a file of ``size`` bytes stored as several chunks (its record lists them)?"""
    return size > CHUNK_BYTES


def read_chunks(handle: BinaryIO, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """The file's bytes, ``chunk_bytes`` at a time (the last one shorter; an empty file
    gives one empty chunk, so it is still one blob)."""
    first = True
    while True:
        data = _read_full(handle, chunk_bytes)
        if data or first:
            yield data
        if len(data) < chunk_bytes:
            return
        first = False


def _read_full(handle: BinaryIO, size: int) -> bytes:
    # read() of a raw file or a pipe may return fewer bytes than asked before the end.
    parts: list[bytes] = []
    left = size
    while left > 0:
        part = handle.read(left)
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return parts[0] if len(parts) == 1 else b"".join(parts)
