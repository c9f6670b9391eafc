"""`ip_allocations.address` becomes BIGINT where it was made INTEGER (PostgreSQL, release 0.1.0).

Revision 0009, after 0008. An IPv4 address as a number passes INTEGER's 2^31 - 1 (the public
range 203.0.113.0/24 is about 3.4e9), so 0.1.0 could not launch an instance on PostgreSQL; the
model has said BIGINT since, but a table 0.1.0 made kept its INTEGER. SQLite's INTEGER already
holds 64 bits: nothing to do there, nor where the table is yet to be made (in its newest shape).
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import BigInteger, Integer, inspect

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite" or not inspect(conn).has_table("ip_allocations"):
        return
    column = next(c for c in inspect(conn).get_columns("ip_allocations") if c["name"] == "address")
    if isinstance(column["type"], Integer) and not isinstance(column["type"], BigInteger):
        op.alter_column("ip_allocations", "address", type_=BigInteger(), existing_nullable=False)
