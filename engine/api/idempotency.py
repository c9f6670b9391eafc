"""Idempotency keys: a retried create with the same key returns the first response (24 h, A3)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

from sqlalchemy import UniqueConstraint, bindparam, select
from sqlmodel import Field, SQLModel

from engine import prepared
from engine.api.http import Request, Response
from engine.clock import utcnow
from engine.context import Ctx
from engine.errors import Conflict, ValidationFailed
from engine.sqltypes import UTCDateTime

WINDOW = timedelta(hours=24)
MAX_KEY = 255  # the longest Idempotency-Key kept: its column's size, and OpenAPI's maxLength


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("owner", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    owner: str = Field(max_length=64)
    key: str = Field(max_length=MAX_KEY)
    fingerprint: str = Field(max_length=64)
    status: int
    body: str
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


def check_key(key: str) -> None:
    """400 for a key longer than the column that keeps it."""
    if len(key) > MAX_KEY:
        raise ValidationFailed(
            f"Idempotency-Key: at most {MAX_KEY} characters",
            details={"Idempotency-Key": ["too long"]},
        )


def _fingerprint(request: Request) -> str:
    return hashlib.sha256(f"{request.method} {request.path}\n".encode() + request.body).hexdigest()


def replay(ctx: Ctx, *, key: str, request: Request) -> Response | None:
    """The stored response of an earlier request with this key, or None to run it now."""
    record = prepared.run(ctx.conn, _FIND, {"owner": ctx.principal.username, "key": key}).first()
    if record is None:
        return None
    if record.created_at < ctx.now - WINDOW:
        prepared.run(ctx.conn, _FORGET, {"record_id": record.id})
        return None
    if record.fingerprint != _fingerprint(request):
        raise Conflict("this Idempotency-Key was already used for a different request")
    return Response(record.status, json.loads(record.body), [("Idempotent-Replayed", "true")])


def remember(ctx: Ctx, *, key: str, request: Request, response: Response) -> None:
    prepared.run(
        ctx.conn,
        _INSERT,
        {
            "owner": ctx.principal.username,
            "key": key,
            "fingerprint": _fingerprint(request),
            "status": response.status,
            "body": response.json_bytes().decode(),
            "created_at": ctx.now,
        },
    )


# Prebuilt Core statements: this runs on every POST that carries a key.
_records = IdempotencyRecord.__table__  # type: ignore[attr-defined]
_FIND = (
    select(*(_records.c[n] for n in ("id", "fingerprint", "status", "body", "created_at")))
    .where(_records.c.owner == bindparam("owner"), _records.c.key == bindparam("key"))
    .limit(1)
)
_INSERT = _records.insert()
_FORGET = _records.delete().where(_records.c.id == bindparam("record_id"))
