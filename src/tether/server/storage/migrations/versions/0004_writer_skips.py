"""Writers count what the client skipped because the server refused it, and say why.

Revision ID: 0004
Revises: 0003
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("writers")}
    columns: list[sa.Column[Any]] = [
        sa.Column("skipped_records", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("skipped_bytes", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("skip_reason", sa.Text(), nullable=True),
    ]
    missing = [column for column in columns if column.name not in present]
    if missing:
        with op.batch_alter_table("writers") as batch:
            for column in missing:
                batch.add_column(column)


def downgrade() -> None:
    with op.batch_alter_table("writers") as batch:
        for name in ("skipped_records", "skipped_bytes", "skip_reason"):
            batch.drop_column(name)
