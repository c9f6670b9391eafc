"""State machines with timed transitional states, completed on the engine's timeline."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.engine import Connection

from engine import prepared, timeline
from engine.context import Ctx

if TYPE_CHECKING:
    from engine.collection import Collection

# Hooks run when a transition completes, in its transaction, stamped with its due time:
# (conn, lifecycle, resource_id, state, at). Events attach here ("instance.running" fires when
# pending completes, at the time it was due, whether or not anyone was reading).
Hook = Callable[[Connection, "Lifecycle", str, str, Any], None]
ON_COMPLETE: list[Hook] = []


class Lifecycle:
    """A collection's state machine at work: transitions begun by requests, completed (and final
    rows purged) by the timeline. Made by the collection's declaration, one per collection."""

    def __init__(self, collection: Collection) -> None:
        assert collection.states is not None
        self.resource_type = collection.resource_type
        self.model = collection.model
        self.id_field = collection.id_field
        self.completes_to = {s: target for s, (target, _) in collection.states.transitions.items()}
        self.seconds = {s: seconds for s, (_, seconds) in collection.states.transitions.items()}
        self.final_states = collection.states.final
        self.retention = collection.states.retention
        self.counted_as = collection.counted_as
        timeline.register(f"{self.resource_type}.complete", self._complete)
        timeline.register(f"{self.resource_type}.purge", self._purge)

    def begin(self, ctx: Ctx, obj: Any, state: str) -> None:
        """Move `obj` into `state`; a transitional one completes on the timeline after its
        duration, and a final one is purged after the retention."""
        obj.status = state
        obj.updated_at = ctx.now
        obj.status_due_at = None
        resource_id = getattr(obj, self.id_field)
        if state in self.completes_to:
            due = ctx.now + ctx.clock.duration(self.seconds[state])
            obj.status_due_at = due
            self._schedule(ctx.conn, "complete", resource_id, state, due)
        # Retention counts from the request that ends a resource (a terminate), not from when
        # its last transition completes.
        final = self.completes_to.get(state, state)
        if final in self.final_states and self.retention is not None:
            self._schedule(ctx.conn, "purge", resource_id, final, ctx.now + self.retention)

    def _schedule(self, conn: Any, work: str, resource_id: str, state: str, due: Any) -> None:
        timeline.schedule(
            conn,
            due_at=due,
            kind=f"{self.resource_type}.{work}",
            module=self.model.__module__,
            resource_id=resource_id,
            expected=state,
        )

    def _complete(self, conn: Connection, item: Any) -> None:
        """The due transition, as a compare-and-swap on the state it was scheduled from."""
        target = self.completes_to[item.expected]
        done = prepared.run(
            conn,
            self._statements[0],
            {"rid": item.resource_id, "expected": item.expected, "to": target, "at": item.due_at},
        ).rowcount
        if not done:
            return  # the resource moved on (or is gone) since; nothing to complete
        for hook in ON_COMPLETE:
            hook(conn, self, item.resource_id, target, item.due_at)

    def _purge(self, conn: Connection, item: Any) -> None:
        owner = prepared.run(
            conn, self._statements[1], {"rid": item.resource_id, "expected": item.expected}
        ).scalar()
        if owner is None:
            return
        prepared.run(conn, self._statements[2], {"rid": item.resource_id})
        if self.counted_as:
            from engine import counts

            counts.add(conn, collection=self.counted_as, owner=owner, delta=-1)

    @functools.cached_property
    def _statements(self) -> tuple[Any, Any, Any]:
        """Built once: complete one transition; a purgeable row's owner; remove it."""
        model = self.model
        key = getattr(model, self.id_field) == bindparam("rid")
        complete = (
            update(model)
            .where(key, model.status == bindparam("expected"))
            .values(status=bindparam("to"), updated_at=bindparam("at"), status_due_at=None)
        )
        owner = select(func.coalesce(model.owner, "")).where(
            key, model.status == bindparam("expected")
        )
        remove = delete(model).where(key)
        return complete, owner, remove
