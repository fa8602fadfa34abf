"""Actions on many runs of a project at once (``POST P/runs/bulk``): tag, untag, move to
another project of the same namespace (made if absent), delete.

Each action is one transaction: it changes every named run of the project or none. Ids the
project does not hold are ignored (``changed`` counts what changed). A move leaves behind the
runs whose id the target project holds already (``skipped``), since a run id is unique per
project.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Final

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from tether.server.auth import User
from tether.server.storage.schema import projects, runs

ACTIONS: Final = ("tag", "untag", "move", "delete")


def _chosen(project_pk: int, ids: Sequence[str]) -> Any:
    return (runs.c.project_id == project_pk) & runs.c.run_id.in_(sorted(set(ids)))


def retag(
    connection: Connection, project_pk: int, ids: Sequence[str], tag: str, *, add: bool
) -> int:
    rows = connection.execute(select(runs.c.id, runs.c.tags).where(_chosen(project_pk, ids)))
    changes = []
    for pk, stored in rows:
        tags = list(stored or [])
        if add and tag not in tags:
            changes.append({"pk": pk, "new_tags": [*tags, tag]})
        elif not add and tag in tags:
            changes.append({"pk": pk, "new_tags": [t for t in tags if t != tag]})
    if changes:
        connection.execute(
            update(runs)
            .where(runs.c.id == bindparam("pk"))
            .values(tags=bindparam("new_tags"), updated_at=time.time()),
            changes,
        )
    return len(changes)


def move(
    connection: Connection, owner: User, project_pk: int, ids: Sequence[str], target: str
) -> tuple[int, list[str]]:
    """Runs ``ids`` into project ``target`` of the same owner: (how many, ids left behind)."""
    now = time.time()
    target_pk = connection.execute(
        select(projects.c.id).where(projects.c.owner_id == owner.id, projects.c.name == target)
    ).scalar()
    if target_pk is None:
        target_pk = connection.execute(
            insert(projects)
            .values(owner_id=owner.id, name=target, created_at=now, updated_at=now)
            .returning(projects.c.id)
        ).scalar_one()
    if target_pk == project_pk:
        return 0, []
    taken = set(
        connection.execute(
            select(runs.c.run_id).where(runs.c.project_id == target_pk, runs.c.run_id.in_(ids))
        ).scalars()
    )
    movable = [i for i in set(ids) if i not in taken]
    moved = connection.execute(
        update(runs).where(_chosen(project_pk, movable)).values(project_id=target_pk)
    ).rowcount
    connection.execute(update(projects).where(projects.c.id == target_pk).values(updated_at=now))
    return int(moved), sorted(taken)


def delete_runs(connection: Connection, project_pk: int, ids: Sequence[str]) -> int:
    """Deletes the runs and, by their foreign keys, everything of theirs in SQL (history,
    console, media rows...). Blob bytes stay in the blob store: other runs may share them."""
    return int(connection.execute(delete(runs).where(_chosen(project_pk, ids))).rowcount)
