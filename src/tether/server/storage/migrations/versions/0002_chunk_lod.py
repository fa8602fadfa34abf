"""History chunks get a coarse min/max copy for fast downsampled reads.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_COLUMNS = ("lod_steps", "lod_times", "lod_vals")


def upgrade() -> None:
    # Chunks stored before this revision keep NULL here and are read at full resolution.
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("series_chunks")}
    missing = [name for name in _COLUMNS if name not in present]
    if missing:
        with op.batch_alter_table("series_chunks") as batch:
            for name in missing:
                batch.add_column(sa.Column(name, sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("series_chunks") as batch:
        for name in _COLUMNS:
            batch.drop_column(name)
