"""Two instances never hold one address: four processes race for a /28's eleven addresses."""

from __future__ import annotations

import ipaddress
import multiprocessing
from multiprocessing.synchronize import Barrier
from typing import Any

import httpx

from engine.api.app import EngineApp
from engine.clock import Clock
from engine.db import Database
from tests.support.api import INSTANCES, KEYS, expect
from tests.support.engine import BASE_URL, LocalEngine
from tests.support.network import SUBNETS, item, subnet, vpc

PROCESSES = 4
LAUNCHES = 4  # each: 16 launches in all for 11 addresses


def _contender(
    url: str, api_key: str, subnet_id: str, barrier: Barrier, results: Any, n: int
) -> None:
    """One process: its own Database and EngineApp; launches into the subnet when all are ready."""
    db = Database(url, clock=Clock(mode="instant"))
    with httpx.Client(
        transport=httpx.WSGITransport(app=EngineApp(db)),
        base_url=BASE_URL,
        headers={"Authorization": f"Token {api_key}"},
    ) as client:
        client.get(item(SUBNETS, subnet_id)).raise_for_status()  # warm up: imports, tables
        barrier.wait(timeout=60)
        for launch in range(LAUNCHES):
            body = {
                "name": f"racer-{n}-{launch}",
                "flavor": "t3.micro",
                "image": "ubuntu-22.04",
                "subnet_id": subnet_id,
            }
            response = client.post(INSTANCES, json=body)
            results.put((response.status_code, response.json()))
    db.dispose()


def test_four_processes_share_a_slash_28_without_a_duplicate(engine: LocalEngine) -> None:
    user = engine.user()
    key = expect(user.client.post(KEYS, json={"name": "race"}), 201)["key"]
    made = vpc(user.client)
    tiny = subnet(user.client, made["vpc_id"], "10.1.1.0/28", "tiny")

    spawn = multiprocessing.get_context("spawn")
    barrier = spawn.Barrier(PROCESSES)
    results = spawn.Queue()
    processes = [
        spawn.Process(
            target=_contender,
            args=(engine.db.url, key, tiny["subnet_id"], barrier, results, n),
        )
        for n in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=180) for _ in range(PROCESSES * LAUNCHES)]
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0

    launched = [body for status, body in outcomes if status == 201]
    refused = [body for status, body in outcomes if status != 201]
    assert len(launched) == 11, outcomes
    addresses = sorted(ipaddress.IPv4Address(b["private_ip"]) for b in launched)
    assert [str(a) for a in addresses] == [f"10.1.1.{n}" for n in range(4, 15)]
    assert all(b["code"] == "CONFLICT" and "is full" in b["error"] for b in refused), refused
    assert len(refused) == PROCESSES * LAUNCHES - 11
    shown = expect(user.client.get(item(SUBNETS, tiny["subnet_id"])), 200)
    assert shown["available_ip_count"] == 0
    live = expect(user.client.get(INSTANCES, params={"page_size": 100}), 200)
    assert live["count"] == 11


def _at_once(engine: LocalEngine, requests: list[tuple[str, dict[str, Any]]]) -> list[int]:
    """POST each (path, body) from a thread of its own, all let go together; the statuses."""
    import threading

    barrier = threading.Barrier(len(requests))
    statuses: list[int] = []
    auth = engine.admin.headers["Authorization"]

    def post(path: str, body: dict[str, Any]) -> None:
        client = engine.client(auth)
        barrier.wait(timeout=30)
        statuses.append(client.post(path, json=body).status_code)

    threads = [threading.Thread(target=post, args=request) for request in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return sorted(statuses)


def test_of_overlapping_subnets_created_at_once_one_is_made(engine: LocalEngine) -> None:
    made = vpc(engine.admin)
    cidrs = ["10.1.0.0/24", "10.1.0.0/25", "10.1.0.128/25", "10.1.0.0/23"]
    requests = [
        (SUBNETS, {"name": f"s{n}", "vpc_id": made["vpc_id"], "cidr_block": cidr})
        for n, cidr in enumerate(cidrs)
    ]
    # 10.1.0.0/25 and 10.1.0.128/25 do not overlap each other: one or two get in, never more.
    statuses = _at_once(engine, requests)
    made_count = statuses.count(201)
    assert set(statuses) <= {201, 409} and made_count in (1, 2), statuses
    listed = expect(engine.admin.get(SUBNETS, params={"vpc_id": made["vpc_id"]}), 200)["results"]
    networks = [ipaddress.IPv4Network(s["cidr_block"]) for s in listed]
    assert len(networks) == made_count
    assert not any(a.overlaps(b) for i, a in enumerate(networks) for b in networks[i + 1 :])


def test_of_internet_gateways_created_at_once_for_one_vpc_one_is_made(
    engine: LocalEngine,
) -> None:
    from tests.support.network import INTERNET_GATEWAYS

    made = vpc(engine.admin)
    requests = [
        (INTERNET_GATEWAYS, {"name": f"igw-{n}", "vpc_id": made["vpc_id"]}) for n in range(4)
    ]
    assert _at_once(engine, requests) == [201, 409, 409, 409]
