"""The first schema (schema version 1): every table created lazily by its service.

Revision 0001, the root.
"""

from __future__ import annotations

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # nothing existed before it; tables are created in their newest shape when first used
