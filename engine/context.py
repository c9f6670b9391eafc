"""Who is asking and when: the principal and the unit of work every service function receives."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlmodel import Session

    from engine.clock import Clock
    from engine.db import Database

ROLES = ("viewer", "developer", "admin")
SERVICES = ("compute", "storage", "networking")
SCOPES = (*(f"{s}:{a}" for s in SERVICES for a in ("read", "write")), "admin")


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a user, the role they hold and the scopes of the credential used."""

    user_id: int
    username: str
    role: str
    scopes: tuple[str, ...]
    credential: str  # "api_key" or "token"
    credential_id: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def has_scope(self, scope: str) -> bool:
        return scope_allows(self.scopes, scope)


def scope_allows(granted: tuple[str, ...] | list[str], wanted: str) -> bool:
    """Whether a set of scopes (with `*` and `<service>:*` wildcards) covers one scope."""
    service = wanted.split(":", 1)[0]
    return "*" in granted or wanted in granted or f"{service}:*" in granted


@dataclass
class Ctx:
    """One request's unit of work: its session, its caller and its instant on the engine clock."""

    db: Database
    session: Session
    principal: Principal
    now: datetime
    request_id: str = ""
    source_ip: str | None = None
    user_agent: str = ""
    # What a service adds to the audit record the dispatcher writes for this request: details,
    # and for a platform route (a user, a key) the id and name of what it changed.
    audit_details: dict[str, Any] = field(default_factory=dict)
    audit_subject: tuple[str, str] = ("", "")

    def audited(self, *, resource_id: str, resource_name: str = "", **details: Any) -> None:
        """Name what this request changed, for the record the dispatcher writes."""
        self.audit_subject = (resource_id, resource_name)
        self.audit_details.update(details)

    @functools.cached_property
    def conn(self) -> Connection:
        """The session's connection, for prebuilt Core statements on tables no ORM object of
        this request touches (audit, counts, the timeline, idempotency, IPAM): about a third
        cheaper a statement than through the session, which first flushes its pending objects."""
        return self.session.connection()

    @property
    def clock(self) -> Clock:
        return self.db.clock

    def sees_everything(self) -> bool:
        return self.principal.is_admin
