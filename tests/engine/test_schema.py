"""Schema revisions: a fresh database is stamped at head, an older one upgraded (release 0.1.0's
own database among them, data intact), a newer one refused, and alembic loaded only to upgrade."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from engine import schema
from engine.api.app import EngineApp
from engine.clock import Clock
from engine.db import Database
from engine.errors import SchemaMismatch
from tests.support.api import ADVANCE, INSTANCES, expect, instance, launch
from tests.support.engine import BASE_URL, start_engine

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RELEASE_0_1_0 = FIXTURES / "atonix-0.1.0.db"


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
    transport = httpx.WSGITransport(app=EngineApp(db))
    dana = httpx.Client(
        transport=transport,
        base_url=BASE_URL,
        headers={"Authorization": f"Token {made['dana_api_key']}"},
    )
    admin = httpx.Client(
        transport=transport,
        base_url=BASE_URL,
        headers={"Authorization": f"Token {made['admin_api_key']}"},
    )
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
    boot = expect(dana.get(instance(ids["boot-1"])), 200)
    assert (boot["status"], boot["updated_at"]) == ("running", "2030-01-01T00:00:08.000Z")
    images = expect(dana.get("/api/v1/services/images/my_images/"), 200)["results"]
    assert [i["name"] for i in images] == ["golden"]
    quota = expect(dana.get("/api/v1/quotas/"), 200)["results"]
    assert {q["resource_type"]: q["limit"] for q in quota}["instances"] == 50
    audit = expect(admin.get("/api/v1/audit-logs/", params={"page_size": 100}), 200)
    assert audit["count"] >= 8  # everything 0.1.0 recorded is still there
    launch(dana, "after-upgrade")
    expect(dana.post(instance(ids["web-1"], "stop")), 200)
    dana.close()
    admin.close()
    db.dispose()
    assert _revision(path) == (schema.HEAD, str(int(schema.HEAD)))


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
