"""Fixtures for CLI tests: `cli` runs `atonix` in-process, against the embedded engine or a server.

Every test that takes `cli` runs twice: once on the embedded engine of a fresh config and data
dir, once on a real `engine.server` reached over HTTP through a `team` profile holding the
server's admin key. Both start logged in as `admin`; a test asserts the same things on both.

The server is shared by the tests of one process (one per xdist worker), so before each test
the fixture puts it back as a fresh one would look to `admin` with one call to the server's
`POST /api/v1/engine/reset/` (served as it runs with `--allow-reset`): no instance, own image,
audit record or quota override, only the bootstrap API key. Users survive a reset, so those
made by a test get unique names (`cli.add_user`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import keyring
import pytest

from tests.cli.keyring_memory import MemoryKeyring
from tests.cli.runner import Cli
from tests.support.server import RunningServer, start_server

BACKENDS = ("embedded", "remote")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "clock(mode): the engine clock of the test's backend (default instant)"
    )


@dataclass
class Remote:
    """A shared server (started with `--allow-reset`), and how to reset it for the next test."""

    server: RunningServer

    @classmethod
    def start(cls, path: Path, clock: str) -> Remote:
        return cls(start_server(path, clock=clock, allow_reset=True))

    def reset(self) -> None:
        """Make the server look fresh to `admin`: no resources, default quotas, one API key."""
        with _admin(self.server) as admin:
            _ok(admin.post("/api/v1/engine/reset/"))


def _admin(server: RunningServer) -> httpx.Client:
    headers = {"Authorization": f"Token {server.admin_api_key}"}
    return httpx.Client(base_url=server.url, headers=headers, timeout=10)


def _ok(response: httpx.Response) -> Any:
    assert response.is_success, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json() if response.content else None


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Remote]:
    remote = Remote.start(tmp_path_factory.mktemp("server"), clock="instant")
    yield remote
    remote.server.stop()


@pytest.fixture(scope="session")
def manual_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Remote]:
    remote = Remote.start(tmp_path_factory.mktemp("manual-server"), clock="manual")
    yield remote
    remote.server.stop()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A user's environment with nothing set up: no ATONIX_* variables, empty dirs, a keyring."""
    for name in list(os.environ):
        if name.startswith("ATONIX_") or name == "NO_COLOR":
            monkeypatch.delenv(name)
    monkeypatch.setenv("ATONIX_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("ATONIX_DATA_DIR", str(tmp_path / "data"))
    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    yield tmp_path
    keyring.set_keyring(previous)


def _ring() -> MemoryKeyring:
    ring = keyring.get_keyring()
    assert isinstance(ring, MemoryKeyring)
    return ring


@pytest.fixture(params=BACKENDS)
def cli(request: pytest.FixtureRequest, home: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """`atonix` logged in as admin, on the embedded engine or on a server (see the module doc)."""
    marker = request.node.get_closest_marker("clock")
    clock = marker.args[0] if marker else "instant"
    if request.param == "embedded":
        monkeypatch.setenv("ATONIX_CLOCK", clock)
        runner = Cli("embedded", profile="default", endpoint=None, home=home, ring=_ring())
        first = runner.ok("whoami")
        assert "Created the embedded engine's admin user" in first.stderr
        return runner
    remote: Remote = request.getfixturevalue("server" if clock == "instant" else "manual_server")
    remote.reset()
    runner = Cli("remote", profile="team", endpoint=remote.server.url, home=home, ring=_ring())
    runner.ok(
        "profile",
        "create",
        "team",
        "--endpoint",
        remote.server.url,
        "--api-key",
        remote.server.admin_api_key,
        "--use",
    )
    assert remote.server.admin_username == runner.username
    return runner


@pytest.fixture
def embedded(home: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """`atonix` with no configuration at all, on the instant clock: the first run sets it up."""
    monkeypatch.setenv("ATONIX_CLOCK", "instant")
    return Cli("embedded", profile="default", endpoint=None, home=home, ring=_ring())
