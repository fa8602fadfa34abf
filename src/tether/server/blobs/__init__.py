"""Where the server keeps media and artifact bytes: content-addressed blobs.

A blob is named by the sha256 of its bytes (64 lowercase hex digits); the same bytes are
stored once, whatever run uploaded them. Which runs hold which blob is SQL's business
(``run_blobs``, ``tether.server.media_blobs``); a store only keeps bytes:

- ``LocalBlobStore``: a directory (``<data dir>/blobs/ab/<sha256>``, the default);
- ``S3BlobStore``: any S3-compatible object store (``s3://bucket/prefix``), through obstore.

Both take bytes as a stream and check the hash before the blob appears under its name, so a
blob that exists is always whole and right.
"""

from __future__ import annotations

from pathlib import Path

from tether.server.blobs.store import (
    SHA256_PATTERN,
    BlobMismatchError,
    BlobStore,
    BlobTooLargeError,
    is_sha256,
)

__all__ = [
    "SHA256_PATTERN",
    "BlobMismatchError",
    "BlobStore",
    "BlobTooLargeError",
    "is_sha256",
    "open_blob_store",
]


def open_blob_store(url: str | None, data_dir: Path) -> BlobStore:
    """The store ``url`` names (``file:///path``, ``s3://bucket/prefix``, or a plain path);
    ``<data_dir>/blobs`` when None. Raises ``ValueError`` naming the accepted forms."""
    if not url:
        from tether.server.blobs.local import LocalBlobStore

        return LocalBlobStore(data_dir / "blobs")
    if url.startswith("s3://"):
        from tether.server.blobs.s3 import S3BlobStore

        return S3BlobStore.from_url(url)
    if url.startswith("file://"):
        path = url[len("file://") :]
        if not path.startswith("/"):
            raise ValueError(
                f"blob URL {url!r}: a file URL needs an absolute path, file:///srv/blobs"
            )
        from tether.server.blobs.local import LocalBlobStore

        return LocalBlobStore(Path(path))
    if "://" in url:
        raise ValueError(
            f"blob URL {url!r}: not a store tether knows; use file:///path or s3://bucket/prefix"
        )
    from tether.server.blobs.local import LocalBlobStore

    return LocalBlobStore(Path(url).expanduser().absolute())
