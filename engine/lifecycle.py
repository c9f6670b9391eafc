"""State machines with timed transitional states, completed lazily and deterministically on read."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, case, delete, exists, func, select, update
from sqlalchemy.engine import Connection

from engine.context import Ctx
from engine.db import Database
from engine.errors import InvalidState

# Every lifecycle of a model imported so far; a request completes all of their due transitions,
# so a rule that looks across resources (an image in use by instances) never sees stale states.
MANAGED: list[Lifecycle] = []


@dataclass(frozen=True)
class Lifecycle:
    """A resource's transitional states and the state each completes to after its duration."""

    resource_type: str
    model: Any
    completes_to: dict[str, str]
    # Rows whose `retention_column` is older than `retention` are removed (and uncounted).
    retention: timedelta | None = None
    retention_column: str = ""
    counted_as: str = ""  # the collection name in `row_counts`, for a counted model

    def __post_init__(self) -> None:
        MANAGED.append(self)

    def begin(self, ctx: Ctx, obj: Any, state: str) -> None:
        """Move `obj` into `state`; if transitional, it completes after the clock's duration."""
        obj.status = state
        obj.updated_at = ctx.now
        if state in self.completes_to:
            obj.status_due_at = ctx.now + ctx.clock.duration(f"{self.resource_type}.{state}")
        else:
            obj.status_due_at = None

    def require(self, obj: Any, allowed: tuple[str, ...], message: str) -> None:
        if obj.status not in allowed:
            raise InvalidState(
                f"{message} (it is {obj.status})",
                details={"status": obj.status, "allowed": list(allowed)},
            )

    def settle(self, db: Database, now: datetime) -> None:
        """Complete this model's due transitions and remove rows past retention, for a read.

        Runs in its own short write transaction, before the request's reads, and only when
        something is due, so reads stay reads as a rule.
        """
        due_check, stale_check = self._statements[1], self._statements[2]
        with db.engine.connect() as conn:
            pending = conn.execute(due_check, {"now": now}).scalar()
            stale = (
                stale_check is not None
                and conn.execute(stale_check, {"cutoff": self._cutoff(now)}).scalar()
            )
            conn.rollback()
        if pending or stale:
            with db.write_engine.begin() as conn:
                self.settle_within(conn, now)

    def settle_within(self, conn: Connection, now: datetime) -> None:
        """The same, in a write transaction the caller holds already."""
        complete, _, stale_check = self._statements
        conn.execute(complete, {"now": now})
        if (
            stale_check is not None
            and conn.execute(stale_check, {"cutoff": self._cutoff(now)}).scalar()
        ):
            self._purge(conn, getattr(self.model, self.retention_column) <= self._cutoff(now))

    def _cutoff(self, now: datetime) -> datetime:
        assert self.retention is not None
        return now - self.retention

    @functools.cached_property
    def _statements(self) -> tuple[Any, Any, Any]:
        """Built once: complete what is due; is anything due; is anything past retention."""
        model = self.model
        due = model.status_due_at <= bindparam("now")
        complete = (
            update(model)
            .where(due)
            .values(
                status=case(self.completes_to, value=model.status, else_=model.status),
                updated_at=model.status_due_at,
                status_due_at=None,
            )
        )
        stale = None
        if self.retention is not None:
            column = getattr(model, self.retention_column)
            stale = select(exists().where(column <= bindparam("cutoff")))
        return complete, select(exists().where(due)), stale

    def _purge(self, conn: Connection, expired: Any) -> None:
        model = self.model
        if self.counted_as:
            from engine import counts

            per_owner = conn.execute(
                select(model.owner, func.count()).where(expired).group_by(model.owner)
            ).all()
            for owner, n in per_owner:
                counts.add(conn, collection=self.counted_as, owner=owner, delta=-n)
        conn.execute(delete(model).where(expired))


def settle_all(db: Database, now: datetime) -> None:
    """Complete the due transitions of every lifecycle loaded in this process (for reads)."""
    for lifecycle in MANAGED:
        lifecycle.settle(db, now)


def settle_all_within(conn: Connection, now: datetime) -> None:
    """The same inside the caller's write transaction (for writes, which hold the lock)."""
    for lifecycle in MANAGED:
        lifecycle.settle_within(conn, now)
