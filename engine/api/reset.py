"""POST /api/v1/engine/reset/: the engine as freshly started, for test suites sharing a server.

Only an app made with `allow_reset=True` routes here (`atonix engine serve --allow-reset`).
The reset is generic: every table the models declare is emptied, except what a fresh engine
already had and a test suite relies on: the users, the root API key (the first admin's first
key), the engine's own settings (schema version, manual clock) and the built-in catalogs,
which are seeded again. A collection added later is covered without touching this module.
"""

from __future__ import annotations

import importlib
from typing import Any

from sqlalchemy import Table, inspect
from sqlmodel import Session, SQLModel, col, select

from engine.api.http import Request
from engine.api.routes import PLATFORM
from engine.db import SEEDS, Meta
from engine.identity.models import ApiKey, User

# Tables kept whole: the users, and the engine's settings (the schema version, the manual clock).
KEPT = frozenset({User.__tablename__, Meta.__tablename__})


def reset(request: Request) -> dict[str, Any]:
    deleted = reset_database(request.ctx.session)
    return {"status": "reset", "deleted": deleted}


def reset_database(session: Session) -> dict[str, int]:
    """Empty every resource table in this unit of work; the rows deleted per table."""
    _import_every_model()
    conn = session.connection()
    existing = set(inspect(conn).get_table_names())
    root_key = _root_key_id(session)
    deleted: dict[str, int] = {}
    # Children before parents, should a table ever declare a foreign key.
    for table in reversed(SQLModel.metadata.sorted_tables):
        if table.name in KEPT or table.name not in existing:
            continue
        deleted[table.name] = _empty(session, table, root_key)
    for name, seed in SEEDS.items():
        if name in deleted:
            seed(conn)
    session.expire_all()
    return deleted


def _empty(session: Session, table: Table, root_key: int | None) -> int:
    statement = table.delete()
    if table.name == ApiKey.__tablename__ and root_key is not None:
        statement = statement.where(table.c.id != root_key)
    result: Any = session.execute(statement)
    return int(result.rowcount or 0)


def _root_key_id(session: Session) -> int | None:
    """The first admin's first API key: the one the bootstrap wrote its credentials for."""
    admin = session.exec(
        select(User.id).where(User.role == "admin").order_by(col(User.id)).limit(1)
    ).first()
    if admin is None:
        return None
    return session.exec(
        select(ApiKey.id).where(ApiKey.user_id == admin).order_by(col(ApiKey.id)).limit(1)
    ).first()


def _import_every_model() -> None:
    """Services load lazily; import every collection and platform module so the metadata names
    all tables."""
    from engine import registry

    registry.every()
    for route in PLATFORM:
        for ref in (route.handler, route.resource, route.body):
            if isinstance(ref, str):
                importlib.import_module(ref.partition(":")[0])
