"""VPCs: CIDR rules, the duplicate and quota limits, their main route table, forced deletes."""

from __future__ import annotations

import pytest

from tests.support.api import AUDIT, QUOTAS, expect, expect_error, instance, launch, quota
from tests.support.api import INSTANCES as INSTANCES_PATH
from tests.support.engine import LocalEngine
from tests.support.network import (
    INTERNET_GATEWAYS,
    NAT_GATEWAYS,
    ROUTE_TABLES,
    SUBNETS,
    VPCS,
    item,
    public_subnet,
    subnet,
    vpc,
)


def test_a_vpc_has_its_cidr_with_host_bits_cleared_and_a_main_route_table(
    engine: LocalEngine,
) -> None:
    made = vpc(engine.admin, cidr="10.1.2.3/16")
    assert made["vpc_id"].startswith("vpc-") and made["resource_id"] == made["vpc_id"]
    assert (made["cidr_block"], made["status"], made["subnet_count"]) == (
        "10.1.0.0/16",
        "available",
        0,
    )
    assert made["enable_dns_hostnames"] and made["enable_dns_support"]
    tables = expect(engine.admin.get(item(VPCS, made["vpc_id"], "route_tables")), 200)
    assert tables["count"] == 1
    main = tables["results"][0]
    assert main["is_main"] is True
    routes = expect(engine.admin.get(item(ROUTE_TABLES, main["route_table_id"], "routes")), 200)
    assert [(r["destination_cidr"], r["target_type"], r["status"]) for r in routes["results"]] == [
        ("10.1.0.0/16", "local", "active")
    ]
    default = expect(engine.admin.post(VPCS, json={"name": "plain"}), 201)
    assert default["cidr_block"] == "10.0.0.0/16"


@pytest.mark.parametrize(
    ("cidr", "fragment"),
    [
        ("10.1.0.0/8", "a VPC is a /16 to a /28"),
        ("10.1.0.0/29", "a VPC is a /16 to a /28"),
        ("10.1.0.0", "not a valid IPv4 CIDR"),
        ("10.300.0.0/16", "not a valid IPv4 CIDR"),
        ("fd00::/56", "not a valid IPv4 CIDR"),
        ("banana", "not a valid IPv4 CIDR"),
    ],
)
def test_an_invalid_vpc_cidr_is_a_400_naming_the_field(
    engine: LocalEngine, cidr: str, fragment: str
) -> None:
    body = expect_error(
        engine.admin.post(VPCS, json={"name": "bad", "cidr_block": cidr}), 400, "VALIDATION_ERROR"
    )
    assert "cidr_block" in body["details"]
    assert fragment in body["error"]
    assert expect(engine.admin.get(VPCS), 200)["count"] == 0


def test_a_vpc_takes_a_valid_ipv6_block_or_refuses_it(engine: LocalEngine) -> None:
    made = vpc(engine.admin, ipv6_cidr_block="2600:1f14:abcd:1200::/56")
    assert made["ipv6_cidr_block"] == "2600:1f14:abcd:1200::/56"
    bad = engine.admin.post(VPCS, json={"name": "v6", "ipv6_cidr_block": "10.0.0.0/16"})
    assert "ipv6_cidr_block" in expect_error(bad, 400, "VALIDATION_ERROR")["details"]


def test_one_owner_cannot_hold_two_vpcs_of_one_cidr_but_another_owner_can(
    engine: LocalEngine,
) -> None:
    first = vpc(engine.admin, cidr="10.1.0.0/16")
    again = engine.admin.post(VPCS, json={"name": "again", "cidr_block": "10.1.0.9/16"})
    body = expect_error(again, 409, "CONFLICT")
    assert body["details"] == {"cidr_block": "10.1.0.0/16", "vpc_id": first["vpc_id"]}
    alice = engine.user()
    vpc(alice.client, cidr="10.1.0.0/16")
    assert quota(engine.admin, "vpcs")["used"] == 1


def test_the_eleventh_vpc_is_over_the_quota_and_a_delete_gives_one_back(
    engine: LocalEngine,
) -> None:
    alice = engine.user()
    made = [vpc(alice.client, f"v{n}", f"10.{n}.0.0/16") for n in range(10)]
    refused = alice.client.post(VPCS, json={"name": "v10", "cidr_block": "10.10.0.0/16"})
    body = expect_error(refused, 429, "QUOTA_EXCEEDED")
    assert body["details"] == {"resource_type": "vpcs", "limit": 10, "used": 10, "requested": 1}
    assert expect(alice.client.get(VPCS), 200)["count"] == 10
    expect(alice.client.delete(item(VPCS, made[0]["vpc_id"])), 204)
    assert quota(alice.client, "vpcs")["used"] == 9
    vpc(alice.client, "v10", "10.10.0.0/16")
    expect(engine.admin.put(f"{QUOTAS}vpcs/", json={"owner": alice.username, "limit": 11}), 200)
    vpc(alice.client, "v11", "10.11.0.0/16")


def test_another_users_vpc_is_not_found_and_cannot_be_built_on(engine: LocalEngine) -> None:
    alice, bob = engine.user(), engine.user()
    mine = vpc(alice.client)
    expect_error(bob.client.get(item(VPCS, mine["vpc_id"])), 404, "NOT_FOUND")
    expect_error(bob.client.delete(item(VPCS, mine["vpc_id"])), 404, "NOT_FOUND")
    body = {"name": "x", "vpc_id": mine["vpc_id"], "cidr_block": "10.1.1.0/24"}
    refused = expect_error(bob.client.post(SUBNETS, json=body), 400, "VALIDATION_ERROR")
    assert "vpc_id" in refused["details"]
    assert expect(bob.client.get(VPCS), 200)["count"] == 0
    # An admin sees everyone's.
    assert expect(engine.admin.get(item(VPCS, mine["vpc_id"])), 200)["owner"] == alice.username


def test_vpcs_are_named_by_id_or_name_and_updated(engine: LocalEngine) -> None:
    made = vpc(engine.admin, "prod")
    subnet(engine.admin, "prod", "10.1.1.0/24")
    updated = expect(
        engine.admin.patch(
            item(VPCS, made["vpc_id"]), json={"enable_dns_hostnames": False, "description": "p"}
        ),
        200,
    )
    assert (updated["enable_dns_hostnames"], updated["description"]) == (False, "p")
    assert updated["subnet_count"] == 1
    listed = expect(engine.admin.get(item(VPCS, made["vpc_id"], "subnets")), 200)
    assert [s["cidr_block"] for s in listed["results"]] == ["10.1.1.0/24"]
    groups = expect(engine.admin.get(item(VPCS, made["vpc_id"], "security_groups")), 200)
    assert set(groups) == {"count", "next", "previous", "results"}
    found = expect(engine.admin.get(VPCS, params={"cidr_block": "10.1.0.0/16"}), 200)
    assert [v["name"] for v in found["results"]] == ["prod"]


def test_a_vpc_with_subnets_or_a_gateway_is_not_deleted_without_force(
    engine: LocalEngine,
) -> None:
    made = vpc(engine.admin)
    vpc_id = made["vpc_id"]
    web = subnet(engine.admin, vpc_id, "10.1.1.0/24")
    refused = expect_error(engine.admin.delete(item(VPCS, vpc_id)), 409, "DEPENDENCY_VIOLATION")
    assert refused["details"] == {"subnets": 1}
    assert "force" in refused["error"]
    expect(engine.admin.delete(item(SUBNETS, web["subnet_id"])), 204)
    expect(engine.admin.post(INTERNET_GATEWAYS, json={"name": "igw", "vpc_id": vpc_id}), 201)
    refused = expect_error(engine.admin.delete(item(VPCS, vpc_id)), 409, "DEPENDENCY_VIOLATION")
    assert refused["details"] == {"internet-gateways": 1}
    audit = expect(engine.admin.get(AUDIT, params={"resource_type": "vpc"}), 200)["results"]
    assert (audit[0]["action"], audit[0]["status"]) == ("delete", "failure")


def test_force_removes_everything_in_the_vpc_but_not_while_instances_run(
    engine: LocalEngine,
) -> None:
    made = vpc(engine.admin)
    vpc_id = made["vpc_id"]
    web = public_subnet(engine.admin, vpc_id, "10.1.1.0/24")
    subnet(engine.admin, vpc_id, "10.1.2.0/24", "db-a")
    expect(
        engine.admin.post(NAT_GATEWAYS, json={"name": "nat", "subnet_id": web["subnet_id"]}), 201
    )
    running = launch(engine.admin, "web-1", subnet_id=web["subnet_id"])
    forced = item(VPCS, vpc_id) + "?force=true"
    refused = expect_error(engine.admin.delete(forced), 409, "DEPENDENCY_VIOLATION")
    assert refused["details"] == {"instances": 1}
    assert "terminate" in refused["error"]
    expect(engine.admin.post(instance(running["instance_id"], "terminate")), 200)

    expect(engine.admin.delete(forced), 204)
    expect_error(engine.admin.get(item(VPCS, vpc_id)), 404, "NOT_FOUND")
    for collection in (SUBNETS, ROUTE_TABLES, INTERNET_GATEWAYS, NAT_GATEWAYS):
        assert expect(engine.admin.get(collection, params={"vpc_id": vpc_id}), 200)["count"] == 0
    assert quota(engine.admin, "vpcs")["used"] == 0
    # The CIDR is free again, and so are the public addresses the NAT gateway held.
    again = vpc(engine.admin)
    again_web = public_subnet(engine.admin, again["vpc_id"], "10.1.1.0/24")
    nat = expect(
        engine.admin.post(NAT_GATEWAYS, json={"name": "nat", "subnet_id": again_web["subnet_id"]}),
        201,
    )
    assert nat["network_interface_ip"] == "10.1.1.4"


def _race(engine: LocalEngine, vpc_id: str, subnet_id: str) -> list[int]:
    """Two launches into the subnet and a forced delete of its VPC, let go at once."""
    import threading

    barrier = threading.Barrier(3)
    answers: list[int] = []
    auth = engine.admin.headers["Authorization"]

    def launch_one(name: str) -> None:
        client = engine.client(auth)
        body = {"name": name, "flavor": "t3.micro", "image": "ubuntu-22.04", "subnet_id": subnet_id}
        barrier.wait(timeout=30)
        answers.append(client.post(INSTANCES_PATH, json=body).status_code)

    def delete_it() -> None:
        client = engine.client(auth)
        barrier.wait(timeout=30)
        answers.append(client.delete(item(VPCS, vpc_id) + "?force=true").status_code)

    threads = [threading.Thread(target=launch_one, args=(f"{subnet_id}-{n}",)) for n in range(2)]
    threads.append(threading.Thread(target=delete_it))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers


def test_a_forced_delete_racing_launches_never_leaves_an_instance_without_its_subnet(
    engine: LocalEngine,
) -> None:
    for attempt in range(4):
        made = vpc(engine.admin, f"race-{attempt}", f"10.{attempt}.0.0/16")
        web = subnet(engine.admin, made["vpc_id"], f"10.{attempt}.1.0/24", f"web-{attempt}")
        answers = _race(engine, made["vpc_id"], web["subnet_id"])
        assert len(answers) == 3 and set(answers) <= {201, 204, 400, 409}, answers
        launched = expect(
            engine.admin.get(INSTANCES_PATH, params={"search": web["subnet_id"]}), 200
        )
        gone = engine.admin.get(item(SUBNETS, web["subnet_id"])).status_code == 404
        # Either the VPC went first and no launch got in, or a launch did and the VPC stayed.
        assert (gone and launched["count"] == 0) or (not gone and 409 in answers), answers


def test_networking_writes_need_the_networking_write_scope_and_a_role_that_writes(
    engine: LocalEngine,
) -> None:
    from tests.support.api import KEYS

    alice = engine.user()
    made = vpc(alice.client)
    for scopes, created in (
        (["compute:*"], 403),
        (["networking:read"], 403),
        (["networking:*"], 201),
    ):
        key = expect(alice.client.post(KEYS, json={"name": "k", "scopes": scopes}), 201)["key"]
        client = engine.client(f"Token {key}")
        listed = client.get(VPCS)
        assert listed.status_code == (403 if scopes == ["compute:*"] else 200), scopes
        body = {"name": "x", "vpc_id": made["vpc_id"], "cidr_block": f"10.1.{created}.0/24"}
        response = client.post(SUBNETS, json=body)
        assert response.status_code == created, (scopes, response.text)
        if created == 403:
            assert response.json()["code"] == "FORBIDDEN"
    viewer = engine.user(role="viewer")
    expect_error(viewer.client.post(VPCS, json={"name": "v"}), 403, "FORBIDDEN")
    assert expect(viewer.client.get(VPCS), 200)["count"] == 0
