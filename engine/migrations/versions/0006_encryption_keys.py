"""Encryption keys: keys, their wrapped material versions, the master key's fingerprint.

Revision 0006, after 0005. The encryption_keys and encryption_key_material tables are new: like
every table they are created in their newest shape when the storage service is first used, and
the master key's fingerprint is a row of atonix_meta written with the first key, so there is
nothing to alter here.
"""

from __future__ import annotations

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # encryption_keys and encryption_key_material did not exist before this revision
