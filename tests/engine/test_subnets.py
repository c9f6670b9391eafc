"""Subnets: inside their VPC and apart from their siblings; addresses lowest first, counted,
released, and a full subnet a clear error; instances launched into them."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.support.api import INSTANCES, expect, expect_error, instance, launch
from tests.support.engine import LocalEngine
from tests.support.network import SUBNETS, item, subnet, vpc


@pytest.fixture
def vpc_id(engine: LocalEngine) -> str:
    made: str = vpc(engine.admin, "prod", "10.1.0.0/16")["vpc_id"]
    return made


def test_a_subnet_counts_its_addresses_less_the_five_reserved(
    engine: LocalEngine, vpc_id: str
) -> None:
    made = subnet(engine.admin, vpc_id, "10.1.1.0/24")
    assert made["subnet_id"].startswith("subnet-")
    assert (made["available_ip_count"], made["availability_zone"]) == (251, "us-west-2a")
    assert (made["vpc_id"], made["owner"], made["map_public_ip_on_launch"]) == (
        vpc_id,
        "admin",
        False,
    )
    assert subnet(engine.admin, vpc_id, "10.1.2.0/28", "tiny")["available_ip_count"] == 11
    whole = vpc(engine.admin, "whole", "10.9.0.0/16")
    big = subnet(
        engine.admin, whole["vpc_id"], "10.9.0.0/16", "all", availability_zone="us-west-2c"
    )
    assert (big["available_ip_count"], big["availability_zone"]) == (65531, "us-west-2c")


@pytest.mark.parametrize(
    ("cidr", "fragment"),
    [
        ("10.2.1.0/24", "is not inside VPC"),
        ("10.0.0.0/8", "is not inside VPC"),
        ("10.1.1.0/29", "a subnet is at most a /28"),
        ("10.1.1.0", "not a valid IPv4 CIDR"),
        ("nonsense", "not a valid IPv4 CIDR"),
    ],
)
def test_a_subnet_outside_its_vpc_or_malformed_is_a_400(
    engine: LocalEngine, vpc_id: str, cidr: str, fragment: str
) -> None:
    body = {"name": "bad", "vpc_id": vpc_id, "cidr_block": cidr}
    refused = expect_error(engine.admin.post(SUBNETS, json=body), 400, "VALIDATION_ERROR")
    assert "cidr_block" in refused["details"] and fragment in refused["error"]


def test_a_subnet_needs_a_known_vpc_and_zone(engine: LocalEngine, vpc_id: str) -> None:
    body = {"name": "x", "vpc_id": "vpc-000000000000", "cidr_block": "10.1.1.0/24"}
    assert (
        "vpc_id"
        in expect_error(engine.admin.post(SUBNETS, json=body), 400, "VALIDATION_ERROR")["details"]
    )
    body = {"name": "x", "vpc_id": vpc_id, "cidr_block": "10.1.1.0/24", "availability_zone": "mars"}
    refused = expect_error(engine.admin.post(SUBNETS, json=body), 400, "VALIDATION_ERROR")
    assert "availability_zone" in refused["details"]
    missing = expect_error(engine.admin.post(SUBNETS, json={"name": "x"}), 400, "VALIDATION_ERROR")
    assert {"vpc_id", "cidr_block"} <= set(missing["details"])


def test_an_identical_or_overlapping_sibling_is_a_409_but_another_vpc_may_reuse_it(
    engine: LocalEngine, vpc_id: str
) -> None:
    first = subnet(engine.admin, vpc_id, "10.1.1.0/24")
    for cidr in ("10.1.1.0/24", "10.1.1.128/25", "10.1.0.0/23", "10.1.1.7/24"):
        body = {"name": "x", "vpc_id": vpc_id, "cidr_block": cidr}
        refused = expect_error(engine.admin.post(SUBNETS, json=body), 409, "CONFLICT")
        assert refused["details"]["subnet_id"] == first["subnet_id"]
    subnet(engine.admin, vpc_id, "10.1.2.0/24", "next-door")
    other = vpc(engine.admin, "other", "10.1.0.0/17")
    subnet(engine.admin, other["vpc_id"], "10.1.1.0/24")


def test_instances_get_the_lowest_free_address_and_give_it_back(
    engine: LocalEngine, vpc_id: str
) -> None:
    web = subnet(engine.admin, vpc_id, "10.1.1.0/28", availability_zone="us-west-2b")
    sid = web["subnet_id"]
    made = [launch(engine.admin, f"w{n}", subnet_id=sid) for n in range(3)]
    assert [m["private_ip"] for m in made] == ["10.1.1.4", "10.1.1.5", "10.1.1.6"]
    first = made[0]
    assert (first["vpc_id"], first["subnet_id"], first["availability_zone"]) == (
        vpc_id,
        sid,
        "us-west-2b",
    )
    assert first["public_ip"] is None  # the subnet does not map public IPs
    assert expect(engine.admin.get(item(SUBNETS, sid)), 200)["available_ip_count"] == 8

    expect(engine.admin.post(instance(made[1]["instance_id"], "terminate")), 200)
    expect(engine.admin.post(instance(made[0]["instance_id"], "terminate")), 200)
    assert expect(engine.admin.get(item(SUBNETS, sid)), 200)["available_ip_count"] == 10
    again = [launch(engine.admin, f"again{n}", subnet_id=sid)["private_ip"] for n in range(3)]
    assert again == ["10.1.1.4", "10.1.1.5", "10.1.1.7"]


def test_a_full_subnet_is_a_clear_error_naming_it_and_its_size(
    engine: LocalEngine, vpc_id: str
) -> None:
    tiny = subnet(engine.admin, vpc_id, "10.1.1.0/28", "tiny")
    addresses = {launch(engine.admin, f"t{n}", subnet_id="tiny")["private_ip"] for n in range(11)}
    assert len(addresses) == 11
    assert max(addresses, key=lambda a: int(a.rsplit(".", 1)[1])) == "10.1.1.14"
    body = {"name": "one-too-many", "flavor": "t3.micro", "image": "ubuntu-22.04"}
    refused = engine.admin.post(INSTANCES, json={**body, "subnet_id": tiny["subnet_id"]})
    error = expect_error(refused, 409, "CONFLICT")
    assert error["error"] == (
        f"subnet tiny ({tiny['subnet_id']}) is full: all 11 addresses of 10.1.1.0/28 are in use"
    )
    assert error["details"] == {
        "subnet_id": tiny["subnet_id"],
        "cidr_block": "10.1.1.0/28",
        "capacity": 11,
    }
    assert (
        expect(engine.admin.get(item(SUBNETS, tiny["subnet_id"])), 200)["available_ip_count"] == 0
    )
    # Nothing of the refused launch stays: no instance, no quota.
    assert expect(engine.admin.get(INSTANCES, params={"name": "one-too-many"}), 200)["count"] == 0


def test_a_subnet_that_maps_public_ips_gives_launches_one(engine: LocalEngine, vpc_id: str) -> None:
    web = subnet(engine.admin, vpc_id, "10.1.1.0/24")
    assert launch(engine.admin, "before", subnet_id=web["subnet_id"])["public_ip"] is None
    enabled = expect(engine.admin.post(item(SUBNETS, web["subnet_id"], "enable_public_ips")), 200)
    assert enabled["map_public_ip_on_launch"] is True
    after = launch(engine.admin, "after", subnet_id=web["subnet_id"])
    assert after["public_ip"].startswith("203.0.113.")
    off = expect(
        engine.admin.patch(
            item(SUBNETS, web["subnet_id"]), json={"map_public_ip_on_launch": False}
        ),
        200,
    )
    assert off["map_public_ip_on_launch"] is False


def test_a_launch_names_a_subnet_of_its_vpc_and_zone(engine: LocalEngine, vpc_id: str) -> None:
    web = subnet(engine.admin, vpc_id, "10.1.1.0/24")
    other = vpc(engine.admin, "other", "10.2.0.0/16")
    body = {"name": "x", "flavor": "t3.micro", "image": "ubuntu-22.04"}
    cases = [
        ({"subnet_id": "subnet-000000000000"}, "subnet_id"),
        ({"vpc_id": vpc_id}, "subnet_id"),
        ({"subnet_id": web["subnet_id"], "vpc_id": other["vpc_id"]}, "subnet_id"),
        ({"subnet_id": web["subnet_id"], "availability_zone": "us-west-2c"}, "availability_zone"),
    ]
    for fields, field in cases:
        refused = engine.admin.post(INSTANCES, json={**body, **fields})
        assert field in expect_error(refused, 400, "VALIDATION_ERROR")["details"], fields
    assert expect(engine.admin.get(INSTANCES), 200)["count"] == 0
    # By name, with its VPC by name too.
    placed = launch(engine.admin, "named", subnet_id="web-a", vpc_id="prod")
    assert (placed["subnet_id"], placed["private_ip"]) == (web["subnet_id"], "10.1.1.4")
    launch(engine.admin, "elsewhere")
    for name, value in (("subnet_id", web["subnet_id"]), ("vpc_id", vpc_id)):
        found = expect(engine.admin.get(INSTANCES, params={name: value}), 200)["results"]
        assert [i["name"] for i in found] == ["named"]


def test_without_a_subnet_an_instance_keeps_the_default_network(engine: LocalEngine) -> None:
    plain = launch(engine.admin, "plain")
    assert (plain["vpc_id"], plain["subnet_id"]) == (None, None)
    assert plain["private_ip"].startswith("10.0.") and plain["public_ip"].startswith("203.0.113.")


def test_a_subnet_with_live_instances_is_not_deleted(engine: LocalEngine, vpc_id: str) -> None:
    web = subnet(engine.admin, vpc_id, "10.1.1.0/24")
    running = launch(engine.admin, "web-1", subnet_id=web["subnet_id"])
    refused = engine.admin.delete(item(SUBNETS, web["subnet_id"]))
    assert expect_error(refused, 409, "DEPENDENCY_VIOLATION")["details"] == {"instances": 1}
    expect(engine.admin.post(instance(running["instance_id"], "terminate")), 200)
    expect(engine.admin.delete(item(SUBNETS, web["subnet_id"])), 204)
    # Its CIDR can be cut again, and hands out from the start.
    again = subnet(engine.admin, vpc_id, "10.1.1.0/24")
    assert launch(engine.admin, "web-2", subnet_id=again["subnet_id"])["private_ip"] == "10.1.1.4"


def test_a_subnet_belongs_to_its_vpcs_owner_and_others_do_not_see_it(
    engine: LocalEngine,
) -> None:
    alice, bob = engine.user(), engine.user()
    mine = vpc(alice.client)
    web = subnet(alice.client, mine["vpc_id"], "10.1.1.0/24")
    assert web["owner"] == alice.username
    expect_error(bob.client.get(item(SUBNETS, web["subnet_id"])), 404, "NOT_FOUND")
    body = {
        "name": "x",
        "flavor": "t3.micro",
        "image": "ubuntu-22.04",
        "subnet_id": web["subnet_id"],
    }
    expect_error(bob.client.post(INSTANCES, json=body), 400, "VALIDATION_ERROR")
    filtered = expect(alice.client.get(SUBNETS, params={"vpc_id": mine["vpc_id"]}), 200)
    assert [s["subnet_id"] for s in filtered["results"]] == [web["subnet_id"]]


def test_a_database_from_before_networking_gets_the_instance_indexes(tmp_path: Path) -> None:
    from engine.db import Database

    path = tmp_path / "atonix.db"
    shutil.copy(Path(__file__).resolve().parents[1] / "fixtures" / "atonix-0.1.0.db", path)
    Database(f"sqlite:///{path}").dispose()
    with sqlite3.connect(path) as conn:
        indexes = {row[1] for row in conn.execute("PRAGMA index_list(instances)")}
    assert {"ix_instances_vpc_id", "ix_instances_subnet_id"} <= indexes
