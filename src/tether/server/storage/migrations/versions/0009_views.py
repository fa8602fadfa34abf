"""Saved workspace views: a project's named views (the UI's URL state).

Revision ID: 0009
Revises: 0008
"""

from alembic import op

from tether.server.storage.schema import metadata

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_TABLES = ("views",)


def upgrade() -> None:
    # A database that 0001 made from a newer schema has it already: nothing is rebuilt.
    metadata.create_all(op.get_bind(), tables=[metadata.tables[name] for name in _TABLES])


def downgrade() -> None:
    metadata.drop_all(op.get_bind(), tables=[metadata.tables[name] for name in reversed(_TABLES)])
