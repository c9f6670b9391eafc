"""Each collection moved into a module of its own: due items name the instances module.

Revision 0004, after 0003.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import inspect

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    if inspect(conn).has_table("due_work"):
        conn.exec_driver_sql(
            "UPDATE due_work SET module = 'engine.compute.instances' "
            "WHERE module = 'engine.compute.models'"
        )
