"""Governance endpoints: quotas, the audit log as a collection, and the engine clock."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import Field as PydanticField

from engine import audit, quotas, timeline
from engine.api.http import Request
from engine.audit import AuditRecord
from engine.context import Ctx
from engine.errors import InvalidState, ValidationFailed
from engine.resources import Body, ResourceKind


class QuotaBody(Body):
    owner: str
    limit: int | None = PydanticField(default=None, ge=0, le=2**31 - 1)  # an INTEGER column


# The latest time a manual clock reaches: ten years short of the end of datetime's range, so
# that the longest expiry (an API key's 3,650 days) still fits.
LATEST_MANUAL_TIME = datetime(9989, 12, 31, tzinfo=UTC)


class AdvanceBody(Body):
    seconds: float = PydanticField(gt=0, le=10 * 365 * 86400)


def list_quotas(request: Request) -> dict[str, Any]:
    ctx = request.ctx
    owner = request.arg("owner") or ctx.principal.username
    if owner != ctx.principal.username:
        from engine.identity.service import authorize, get_user

        authorize(ctx.principal, "admin")
        get_user(ctx.session, username=owner)
    rows = quotas.usage(ctx.session, owner=owner)
    return {"count": len(rows), "next": None, "previous": None, "results": rows}


def set_quota(request: Request) -> dict[str, Any]:
    from engine.identity.service import get_user

    ctx = request.ctx
    body = request.parse(QuotaBody)
    get_user(ctx.session, username=body.owner)
    resource_type = request.params["id"]
    quotas.set_limit(ctx, owner=body.owner, resource_type=resource_type, limit=body.limit)
    ctx.audited(
        resource_id=resource_type, resource_name=body.owner, owner=body.owner, limit=body.limit
    )
    ctx.session.flush()
    return next(
        q
        for q in quotas.usage(ctx.session, owner=body.owner)
        if q["resource_type"] == resource_type
    )


def _audit_visible(ctx: Ctx, model: Any) -> list[Any]:
    return [] if ctx.sees_everything() else [model.user == ctx.principal.username]


AUDIT_LOGS = ResourceKind(
    resource_type="audit_record",
    model=AuditRecord,
    id_field="audit_id",
    public=audit.public,
    filters={"user": str, "action": str, "resource_type": str, "resource_id": str, "status": str},
    search=("resource_name", "error_message"),
    ordering=("created_at",),
    visible=_audit_visible,
)


def clock_state(ctx: Ctx) -> dict[str, Any]:
    """The clock, and how long each transitional state lasts on it ("instance.pending": 3.0)."""
    durations = {
        key: ctx.clock.duration(seconds).total_seconds()
        for key, seconds in _declared_durations().items()
    }
    return {"mode": ctx.clock.mode, "now": ctx.now, "durations": durations}


@functools.cache
def _declared_durations() -> dict[str, float]:
    """Every collection's transition durations, read from the declarations once per process
    (this imports every collection, so not on every request)."""
    from engine import registry

    return {
        f"{c.resource_type}.{state}": seconds
        for c in registry.every()
        if c.states is not None
        for state, (_, seconds) in c.states.transitions.items()
    }


def show_clock(request: Request) -> dict[str, Any]:
    return clock_state(request.ctx)


def advance_clock(request: Request) -> dict[str, Any]:
    ctx = request.ctx
    if ctx.clock.mode != "manual":
        raise InvalidState(f"the engine clock is {ctx.clock.mode}; only a manual clock advances")
    body = request.parse(AdvanceBody)
    ctx.now = ctx.db.now(ctx.session, lock=True)
    if ctx.now + timedelta(seconds=body.seconds) > LATEST_MANUAL_TIME:
        # Past this, expiries and retentions computed from now would leave datetime's range.
        raise ValidationFailed(
            f"seconds: the manual clock stops at {LATEST_MANUAL_TIME:%Y-%m-%d}",
            details={"seconds": ["past the latest time"]},
        )
    ctx.now = ctx.now + timedelta(seconds=body.seconds)
    ctx.db.set_manual_now(ctx.session, ctx.now)
    # Everything due by the new time is done now, in due order, each at its own due timestamp.
    while timeline.work_due(ctx.conn, ctx.now) == timeline.BATCH:
        pass
    ctx.audited(resource_id="", seconds=body.seconds, now=ctx.now.isoformat())
    return clock_state(ctx)
