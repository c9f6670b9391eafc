"""Due work moved onto one timeline: pending transitions and retention become its items.

Revision 0003, after 0002.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from alembic import op
from sqlalchemy import inspect
from sqlalchemy.schema import CreateIndex, CreateTable

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from engine.timeline import DueItem

    conn = op.get_bind()
    table = DueItem.__table__  # type: ignore[attr-defined]
    conn.execute(CreateTable(table, if_not_exists=True))
    for index in table.indexes:
        conn.execute(CreateIndex(index, if_not_exists=True))
    if not inspect(conn).has_table("instances"):
        return
    items = [
        {
            "due_at": _as_datetime(due_at),
            "kind": "instance.complete",
            "module": "engine.compute.models",  # where the instance model lived then (see 0004)
            "resource_id": instance_id,
            "expected": status,
        }
        for instance_id, status, due_at in conn.exec_driver_sql(
            "SELECT instance_id, status, status_due_at FROM instances "
            "WHERE status_due_at IS NOT NULL"
        )
    ]
    items += [
        {
            "due_at": _as_datetime(ended) + timedelta(days=30),  # the retention then
            "kind": "instance.purge",
            "module": "engine.compute.models",
            "resource_id": instance_id,
            "expected": status,
        }
        for instance_id, status, ended in conn.exec_driver_sql(
            "SELECT instance_id, status, termination_time FROM instances "
            "WHERE status IN ('terminated', 'cancelled') AND termination_time IS NOT NULL"
        )
    ]
    if items:
        conn.execute(table.insert(), items)


def _as_datetime(value: Any) -> datetime:
    """A timestamp as a driver returns it from raw SQL (SQLite: text), aware, in UTC."""
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return when if when.tzinfo else when.replace(tzinfo=UTC)
