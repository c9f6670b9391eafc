"""Networking: instances are found by their VPC and subnet (indexes); the networking tables
themselves are created with their service, in their newest shape.

Revision 0007, after 0004.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import inspect
from sqlalchemy.schema import CreateIndex

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from engine.compute.instances import Instance

    conn = op.get_bind()
    if not inspect(conn).has_table("instances"):
        return
    table = Instance.__table__  # type: ignore[attr-defined]
    for index in table.indexes:
        if index.name in ("ix_instances_vpc_id", "ix_instances_subnet_id"):
            conn.execute(CreateIndex(index, if_not_exists=True))
