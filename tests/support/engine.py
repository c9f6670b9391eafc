"""The engine in-process: a fresh database, its first admin, and httpx clients over WSGI."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from engine.api.app import EngineApp
from engine.clock import Clock, ClockMode
from engine.db import Database
from engine.identity.service import AdminCredentials, bootstrap_admin
from tests.support.api import ADVANCE, User, add_user, expect

BASE_URL = "http://engine.test"
# Where a manual clock starts in these tests: a fixed instant makes every run alike.
EPOCH = datetime(2030, 1, 1, tzinfo=UTC)


@dataclass
class LocalEngine:
    """One engine over one SQLite file; `admin` is a client holding the first admin's API key."""

    db: Database
    app: EngineApp
    credentials: AdminCredentials
    admin: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.transport = httpx.WSGITransport(app=self.app)
        self.admin = self.client(f"Token {self.credentials.api_key}")

    def client(self, authorization: str | None = None) -> httpx.Client:
        headers = {"Authorization": authorization} if authorization else {}
        return httpx.Client(transport=self.transport, base_url=BASE_URL, headers=headers)

    def user(self, role: str = "developer") -> User:
        return add_user(self.admin, BASE_URL, self.transport, role=role)

    def advance(self, seconds: float) -> None:
        """Move the manual clock forward through the API, as an admin would."""
        expect(self.admin.post(ADVANCE, json={"seconds": seconds}), 200)

    def close(self) -> None:
        self.db.dispose()
        if not self.db.is_sqlite:
            from tests.support.postgres import drop_database

            drop_database(self.db.url)


def start_engine(path: Path, clock: ClockMode = "instant", database: str = "sqlite") -> LocalEngine:
    """An engine on `<path>/atonix.db`, or on a fresh PostgreSQL database (`database=
    "postgresql"`); a manual clock starts at EPOCH."""
    if database == "postgresql":
        from tests.support.postgres import fresh_database

        url = fresh_database()
    else:
        url = f"sqlite:///{path / 'atonix.db'}"
    db = Database(url, clock=Clock(mode=clock))
    if clock == "manual":
        with db.session(write=True) as session:
            db.set_manual_now(session, EPOCH)
    credentials = bootstrap_admin(db)
    assert credentials is not None
    return LocalEngine(db=db, app=EngineApp(db), credentials=credentials)
