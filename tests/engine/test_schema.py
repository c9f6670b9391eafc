"""Schema revisions: a fresh database is stamped at head, an older one upgraded (release 0.1.0's
own databases among them, SQLite and PostgreSQL, data intact), a newer one refused, and alembic
loaded only to upgrade."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import inspect, text

from engine import schema
from engine.api.app import EngineApp
from engine.clock import Clock
from engine.db import Database
from engine.errors import SchemaMismatch
from engine.server import migrate
from tests.support.api import ADVANCE, INSTANCES, expect, instance, launch
from tests.support.engine import BASE_URL, start_engine
from tests.support.postgres import drop_database, fresh_database

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RELEASE_0_1_0 = FIXTURES / "atonix-0.1.0.db"
RELEASE_0_1_0_POSTGRES = FIXTURES / "atonix-0.1.0.postgres.sql"


def _revision(path: Path) -> tuple[str, str]:
    """alembic's revision, and the schema_version release 0.1.0 reads."""
    with sqlite3.connect(path) as conn:
        revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]
        legacy = conn.execute(
            "SELECT value FROM atonix_meta WHERE key = 'schema_version'"
        ).fetchone()[0]
    return revision, legacy


def test_head_is_alembics_head_and_revisions_are_numbered_in_order() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(schema.MIGRATIONS))
    scripts = ScriptDirectory.from_config(config)
    assert scripts.get_heads() == [schema.HEAD]
    chain = [r.revision for r in reversed(list(scripts.walk_revisions()))]
    assert chain == [f"{n:04d}" for n in range(1, int(schema.HEAD) + 1)]


def test_a_new_database_is_stamped_at_head_without_loading_alembic(tmp_path: Path) -> None:
    path = tmp_path / "atonix.db"
    probe = (
        "import sys; from engine.db import Database; "
        f"Database('sqlite:///{path}').dispose(); Database('sqlite:///{path}').dispose(); "
        "print('alembic' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
    assert _revision(path) == (schema.HEAD, str(int(schema.HEAD)))


def test_a_database_from_a_newer_atonix_is_refused_and_left_as_found(tmp_path: Path) -> None:
    path = tmp_path / "atonix.db"
    Database(f"sqlite:///{path}").dispose()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(SchemaMismatch, match="newer than this atonix understands"):
        Database(f"sqlite:///{path}")
    assert _revision(path)[0] == "9999"


def test_a_server_refuses_a_database_behind_until_it_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "atonix.db"
    shutil.copy(RELEASE_0_1_0, path)
    url = f"sqlite:///{path}"
    with pytest.raises(SchemaMismatch, match="run `atonix engine migrate`"):
        Database(url, upgrade=False)
    Database(url).dispose()  # the embedded engine (and `atonix engine migrate`) upgrade it
    Database(url, upgrade=False).dispose()  # at head now
    assert _revision(path) == (schema.HEAD, str(int(schema.HEAD)))


def test_release_0_1_0s_database_upgrades_with_its_data_intact(tmp_path: Path) -> None:
    path = tmp_path / "atonix.db"
    shutil.copy(RELEASE_0_1_0, path)
    made = json.loads((FIXTURES / "atonix-0.1.0.db.json").read_text())
    ids = made["instances"]

    db = Database(f"sqlite:///{path}", clock=Clock(mode="manual"))
    backups = list(tmp_path.glob("atonix.db.schema-0002.*.bak"))
    assert len(backups) == 1, "the embedded engine copies its file aside before upgrading"
    with sqlite3.connect(backups[0]) as conn:
        assert conn.execute("SELECT value FROM atonix_meta WHERE key='schema_version'").fetchone()
    with _clients(db, made) as (dana, admin):
        _holds_release_0_1_0s_data(dana, admin, made)
        launch(dana, "after-upgrade")
        expect(dana.post(instance(ids["web-1"], "stop")), 200)
    db.dispose()
    assert _revision(path) == (schema.HEAD, str(int(schema.HEAD)))


@contextmanager
def _clients(db: Database, made: dict[str, Any]) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """dana's and the admin's clients, with the API keys release 0.1.0 gave them."""
    transport = httpx.WSGITransport(app=EngineApp(db))
    clients = [
        httpx.Client(
            transport=transport, base_url=BASE_URL, headers={"Authorization": f"Token {key}"}
        )
        for key in (made["dana_api_key"], made["admin_api_key"])
    ]
    try:
        yield clients[0], clients[1]
    finally:
        for client in clients:
            client.close()


def _holds_release_0_1_0s_data(
    dana: httpx.Client, admin: httpx.Client, made: dict[str, Any]
) -> None:
    """What make_release_0_1_0_*.py wrote is all there, and due work left by 0.1.0 completes."""
    listed = expect(dana.get(INSTANCES, params={"page_size": 100}), 200)
    assert {i["name"]: i["status"] for i in listed["results"]} == {
        "web-1": "running",
        "db-1": "stopped",
        "old-1": "terminated",
        "boot-1": "pending",
    }
    assert listed["count"] == 4  # from the migrated row counts
    # The boot begun under 0.1.0 completes at its due time, now on the timeline.
    expect(admin.post(ADVANCE, json={"seconds": 3}), 200)
    boot = expect(dana.get(instance(made["instances"]["boot-1"])), 200)
    assert (boot["status"], boot["updated_at"]) == ("running", "2030-01-01T00:00:08.000Z")
    images = expect(dana.get("/api/v1/services/images/my_images/"), 200)["results"]
    assert [i["name"] for i in images] == ["golden"]
    quota = expect(dana.get("/api/v1/quotas/"), 200)["results"]
    assert {q["resource_type"]: q["limit"] for q in quota}["instances"] == 50
    audit = expect(admin.get("/api/v1/audit-logs/", params={"page_size": 100}), 200)
    assert audit["count"] >= 8  # everything 0.1.0 recorded is still there


@pytest.fixture
def release_0_1_0_on_postgres() -> Iterator[str]:
    """A fresh PostgreSQL database holding atonix-0.1.0.postgres.sql: its URL."""
    import psycopg

    url = fresh_database()
    try:
        with psycopg.connect(url.replace("+psycopg", "")) as conn:
            conn.execute(RELEASE_0_1_0_POSTGRES.read_text())
        yield url
    finally:
        drop_database(url)


def test_release_0_1_0s_postgresql_database_upgrades_with_its_data_intact(
    release_0_1_0_on_postgres: str, tmp_path: Path
) -> None:
    """Release 0.1.0's own database on PostgreSQL (tests/fixtures/make_release_0_1_0_postgres.py
    made it with 0.1.0's code and pg_dump), upgraded as `atonix engine migrate --database-url`
    does. 0.1.0 could not launch an instance there (a public address overflowed its INTEGER
    `ip_allocations.address`: a 500), so its instances were launched as 0.1.0 does when the
    public pool is spent, without a public address; the rest is as on SQLite."""
    url = release_0_1_0_on_postgres
    made = json.loads((FIXTURES / "atonix-0.1.0.postgres.sql.json").read_text())
    with pytest.raises(SchemaMismatch, match="run `atonix engine migrate`"):
        Database(url, upgrade=False)  # a server refuses it until migrated

    assert migrate(database_url=url, data_dir=tmp_path) == ("0002", schema.HEAD)

    db = Database(url, clock=Clock(mode="manual"), upgrade=False, data_dir=tmp_path)
    with _clients(db, made) as (dana, admin):
        _holds_release_0_1_0s_data(dana, admin, made)
        expect(dana.post(instance(made["instances"]["web-1"], "stop")), 200)
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == (
            schema.HEAD
        )
        legacy = "SELECT value FROM atonix_meta WHERE key = 'schema_version'"
        assert conn.execute(text(legacy)).scalar() == str(int(schema.HEAD))
    db.dispose()


def test_release_0_1_0s_postgresql_tables_have_heads_shape_after_the_upgrade(
    release_0_1_0_on_postgres: str, tmp_path: Path
) -> None:
    url = release_0_1_0_on_postgres
    migrate(database_url=url, data_dir=tmp_path)
    db = Database(url, upgrade=False, data_dir=tmp_path)
    head = fresh_database()
    try:
        fresh = Database(head, data_dir=tmp_path / "head")
        assert _shape(db) == _shape(fresh)
        fresh.dispose()
    finally:
        drop_database(head)
    made = json.loads((FIXTURES / "atonix-0.1.0.postgres.sql.json").read_text())
    with _clients(db, made) as (dana, _admin):
        assert launch(dana, "after-upgrade")["public_ip"]
    db.dispose()


def _shape(db: Database) -> dict[str, Any]:
    """Every table's columns (type, nullable), indexes, unique constraints and primary key;
    the tables of every model loaded so far are created first (head's shape, where missing)."""
    db.ensure_tables()
    tables = inspect(db.engine)
    return {
        name: (
            {c["name"]: (str(c["type"]), c["nullable"]) for c in tables.get_columns(name)},
            sorted((i["name"], tuple(i["column_names"])) for i in tables.get_indexes(name)),
            sorted(tuple(u["column_names"]) for u in tables.get_unique_constraints(name)),
            tables.get_pk_constraint(name)["constrained_columns"],
        )
        for name in sorted(tables.get_table_names())
    }


def test_a_pre_alembic_version_1_database_gets_its_instance_counts(tmp_path: Path) -> None:
    engine = start_engine(tmp_path)
    alice = engine.user()
    for name in ("a", "b"):
        launch(alice.client, name)
    launch(engine.admin, "c")
    engine.close()
    path = tmp_path / "atonix.db"
    with sqlite3.connect(path) as conn:  # as version 1 left it: no counts, no index, no alembic
        conn.execute("DROP TABLE row_counts")
        conn.execute("DROP INDEX ix_instances_termination_time")
        conn.execute("DROP TABLE alembic_version")
        conn.execute("UPDATE atonix_meta SET value = '1' WHERE key = 'schema_version'")

    db = Database(f"sqlite:///{path}", clock=Clock(mode="instant"))

    assert _revision(path) == (schema.HEAD, str(int(schema.HEAD)))
    with sqlite3.connect(path) as conn:
        counts = dict(conn.execute("SELECT owner, n FROM row_counts").fetchall())
        indexes = {row[1] for row in conn.execute("PRAGMA index_list(instances)")}
    assert counts == {alice.username: 2, "admin": 1}
    assert "ix_instances_termination_time" in indexes
    transport = httpx.WSGITransport(app=EngineApp(db))
    for headers, expected in ((engine.admin.headers, 3), (alice.client.headers, 2)):
        with httpx.Client(transport=transport, base_url=BASE_URL, headers=headers) as client:
            assert expect(client.get(INSTANCES), 200)["count"] == expected
    db.dispose()
