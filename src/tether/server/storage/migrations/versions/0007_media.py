"""Media: a row per logged image, histogram, table or text; the blobs each run sent; and what
the blob store holds.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

from tether.server.storage.schema import metadata

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_TABLES = ("media", "run_blobs", "blobs")


def upgrade() -> None:
    # A database that 0001 made from a newer schema has these already: nothing is rebuilt.
    metadata.create_all(op.get_bind(), tables=[metadata.tables[name] for name in _TABLES])


def downgrade() -> None:
    metadata.drop_all(op.get_bind(), tables=[metadata.tables[name] for name in reversed(_TABLES)])
