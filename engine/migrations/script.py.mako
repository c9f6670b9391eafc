"""${message}

Revision ${up_revision}, after ${down_revision | comma,n}.
"""

from __future__ import annotations

from alembic import op

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Tables are created lazily, in their newest shape, when their service is first used: a
    # revision alters only tables that exist (op.get_bind() and sqlalchemy.inspect tell).
    ${upgrades if upgrades else "pass"}
