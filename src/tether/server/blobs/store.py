"""The blob store's one interface, and the checks every store shares.

``put_stream`` takes the bytes as an iterable of chunks, hashes them as they pass, and makes
the blob visible under its name only when the hash is the one announced
(``BlobMismatchError`` otherwise, and nothing is kept). A store never holds a whole body in
memory: chunks go to a temporary file (local) or a staging file (S3) as they come.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from typing import Final

from tether.media.blobs import is_sha256

__all__ = [
    "SHA256_PATTERN",
    "BlobMismatchError",
    "BlobStore",
    "BlobStoreError",
    "BlobTooLargeError",
    "HashingChunks",
    "digest_of",
    "is_sha256",
]

SHA256_PATTERN: Final = r"^[0-9a-f]{64}$"  # is_sha256 as a route pattern
# Chunks a store reads back at a time.
READ_CHUNK: Final = 1024 * 1024


class BlobMismatchError(ValueError):
    """The bytes sent do not hash to the name they were sent under."""

    def __init__(self, expected: str, actual: str, size: int) -> None:
        super().__init__(
            f"the {size} bytes sent hash to sha256 {actual}, not {expected}; send the blob's "
            "own bytes under its own hash"
        )
        self.expected = expected
        self.actual = actual
        self.size = size


class BlobStoreError(OSError):
    """The store cannot be reached or refuses (S3 down, credentials refused): retry later."""


class BlobTooLargeError(ValueError):
    """A body longer than the store's caller allows."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the blob is over the {limit}-byte limit for one blob")
        self.limit = limit


class HashingChunks:
    """Passes chunks through, hashing and counting them (and refusing past ``limit``)."""

    def __init__(self, chunks: Iterable[bytes], *, limit: int | None = None) -> None:
        self._chunks = iter(chunks)
        self._limit = limit
        self._hash = hashlib.sha256()
        self.size = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            if not chunk:
                continue
            self.size += len(chunk)
            if self._limit is not None and self.size > self._limit:
                raise BlobTooLargeError(self._limit)
            self._hash.update(chunk)
            yield chunk

    def check(self, expected: str) -> None:
        actual = self._hash.hexdigest()
        if actual != expected:
            raise BlobMismatchError(expected, actual, self.size)


def digest_of(chunks: Iterable[bytes], expected: str, *, limit: int | None = None) -> int:
    """Hash ``chunks`` without keeping them (a blob the store already holds, sent again to
    prove that the sender has it); returns the size, raises ``BlobMismatchError``."""
    hashing = HashingChunks(chunks, limit=limit)
    for _ in hashing:
        pass
    hashing.check(expected)
    return hashing.size


class BlobStore(ABC):
    """Content-addressed bytes: put once, read many times, never changed."""

    url: str

    @abstractmethod
    def put_stream(self, sha256: str, chunks: Iterable[bytes], *, limit: int | None = None) -> int:
        """Store the bytes of ``chunks`` as blob ``sha256``; returns their size.

        Raises ``BlobMismatchError`` (nothing kept) when they hash otherwise and
        ``BlobTooLargeError`` past ``limit``. An existing blob of that name is kept (the same
        bytes, by its name); storing it again is harmless.
        """

    @abstractmethod
    def exists(self, sha256: str) -> bool:
        """Does the store hold blob ``sha256``?"""

    @abstractmethod
    def open(self, sha256: str) -> Iterator[bytes]:
        """The blob's bytes, in chunks; ``FileNotFoundError`` when the store lacks it."""

    @abstractmethod
    def delete(self, sha256: str) -> None:
        """Remove blob ``sha256``; nothing happens when it is absent."""

    def presign(self, sha256: str, method: str, *, expires_s: int = 3600) -> str | None:
        """A URL that lets a client ``GET`` or ``PUT`` blob ``sha256`` straight at the store,
        without credentials, for ``expires_s`` seconds; None for a store without such URLs
        (a local directory: the bytes go through the server)."""
        return None

    def presign_staged_put(self, staging: str, *, expires_s: int = 3600) -> str | None:
        """A presigned PUT URL for the staging object ``staging`` (never a blob's own key:
        whoever holds the URL can write there until it expires); None without such URLs."""
        return None

    def take_staged(self, staging: str, sha256: str, *, limit: int | None = None) -> int:
        """Move staging object ``staging`` out of its URL's reach, hash it, and make it blob
        ``sha256`` (kept as it is when the store holds that blob already); returns its size.
        ``FileNotFoundError`` when absent; ``BlobMismatchError``/``BlobTooLargeError`` (the
        staged bytes are deleted)."""
        raise FileNotFoundError(f"this store stages nothing ({staging})")

    def delete_staged(self, *, older_than: float) -> int:
        """Delete staging objects last written before ``older_than`` (epoch seconds);
        returns how many."""
        return 0

    def read(self, sha256: str) -> bytes:
        """The whole blob (for small ones and tests)."""
        return b"".join(self.open(sha256))


def is_staging_id(value: str) -> bool:
    """A direct upload's staging id: 32 lowercase hex digits (``secrets.token_hex(16)``)."""
    return len(value) == 32 and all(c in "0123456789abcdef" for c in value)
