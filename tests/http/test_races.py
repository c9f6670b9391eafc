"""Exact under concurrency, on SQLite and PostgreSQL alike: quotas hold across racing clients,
and a state change is a compare-and-swap on the current state."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.support.api import INSTANCES, QUOTAS, User, expect, instance
from tests.support.server import RunningServer

BODY = {"flavor": "t3.micro", "image": "ubuntu-22.04"}


def _clients(server: RunningServer, user: User, count: int) -> list[httpx.Client]:
    auth = {"Authorization": user.client.headers["Authorization"]}
    return [httpx.Client(base_url=server.url, headers=auth, timeout=30) for _ in range(count)]


def test_160_racing_creates_for_100_slots_make_exactly_100(
    server: RunningServer, admin: httpx.Client, make_user: Callable[..., User]
) -> None:
    user = make_user()
    quota = {"owner": user.username, "limit": 100}
    expect(admin.put(f"{QUOTAS}instances/", json=quota), 200)
    clients = _clients(server, user, 8)

    def create(n: int) -> httpx.Response:
        return clients[n % 8].post(INSTANCES, json={"name": f"race-{n}", **BODY})

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(create, range(160)))
        statuses = [a.status_code for a in answers]
        assert (statuses.count(201), statuses.count(429)) == (100, 60), statuses
        assert {a.json()["code"] for a in answers if a.status_code == 429} == {"QUOTA_EXCEEDED"}
        assert expect(user.client.get(INSTANCES), 200)["count"] == 100
        rows = expect(user.client.get(QUOTAS), 200)["results"]
        assert next(r for r in rows if r["resource_type"] == "instances")["used"] == 100
    finally:
        # Give the shared server's public addresses back to the other tests.
        made = [a.json()["instance_id"] for a in answers if a.status_code == 201]
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda iid: user.client.delete(instance(iid)), made))
        for client in clients:
            client.close()


def test_ten_concurrent_stops_of_one_instance_give_one_success(
    server: RunningServer, make_user: Callable[..., User]
) -> None:
    user = make_user()
    iid = expect(user.client.post(INSTANCES, json={"name": "contended", **BODY}), 201)
    iid = iid["instance_id"]
    assert expect(user.client.get(instance(iid)), 200)["status"] == "running"
    clients = _clients(server, user, 10)
    try:
        with ThreadPoolExecutor(max_workers=10) as pool:
            answers = list(pool.map(lambda c: c.post(instance(iid, "stop")), clients))
    finally:
        for client in clients:
            client.close()
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] + [409] * 9, [a.text for a in answers]
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"INVALID_STATE"}
