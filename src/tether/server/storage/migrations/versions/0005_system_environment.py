"""System metrics and the run's environment: two tables for samples, one for environments,
and a small environment summary on each run (for the runs table's columns).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from tether.server.storage.schema import metadata

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_TABLES = ("system_metrics", "system_chunks", "run_environments")


def upgrade() -> None:
    bind = op.get_bind()
    # A database that 0001 made from a newer schema has these already: nothing is rebuilt.
    metadata.create_all(bind, tables=[metadata.tables[name] for name in _TABLES])
    present = {c["name"] for c in sa.inspect(bind).get_columns("runs")}
    if "environment_summary" not in present:
        with op.batch_alter_table("runs") as batch:
            batch.add_column(sa.Column("environment_summary", sa.JSON(), nullable=True))


def downgrade() -> None:
    bind = op.get_bind()
    metadata.drop_all(bind, tables=[metadata.tables[name] for name in reversed(_TABLES)])
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("environment_summary")
