"""Blobs that go straight between the client and an S3 store, through presigned URLs.

With an S3 blob store, ``POST .../blobs/missing`` also answers ``upload_urls``: a presigned
PUT URL for each missing blob **that the store does not hold at all**. A blob the store holds
already (another run sent it) is never offered one: the client PUTs it through the server,
which hashes the bytes, so nobody claims a blob by its hash alone, and nobody can overwrite
an object that runs already read.

After its PUT, the client calls ``POST .../blobs/{sha256}/uploaded``. The store does not check
the hash of a presigned PUT (SeaweedFS refuses an ``x-amz-checksum-sha256`` header that the
signature does not cover, and obstore's ``sign`` cannot cover one), so the server reads the
object back from the store, hashing it (the bytes cross the store's network, never the
client's link to the server), and links it to the run only when it is the blob it names; an
object that hashes otherwise is deleted and answered 422. Presigned PUT URLs last
``PUT_URL_SECONDS``: a URL outlives its check only that long.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from sqlalchemy import Connection, Engine, select

from tether.server import media_blobs
from tether.server.blobs import BlobMismatchError, BlobStore, BlobTooLargeError
from tether.server.blobs.store import digest_of
from tether.server.storage.schema import blobs

PUT_URL_SECONDS: Final = 900


def upload_urls(connection: Connection, store: BlobStore, missing: Sequence[str]) -> dict[str, str]:
    """``{sha256: presigned PUT URL}`` for the blobs of ``missing`` the store lacks; empty for
    a store without presigned URLs."""
    if not missing or store.presign(missing[0], "PUT", expires_s=PUT_URL_SECONDS) is None:
        return {}
    held = set(
        connection.execute(select(blobs.c.sha256).where(blobs.c.sha256.in_(missing))).scalars()
    )
    urls = {}
    for sha in missing:
        if sha not in held:
            url = store.presign(sha, "PUT", expires_s=PUT_URL_SECONDS)
            if url is not None:
                urls[sha] = url
    return urls


def verify_and_link(
    engine: Engine, store: BlobStore, run_pk: int, sha256: str, *, media_type: str
) -> media_blobs.Received:
    """Link blob ``sha256``, which the client says it put in the store, to run ``run_pk``
    once the store's object hashes to it. Raises ``FileNotFoundError`` (no such object),
    ``BlobMismatchError`` or ``BlobTooLargeError`` (the object is deleted), ``HeldAlreadyError``
    and the store's ``OSError``s."""
    with engine.connect() as connection:
        known = connection.execute(select(blobs.c.size).where(blobs.c.sha256 == sha256)).first()
    if known is not None:
        # No URL was given for a blob the store held; linking it now would hand its bytes
        # to whoever knows the hash.
        raise HeldAlreadyError(
            f"the store held blob {sha256} already; PUT its bytes through the server "
            "(PUT .../blobs/{sha256}) to link it to this run"
        )
    try:
        size = digest_of(store.open(sha256), sha256, limit=media_blobs.MAX_BLOB_BYTES)
    except (BlobMismatchError, BlobTooLargeError):
        store.delete(sha256)
        raise
    return media_blobs.link(engine, run_pk, sha256, size, media_type=media_type)


class HeldAlreadyError(Exception):
    """A direct upload claimed for a blob the store held before: send it through the server."""
