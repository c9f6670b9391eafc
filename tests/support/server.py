"""Start and stop the real engine server (`python -m engine.server`) for tests.

Usage, from a fixture::

    from tests.support.server import start_server

    server = start_server(tmp_path)            # instant clock; or clock="manual" / "real"
    httpx.get(server.url + "/api/v1/auth/whoami/",
              headers={"Authorization": f"Token {server.admin_api_key}"})
    server.stop()                              # SIGTERM; returns the exit code (0)

or `with start_server(tmp_path) as server: ...`. The server listens on 127.0.0.1 on a free
port, keeps its database and `admin-credentials.json` in `<tmp_path>/data`, and writes its
stderr to a `server-*.log` file in `tmp_path`. Starting again on the same `tmp_path` reopens
the same database (and the same admin). `workers=2` serves from two worker processes
(`--workers 2`); `server.worker_pids()` names them.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import httpx

REPO = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 30.0
_LISTENING = re.compile(r"atonix engine listening on (http://\S+)")
_WORKER = re.compile(r"Spawning worker-\d+ with PID: (\d+)")


@dataclass
class RunningServer:
    """A server process and what a test needs to talk to it."""

    url: str  # e.g. http://127.0.0.1:41234, no trailing slash
    admin_api_key: str
    admin_password: str
    admin_username: str
    process: subprocess.Popen[bytes]
    data_dir: Path
    log_path: Path

    def log(self) -> str:
        """Everything the server wrote to stderr so far."""
        return self.log_path.read_text(errors="replace")

    def worker_pids(self) -> list[int]:
        """The worker processes the server spawned so far (from its log)."""
        return [int(pid) for pid in _WORKER.findall(self.log())]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Signal the server, wait for it to exit, and return its exit code (killed if stuck)."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise RuntimeError(f"the server ignored signal {sig}:\n{self.log()}") from None
        return self.process.returncode

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_server(
    tmp_path: Path,
    clock: str = "instant",
    *,
    data_dir: Path | None = None,
    admin_api_key: str | None = None,
    allow_reset: bool = False,
    workers: int = 1,
    database_url: str | None = None,
    memory_limit_mib: int | None = None,
) -> RunningServer:
    """Start `python -m engine.server` on a free port and wait until it answers /health/.

    `data_dir` (default `<tmp_path>/data`) may hold a database made elsewhere, whose admin key
    is then `admin_api_key`, as no credentials file was written for it. `allow_reset` passes
    `--allow-reset`, serving `POST /api/v1/engine/reset/`. Returns once every one of the
    `workers` processes has started. `memory_limit_mib` caps each server process's data
    segment (RLIMIT_DATA: heap and private writable mappings), so a body held whole fails.
    """
    data_dir = data_dir or tmp_path / "data"
    tmp_path.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="server-", suffix=".log", dir=tmp_path)
    log_path = Path(name)
    command = [
        sys.executable,
        "-m",
        "engine.server",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--data-dir",
        str(data_dir),
        "--clock",
        clock,
        "--workers",
        str(workers),
        *(["--allow-reset"] if allow_reset else []),
        *(["--database-url", database_url] if database_url else []),
    ]
    with os.fdopen(fd, "wb") as log_file:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            preexec_fn=_data_limit(memory_limit_mib) if memory_limit_mib else None,
        )
    try:
        url = _wait_until_up(process, log_path, workers)
        credentials = (
            {"api_key": admin_api_key, "password": "", "username": "admin"}
            if admin_api_key
            else json.loads((data_dir / "admin-credentials.json").read_text())
        )
    except BaseException:
        if process.poll() is None:
            process.kill()
            process.wait()
        raise
    return RunningServer(
        url=url,
        admin_api_key=credentials["api_key"],
        admin_password=credentials["password"],
        admin_username=credentials["username"],
        process=process,
        data_dir=data_dir,
        log_path=log_path,
    )


def _data_limit(mib: int) -> Callable[[], None]:
    def limit() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_DATA, (mib << 20, mib << 20))

    return limit


def _wait_until_up(process: subprocess.Popen[bytes], log_path: Path, workers: int) -> str:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    url = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"the server exited with {process.returncode}:\n{log_path.read_text()}"
            )
        log = log_path.read_text(errors="replace")
        if url is None:
            found = _LISTENING.search(log)
            url = found.group(1) if found else None
        if url is not None and log.count("Started worker-") >= workers:
            try:
                if httpx.get(f"{url}/api/v1/health/", timeout=2).status_code == 200:
                    return url
            except httpx.TransportError:
                pass
        time.sleep(0.05)
    raise RuntimeError(
        f"the server did not come up in {STARTUP_TIMEOUT} s:\n{log_path.read_text()}"
    )
