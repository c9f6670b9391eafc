"""A server works its timeline with no traffic: a boot completes though nobody reads it."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from tests.support.server import start_server


@pytest.mark.parametrize("workers", [1, 2])
def test_a_server_with_no_traffic_completes_due_transitions(tmp_path: Path, workers: int) -> None:
    server = start_server(tmp_path, clock="real", workers=workers)
    try:
        headers = {"Authorization": f"Token {server.admin_api_key}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=10) as client:
            body = {"name": "idle", "flavor": "t3.micro", "image": "ubuntu-22.04"}
            created = client.post("/api/v1/services/instances/", json=body)
            assert created.status_code == 201, created.text
        instance_id = created.json()["instance_id"]
        # No request from here on: only the server's ticker can complete the 3 s boot.
        database = sqlite3.connect(server.data_dir / "atonix.db")
        deadline, status = time.monotonic() + 15, "pending"
        while time.monotonic() < deadline and status != "running":
            time.sleep(0.5)
            row = database.execute(
                "SELECT status FROM instances WHERE instance_id = ?", (instance_id,)
            ).fetchone()
            status = row[0]
        left = database.execute("SELECT COUNT(*) FROM due_work").fetchone()[0]
        database.close()
        assert status == "running"
        assert left == 0
        assert "timeline tick failed" not in server.log()
    finally:
        server.stop()
