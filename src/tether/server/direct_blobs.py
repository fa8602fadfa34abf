"""Blobs that go straight between the client and an S3 store, through presigned URLs.

With an S3 blob store, ``POST .../blobs/missing`` also answers ``upload_urls`` and
``upload_staging``: for each missing blob **that the store does not hold at all**, a
presigned PUT URL and the id of the staging object it writes (``<prefix>/staging/<id>``, a
new random id each time). The URL never names the blob's own key, so whoever holds one
cannot change the bytes of a blob stored meanwhile. A blob the store holds already (another
run sent it) is never offered one: the client PUTs it through the server, which hashes the
bytes, so nobody claims a blob by its hash alone.

After its PUT, the client calls ``POST .../blobs/{sha256}/uploaded`` with ``{"staging":
id}``. The store does not check the hash of a presigned PUT (SeaweedFS refuses an
``x-amz-checksum-sha256`` header that the signature does not cover, and obstore's ``sign``
cannot cover one), so the server first copies the staged object where no URL reaches, hashes
that copy (the bytes cross the store's network, never the client's link to the server), and
only then copies it to the blob's key, unless the store holds the blob already
(``BlobStore.take_staged``); the staged objects are deleted either way, and the blob linked
to the run only when it hashed right (else 422). A staged object never confirmed is deleted
by ``tether server gc`` once older than the grace. Presigned PUT URLs last
``PUT_URL_SECONDS``.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from sqlalchemy import Connection, Engine, select

from tether.server import media_blobs
from tether.server.blobs import BlobStore
from tether.server.storage.schema import blobs

PUT_URL_SECONDS: Final = 900


@dataclass
class UploadUrls:
    """``urls``: ``{sha256: presigned PUT URL}``; ``staging``: ``{sha256: staging id}``."""

    urls: dict[str, str] = field(default_factory=dict)
    staging: dict[str, str] = field(default_factory=dict)


def upload_urls(connection: Connection, store: BlobStore, missing: Sequence[str]) -> UploadUrls:
    """A staging object and its presigned PUT URL for each blob of ``missing`` the store
    lacks; none for a store without presigned URLs."""
    answer = UploadUrls()
    if not missing:
        return answer
    held = set(
        connection.execute(select(blobs.c.sha256).where(blobs.c.sha256.in_(missing))).scalars()
    )
    for sha in missing:
        if sha in held:
            continue
        staging = secrets.token_hex(16)
        url = store.presign_staged_put(staging, expires_s=PUT_URL_SECONDS)
        if url is None:
            return UploadUrls()
        answer.urls[sha] = url
        answer.staging[sha] = staging
    return answer


def verify_and_link(
    engine: Engine,
    store: BlobStore,
    run_pk: int,
    sha256: str,
    staging: str,
    *,
    media_type: str,
) -> media_blobs.Received:
    """Link blob ``sha256``, which the client says it put at staging object ``staging``, to
    run ``run_pk`` once that object hashes to it. Raises ``FileNotFoundError`` (no such
    object), ``BlobMismatchError`` or ``BlobTooLargeError`` (the object is deleted),
    ``HeldAlreadyError``, ``ValueError`` (not a staging id) and the store's ``OSError``s."""
    with engine.connect() as connection:
        known = connection.execute(select(blobs.c.size).where(blobs.c.sha256 == sha256)).first()
    if known is not None:
        # No URL was given for a blob the store held; linking it now would hand its bytes
        # to whoever knows the hash.
        raise HeldAlreadyError(
            f"the store held blob {sha256} already; PUT its bytes through the server "
            "(PUT .../blobs/{sha256}) to link it to this run"
        )
    size = store.take_staged(staging, sha256, limit=media_blobs.MAX_BLOB_BYTES)
    return media_blobs.link(engine, run_pk, sha256, size, media_type=media_type, store=store)


class HeldAlreadyError(Exception):
    """A direct upload claimed for a blob the store held before: send it through the server."""
