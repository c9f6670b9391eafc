"""Probes: /healthz (the process answers), /readyz (database up, schema at head); a server
refuses a database behind its schema until `atonix engine migrate` upgrades it."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx

from engine.schema import HEAD
from tests.support.server import RunningServer, start_server

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ATONIX = Path(sys.executable).parent / "atonix"


def test_the_probes_answer_without_credentials(server: RunningServer) -> None:
    live = httpx.get(f"{server.url}/healthz")
    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    ready = httpx.get(f"{server.url}/readyz")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready", "schema_version": HEAD})


def test_readyz_is_503_once_the_schema_is_not_this_releases(tmp_path: Path) -> None:
    running = start_server(tmp_path)
    try:
        with sqlite3.connect(running.data_dir / "atonix.db") as conn:
            conn.execute("UPDATE alembic_version SET version_num = '9999'")
        ready = httpx.get(f"{running.url}/readyz")
        assert ready.status_code == 503
        assert ready.json()["code"] == "SERVICE_UNAVAILABLE"
        assert httpx.get(f"{running.url}/healthz").status_code == 200
    finally:
        running.stop()


def test_a_server_waits_for_engine_migrate_on_an_old_database(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copy(FIXTURES / "atonix-0.1.0.db", data_dir / "atonix.db")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATONIX_")}
    refused = subprocess.run(
        [sys.executable, "-m", "engine.server", "--port", "0", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert refused.returncode != 0
    assert "run `atonix engine migrate`" in refused.stderr

    migrate = [str(ATONIX), "engine", "migrate", "--data-dir", str(data_dir), "-o", "json"]
    done = subprocess.run(migrate, capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"from": "0002", "to": HEAD}
    assert "upgraded the database from schema 0002" in done.stderr
    assert list(data_dir.glob("atonix.db.schema-0002.*.bak"))

    made = json.loads((FIXTURES / "atonix-0.1.0.db.json").read_text())
    running = start_server(tmp_path, data_dir=data_dir, admin_api_key=made["admin_api_key"])
    try:
        assert httpx.get(f"{running.url}/readyz").status_code == 200
    finally:
        running.stop()
