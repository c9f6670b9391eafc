"""State machines with timed transitional states, completed lazily and deterministically on read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, exists, func, select, update

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

    def settle(self, db: Database, now: datetime) -> int:
        """Complete every transition of this model that is due by `now`; returns how many did.

        Also removes rows past their retention. Runs in its own short write transaction, before
        the request's reads, and only when something is due, so reads stay reads as a rule.
        """
        model = self.model
        due = model.status_due_at <= now
        expired = None
        if self.retention is not None:
            expired = getattr(model, self.retention_column) <= now - self.retention
        with db.engine.connect() as conn:
            pending = conn.execute(select(exists().where(due))).scalar()
            stale = expired is not None and conn.execute(select(exists().where(expired))).scalar()
            conn.rollback()
        if not pending and not stale:
            return 0
        with db.write_engine.begin() as conn:
            done = 0
            if pending:
                result = conn.execute(
                    update(model)
                    .where(due)
                    .values(
                        status=case(self.completes_to, value=model.status, else_=model.status),
                        updated_at=model.status_due_at,
                        status_due_at=None,
                    )
                )
                done = int(result.rowcount)
            if stale:
                self._purge(conn, expired)
            return done

    def _purge(self, conn: Any, expired: Any) -> None:
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
    """Complete the due transitions of every lifecycle loaded in this process."""
    for lifecycle in MANAGED:
        lifecycle.settle(db, now)
