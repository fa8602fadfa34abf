"""Reading a run's media back: its keys, the objects of a key, the steps that have some.

The ``media`` table is indexed by (run, key, step), which serves all three: a key's objects
at one step (the UI's slider), a key's steps, and the keys with their counts.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from tether.server.storage.schema import media, writers


def media_keys(connection: Connection, run_pk: int) -> list[dict[str, Any]]:
    """``[{key, kind, count, min_step, max_step}]`` for each key (and kind) of the run."""
    rows = connection.execute(
        select(
            media.c.key,
            media.c.kind,
            func.count().label("n"),
            func.min(media.c.step).label("min_step"),
            func.max(media.c.step).label("max_step"),
        )
        .where(media.c.run_pk == run_pk)
        .group_by(media.c.key, media.c.kind)
        .order_by(media.c.key, media.c.kind)
    )
    return [
        {
            "key": row.key,
            "kind": row.kind,
            "count": int(row.n),
            "min_step": int(row.min_step),
            "max_step": int(row.max_step),
        }
        for row in rows
    ]


def media_items(
    connection: Connection,
    run_pk: int,
    key: str,
    *,
    step: int | None = None,
    writer: str | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """The objects logged under ``key`` (at ``step``, by the writer labelled ``writer``),
    ordered by step, writer and index."""
    query = (
        select(media, writers.c.label)
        .join(writers, writers.c.id == media.c.writer_pk)
        .where(media.c.run_pk == run_pk, media.c.key == key)
    )
    if step is not None:
        query = query.where(media.c.step == step)
    if writer is not None:
        query = query.where(writers.c.label == writer)
    query = query.order_by(media.c.step, writers.c.label, media.c.idx, media.c.id)
    rows = connection.execute(query.limit(limit).offset(offset))
    return [
        {
            "key": row.key,
            "step": int(row.step),
            "index": int(row.idx),
            "writer": row.label,
            "kind": row.kind,
            "sha256": row.sha256,
            "size": None if row.size is None else int(row.size),
            "media_type": row.media_type,
            "meta": row.meta,
            "time": float(row.time),
        }
        for row in rows
    ]


def media_steps(connection: Connection, run_pk: int, key: str) -> list[int]:
    """The distinct steps at which ``key`` has media, in order."""
    rows = connection.execute(
        select(media.c.step)
        .where(media.c.run_pk == run_pk, media.c.key == key)
        .distinct()
        .order_by(media.c.step)
    )
    return [int(step) for step in rows.scalars()]
