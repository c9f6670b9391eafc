"""Quotas hold across processes: several engines on one SQLite file race for the last slot."""

from __future__ import annotations

import multiprocessing
from multiprocessing.synchronize import Barrier
from typing import Any

import httpx

from engine.api.app import EngineApp
from engine.clock import Clock
from engine.db import Database
from tests.support.api import FLAVORS, INSTANCES, KEYS, QUOTAS, expect, launch, quota
from tests.support.engine import BASE_URL, LocalEngine

PROCESSES = 5
LIMIT = 3


def _contender(url: str, api_key: str, barrier: Barrier, results: Any, name: str) -> None:
    """One process: its own Database and EngineApp; tries one launch when all are ready."""
    db = Database(url, clock=Clock(mode="instant"))
    app = EngineApp(db)
    with httpx.Client(
        transport=httpx.WSGITransport(app=app),
        base_url=BASE_URL,
        headers={"Authorization": f"Token {api_key}"},
    ) as client:
        client.get(FLAVORS).raise_for_status()  # warm up: imports, tables, connections
        barrier.wait(timeout=60)
        response = client.post(
            INSTANCES, json={"name": name, "flavor": "t3.micro", "image": "ubuntu-22.04"}
        )
        results.put((response.status_code, response.json()))
    db.dispose()


def test_exactly_one_process_gets_the_last_quota_slot(engine: LocalEngine) -> None:
    user = engine.user()
    key = expect(user.client.post(KEYS, json={"name": "race"}), 201)["key"]
    expect(
        engine.admin.put(f"{QUOTAS}instances/", json={"owner": user.username, "limit": LIMIT}), 200
    )
    for n in range(LIMIT - 1):
        launch(user.client, f"before-{n}")

    spawn = multiprocessing.get_context("spawn")
    barrier = spawn.Barrier(PROCESSES)
    results = spawn.Queue()
    processes = [
        spawn.Process(target=_contender, args=(engine.db.url, key, barrier, results, f"racer-{n}"))
        for n in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0

    statuses = sorted(status for status, _ in outcomes)
    assert statuses == [201] + [429] * (PROCESSES - 1), outcomes
    for status, body in outcomes:
        if status == 429:
            assert body["code"] == "QUOTA_EXCEEDED"
            assert body["details"] == {
                "resource_type": "instances",
                "limit": LIMIT,
                "used": LIMIT,
                "requested": 1,
            }
    assert quota(user.client, "instances")["used"] == LIMIT
    assert quota(user.client, "vcpus")["used"] == 2 * LIMIT
    assert expect(user.client.get(INSTANCES), 200)["count"] == LIMIT
