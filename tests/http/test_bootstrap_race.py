"""Three servers starting together on one empty database make one first admin between them."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.postgres import drop_database, fresh_database
from tests.support.server import RunningServer, start_server


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_servers_starting_together_bootstrap_one_admin(tmp_path: Path, database: str) -> None:
    url = fresh_database() if database == "postgresql" else f"sqlite:///{tmp_path / 'one.db'}"

    def start(n: int) -> RunningServer:
        # Any key: which of them writes the credentials is what the test looks at.
        return start_server(tmp_path / f"server-{n}", database_url=url, admin_api_key="-")

    with ThreadPoolExecutor(max_workers=3) as pool:
        servers = list(pool.map(start, range(3)))
    try:
        written = [s for s in servers if (s.data_dir / "admin-credentials.json").exists()]
        assert len(written) == 1, [s.log() for s in servers]
    finally:
        codes = [s.stop() for s in servers]
    assert codes == [0, 0, 0]
    if database == "postgresql":
        from sqlalchemy import create_engine, text

        engine = create_engine(url)
        with engine.connect() as conn:
            admins = conn.execute(text("SELECT count(*) FROM users WHERE role = 'admin'")).scalar()
        engine.dispose()
        drop_database(url)
    else:
        with sqlite3.connect(tmp_path / "one.db") as conn:
            admins = conn.execute("SELECT count(*) FROM users WHERE role = 'admin'").fetchone()[0]
    assert admins == 1
