"""Internet gateways (one per VPC) and NAT gateways (in a subnet that reaches one)."""

from __future__ import annotations

from tests.support.api import expect, expect_error
from tests.support.engine import LocalEngine
from tests.support.network import (
    INTERNET_GATEWAYS,
    NAT_GATEWAYS,
    SUBNETS,
    internet_gateway,
    item,
    public_subnet,
    subnet,
    vpc,
)


def test_a_vpc_has_at_most_one_internet_gateway(engine: LocalEngine) -> None:
    made = vpc(engine.admin)
    igw = internet_gateway(engine.admin, "prod")
    assert igw["ig_id"].startswith("igw-")
    assert (igw["vpc_id"], igw["status"]) == (made["vpc_id"], "available")
    second = engine.admin.post(INTERNET_GATEWAYS, json={"name": "igw2", "vpc_id": made["vpc_id"]})
    assert expect_error(second, 409, "CONFLICT")["details"] == {
        "vpc_id": made["vpc_id"],
        "ig_id": igw["ig_id"],
    }
    unknown = engine.admin.post(INTERNET_GATEWAYS, json={"name": "x", "vpc_id": "nowhere"})
    assert "vpc_id" in expect_error(unknown, 400, "VALIDATION_ERROR")["details"]
    listed = expect(engine.admin.get(INTERNET_GATEWAYS, params={"vpc_id": made["vpc_id"]}), 200)
    assert [g["ig_id"] for g in listed["results"]] == [igw["ig_id"]]
    renamed = expect(
        engine.admin.patch(item(INTERNET_GATEWAYS, igw["ig_id"]), json={"name": "gw"}), 200
    )
    assert renamed["name"] == "gw"
    expect(engine.admin.delete(item(INTERNET_GATEWAYS, igw["ig_id"])), 204)
    internet_gateway(engine.admin, made["vpc_id"])


def test_another_users_vpc_takes_no_gateway_of_mine(engine: LocalEngine) -> None:
    alice, bob = engine.user(), engine.user()
    theirs = vpc(alice.client)
    refused = bob.client.post(INTERNET_GATEWAYS, json={"name": "x", "vpc_id": theirs["vpc_id"]})
    expect_error(refused, 400, "VALIDATION_ERROR")


def test_a_nat_gateway_needs_a_subnet_that_reaches_an_internet_gateway(
    engine: LocalEngine,
) -> None:
    made = vpc(engine.admin)
    private = subnet(engine.admin, made["vpc_id"], "10.1.2.0/24", "db-a")
    refused = engine.admin.post(
        NAT_GATEWAYS, json={"name": "nat", "subnet_id": private["subnet_id"]}
    )
    body = expect_error(refused, 400, "VALIDATION_ERROR")
    assert "subnet_id" in body["details"] and "internet gateway" in body["error"]
    web = public_subnet(engine.admin, made["vpc_id"], "10.1.1.0/24")
    # A route to a gateway that is gone (a blackhole) reaches nothing.
    igw = expect(engine.admin.get(INTERNET_GATEWAYS), 200)["results"][0]
    expect(engine.admin.delete(item(INTERNET_GATEWAYS, igw["ig_id"])), 204)
    refused = engine.admin.post(NAT_GATEWAYS, json={"name": "nat", "subnet_id": web["subnet_id"]})
    expect_error(refused, 400, "VALIDATION_ERROR")
    missing = engine.admin.post(NAT_GATEWAYS, json={"name": "nat", "subnet_id": "nowhere"})
    expect_error(missing, 400, "VALIDATION_ERROR")


def test_a_nat_gateway_takes_a_public_ip_and_an_address_of_its_subnet(
    manual: LocalEngine,
) -> None:
    made = vpc(manual.admin)
    web = public_subnet(manual.admin, made["vpc_id"], "10.1.1.0/28")
    nat = expect(manual.admin.post(NAT_GATEWAYS, json={"name": "nat", "subnet_id": "web-a"}), 201)
    assert nat["nat_gw_id"].startswith("nat-") and nat["status"] == "creating"
    assert nat["public_ip"].startswith("203.0.113.")
    assert nat["eip_allocation_id"].startswith("eipalloc-")
    assert nat["network_interface_ip"] == "10.1.1.4"
    assert (nat["subnet_id"], nat["vpc_id"]) == (web["subnet_id"], made["vpc_id"])
    assert (
        expect(manual.admin.get(item(SUBNETS, web["subnet_id"])), 200)["available_ip_count"] == 10
    )
    manual.advance(2)
    assert (
        expect(manual.admin.get(item(NAT_GATEWAYS, nat["nat_gw_id"])), 200)["status"] == "available"
    )
    given = expect(
        manual.admin.post(
            NAT_GATEWAYS,
            json={"name": "nat2", "subnet_id": "web-a", "public_ip": "198.51.100.7"},
        ),
        201,
    )
    assert (given["public_ip"], given["network_interface_ip"]) == ("198.51.100.7", "10.1.1.5")
    bad = manual.admin.post(
        NAT_GATEWAYS, json={"name": "nat3", "subnet_id": "web-a", "public_ip": "1.2.3"}
    )
    assert "public_ip" in expect_error(bad, 400, "VALIDATION_ERROR")["details"]


def test_a_nat_gateway_is_deleted_in_time_and_holds_its_subnet_until_then(
    manual: LocalEngine,
) -> None:
    made = vpc(manual.admin)
    web = public_subnet(manual.admin, made["vpc_id"], "10.1.1.0/24")
    nat = expect(manual.admin.post(NAT_GATEWAYS, json={"name": "nat", "subnet_id": "web-a"}), 201)
    refused = manual.admin.delete(item(SUBNETS, web["subnet_id"]))
    assert expect_error(refused, 409, "DEPENDENCY_VIOLATION")["details"] == {"nat-gateways": 1}
    expect(manual.admin.delete(item(NAT_GATEWAYS, nat["nat_gw_id"])), 202)
    shown = expect(manual.admin.get(item(NAT_GATEWAYS, nat["nat_gw_id"])), 200)
    assert shown["status"] == "deleting"
    again = manual.admin.delete(item(NAT_GATEWAYS, nat["nat_gw_id"]))
    expect_error(again, 409, "INVALID_STATE")
    assert (
        expect(manual.admin.get(item(SUBNETS, web["subnet_id"])), 200)["available_ip_count"] == 251
    )
    manual.advance(2)
    assert (
        expect(manual.admin.get(item(NAT_GATEWAYS, nat["nat_gw_id"])), 200)["status"] == "deleted"
    )
    # A deleted gateway stays listed for an hour, then is gone.
    manual.advance(3600)
    expect_error(manual.admin.get(item(NAT_GATEWAYS, nat["nat_gw_id"])), 404, "NOT_FOUND")
    expect(manual.admin.delete(item(SUBNETS, web["subnet_id"])), 204)


def test_a_nat_gateway_without_a_public_ip_left_is_a_409(engine: LocalEngine) -> None:
    from engine import ipam
    from engine.clock import utcnow
    from engine.context import Ctx, Principal
    from engine.networking.nat_gateways import PUBLIC_NETWORK

    made = vpc(engine.admin)
    web = public_subnet(engine.admin, made["vpc_id"], "10.1.1.0/24")
    system = Principal(
        user_id=0, username="system", role="admin", scopes=("*",), credential="t", credential_id=""
    )
    with engine.db.session(write=True) as session:
        ctx = Ctx(db=engine.db, session=session, principal=system, now=utcnow())
        for n in range(ipam.capacity(PUBLIC_NETWORK)):
            ipam.allocate(ctx, pool="public", network=PUBLIC_NETWORK, resource_id=f"eip-{n}")
    refused = engine.admin.post(NAT_GATEWAYS, json={"name": "nat", "subnet_id": web["subnet_id"]})
    assert (
        "no free IP address left in 203.0.113.0/24"
        in expect_error(refused, 409, "CONFLICT")["error"]
    )
    # Nothing of it stays: the subnet's address went back with the refused request.
    assert (
        expect(engine.admin.get(item(SUBNETS, web["subnet_id"])), 200)["available_ip_count"] == 251
    )
    given = {"name": "nat", "subnet_id": web["subnet_id"], "public_ip": "198.51.100.9"}
    expect(engine.admin.post(NAT_GATEWAYS, json=given), 201)
