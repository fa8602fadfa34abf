"""What a project's runs hold, for completing a filter and picking columns: the distinct
config, summary and environment keys, tags, groups, users and hosts (``GET P/runs/keys``).

One ``SELECT DISTINCT`` per part over the JSON columns (``json_each`` on SQLite,
``json_object_keys`` on PostgreSQL): 10,000 runs of ~30 keys take tens of milliseconds.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import Connection, func, select, true

from tether.server.auth import User
from tether.server.storage.schema import runs

LIMIT: Final = 5000  # per part: a completion list, not an export


def run_keys(connection: Connection, owner: User, project_pk: int) -> dict[str, list[Any]]:
    where = runs.c.project_id == project_pk
    postgres = connection.dialect.name == "postgresql"

    def keys_of(*columns: Any) -> list[str]:
        found: set[str] = set()
        for column in columns:
            if postgres:
                # AS anon_1(value): json_object_keys names its column after the alias alone.
                element = func.json_object_keys(column).table_valued("value").render_derived()
                query = select(element.c.value).select_from(runs).join(element, true())
            else:
                element = func.json_each(column).table_valued("key")
                query = select(element.c.key).select_from(runs).join(element, true())
            query = query.where(where, column.is_not(None)).distinct().limit(LIMIT)
            found.update(str(k) for (k,) in connection.execute(query))
        return sorted(found)[:LIMIT]

    def distinct(column: Any) -> list[str]:
        query = select(column).where(where, column.is_not(None)).distinct().limit(LIMIT)
        return sorted(str(v) for (v,) in connection.execute(query))

    if postgres:
        tag = func.json_array_elements_text(runs.c.tags).table_valued("value")
    else:
        tag = func.json_each(runs.c.tags).table_valued("value")
    tags = connection.execute(
        select(tag.c.value).select_from(runs).join(tag, true()).where(where).distinct().limit(LIMIT)
    )
    any_run = connection.execute(select(runs.c.id).where(where).limit(1)).first()
    return {
        "config": keys_of(runs.c.config),
        "summary": keys_of(runs.c.summary, runs.c.user_summary),
        "environment": keys_of(runs.c.environment_summary),
        "tags": sorted(str(t) for (t,) in tags),
        "groups": distinct(runs.c.group_name),
        "job_types": distinct(runs.c.job_type),
        # Runs carry no user of their own: the project's owner is every run's user.
        "users": [owner.name] if any_run else [],
        "hosts": distinct(runs.c.host),
    }
