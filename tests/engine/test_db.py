"""The database: schema version checks and a manual clock that stands still until advanced."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from engine.clock import Clock
from engine.db import SCHEMA_VERSION, Database
from engine.errors import SchemaMismatch


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
    _set_version(path, SCHEMA_VERSION - 1)
    with pytest.raises(SchemaMismatch, match="no migration"):
        Database(f"sqlite:///{path}")


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
