"""Blobs in a directory: ``<root>/ab/<sha256>``, the default store (``<data dir>/blobs``).

Files are 0600 and folders 0700 (the data directory is the server owner's alone). A blob is
written to a temporary file in its folder, hashed as it is written, synced, and linked under
its name only when the hash checks out: a reader never sees a partial blob, and two uploads
of the same bytes at once leave one file (``os.link`` refuses to replace; the loser's copy
is dropped, its bytes being the same).

Staging objects (``<root>/staging/<id>``) exist only for the contract's sake: a local store
gives no presigned URLs, so only the server's owner can put one there.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from tether.server.blobs.store import (
    READ_CHUNK,
    BlobStore,
    HashingChunks,
    is_sha256,
    is_staging_id,
)


class LocalBlobStore(BlobStore):
    """Blobs as files under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.url = self.root.as_uri()
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.root, 0o700)

    def path(self, sha256: str) -> Path:
        """Where blob ``sha256`` lives (whether or not it is there)."""
        if not is_sha256(sha256):  # never a path outside the store
            raise ValueError(f"{sha256!r} is not a sha256 (64 lowercase hex digits)")
        return self.root / sha256[:2] / sha256

    def put_stream(self, sha256: str, chunks: Iterable[bytes], *, limit: int | None = None) -> int:
        final = self.path(sha256)
        final.parent.mkdir(exist_ok=True, mode=0o700)
        hashing = HashingChunks(chunks, limit=limit)
        fd, tmp = tempfile.mkstemp(prefix=".put-", dir=final.parent)  # 0600
        try:
            with os.fdopen(fd, "wb") as handle:
                for chunk in hashing:
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            hashing.check(sha256)
            with contextlib.suppress(FileExistsError):  # stored meanwhile: the same bytes
                os.link(tmp, final)
        finally:
            Path(tmp).unlink(missing_ok=True)
        return hashing.size

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def open(self, sha256: str) -> Iterator[bytes]:
        handle = open(self.path(sha256), "rb")  # noqa: SIM115 (closed by the generator)
        return _chunks_of(handle)

    def delete(self, sha256: str) -> None:
        self.path(sha256).unlink(missing_ok=True)

    def staging_path(self, staging: str) -> Path:
        if not is_staging_id(staging):
            raise ValueError(f"{staging!r} is not a staging id (32 lowercase hex digits)")
        return self.root / "staging" / staging

    def take_staged(self, staging: str, sha256: str, *, limit: int | None = None) -> int:
        path = self.staging_path(staging)
        handle = open(path, "rb")  # noqa: SIM115 (closed by _chunks_of); FileNotFoundError
        try:
            return self.put_stream(sha256, _chunks_of(handle), limit=limit)
        finally:
            handle.close()
            path.unlink(missing_ok=True)

    def delete_staged(self, *, older_than: float) -> int:
        deleted = 0
        for path in (self.root / "staging").glob("*"):
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < older_than:
                    path.unlink()
                    deleted += 1
        return deleted


def _chunks_of(handle: BinaryIO) -> Iterator[bytes]:
    try:
        while chunk := handle.read(READ_CHUNK):
            yield chunk
    finally:
        handle.close()
