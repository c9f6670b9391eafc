"""The database: SQLite (WAL) or any SQLAlchemy URL; sessions, lazy tables, schema version."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.schema import CreateIndex, CreateTable
from sqlmodel import Field, Session, SQLModel, create_engine, select

from engine import prepared
from engine.clock import Clock, utcnow

log = logging.getLogger("atonix.engine")

# Rows a table starts with (built-in catalogs), written in the transaction that creates it.
SEEDS: dict[str, Callable[[Connection], None]] = {}


class Meta(SQLModel, table=True):
    """Engine-wide settings kept in the database: the manual clock, and the schema version
    release 0.1.0 reads (engine.schema keeps it)."""

    __tablename__ = "atonix_meta"
    key: str = Field(primary_key=True, max_length=64)
    value: str


_BEGIN_WRITE = text("BEGIN IMMEDIATE")
_BEGIN_READ = text("BEGIN")


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


class Database:
    """One database, shared by every request of a process; tables are created as services load."""

    def __init__(
        self,
        url: str,
        *,
        clock: Clock | None = None,
        upgrade: bool = True,
        data_dir: Path | None = None,
    ) -> None:
        """Open `url`; a schema behind this release's is upgraded (`upgrade`, the embedded
        engine) or refused with SchemaMismatch (a server: `atonix engine migrate` upgrades it).

        `data_dir` holds what is not rows (object bytes, the master key): by default the SQLite
        file's directory; a server on PostgreSQL passes its `--data-dir`."""
        self.url = url
        self.clock = clock or Clock()
        self.is_sqlite = url.startswith("sqlite")
        self.data_dir = data_dir or _default_data_dir(url)
        connect_args: dict[str, Any] = {}
        if self.is_sqlite:
            path = url.removeprefix("sqlite:///")
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            connect_args = {"check_same_thread": False, "timeout": 30}
            self.engine: Engine = create_engine(url, connect_args=connect_args)
        else:
            # A server's pool: its worker threads and the timeline ticker, each a connection
            # at most, with room for bursts; connections a restarted database dropped are
            # replaced rather than failing a request. (The driver is imported only here.)
            self.engine = create_engine(
                url, pool_size=10, max_overflow=20, pool_pre_ping=True, pool_recycle=1800
            )
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        # SQLite writers take the write lock up front (BEGIN IMMEDIATE, see _begin), so two
        # writers queue instead of deadlocking, and queue for it on a lock of their own first:
        # SQLite's busy handler sleeps up to 100 ms between tries, so a writer waiting on it
        # idles long after the lock came free (8 threads: p99 of a create ~0.8 s). A thread
        # lock for this process's threads, then a file lock beside the database for other
        # processes, both woken as soon as released.
        self._write_gate = _WriteGate(url.removeprefix("sqlite:///")) if self.is_sqlite else None
        self._created: set[str] = set()
        from engine import schema

        # The schema revision the database had when opened (None: it was empty).
        self.schema_found = schema.check(self, upgrade=upgrade)
        self._created.add(Meta.__tablename__)
        if self.clock.mode == "manual":
            self._start_manual_clock()

    def ensure_tables(self) -> None:
        """Create the tables of every model module imported so far that the database lacks."""
        tables = SQLModel.metadata.tables
        # Tables are only ever added (a module imported): one length check per request, not a
        # loop over every collection's tables.
        if len(tables) == len(self._created):
            return
        missing = [t for name, t in tables.items() if name not in self._created]
        if not missing:
            return
        with self.writing() as conn:
            self.serialize(conn, "schema")
            existing = set(inspect(conn).get_table_names())
            for table in missing:
                if table.name not in existing:
                    conn.execute(CreateTable(table, if_not_exists=True))
                    for index in table.indexes:
                        conn.execute(CreateIndex(index, if_not_exists=True))
                    if table.name in SEEDS:
                        SEEDS[table.name](conn)
                self._created.add(table.name)

    def serialize(self, conn: Connection, name: str) -> None:
        """Hold a lock named `name` until the caller's transaction ends, so that what it does
        (create tables, the first admin) happens once when several processes start together.
        SQLite's write lock (a write transaction's BEGIN IMMEDIATE) already does; PostgreSQL
        takes a transaction-level advisory lock."""
        if not self.is_sqlite:
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_lock_key(name)})")

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A write transaction on a bare connection: committed when the block ends normally."""
        with self._gate(write=True), self.engine.begin() as conn:
            self._begin(conn, write=True)
            yield conn

    @contextmanager
    def session(self, *, write: bool) -> Iterator[Session]:
        """A unit of work: commits when the block ends normally, rolls back on any exception."""
        self.ensure_tables()
        with self._gate(write=write):
            session = Session(self.engine, expire_on_commit=False)
            try:
                self._begin(session.connection(), write=write)
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
            finally:
                session.close()

    def _begin(self, conn: Connection, *, write: bool) -> None:
        """Open SQLite's transaction ourselves (the driver's autocommit is on: pysqlite's own
        BEGIN comes late, before the first write, and never takes the write lock up front).
        Here rather than in a "begin" event listener: any connection listener makes SQLAlchemy
        dispatch events around every statement, about a fifth of a statement's cost."""
        if self.is_sqlite:
            prepared.run(conn, _BEGIN_WRITE if write else _BEGIN_READ)

    @contextmanager
    def _gate(self, *, write: bool) -> Iterator[None]:
        if not write or self._write_gate is None:
            yield
            return
        with self._write_gate:
            yield

    def now(self, session: Session, *, lock: bool = False) -> datetime:
        """The engine's current time: the stored manual time, or the wall clock. `lock`: the
        manual time as committed, its row locked until the transaction ends (an advance, so
        that advances at once add up; SQLite's write transaction already holds the database)."""
        if self.clock.mode != "manual":
            return utcnow()
        row = session.get(Meta, "manual_now", with_for_update=lock, populate_existing=lock)
        if row is None:
            return utcnow()
        return datetime.fromisoformat(row.value)

    def now_on(self, conn: Connection) -> datetime:
        """The same on a bare connection (the timeline's check, outside any session)."""
        if self.clock.mode != "manual":
            return utcnow()
        found = conn.execute(select(Meta.value).where(Meta.key == "manual_now")).scalar()
        return utcnow() if found is None else datetime.fromisoformat(found)

    def set_manual_now(self, session: Session, when: datetime) -> None:
        row = session.get(Meta, "manual_now") or Meta(key="manual_now", value="")
        row.value = when.isoformat()
        session.add(row)

    def _start_manual_clock(self) -> None:
        """A manual clock stands still from the first time the database is opened with one."""
        meta = Meta.__table__  # type: ignore[attr-defined]
        query = select(Meta.value).where(Meta.key == "manual_now")
        with self.engine.connect() as conn:
            found = conn.execute(query).scalar()
            conn.rollback()
        if found is not None:
            return
        with self.writing() as conn:
            self.serialize(conn, "schema")
            if conn.execute(query).scalar() is None:
                conn.execute(meta.insert().values(key="manual_now", value=utcnow().isoformat()))

    def dispose(self) -> None:
        self.engine.dispose()


class _WriteGate:
    """Where SQLite writers queue: this process's threads on a lock, processes on a file lock.

    Re-entrant (a thread may nest write transactions as it could before); the file lock is taken
    by the outermost holder only. Where no file lock exists (an in-memory database, a platform
    without fcntl), other processes fall back to SQLite's busy handler, as before.
    """

    def __init__(self, path: str) -> None:
        self._threads = threading.RLock()
        self._depth = 0
        self._fd: int | None = None
        self._path = f"{path}.write-lock" if path and path != ":memory:" else None

    def __enter__(self) -> None:
        self._threads.acquire()
        self._depth += 1
        if self._depth == 1 and self._path is not None:
            try:
                import fcntl

                if self._fd is None:
                    self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            except (ImportError, OSError):
                self._path = None  # no file lock here: the busy handler still serializes

    def __exit__(self, *_exc: object) -> None:
        try:
            if self._depth == 1 and self._fd is not None and self._path is not None:
                import fcntl

                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._depth -= 1
            self._threads.release()


def _default_data_dir(url: str) -> Path:
    path = url.removeprefix("sqlite:///") if url.startswith("sqlite") else ""
    if path and path != ":memory:":
        return Path(path).resolve().parent
    import tempfile

    # An in-memory or remote database with no directory given: a private one for this process.
    return Path(tempfile.mkdtemp(prefix="atonix-data-"))


def _lock_key(name: str) -> int:
    """A stable 63-bit number for a lock's name (PostgreSQL's advisory locks take a bigint)."""
    import hashlib

    return int.from_bytes(hashlib.sha256(f"atonix:{name}".encode()).digest()[:8], "big") >> 1


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Autocommit at the driver level: we issue BEGIN ourselves (pysqlite's own is wrong for us).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Checkpoint every ~40 MB of WAL instead of SQLite's ~4 MB: each checkpoint is an fsync
        # of the database file, and at 1,000 pages they cost a tenth of a create's wall time.
        # The WAL is cut back to 64 MB after a checkpoint; an embedded CLI checkpoints on close.
        cursor.execute("PRAGMA wal_autocheckpoint=10000")
        cursor.execute(f"PRAGMA journal_size_limit={64 * 1024 * 1024}")
        cursor.close()
