"""Quotas (SPEC A6): per-user limits consumed and released inside the mutating transaction."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, UniqueConstraint, bindparam, case, func, or_, update
from sqlalchemy.dialects import sqlite
from sqlmodel import Field, Session, SQLModel, col, select

from engine import prepared
from engine.clock import utcnow
from engine.context import Ctx
from engine.errors import QuotaExceeded, field_error
from engine.resources import locked
from engine.sqltypes import UTCDateTime

DEFAULT_LIMITS: dict[str, int] = {
    "instances": 100,
    "vcpus": 400,
    "memory_gb": 1600,
    "kubernetes_clusters": 10,
    "functions": 100,
    "buckets": 50,
    "volumes": 100,
    "volume_gb": 10_000,
    "vpcs": 10,
    "load_balancers": 20,
}


class QuotaUsage(SQLModel, table=True):
    """One row per (owner, resource type): what is used, and an admin's limit if one was set."""

    __tablename__ = "quotas"
    __table_args__ = (UniqueConstraint("owner", "resource_type"),)
    id: int | None = Field(default=None, primary_key=True)
    owner: str = Field(index=True, max_length=64)
    resource_type: str = Field(max_length=64)
    used: int = 0
    limit: int | None = None
    last_updated: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


def consume(ctx: Ctx, *, owner: str, amounts: dict[str, int]) -> None:
    """Take several quotas of one owner at once, or raise 429 for the first that does not fit.

    One conditional UPDATE covers every type: each row is raised only if its own limit allows,
    so the check stays exact under concurrency. Types it did not raise either have no row yet
    (inserted, then retried once) or are exceeded. As with one `consume` per type in order, the
    types taken before a refusal stay taken until the unit of work rolls back.
    """
    wanted = {t: a for t, a in amounts.items() if a > 0}
    if not wanted:
        return
    for resource_type in wanted:
        if resource_type not in DEFAULT_LIMITS:
            raise ValueError(f"unknown quota type {resource_type}")
    missing = _take(ctx, owner, wanted)
    if missing:
        # In one order in every process (a set's order is per process): two first creates
        # inserting the rows in opposite orders deadlock on PostgreSQL.
        for resource_type in sorted(missing):
            _ensure_row(ctx.session, owner=owner, resource_type=resource_type, now=ctx.now)
        missing = _take(ctx, owner, {t: wanted[t] for t in missing})
    if not missing:
        return
    resource_type = next(t for t in wanted if t in missing)
    amount = wanted[resource_type]
    row = _row(ctx.session, owner=owner, resource_type=resource_type)
    limit = row.limit if row.limit is not None else DEFAULT_LIMITS[resource_type]
    raise QuotaExceeded(
        f"quota exceeded for {resource_type}: limit {limit}, used {row.used}, requested {amount}",
        details={
            "resource_type": resource_type,
            "limit": limit,
            "used": row.used,
            "requested": amount,
        },
    )


def _take(ctx: Ctx, owner: str, amounts: dict[str, int]) -> set[str]:
    """Raise every row of `amounts` that stays within its limit; the types it did not raise."""
    types = tuple(amounts)
    params: dict[str, Any] = {"q_owner": owner, "q_now": ctx.now}
    for n, resource_type in enumerate(types):
        params[f"amount_{n}"] = amounts[resource_type]
        params[f"default_{n}"] = DEFAULT_LIMITS[resource_type]
    if not ctx.db.is_sqlite:
        # Lock the rows in one order first: a multi-row UPDATE locks them in whatever order its
        # plan reads them, and two creates doing so in opposite orders deadlock. (SQLite's
        # write lock already lets one writer in at a time.)
        table = QuotaUsage.__table__  # type: ignore[attr-defined]
        ctx.session.execute(
            select(table.c.id)
            .where(table.c.owner == owner, table.c.resource_type.in_(types))
            .order_by(table.c.resource_type)
            .with_for_update()
        )
    # On the session's connection: a row `_ensure_row` just inserted is already there (it runs
    # at once), and nothing else of the request's touches quotas before its create commits.
    taken = prepared.run(ctx.conn, _take_statement(types), params).scalars()
    return set(types).difference(taken)


@functools.cache
def _take_statement(types: tuple[str, ...]) -> Any:
    """UPDATE ... SET used = used + <amount of its type> WHERE <it fits> RETURNING the type."""
    table = QuotaUsage.__table__  # type: ignore[attr-defined]
    kind = table.c.resource_type
    amount = case(
        {t: bindparam(f"amount_{n}", type_=Integer) for n, t in enumerate(types)}, value=kind
    )
    default = case(
        {t: bindparam(f"default_{n}", type_=Integer) for n, t in enumerate(types)}, value=kind
    )
    return (
        update(table)
        .where(
            table.c.owner == bindparam("q_owner"),
            or_(*(kind == t for t in types)),  # not IN: no expanding parameter to render
            table.c.used + amount <= func.coalesce(table.c.limit, default),
        )
        .values(used=table.c.used + amount, last_updated=bindparam("q_now"))
        .returning(kind)
    )


def release(ctx: Ctx, *, owner: str, resource_type: str, amount: int) -> None:
    """Give back `amount` of a quota, never below zero."""
    if amount <= 0:
        return
    ctx.session.execute(
        update(QuotaUsage)
        .where(col(QuotaUsage.owner) == owner, col(QuotaUsage.resource_type) == resource_type)
        .values(
            used=func.max(col(QuotaUsage.used) - amount, 0)
            if ctx.db.is_sqlite
            else func.greatest(col(QuotaUsage.used) - amount, 0),
            last_updated=ctx.now,
        )
    )


def usage(session: Session, *, owner: str) -> list[dict[str, Any]]:
    """Every quota of an owner with limit, used, available and usage percentage (B5)."""
    rows = {
        r.resource_type: r
        for r in session.exec(select(QuotaUsage).where(QuotaUsage.owner == owner))
    }
    out = []
    for resource_type, default in DEFAULT_LIMITS.items():
        row = rows.get(resource_type)
        limit = row.limit if row and row.limit is not None else default
        used = row.used if row else 0
        out.append(
            {
                "owner": owner,
                "resource_type": resource_type,
                "limit": limit,
                "used": used,
                "available": max(limit - used, 0),
                "usage_percentage": round(100.0 * used / limit, 2) if limit else 100.0,
                "is_default": not (row and row.limit is not None),
                "last_updated": row.last_updated if row else None,
            }
        )
    return out


def set_limit(ctx: Ctx, *, owner: str, resource_type: str, limit: int | None) -> None:
    """An admin's override of one limit; None goes back to the default."""
    if resource_type not in DEFAULT_LIMITS:
        raise field_error("resource_type", f"must be one of {', '.join(DEFAULT_LIMITS)}")
    if limit is not None and limit < 0:
        raise field_error("limit", "must be zero or more")
    _ensure_row(ctx.session, owner=owner, resource_type=resource_type, now=ctx.now)
    # Locked: the reply's `used` is the row as committed, not as it was before a create that
    # commits first. (SQLite's write transaction already holds the database.)
    row = _row(ctx.session, owner=owner, resource_type=resource_type, lock=True)
    row.limit = limit
    row.last_updated = ctx.now
    ctx.session.add(row)


def _row(session: Session, *, owner: str, resource_type: str, lock: bool = False) -> QuotaUsage:
    query = select(QuotaUsage).where(
        QuotaUsage.owner == owner, QuotaUsage.resource_type == resource_type
    )
    return session.exec(
        locked(query) if lock else query.execution_options(populate_existing=True)
    ).one()


def _ensure_row(session: Session, *, owner: str, resource_type: str, now: datetime) -> None:
    if resource_type not in DEFAULT_LIMITS:
        raise ValueError(f"unknown quota type {resource_type}")
    insert: Any = sqlite.insert
    if session.get_bind().dialect.name == "postgresql":
        # Imported here: the PostgreSQL dialect package (with asyncpg's) costs ~20 ms to import,
        # which every SQLite process (each embedded CLI command) would otherwise pay.
        from sqlalchemy.dialects import postgresql

        insert = postgresql.insert
    session.execute(
        insert(QuotaUsage)
        .values(owner=owner, resource_type=resource_type, used=0, last_updated=now)
        .on_conflict_do_nothing(index_elements=["owner", "resource_type"])
    )
