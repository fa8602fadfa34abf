"""Blobs an owner holds already: linked to a new run of the same owner without their bytes.

A run may read a blob only once it is linked to it (``run_blobs``), and a link normally needs
the bytes (``media_blobs.receive``): knowing a hash gives nothing. Within one owner (a user or
a team) that proof adds nothing, since the owner's runs can read those bytes already; so when
a run asks ``blobs/missing`` for blobs another run of its owner sent, they are linked at once
and not asked for. Ten fine-tuning runs of one team that share a backbone upload it once.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, insert, select

from tether.server.artifact_store import commit_waiting
from tether.server.storage.schema import projects, run_blobs, runs


def held_by_owner(connection: Connection, owner_pk: int, hashes: Sequence[str]) -> dict[str, Any]:
    """``{sha256: run_blobs row}`` of the blobs of ``hashes`` a run of owner ``owner_pk``
    sent."""
    if not hashes:
        return {}
    found: dict[str, Any] = {}
    for row in connection.execute(
        select(run_blobs.c.sha256, run_blobs.c.size, run_blobs.c.media_type)
        .join(runs, runs.c.id == run_blobs.c.run_pk)
        .join(projects, projects.c.id == runs.c.project_id)
        .where(projects.c.owner_id == owner_pk, run_blobs.c.sha256.in_(list(hashes)))
    ):
        found.setdefault(row.sha256, row)
    return found


def link_owned(connection: Connection, run: Any, held: dict[str, Any]) -> None:
    """Link the blobs ``held_by_owner`` found to ``run`` (which lacks them), and commit the
    artifact versions of the run they complete."""
    if not held:
        return
    now = time.time()
    connection.execute(
        insert(run_blobs),
        [
            {
                "run_pk": run.id,
                "sha256": sha,
                "size": row.size,
                "media_type": row.media_type,
                "created_at": now,
            }
            for sha, row in held.items()
        ],
    )
    for sha in held:
        commit_waiting(connection, int(run.id), sha, now)
