"""`--workers 2`: two granian worker processes serve one API on one port, stop cleanly on
SIGTERM, and work the timeline once between them."""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from pathlib import Path

import httpx

from tests.support.server import start_server

BODY = {"flavor": "t3.micro", "image": "ubuntu-22.04"}
INSTANCES = "/api/v1/services/instances/"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_two_workers_serve_one_api_and_stop_cleanly_on_sigterm(tmp_path: Path) -> None:
    server = start_server(tmp_path, workers=2)
    pids = server.worker_pids()
    try:
        assert len(pids) == 2 and all(_alive(pid) for pid in pids)
        headers = {"Authorization": f"Token {server.admin_api_key}"}
        key = {"Idempotency-Key": uuid.uuid4().hex}
        answers = []
        for i in range(6):  # a fresh connection each time, so both workers take some
            with httpx.Client(base_url=server.url, headers=headers, timeout=10) as client:
                answers.append(client.post(INSTANCES, json={"name": "once", **BODY}, headers=key))
                client.post(INSTANCES, json={"name": f"w-{i}", **BODY}).raise_for_status()
        assert {a.status_code for a in answers} == {201}
        assert len({a.json()["instance_id"] for a in answers}) == 1  # replayed, whichever worker
        with httpx.Client(base_url=server.url, headers=headers, timeout=10) as client:
            listed = client.get(INSTANCES, params={"page_size": 100}).json()
        assert sorted(i["name"] for i in listed["results"]) == sorted(
            ["once", *(f"w-{i}" for i in range(6))]
        )
    finally:
        code = server.stop()
    assert code == 0, server.log()
    assert "atonix engine stopped" in server.log()
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in pids)


def test_two_workers_complete_due_work_once_with_no_traffic(tmp_path: Path) -> None:
    server = start_server(tmp_path, clock="real", workers=2)
    try:
        headers = {"Authorization": f"Token {server.admin_api_key}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=10) as client:
            ids = [
                client.post(INSTANCES, json={"name": f"idle-{i}", **BODY}).json()["instance_id"]
                for i in range(4)
            ]
        database = sqlite3.connect(server.data_dir / "atonix.db")
        deadline, statuses = time.monotonic() + 20, ["pending"]
        while time.monotonic() < deadline and set(statuses) != {"running"}:
            time.sleep(0.5)
            statuses = [
                database.execute(
                    "SELECT status FROM instances WHERE instance_id = ?", (iid,)
                ).fetchone()[0]
                for iid in ids
            ]
        pending = database.execute(
            "SELECT count(*) FROM due_work WHERE kind = 'instance.complete'"
        ).fetchone()[0]
        database.close()
        assert statuses == ["running"] * 4
        assert pending == 0
    finally:
        assert server.stop() == 0, server.log()
