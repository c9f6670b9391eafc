"""One timeline of due work: each item is a row with its due time, done in due order.

A lifecycle schedules the completion of a transitional state, and the removal of a row past its
retention, as items here. A request makes one indexed check for what is due by the engine's
clock and does it at each item's own due timestamp, a bounded batch at a time; the server also
works it from a background ticker, so due work happens with no request at all.
"""

from __future__ import annotations

import functools
import importlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Index, bindparam, delete, exists, select
from sqlalchemy.engine import Connection
from sqlmodel import Field, SQLModel

from engine import prepared
from engine.sqltypes import UTCDateTime

log = logging.getLogger("atonix.engine")

# Items done in one go; what is left over is done by the next request or tick.
BATCH = 200


class DueItem(SQLModel, table=True):
    """One piece of due work: `kind` names its handler, `module` the code that registers it."""

    __tablename__ = "due_work"
    __table_args__ = (Index("ix_due_work_due", "due_at", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    due_at: datetime = Field(sa_type=UTCDateTime)
    kind: str = Field(max_length=64)  # "<resource_type>.<work>", e.g. "instance.complete"
    module: str = Field(max_length=128)  # imported before the item is done
    resource_id: str = Field(max_length=64)
    expected: str = Field(default="", max_length=32)  # the state it applies to, compare-and-swap


# kind -> handler(conn, item, due_at); registered by the modules that schedule such work.
Handler = Callable[[Connection, Any], None]
HANDLERS: dict[str, Handler] = {}


def register(kind: str, handler: Handler) -> None:
    HANDLERS[kind] = handler


def schedule(
    conn: Any, *, due_at: datetime, kind: str, module: str, resource_id: str, expected: str = ""
) -> None:
    """Add an item in the caller's transaction (a Session or a Connection)."""
    prepared.run(
        conn,
        _statements()[0],
        {
            "due_at": due_at,
            "kind": kind,
            "module": module,
            "resource_id": resource_id,
            "expected": expected,
        },
    )


def anything_due(conn: Connection, now: datetime) -> bool:
    """One index seek: is any item due by `now`?"""
    return bool(prepared.run(conn, _statements()[1], {"now": now}).scalar())


def work_due(conn: Connection, now: datetime, *, batch: int = BATCH, wait: bool = True) -> int:
    """Do up to `batch` due items in due order, in the caller's write transaction.

    On PostgreSQL each item is claimed (locked), so two workers never do one twice. A request
    `wait`s for items another transaction holds, so it never goes on to read a state whose
    completion is due but not yet committed (8 PUTs to a bucket still `creating` at its due
    time: skipping, 7 saw `creating`); the lock order is the due order, so waiters cannot
    deadlock one another. The ticker skips them instead: nobody reads through it. SQLite's write
    lock already lets one writer in at a time."""
    # Claimed and removed in one statement, then done in due order (RETURNING's order is the
    # database's own); a handler's failure rolls the removal back with the transaction.
    statement = _claim(conn.dialect.name, skip_locked=not wait)
    rows = sorted(
        prepared.run(conn, statement, {"now": now, "batch": batch}).all(),
        key=lambda item: (item.due_at, item.id),
    )
    for item in rows:
        handler = HANDLERS.get(item.kind)
        if handler is None:
            importlib.import_module(item.module)
            handler = HANDLERS.get(item.kind)
        if handler is None:
            log.warning("due item %s of unknown kind %r dropped", item.id, item.kind)
        else:
            handler(conn, item)
    return len(rows)


def work_due_now(db: Any, *, wait: bool = True) -> int:
    """Check, and if anything is due do it in a write transaction of its own (reads, ticker)."""
    with db.engine.connect() as conn:
        now = db.now_on(conn)
        due = anything_due(conn, now)
        conn.rollback()
    if not due:
        return 0
    with db.writing() as conn:
        # Claimed under the write lock (SQLite), or row by row (PostgreSQL, see work_due).
        return work_due(conn, now, wait=wait)


@functools.cache
def _claim(dialect: str, *, skip_locked: bool) -> Any:
    """DELETE the first `batch` items due by `now` RETURNING them: one statement per batch
    where a SELECT and a DELETE per item were three for the one item a create finds due."""
    table = DueItem.__table__  # type: ignore[attr-defined]
    due = (
        select(table.c.id)
        .where(table.c.due_at <= bindparam("now"))
        .order_by(table.c.due_at, table.c.id)
        .limit(bindparam("batch"))
    )
    if dialect != "sqlite":
        due = due.with_for_update(skip_locked=skip_locked)
    return delete(table).where(table.c.id.in_(due.scalar_subquery())).returning(*table.c)


@functools.cache
def _statements() -> tuple[Any, Any]:
    table = DueItem.__table__  # type: ignore[attr-defined]
    insert = table.insert().values(
        due_at=bindparam("due_at"),
        kind=bindparam("kind"),
        module=bindparam("module"),
        resource_id=bindparam("resource_id"),
        expected=bindparam("expected"),
    )
    due = select(exists().where(table.c.due_at <= bindparam("now")))
    return insert, due
