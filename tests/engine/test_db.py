"""The database: schema version checks and a manual clock that stands still until advanced."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from engine.api.app import EngineApp
from engine.clock import Clock
from engine.db import SCHEMA_VERSION, Database
from engine.errors import SchemaMismatch
from tests.support.api import INSTANCES, expect, launch
from tests.support.engine import BASE_URL, start_engine


def _set_version(path: Path, version: int) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(
            "UPDATE atonix_meta SET value = ? WHERE key = 'schema_version'", (str(version),)
        )


def _version(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        row = conn.execute("SELECT value FROM atonix_meta WHERE key = 'schema_version'").fetchone()
    return str(row[0])


def test_a_new_database_records_the_schema_version_and_reopens(tmp_path: Path) -> None:
    path = tmp_path / "atonix.db"
    Database(f"sqlite:///{path}").dispose()
    assert _version(path) == str(SCHEMA_VERSION)
    Database(f"sqlite:///{path}").dispose()


def test_a_database_from_a_newer_atonix_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "atonix.db"
    Database(f"sqlite:///{path}").dispose()
    _set_version(path, SCHEMA_VERSION + 1)
    with pytest.raises(SchemaMismatch, match="newer than this atonix understands"):
        Database(f"sqlite:///{path}")
    assert _version(path) == str(SCHEMA_VERSION + 1)  # left as found


def test_an_older_database_without_a_migration_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "atonix.db"
    Database(f"sqlite:///{path}").dispose()
    _set_version(path, 0)  # no version ever lacked a step to the next, but 0 has none
    with pytest.raises(SchemaMismatch, match="no migration"):
        Database(f"sqlite:///{path}")


def test_a_version_1_database_is_migrated_with_its_instance_counts(tmp_path: Path) -> None:
    engine = start_engine(tmp_path)
    alice = engine.user()
    for name in ("a", "b"):
        launch(alice.client, name)
    launch(engine.admin, "c")
    engine.close()
    path = tmp_path / "atonix.db"
    with sqlite3.connect(path) as conn:  # as version 1 left it: no counts, no index
        conn.execute("DROP TABLE row_counts")
        conn.execute("DROP INDEX ix_instances_termination_time")
    _set_version(path, 1)

    Database(f"sqlite:///{path}").dispose()

    assert _version(path) == str(SCHEMA_VERSION)
    with sqlite3.connect(path) as conn:
        counts = dict(conn.execute("SELECT owner, n FROM row_counts").fetchall())
        indexes = {row[1] for row in conn.execute("PRAGMA index_list(instances)")}
    assert counts == {alice.username: 2, "admin": 1}
    assert "ix_instances_termination_time" in indexes
    # The lists' counts now come from the migrated row counts.
    db = Database(f"sqlite:///{path}", clock=Clock(mode="instant"))
    transport = httpx.WSGITransport(app=EngineApp(db))
    for headers, expected in ((engine.admin.headers, 3), (alice.client.headers, 2)):
        with httpx.Client(transport=transport, base_url=BASE_URL, headers=headers) as client:
            assert expect(client.get(INSTANCES), 200)["count"] == expected
    db.dispose()


def test_a_manual_clock_stands_still_from_the_first_open(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'atonix.db'}"
    first = Database(url, clock=Clock(mode="manual"))
    with first.session(write=False) as session:
        then = first.now(session)
    time.sleep(0.02)
    second = Database(url, clock=Clock(mode="manual"))  # another process, later
    with second.session(write=False) as session:
        assert second.now(session) == then
    with first.session(write=False) as session:
        assert first.now(session) == then
