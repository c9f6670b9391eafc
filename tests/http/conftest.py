"""Fixtures for HTTP contract tests: one real server for the session, and users made per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.support.api import User, add_user
from tests.support.server import RunningServer, start_server


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """`python -m engine.server --clock instant` on a free port, stopped after the session: on
    SQLite, and on a fresh PostgreSQL database (skipped without one, but in CI)."""
    database_url = None
    if request.param == "postgresql":
        from tests.support.postgres import fresh_database

        database_url = fresh_database()
    running = start_server(tmp_path_factory.mktemp("server"), database_url=database_url)
    yield running
    assert running.stop() == 0, running.log()
    if database_url:
        from tests.support.postgres import drop_database

        drop_database(database_url)


@pytest.fixture(scope="session")
def admin(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Token {server.admin_api_key}"}
    ) as client:
        yield client


@pytest.fixture
def anonymous(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url) as client:
        yield client


@pytest.fixture
def make_user(server: RunningServer, admin: httpx.Client) -> Iterator[Callable[..., User]]:
    """Make users with fresh names (the server is shared), logged in with a bearer token."""
    made: list[User] = []

    def make(role: str = "developer") -> User:
        user = add_user(admin, server.url, role=role)
        made.append(user)
        return user

    yield make
    for user in made:
        user.client.close()
