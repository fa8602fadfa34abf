"""Garbage collection of the blob store: ``tether server gc [--grace-hours 24]``.

A blob is kept while anything may still need it:

- a ``media`` row names it (its own bytes, or a table's image cell in ``meta.refs``);
- an artifact version, committed or pending, needs it (``artifact_blobs``);
- a run that is still running holds it (``run_blobs``): the segment naming it may be on its
  way;
- it, or any run's link to it, is younger than the grace (24 hours by default): an upload in
  flight (blobs are sent before the segment that names them) is never collected.

Everything else goes: its rows first, in one transaction whose ``DELETE`` repeats the test,
so a blob referenced meanwhile is kept; then its bytes, unless a new upload linked it again
in between (checked once more just before). Deleting an artifact version or a run thus frees
its blobs at the next collection that finds them older than the grace. A direct-to-S3 upload
never confirmed (``.../uploaded``) has no row and is not seen here: its object stays until
the bucket's own lifecycle rules remove it.
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
_BATCH: Final = 500


@dataclass
class Collected:
    """What one collection found and did."""

    examined: int = 0
    deleted: list[str] = field(default_factory=list)
    freed_bytes: int = 0
    kept_young: int = 0


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
    for start in range(0, len(candidates), _BATCH):
        batch = dict(candidates[start : start + _BATCH])
        if dry_run:
            result.deleted.extend(batch)
            result.freed_bytes += sum(batch.values())
            continue
        with engine.begin() as connection:
            gone = _delete_rows(connection, list(batch), cutoff)
        for sha in gone:
            with engine.connect() as connection:
                linked_again = connection.execute(
                    select(blobs.c.sha256).where(blobs.c.sha256 == sha)
                ).first()
            if linked_again is None:
                store.delete(sha)
                result.deleted.append(sha)
                result.freed_bytes += batch[sha]
    return result


def _named_by_tables(connection: Connection) -> set[str]:
    """Hashes that a media row or an artifact version names, or a running run holds."""
    named: set[str] = set(
        connection.execute(select(media.c.sha256).where(media.c.sha256.is_not(None))).scalars()
    )
    for meta in connection.execute(select(media.c.meta).where(media.c.kind == "table")).scalars():
        named.update(_refs(meta))
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


def _refs(meta: Any) -> Iterator[str]:
    refs = meta.get("refs") if isinstance(meta, dict) else None
    for ref in refs if isinstance(refs, list) else ():
        if is_sha256(ref):
            yield ref


def _delete_rows(connection: Connection, hashes: list[str], cutoff: float) -> list[str]:
    """Delete the rows of the blobs of ``hashes`` that are still unreferenced and old (the
    test repeated inside this transaction); returns those deleted."""
    still_named = or_(
        exists().where(media.c.sha256 == blobs.c.sha256),
        exists().where(artifact_blobs.c.sha256 == blobs.c.sha256),
        exists().where(
            and_(
                run_blobs.c.sha256 == blobs.c.sha256,
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
    doomed = list(
        connection.execute(
            select(blobs.c.sha256).where(
                blobs.c.sha256.in_(hashes), blobs.c.created_at <= cutoff, ~still_named
            )
        ).scalars()
    )
    if not doomed:
        return []
    # A table's image cell is named only inside JSON: checked again in Python.
    tables = connection.execute(select(media.c.meta).where(media.c.kind == "table")).scalars()
    referenced = {ref for meta in tables for ref in _refs(meta)}
    doomed = [sha for sha in doomed if sha not in referenced]
    if doomed:
        connection.execute(delete(run_blobs).where(run_blobs.c.sha256.in_(doomed)))
        connection.execute(delete(blobs).where(blobs.c.sha256.in_(doomed)))
    return doomed
