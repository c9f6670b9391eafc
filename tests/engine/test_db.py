"""The database: a manual clock that stands still until advanced."""

from __future__ import annotations

import time
from pathlib import Path

from engine.clock import Clock
from engine.db import Database


def test_a_manual_clock_stands_still_from_the_first_open(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'atonix.db'}"
    first = Database(url, clock=Clock(mode="manual"))
    with first.session(write=False) as session:
        then = first.now(session)
    time.sleep(0.02)
    second = Database(url, clock=Clock(mode="manual"))  # another process, later
    with second.session(write=False) as session:
        assert second.now(session) == then
    with first.session(write=False) as session:
        assert first.now(session) == then
