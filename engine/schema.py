"""The schema's version: checked cheaply on every open, upgraded by alembic only when behind.

Revisions live in engine/migrations/versions, one per schema change; `HEAD` names the newest
(tests/engine/test_schema.py checks it against alembic's). Tables are created lazily, in their
newest shape, when a service is first used, so a revision alters only the tables that exist.

Opening a database reads one row of `alembic_version`:
- at `HEAD`: nothing to do; alembic is never imported;
- behind: the embedded engine copies its SQLite file aside and upgrades it; a server refuses to
  start until `atonix engine migrate` has upgraded it (several replicas never race to migrate);
- unknown (a newer release wrote it): refused with `SchemaMismatch`;
- a database from before alembic (release 0.1.0 and later, with `schema_version` N in
  `atonix_meta`) is stamped at revision N, then upgraded like any other;
- an empty database is stamped at `HEAD` (no alembic import either).

`atonix_meta.schema_version` is kept at HEAD's number, so that release 0.1.0, which reads only
it, refuses a database it no longer understands.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.schema import CreateTable

from engine.errors import SchemaMismatch

if TYPE_CHECKING:
    from engine.db import Database

log = logging.getLogger("atonix.engine")

HEAD = "0009"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# alembic's own table, as alembic creates it.
_VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) NOT NULL, "
    "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
)


def current(conn: Connection) -> str | None:
    """The database's revision: alembic's, or a pre-alembic `schema_version` N as revision N;
    None for an empty database."""
    tables = inspect(conn)
    if tables.has_table("alembic_version"):
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    if tables.has_table("atonix_meta"):
        found = conn.execute(
            text("SELECT value FROM atonix_meta WHERE key = 'schema_version'")
        ).scalar()
        return f"{int(found):04d}" if found is not None else None
    return None


def check(db: Database, *, upgrade: bool) -> str | None:
    """Make sure `db` is at HEAD: stamp an empty one, upgrade one behind (if `upgrade`; a SQLite
    file is copied aside first), refuse one that is newer. Called on every open: one or two
    cheap queries when at HEAD. The revision the database had; None if it was empty."""
    with db.engine.connect() as conn:
        found = current(conn)
        conn.rollback()
    if found == HEAD:
        return found
    if found is not None and not _known(found):
        raise SchemaMismatch(
            f"the database at {db.url} has schema revision {found}, newer than this atonix "
            f"understands ({HEAD}); upgrade atonix to use it"
        )
    if found is not None and not upgrade:
        raise SchemaMismatch(
            f"the database at {db.url} is at schema revision {found} and this atonix needs "
            f"{HEAD}: run `atonix engine migrate` first"
        )
    if found is not None and db.is_sqlite:
        backup = copy_aside(db, found)
        if backup is not None:
            log.warning("upgrading %s from schema %s; a copy is at %s", db.url, found, backup)
    with db.writing() as conn:
        # Under the lock (SQLite's write lock, an advisory lock on PostgreSQL), what another
        # process starting at the same time left is what counts.
        db.serialize(conn, "schema")
        now = current(conn)
        if now is None:
            _stamp(conn, HEAD)
        elif now != HEAD:
            _upgrade(conn, now)
    return found


def copy_aside(db: Database, revision: str) -> Path | None:
    """A consistent copy of a SQLite file (SQLite's backup API, WAL included), next to it."""
    path = db.url.removeprefix("sqlite:///")
    if not path or path == ":memory:" or not Path(path).exists():
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = Path(f"{path}.schema-{revision}.{stamp}.bak")
    source, copy = sqlite3.connect(path), sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        copy.close()
        source.close()
    return target


def _known(revision: str) -> bool:
    return revision.isdigit() and int(revision) <= int(HEAD)


def _upgrade(conn: Connection, found: str) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    if not inspect(conn).has_table("alembic_version"):
        conn.exec_driver_sql(_VERSION_TABLE)
        conn.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": found})
    log.info("upgrading the schema from %s to %s", found, HEAD)
    command.upgrade(config, "head")
    _set_legacy_version(conn)


def _stamp(conn: Connection, revision: str) -> None:
    conn.exec_driver_sql(_VERSION_TABLE)
    conn.execute(text("DELETE FROM alembic_version"))
    conn.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": revision})
    _set_legacy_version(conn)


def _set_legacy_version(conn: Connection) -> None:
    from engine.db import Meta

    conn.execute(CreateTable(Meta.__table__, if_not_exists=True))  # type: ignore[attr-defined]
    value = str(int(HEAD))
    updated: Any = conn.execute(
        text("UPDATE atonix_meta SET value = :v WHERE key = 'schema_version'"), {"v": value}
    )
    if not updated.rowcount:
        conn.execute(
            text("INSERT INTO atonix_meta (key, value) VALUES ('schema_version', :v)"),
            {"v": value},
        )
