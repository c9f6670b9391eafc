"""A server works its timeline with no traffic: a boot completes though nobody reads it."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx

from tests.support.server import start_server


def test_a_server_with_no_traffic_completes_due_transitions(tmp_path: Path) -> None:
    server = start_server(tmp_path, clock="real")
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
        database.close()
        assert status == "running"
    finally:
        server.stop()
