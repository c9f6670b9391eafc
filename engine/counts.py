"""Row counts per collection and owner, kept in step with inserts and deletes.

A list page's `count` then costs the same at a million rows as at ten (SPEC A4), where a
`COUNT(*)` would read every row the caller can see.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlmodel import Field, SQLModel

from engine import prepared


class RowCount(SQLModel, table=True):
    __tablename__ = "row_counts"
    collection: str = Field(primary_key=True, max_length=64)
    owner: str = Field(primary_key=True, max_length=64)
    n: int = 0


def add(bind: Session | Connection, *, collection: str, owner: str, delta: int) -> None:
    """Change one owner's count in the caller's transaction."""
    if delta == 0:
        return
    dialect = bind.get_bind().dialect.name if isinstance(bind, Session) else bind.dialect.name
    prepared.run(
        bind, _upsert(dialect), {"c_collection": collection, "c_owner": owner, "c_delta": delta}
    )


@functools.cache
def _upsert(dialect: str) -> Any:
    """INSERT the count, or add to it: built once per dialect (every create and purge runs it)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql as dialect_module
    else:
        from sqlalchemy.dialects import sqlite as dialect_module  # type: ignore[no-redef]
    table = RowCount.__table__  # type: ignore[attr-defined]
    statement = dialect_module.insert(table).values(
        collection=bindparam("c_collection"), owner=bindparam("c_owner"), n=bindparam("c_delta")
    )
    return statement.on_conflict_do_update(
        index_elements=["collection", "owner"], set_={"n": table.c.n + statement.excluded.n}
    )


def total(session: Session, *, collection: str, owner: str | None) -> int:
    """The rows of a collection owned by `owner`, or by everyone when `owner` is None."""
    table = RowCount.__table__  # type: ignore[attr-defined]
    query = select(func.coalesce(func.sum(table.c.n), 0)).where(table.c.collection == collection)
    if owner is not None:
        query = query.where(table.c.owner == owner)
    return int(session.execute(query).scalar_one())
