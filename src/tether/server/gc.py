"""Garbage collection of the blob store: ``tether server gc [--grace-hours 24]``.

A blob is kept while anything may still need it:

- a ``media`` row of a run that holds it (``run_blobs``) names it (its own bytes, or a
  table's image cell in ``meta.refs``): a run cannot keep alive a blob it never sent by
  naming its hash;
- an artifact version, committed or pending, needs it (``artifact_blobs``);
- a run that is still running holds it (``run_blobs``): the segment naming it may be on its
  way;
- it, or any run's link to it, is younger than the grace (24 hours by default): an upload in
  flight (blobs are sent before the segment that names them) is never collected.

Everything else goes, one blob per transaction: its ``blobs`` row is locked (``FOR
UPDATE``), the test repeated, its rows and then its bytes deleted, and only then the
transaction commits. ``media_blobs.link`` locks the same row and checks that the store
still holds the bytes inside its own transaction, so an upload of the same blob that
streamed meanwhile either links before (and the repeated test keeps the blob) or finds the
bytes gone and links nothing (the client sends them again). Deleting an artifact version or
a run thus frees its blobs at the next collection that finds them older than the grace.
Direct-to-S3 uploads staged but never confirmed (``.../uploaded``) are deleted once older
than the grace (``BlobStore.delete_staged``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import Connection, Engine, and_, delete, exists, or_, select

from tether.server.blobs import BlobStore, is_sha256
from tether.server.storage.schema import artifact_blobs, blobs, media, run_blobs, runs
from tether.store.states import RunState

DEFAULT_GRACE_HOURS: Final = 24.0


@dataclass
class Collected:
    """What one collection found and did."""

    examined: int = 0
    deleted: list[str] = field(default_factory=list)
    freed_bytes: int = 0
    kept_young: int = 0
    staged_deleted: int = 0


def collect(
    engine: Engine,
    store: BlobStore,
    *,
    grace_s: float = DEFAULT_GRACE_HOURS * 3600,
    dry_run: bool = False,
    now: float | None = None,
    on_candidates: Callable[[list[str]], None] | None = None,
) -> Collected:
    """Delete the blobs nothing references and older than ``grace_s``; ``on_candidates``
    (tests) is called with the candidates found before anything is deleted."""
    cutoff = (time.time() if now is None else now) - grace_s
    result = Collected()
    with engine.connect() as connection:
        named = _named_by_tables(connection)
        candidates = []
        for row in connection.execute(select(blobs.c.sha256, blobs.c.size, blobs.c.created_at)):
            result.examined += 1
            if row.sha256 in named:
                continue
            if row.created_at > cutoff:
                result.kept_young += 1
                continue
            candidates.append((row.sha256, int(row.size)))
    if on_candidates is not None:
        on_candidates([sha for sha, _ in candidates])
    for sha, size in candidates:
        if dry_run:
            result.deleted.append(sha)
            result.freed_bytes += size
            continue
        with engine.begin() as connection:
            if _delete_blob(connection, store, sha, cutoff):
                result.deleted.append(sha)
                result.freed_bytes += size
    if not dry_run:
        result.staged_deleted = store.delete_staged(older_than=cutoff)
    return result


def _named_by_tables(connection: Connection) -> set[str]:
    """Hashes that a media row of a run holding them or an artifact version names, or a
    running run holds."""
    named: set[str] = set(
        connection.execute(
            select(media.c.sha256)
            .join(
                run_blobs,
                and_(run_blobs.c.run_pk == media.c.run_pk, run_blobs.c.sha256 == media.c.sha256),
            )
            .distinct()
        ).scalars()
    )
    named.update(_table_refs(connection))
    named.update(connection.execute(select(artifact_blobs.c.sha256).distinct()).scalars())
    named.update(
        connection.execute(
            select(run_blobs.c.sha256)
            .join(runs, runs.c.id == run_blobs.c.run_pk)
            .where(runs.c.state == RunState.RUNNING.value)
            .distinct()
        ).scalars()
    )
    return named


def _table_refs(connection: Connection, sha256: str | None = None) -> set[str]:
    """The hashes tables' image cells name that the table's own run holds."""
    query = select(media.c.run_pk, media.c.meta).where(media.c.kind == "table")
    pairs = {(run_pk, ref) for run_pk, meta in connection.execute(query) for ref in _refs(meta)}
    if sha256 is not None:
        pairs = {(run_pk, ref) for run_pk, ref in pairs if ref == sha256}
    if not pairs:
        return set()
    held_query = select(run_blobs.c.run_pk, run_blobs.c.sha256).where(
        run_blobs.c.sha256.in_({ref for _, ref in pairs})
    )
    held = {(row.run_pk, row.sha256) for row in connection.execute(held_query)}
    return {ref for run_pk, ref in pairs if (run_pk, ref) in held}


def _refs(meta: Any) -> Iterator[str]:
    refs = meta.get("refs") if isinstance(meta, dict) else None
    for ref in refs if isinstance(refs, list) else ():
        if is_sha256(ref):
            yield ref


def _delete_blob(connection: Connection, store: BlobStore, sha256: str, cutoff: float) -> bool:
    """Delete blob ``sha256``'s rows, then its bytes, when it is still unreferenced and old
    (the test repeated with its row locked); True when deleted. The caller commits after."""
    locked = connection.execute(
        select(blobs.c.sha256, blobs.c.created_at).where(blobs.c.sha256 == sha256).with_for_update()
    ).first()
    if locked is None or locked.created_at > cutoff:
        return False
    still_named = or_(
        exists().where(
            and_(
                media.c.sha256 == sha256,
                exists().where(
                    and_(run_blobs.c.run_pk == media.c.run_pk, run_blobs.c.sha256 == sha256)
                ),
            )
        ),
        exists().where(artifact_blobs.c.sha256 == sha256),
        exists().where(
            and_(
                run_blobs.c.sha256 == sha256,
                or_(
                    run_blobs.c.created_at > cutoff,
                    exists().where(
                        and_(
                            runs.c.id == run_blobs.c.run_pk, runs.c.state == RunState.RUNNING.value
                        )
                    ),
                ),
            )
        ),
    )
    if connection.execute(select(still_named)).scalar():
        return False
    # A table's image cell is named only inside JSON: checked in Python.
    if _table_refs(connection, sha256):
        return False
    connection.execute(delete(run_blobs).where(run_blobs.c.sha256 == sha256))
    connection.execute(delete(blobs).where(blobs.c.sha256 == sha256))
    store.delete(sha256)  # before the commit: a link waiting on the row finds them gone
    return True
