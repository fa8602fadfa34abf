"""Which blobs each run holds, and taking a blob's bytes from a client.

Access is per run: a run may read a blob only after it sent the bytes (``run_blobs``). A
blob the store holds already (``blobs``: another run sent the same bytes) is not written
again, but its bytes must still come and hash right, so that nobody claims a blob by its
hash alone (which would hand another owner's bytes to anyone who knew a hash).

No transaction stays open while bytes stream in: the run is made (or found) first, the
bytes go to the store, and the links are written at the end, each step short. Two uploads
of the same blob at once both store it (the same bytes, one file) and both link it.

``tether server gc`` may collect a blob while an upload of the same bytes streams (the
upload only hashes bytes the store held when it began). ``link`` therefore locks the
blob's row and checks, inside its transaction, that the store still holds the bytes; gc
deletes rows and bytes under the same lock before it commits. The upload thus either links
first (gc then finds the blob referenced and keeps it) or finds the bytes gone, links
nothing and raises ``BlobCollectedError``: the client sends the bytes again.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import IntegrityError

from tether.server.blobs import BlobStore
from tether.server.blobs.store import BlobStoreError, digest_of
from tether.server.storage.schema import blobs, run_blobs

# What a blob may be served as; anything else goes out as application/octet-stream.
SERVED_MEDIA_TYPES: Final = frozenset(
    {"image/png", "image/jpeg", "application/json", "text/markdown", "text/plain"}
)
OCTET_STREAM: Final = "application/octet-stream"
MAX_BLOB_BYTES: Final = 64 * 1024 * 1024
MAX_MISSING_ASKED: Final = 1000


def media_type_of(header: str | None) -> str:
    """The media type a ``Content-Type`` header names, if it is one tether serves."""
    if not header:
        return OCTET_STREAM
    main = header.split(";", 1)[0].strip().lower()
    return main if main in SERVED_MEDIA_TYPES else OCTET_STREAM


def missing(connection: Connection, run_pk: int, hashes: Sequence[str]) -> list[str]:
    """The hashes of ``hashes`` that run ``run_pk`` has not sent yet, in their order."""
    wanted = list(dict.fromkeys(hashes))
    if not wanted:
        return []
    held = set(
        connection.execute(
            select(run_blobs.c.sha256).where(
                run_blobs.c.run_pk == run_pk, run_blobs.c.sha256.in_(wanted)
            )
        ).scalars()
    )
    return [sha for sha in wanted if sha not in held]


def run_blob(connection: Connection, run_pk: int, sha256: str) -> Any:
    """The ``run_blobs`` row of this run and blob, or None when the run never sent it."""
    return connection.execute(
        select(run_blobs).where(run_blobs.c.run_pk == run_pk, run_blobs.c.sha256 == sha256)
    ).first()


@dataclass(frozen=True)
class Received:
    size: int
    created: bool  # newly linked to the run (else it held it already)


def receive(
    engine: Engine,
    store: BlobStore,
    run_pk: int,
    sha256: str,
    chunks: Iterable[bytes],
    *,
    media_type: str,
    limit: int = MAX_BLOB_BYTES,
) -> Received:
    """Take blob ``sha256`` for run ``run_pk`` from ``chunks``.

    Raises ``BlobMismatchError`` / ``BlobTooLargeError`` (nothing linked) and ``OSError`` or
    the store's own errors when it cannot be written.
    """
    with engine.connect() as connection:
        known = connection.execute(select(blobs.c.size).where(blobs.c.sha256 == sha256)).first()
    if known is not None and store.exists(sha256):
        size = digest_of(chunks, sha256, limit=limit)  # the sender proves it has the bytes
    else:
        size = store.put_stream(sha256, chunks, limit=limit)
    return link(engine, run_pk, sha256, size, media_type=media_type, store=store)


class BlobCollectedError(BlobStoreError):
    """``tether server gc`` deleted the blob's bytes while they were uploaded: nothing was
    linked; send them again."""


def link(
    engine: Engine,
    run_pk: int,
    sha256: str,
    size: int,
    *,
    media_type: str,
    store: BlobStore | None = None,
) -> Received:
    """Record that the store holds blob ``sha256`` and that run ``run_pk`` sent it. With
    ``store``, checks under the blob row's lock that the bytes are still there (else raises
    ``BlobCollectedError``, nothing linked); without, the caller vouches for them."""
    now = time.time()
    for attempt in range(3):  # a concurrent upload of the same blob may insert a row first
        try:
            with engine.begin() as connection:
                connection.execute(
                    select(blobs.c.sha256).where(blobs.c.sha256 == sha256).with_for_update()
                )
                _insert_once(connection, blobs, {"sha256": sha256, "size": size, "created_at": now})
                created = _insert_once(
                    connection,
                    run_blobs,
                    {
                        "run_pk": run_pk,
                        "sha256": sha256,
                        "size": size,
                        "media_type": media_type,
                        "created_at": now,
                    },
                )
                if store is not None and not store.exists(sha256):
                    raise BlobCollectedError(
                        f"blob {sha256} was collected by gc while it was uploaded; send it again"
                    )
            return Received(size=size, created=created)
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _insert_once(connection: Connection, table: Any, values: dict[str, Any]) -> bool:
    """Insert the row unless its key is there already; True when inserted."""
    query = select(*table.primary_key.columns).where(
        *(column == values[column.name] for column in table.primary_key.columns)
    )
    if connection.execute(query).first() is not None:
        return False
    connection.execute(insert(table).values(**values))
    return True
