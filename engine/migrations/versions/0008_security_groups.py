"""Security groups, their rules and their attachments: three new tables.

Revision 0008, after 0007 (networking). New tables are created in their newest shape when
networking is first used (engine.schema), so nothing here creates them; and no existing row
changes: before this release an instance could not name a security group, so every
`instances.security_groups` is `[]`.
"""

from __future__ import annotations

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing to alter (see the module's docstring)."""
