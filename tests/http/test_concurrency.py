"""Concurrent requests through the threaded server: every create succeeds, nothing is shared."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.support.api import INSTANCES, QUOTAS, User, expect


def test_concurrent_creates_all_succeed_with_distinct_addresses(
    make_user: Callable[..., User],
) -> None:
    user = make_user()
    count = 24

    def create(n: int) -> dict[str, Any]:
        body = {"name": f"burst-{n}", "flavor": "t3.micro", "image": "ubuntu-22.04"}
        created: dict[str, Any] = expect(user.client.post(INSTANCES, json=body), 201)
        return created

    with ThreadPoolExecutor(max_workers=12) as pool:
        made = list(pool.map(create, range(count)))
    assert len({m["instance_id"] for m in made}) == count
    assert len({m["private_ip"] for m in made}) == count
    public = [m["public_ip"] for m in made]
    assert None not in public and len(set(public)) == count
    assert expect(user.client.get(INSTANCES), 200)["count"] == count
    rows = expect(user.client.get(QUOTAS), 200)["results"]
    assert next(r for r in rows if r["resource_type"] == "instances")["used"] == count
