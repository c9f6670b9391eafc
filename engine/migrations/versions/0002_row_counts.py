"""Instances gained an index on termination_time, and per-owner row counts (release 0.1.0).

Revision 0002, after 0001.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import inspect
from sqlalchemy.schema import CreateTable

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    if not inspect(conn).has_table("instances"):
        return  # created later, lazily, already in the new shape
    conn.exec_driver_sql(
        "CREATE INDEX IF NOT EXISTS ix_instances_termination_time ON instances (termination_time)"
    )
    from engine.counts import RowCount

    conn.execute(CreateTable(RowCount.__table__, if_not_exists=True))  # type: ignore[attr-defined]
    conn.exec_driver_sql(
        "INSERT INTO row_counts (collection, owner, n) "
        "SELECT 'instances', owner, count(*) FROM instances GROUP BY owner"
    )
