"""The server process: first-start credentials, restarts, signals, refusal of a newer database."""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.api import expect, instance, launch
from tests.support.server import REPO, RunningServer, start_server


def test_first_start_writes_the_admin_credentials_for_the_owner_only(
    server: RunningServer,
) -> None:
    path = server.data_dir / "admin-credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    credentials = json.loads(path.read_text())
    assert set(credentials) == {"username", "password", "api_key"}
    assert credentials["api_key"].startswith("atonix_")
    log = server.log()
    assert f"admin credentials written to {path}" in log
    assert f"atonix engine listening on {server.url}" in log
    assert credentials["password"] not in log
    assert credentials["api_key"] not in log


def test_a_restart_keeps_data_and_admin_and_both_signals_exit_0(tmp_path: Path) -> None:
    first = start_server(tmp_path)
    auth = {"Authorization": f"Token {first.admin_api_key}"}
    with httpx.Client(base_url=first.url, headers=auth) as client:
        iid = launch(client)["instance_id"]
    credentials = (first.data_dir / "admin-credentials.json").read_text()
    assert first.stop(signal.SIGTERM) == 0
    assert first.log().rstrip().endswith("atonix engine stopped")

    second = start_server(tmp_path)
    try:
        assert "first start" not in second.log()
        assert (second.data_dir / "admin-credentials.json").read_text() == credentials
        with httpx.Client(base_url=second.url, headers=auth) as client:
            assert expect(client.get(instance(iid)), 200)["status"] == "running"
    finally:
        assert second.stop(signal.SIGINT) == 0


def test_a_database_from_a_newer_atonix_is_refused_at_start(tmp_path: Path) -> None:
    running = start_server(tmp_path)
    assert running.stop() == 0
    with sqlite3.connect(running.data_dir / "atonix.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0999'")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "engine.server",
            "--port",
            "0",
            "--data-dir",
            str(running.data_dir),
            "--clock",
            "instant",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "schema revision 0999, newer than this atonix understands" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_taken_port_is_a_clear_exit_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "engine.server",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--data-dir",
                str(tmp_path / "data"),
                "--clock",
                "instant",
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in result.stderr
    assert not (tmp_path / "data" / "admin-credentials.json").exists()
