"""`--workers 2`: two processes serve one API on one port and stop together on SIGTERM."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.api import INSTANCES, expect
from tests.support.server import REPO, start_server

BODY = {"name": "web", "flavor": "t3.micro", "image": "ubuntu-22.04"}


def _connections_by_worker(pids: list[int], port: int) -> dict[int, int]:
    """How many established connections to `port` each worker process holds."""
    established: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                established.add(fields[9])
    counts = {}
    for pid in pids:
        inodes = set()
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        counts[pid] = len(inodes & established)
    return counts


def test_two_workers_serve_one_api_and_replay_an_idempotent_create_across_them(
    tmp_path: Path,
) -> None:
    server = start_server(tmp_path, workers=2)
    pids = server.worker_pids()
    assert len(pids) == 2
    headers = {"Authorization": f"Token {server.admin_api_key}", "Idempotency-Key": "once"}
    clients = [httpx.Client(base_url=server.url, headers=headers, timeout=10) for _ in range(16)]
    try:
        first = clients[0].post(INSTANCES, json=BODY)
        assert first.status_code == 201, first.text
        replies = [client.post(INSTANCES, json=BODY) for client in clients[1:]]
        # The kernel spreads the 16 connections over both workers; each held one.
        port = int(server.url.rsplit(":", 1)[1])
        spread = _connections_by_worker(pids, port)
        assert all(count > 0 for count in spread.values()), spread
        for reply in replies:
            assert reply.status_code == 201, reply.text
            assert reply.json() == first.json()
            assert reply.headers["idempotent-replayed"] == "true"
        listed = [expect(client.get(INSTANCES), 200) for client in clients]
        assert {page["count"] for page in listed} == {1}
    finally:
        for client in clients:
            client.close()
        assert server.stop() == 0, server.log()


def test_sigterm_to_the_main_process_stops_every_worker(tmp_path: Path) -> None:
    server = start_server(tmp_path, workers=2)
    pids = server.worker_pids()
    assert len(pids) == 2 and all(Path(f"/proc/{pid}").exists() for pid in pids)
    assert server.stop() == 0
    assert server.log().rstrip().endswith("atonix engine stopped")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in pids):
        time.sleep(0.05)
    assert not [pid for pid in pids if Path(f"/proc/{pid}").exists()]
    assert "Traceback" not in server.log()


def test_the_cli_starts_without_importing_the_server() -> None:
    probe = (
        "import sys\nfrom atonix_cli.app import main\nsys.argv = ['atonix', 'engine', 'serve', "
        "'--help']\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('granian' in sys.modules, file=sys.stderr)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert "--workers" in result.stdout
    assert result.stderr.strip().splitlines()[-1] == "False"
