"""A project's saved workspace views: a name and the UI's URL state, as given."""

from __future__ import annotations

import time
from typing import Any, Final

from sqlalchemy import Connection, delete, func, insert, select, update

from tether.server.storage.schema import views

MAX_STATE_BYTES: Final = 64 * 1024
MAX_VIEWS: Final = 1000  # per project


def list_views(connection: Connection, project_pk: int) -> list[dict[str, Any]]:
    rows = connection.execute(
        select(views.c.name, views.c.state, views.c.updated_at)
        .where(views.c.project_id == project_pk)
        .order_by(views.c.name)
    )
    return [{"name": r.name, "state": r.state, "updated": r.updated_at} for r in rows]


def save_view(
    connection: Connection, project_pk: int, name: str, state: dict[str, Any], user_pk: int
) -> dict[str, Any]:
    """Creates or replaces the view ``name``; ``ValueError`` past ``MAX_VIEWS``."""
    now = time.time()
    values = {"state": state, "updated_at": now, "updated_by": user_pk}
    changed = connection.execute(
        update(views).where(views.c.project_id == project_pk, views.c.name == name).values(**values)
    ).rowcount
    if not changed:
        count = connection.execute(
            select(func.count()).select_from(views).where(views.c.project_id == project_pk)
        ).scalar_one()
        if count >= MAX_VIEWS:
            raise ValueError(
                f"the project has {count} saved views, the most it may keep; delete some first"
            )
        connection.execute(insert(views).values(project_id=project_pk, name=name, **values))
    return {"name": name, "state": state, "updated": now}


def delete_view(connection: Connection, project_pk: int, name: str) -> bool:
    deleted = connection.execute(
        delete(views).where(views.c.project_id == project_pk, views.c.name == name)
    ).rowcount
    return bool(deleted)
