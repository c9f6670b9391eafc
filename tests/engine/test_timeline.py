"""The timeline of due work: due transitions complete in due order, at their due timestamps."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from engine import timeline
from tests.support.api import expect
from tests.support.engine import EPOCH, LocalEngine
from tests.support.server import REPO

INSTANCES = "/api/v1/services/instances/"


def test_advancing_completes_due_transitions_in_order_at_their_due_times(
    manual: LocalEngine,
) -> None:
    first = expect(
        manual.admin.post(
            INSTANCES, json={"name": "a", "flavor": "t3.micro", "image": "ubuntu-22.04"}
        ),
        201,
    )
    manual.advance(1)
    second = expect(
        manual.admin.post(
            INSTANCES, json={"name": "b", "flavor": "t3.micro", "image": "ubuntu-22.04"}
        ),
        201,
    )
    manual.advance(60)  # both boots (3 s each) fall due inside this one step
    a = expect(manual.admin.get(f"{INSTANCES}{first['instance_id']}/"), 200)
    b = expect(manual.admin.get(f"{INSTANCES}{second['instance_id']}/"), 200)
    assert (a["status"], b["status"]) == ("running", "running")
    # Each completed at its own due time, not at the time of the request that noticed it.
    assert a["updated_at"].startswith(EPOCH.replace(second=3).strftime("%Y-%m-%dT%H:%M:%S"))
    assert b["updated_at"].startswith(EPOCH.replace(second=4).strftime("%Y-%m-%dT%H:%M:%S"))


def test_two_processes_working_one_timeline_do_each_item_once(tmp_path: Path) -> None:
    from datetime import timedelta

    from sqlalchemy import text

    from engine.clock import utcnow
    from engine.db import Database, sqlite_url
    from tests.support import due_probe

    url = sqlite_url(tmp_path / "due.db")
    db = Database(url)
    db.ensure_tables()
    due = utcnow() - timedelta(seconds=1)
    with db.write_engine.begin() as conn:
        conn.execute(text("CREATE TABLE probe_done (item_id INTEGER, pid INTEGER)"))
        for n in range(2000):
            timeline.schedule(
                conn, due_at=due, kind=due_probe.KIND, module=due_probe.__name__, resource_id=str(n)
            )
    workers = [
        subprocess.Popen([sys.executable, "-m", "tests.support.due_probe", url], cwd=REPO)
        for _ in range(2)
    ]
    assert [worker.wait(60) for worker in workers] == [0, 0]
    with db.engine.connect() as conn:
        done, distinct, pids = conn.execute(
            text("SELECT COUNT(*), COUNT(DISTINCT item_id), COUNT(DISTINCT pid) FROM probe_done")
        ).one()
        left = conn.execute(text("SELECT COUNT(*) FROM due_work")).scalar()
    db.dispose()
    assert (done, distinct, left) == (2000, 2000, 0)
    assert pids >= 1
