"""PostgreSQL: compress history blobs with lz4 instead of pglz.

The default pglz compression cost PostgreSQL 2.7-3.0 s of CPU per 2,000,000 points ingested;
lz4 costs about 0.2 s for a slightly larger table (bench/RESULTS.md). Only new values are
compressed the new way; nothing is rewritten. A no-op on SQLite, and on a PostgreSQL built
without lz4.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_COLUMNS = ("steps", "times", "vals", "lod_steps", "lod_times", "lod_vals")


def _lz4_available(bind: sa.Connection) -> bool:
    if bind.dialect.name != "postgresql":
        return False
    found = bind.execute(
        sa.text(
            "SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' "
            "AND 'lz4' = ANY(enumvals)"
        )
    ).first()
    return found is not None


def upgrade() -> None:
    bind = op.get_bind()
    if _lz4_available(bind):
        for column in _COLUMNS:
            op.execute(f"ALTER TABLE series_chunks ALTER COLUMN {column} SET COMPRESSION lz4")


def downgrade() -> None:
    bind = op.get_bind()
    if _lz4_available(bind):
        for column in _COLUMNS:
            op.execute(f"ALTER TABLE series_chunks ALTER COLUMN {column} SET COMPRESSION pglz")
