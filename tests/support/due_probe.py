"""A due-work kind for tests: doing an item records who did it, in the item's own transaction.

Run as `python -m tests.support.due_probe DATABASE_URL` it works the timeline until nothing
is due, as a server's worker does.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from engine import timeline

KIND = "probe.done"


def _done(conn: Connection, item: Any) -> None:
    conn.execute(
        text("INSERT INTO probe_done (item_id, pid) VALUES (:item, :pid)"),
        {"item": item.id, "pid": os.getpid()},
    )


timeline.register(KIND, _done)


def main(url: str) -> None:
    from engine.db import Database

    db = Database(url)
    db.ensure_tables()
    idle = 0
    while idle < 20:
        idle = 0 if timeline.work_due_now(db) else idle + 1
    db.dispose()


if __name__ == "__main__":
    main(sys.argv[1])
