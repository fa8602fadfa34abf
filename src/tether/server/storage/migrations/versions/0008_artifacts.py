"""Artifacts: names, versions (pending until their blobs are linked), files, the blobs each
version needs, aliases and uses (lineage).

Revision ID: 0008
Revises: 0007
"""

from alembic import op

from tether.server.storage.schema import metadata

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_TABLES = (
    "artifacts",
    "artifact_versions",
    "artifact_files",
    "artifact_blobs",
    "artifact_aliases",
    "artifact_uses",
)


def upgrade() -> None:
    # A database that 0001 made from a newer schema has these already: nothing is rebuilt.
    metadata.create_all(op.get_bind(), tables=[metadata.tables[name] for name in _TABLES])


def downgrade() -> None:
    metadata.drop_all(op.get_bind(), tables=[metadata.tables[name] for name in reversed(_TABLES)])
