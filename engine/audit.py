"""The audit log: one record per mutation, written in the mutation's own transaction (SPEC B5)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from engine import prepared
from engine.clock import utcnow
from engine.context import Ctx
from engine.ids import new_id
from engine.sqltypes import UTCDateTime


class AuditRecord(SQLModel, table=True):
    __tablename__ = "audit_logs"
    __table_args__ = (
        Index("ix_audit_user_action", "user", "action"),
        Index("ix_audit_resource", "resource_type", "resource_id"),
        Index("ix_audit_user_created", "user", "created_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    audit_id: str = Field(unique=True, max_length=32)
    user: str | None = Field(default=None, max_length=64)
    action: str = Field(max_length=64)
    resource_type: str = Field(max_length=64)
    resource_id: str = Field(default="", max_length=64)
    resource_name: str = Field(default="", max_length=255)
    status: str = Field(default="success", max_length=16)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    error_message: str = ""
    source_ip: str | None = None
    user_agent: str = ""
    created_at: datetime = Field(default_factory=utcnow, index=True, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


def record(
    ctx: Ctx,
    *,
    action: str,
    resource_type: str,
    resource_id: str = "",
    resource_name: str = "",
    details: dict[str, Any] | None = None,
    status: str = "success",
    error_message: str = "",
) -> None:
    """Write an audit record in the current unit of work; it commits (or not) with the mutation."""
    prepared.run(
        ctx.conn,
        _INSERT,
        {
            "audit_id": new_id("audit"),
            "user": ctx.principal.username,
            "action": action,
            "resource_type": resource_type,
            "resource_id": resource_id,
            "resource_name": resource_name,
            "status": status,
            "details": details or {},
            "error_message": error_message,
            "source_ip": ctx.source_ip,
            "user_agent": ctx.user_agent,
            "created_at": ctx.now,
            "updated_at": ctx.now,
        },
    )


# Every mutation writes one: a plain INSERT, without building an ORM object to flush.
_INSERT = AuditRecord.__table__.insert()  # type: ignore[attr-defined]


def public(entry: AuditRecord) -> dict[str, Any]:
    return {
        "audit_id": entry.audit_id,
        "user": entry.user,
        "action": entry.action,
        "resource_type": entry.resource_type,
        "resource_id": entry.resource_id,
        "resource_name": entry.resource_name,
        "status": entry.status,
        "details": entry.details,
        "error_message": entry.error_message,
        "source_ip": entry.source_ip,
        "user_agent": entry.user_agent,
        "created_at": entry.created_at,
        "updated_at": entry.updated_at,
    }
