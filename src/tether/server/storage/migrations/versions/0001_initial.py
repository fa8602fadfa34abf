"""The first schema: users, keys, projects, runs, writers, history chunks, console.

Revision ID: 0001
Revises:
"""

from alembic import op

from tether.server.storage.schema import metadata

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# The baseline creates the tables of schema.py as they are now, so a new database is complete
# at once. Later revisions are explicit operations (op.add_column, ...) that skip what a newer
# baseline already made: an upgrade never rebuilds a table that holds data.
_TABLES = (
    "users",
    "api_keys",
    "projects",
    "runs",
    "writers",
    "row_schemas",
    "metric_keys",
    "series_chunks",
    "console_lines",
)


def upgrade() -> None:
    bind = op.get_bind()
    metadata.create_all(bind, tables=[metadata.tables[name] for name in _TABLES])


def downgrade() -> None:
    bind = op.get_bind()
    metadata.drop_all(bind, tables=[metadata.tables[name] for name in reversed(_TABLES)])
