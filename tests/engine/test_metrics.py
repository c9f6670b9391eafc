"""Synthetic instance metrics: deterministic, at most 100, newest first, only while running."""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise
from typing import Any

from sqlmodel import select

from engine.compute.instances import Instance
from engine.compute.metrics import samples
from tests.support.api import expect, instance, launch
from tests.support.engine import EPOCH, LocalEngine

FIELDS = {
    "instance_id",
    "timestamp",
    "cpu_usage_percent",
    "memory_usage_percent",
    "disk_usage_percent",
    "network_in_bytes",
    "network_out_bytes",
    "io_read_bytes",
    "io_write_bytes",
}


def _metrics(local: LocalEngine, iid: str) -> list[dict[str, Any]]:
    page = expect(local.admin.get(instance(iid, "metrics")), 200)
    assert page["count"] == len(page["results"])
    return page["results"]


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def test_no_samples_before_the_instance_runs(manual: LocalEngine) -> None:
    iid = launch(manual.admin)["instance_id"]
    assert _metrics(manual, iid) == []


def test_at_most_100_samples_a_minute_apart_newest_first(manual: LocalEngine) -> None:
    iid = launch(manual.admin)["instance_id"]
    manual.advance(2 * 3600)
    rows = _metrics(manual, iid)
    assert len(rows) == 100
    assert set(rows[0]) == FIELDS
    stamps = [_seconds(r["timestamp"]) for r in rows]
    assert all(a - b == 60 for a, b in pairwise(stamps))
    assert stamps[0] <= EPOCH.timestamp() + 2 * 3600
    for row in rows:
        assert 0 <= row["cpu_usage_percent"] <= 100
        assert 0 <= row["memory_usage_percent"] <= 100
        assert row["network_in_bytes"] >= 0
    detail = expect(manual.admin.get(instance(iid)), 200)
    assert detail["metrics"] == rows[0]


def test_without_monitoring_samples_are_five_minutes_apart(manual: LocalEngine) -> None:
    iid = launch(manual.admin, enable_monitoring=False)["instance_id"]
    manual.advance(3600)
    stamps = [_seconds(r["timestamp"]) for r in _metrics(manual, iid)]
    assert 12 <= len(stamps) <= 13
    assert {a - b for a, b in pairwise(stamps)} == {300}


def test_the_same_instance_at_the_same_time_gives_the_same_samples(manual: LocalEngine) -> None:
    first = launch(manual.admin, "a")["instance_id"]
    second = launch(manual.admin, "b")["instance_id"]
    manual.advance(1800)
    assert _metrics(manual, first) == _metrics(manual, first)
    cpu = [r["cpu_usage_percent"] for r in _metrics(manual, first)]
    assert cpu != [r["cpu_usage_percent"] for r in _metrics(manual, second)]

    with manual.db.session(write=False) as session:
        stored = session.exec(select(Instance).where(Instance.instance_id == first)).one()
        now = manual.db.now(session)
    assert samples(stored, now=now) == samples(stored, now=now)
    assert [s["cpu_usage_percent"] for s in samples(stored, now=now)] == cpu


def test_a_stopped_instance_keeps_the_samples_of_its_last_run(manual: LocalEngine) -> None:
    iid = launch(manual.admin)["instance_id"]
    manual.advance(600)
    expect(manual.admin.post(instance(iid, "stop")), 200)
    manual.advance(5)
    before = _metrics(manual, iid)
    assert len(before) == 11
    manual.advance(3600)
    assert _metrics(manual, iid) == before
