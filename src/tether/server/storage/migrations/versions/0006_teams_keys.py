"""Teams and key management: owners of kind "team", memberships with roles, disabled users,
a default owner per user, and keys with a description, an expiry, a last use and a revocation.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

from tether.server.storage.schema import metadata

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_USER_COLUMNS: tuple[tuple[str, Callable[[], sa.Column[Any]]], ...] = (
    ("kind", lambda: sa.Column("kind", sa.String(8), nullable=False, server_default="user")),
    (
        "disabled",
        lambda: sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()),
    ),
    ("default_owner_id", lambda: sa.Column("default_owner_id", sa.Integer(), nullable=True)),
)
_KEY_COLUMNS: tuple[tuple[str, Callable[[], sa.Column[Any]]], ...] = (
    ("description", lambda: sa.Column("description", sa.String(256), nullable=True)),
    ("expires_at", lambda: sa.Column("expires_at", sa.Float(), nullable=True)),
    ("last_used_at", lambda: sa.Column("last_used_at", sa.Float(), nullable=True)),
    ("revoked_at", lambda: sa.Column("revoked_at", sa.Float(), nullable=True)),
    (
        "from_env",
        lambda: sa.Column("from_env", sa.Boolean(), nullable=False, server_default=sa.false()),
    ),
)


def upgrade() -> None:
    bind = op.get_bind()
    # A database that 0001 made from a newer schema has all of this already: skip what exists.
    metadata.create_all(bind, tables=[metadata.tables["memberships"]])
    for table, columns in (("users", _USER_COLUMNS), ("api_keys", _KEY_COLUMNS)):
        present = {c["name"] for c in sa.inspect(bind).get_columns(table)}
        missing = [make() for name, make in columns if name not in present]
        if missing:
            with op.batch_alter_table(table) as batch:
                for column in missing:
                    batch.add_column(column)


def downgrade() -> None:
    bind = op.get_bind()
    metadata.drop_all(bind, tables=[metadata.tables["memberships"]])
    for table, columns in (("users", _USER_COLUMNS), ("api_keys", _KEY_COLUMNS)):
        with op.batch_alter_table(table) as batch:
            for name, _ in columns:
                batch.drop_column(name)
