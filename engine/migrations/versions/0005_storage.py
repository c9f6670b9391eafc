"""Object storage: buckets, object versions and the blob garbage list.

Revision 0005, after 0004. The tables are new: like every table they are created in their
newest shape when the storage service is first used, so there is nothing to alter here.
"""

from __future__ import annotations

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # buckets, s3_objects and blob_garbage did not exist before this revision
