"""A fresh PostgreSQL database per test, on the server `.ci/postgres` started.

`ATONIX_TEST_POSTGRES_URL` names it (`.ci/run` sets it). Without it the PostgreSQL variants of
the tests are skipped with that reason, except in CI (`CI=true`), where they fail.
"""

from __future__ import annotations

import os
import uuid

import pytest

ENV = "ATONIX_TEST_POSTGRES_URL"


def server_url() -> str:
    url = os.environ.get(ENV)
    if not url:
        reason = f"no PostgreSQL: set {ENV} (.ci/run starts one with .ci/postgres)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return url


def fresh_database() -> str:
    """Create an empty database on the test server; its URL."""
    from sqlalchemy import create_engine, text

    url = server_url()
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{url.rsplit('/', 1)[0]}/{name}"


def drop_database(url: str) -> None:
    from sqlalchemy import create_engine, text

    name = url.rsplit("/", 1)[1]
    admin = create_engine(server_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
