"""The newest schema revision, as Alembic reads it from the migrations: tests that check a
database was brought to the head ask here rather than spelling a revision that the next
migration makes stale."""

from __future__ import annotations

from functools import cache


@cache
def head_revision() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from tether.server.storage.db import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None, f"no migration in {MIGRATIONS}"
    return head
