"""Three servers starting together on one empty database make one first admin between them."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.postgres import drop_database, fresh_database

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_servers_starting_together_bootstrap_one_admin(tmp_path: Path, database: str) -> None:
    url = fresh_database() if database == "postgresql" else f"sqlite:///{tmp_path / 'one.db'}"
    processes = []
    try:
        for n in range(3):
            data_dir = tmp_path / f"server-{n}"
            command = [
                *(sys.executable, "-m", "engine.server", "--host", "127.0.0.1", "--port", "0"),
                *("--data-dir", str(data_dir), "--database-url", url, "--clock", "instant"),
            ]
            log = (tmp_path / f"server-{n}.log").open("wb")
            processes.append((subprocess.Popen(command, cwd=REPO, stderr=log), data_dir, log))
        for process, _data_dir, log in processes:
            log_path = Path(log.name)
            for _ in range(300):
                if "listening on" in log_path.read_text(errors="replace"):
                    break
                assert process.poll() is None, log_path.read_text()
                time.sleep(0.1)
        written = [d for _p, d, _l in processes if (d / "admin-credentials.json").exists()]
        assert len(written) == 1
    finally:
        for process, _data_dir, log in processes:
            process.terminate()
            process.wait(timeout=20)
            log.close()
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
