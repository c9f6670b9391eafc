"""Route tables: the local route, route validation, targets of the same VPC, associations,
the most specific match, and routes turning blackhole when their target goes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from engine.clock import utcnow
from engine.context import Ctx, Principal
from engine.networking import route_tables
from tests.support.api import expect, expect_error, instance, launch
from tests.support.engine import LocalEngine
from tests.support.network import (
    INTERNET_GATEWAYS,
    NAT_GATEWAYS,
    ROUTE_TABLES,
    SUBNETS,
    VPCS,
    add_route,
    internet_gateway,
    item,
    public_subnet,
    route_table,
    subnet,
    vpc,
)

SYSTEM = Principal(
    user_id=0, username="system", role="admin", scopes=("*",), credential="test", credential_id=""
)


@contextmanager
def unit_of_work(local: LocalEngine) -> Iterator[Ctx]:
    with local.db.session(write=False) as session:
        yield Ctx(db=local.db, session=session, principal=SYSTEM, now=utcnow())


@pytest.fixture
def net(engine: LocalEngine) -> dict[str, Any]:
    made = vpc(engine.admin, "prod", "10.1.0.0/16")
    return {"vpc": made, "igw": internet_gateway(engine.admin, made["vpc_id"])}


def _routes(engine: LocalEngine, table_id: str) -> list[tuple[str, str, str]]:
    found = expect(engine.admin.get(item(ROUTE_TABLES, table_id, "routes")), 200)["results"]
    return [(r["destination_cidr"], r["target_id"], r["status"]) for r in found]


def test_a_subnet_starts_on_the_main_table_and_moves_with_associations(
    engine: LocalEngine, net: dict[str, Any]
) -> None:
    vpc_id = net["vpc"]["vpc_id"]
    web = subnet(engine.admin, vpc_id, "10.1.1.0/24")
    main = expect(engine.admin.get(ROUTE_TABLES, params={"vpc_id": vpc_id, "is_main": "true"}), 200)
    main_id = main["results"][0]["route_table_id"]
    assert web["route_table_id"] == main_id
    public = route_table(engine.admin, vpc_id)
    assert public["is_main"] is False and public["associated_subnets"] == []
    assert _routes(engine, public["route_table_id"]) == [("10.1.0.0/16", "local", "active")]

    associate = item(ROUTE_TABLES, public["route_table_id"], "associate")
    shown = expect(engine.admin.post(associate, json={"subnet_id": "web-a"}), 200)
    assert shown["associated_subnets"] == [web["subnet_id"]]
    assert (
        expect(engine.admin.get(item(SUBNETS, web["subnet_id"])), 200)["route_table_id"]
        == (public["route_table_id"])
    )
    assert expect(engine.admin.get(item(ROUTE_TABLES, main_id)), 200)["associated_subnets"] == []

    # In use, the table is not deleted; the main table never is, but with its VPC.
    refused = engine.admin.delete(item(ROUTE_TABLES, public["route_table_id"]))
    assert expect_error(refused, 409, "DEPENDENCY_VIOLATION")["details"] == {"subnets": 1}
    refused = engine.admin.delete(item(ROUTE_TABLES, main_id))
    assert "main" in expect_error(refused, 409, "DEPENDENCY_VIOLATION")["error"]

    back = item(ROUTE_TABLES, public["route_table_id"], "disassociate")
    expect(engine.admin.post(back, json={"subnet_id": web["subnet_id"]}), 200)
    assert expect(engine.admin.get(item(SUBNETS, web["subnet_id"])), 200)["route_table_id"] == (
        main_id
    )
    again = expect_error(
        engine.admin.post(back, json={"subnet_id": web["subnet_id"]}), 400, "VALIDATION_ERROR"
    )
    assert "not associated" in again["error"]
    expect(engine.admin.delete(item(ROUTE_TABLES, public["route_table_id"])), 204)


def test_a_subnet_of_another_vpc_cannot_be_associated(
    engine: LocalEngine, net: dict[str, Any]
) -> None:
    other = vpc(engine.admin, "other", "10.2.0.0/16")
    elsewhere = subnet(engine.admin, other["vpc_id"], "10.2.1.0/24", "elsewhere")
    table = route_table(engine.admin, net["vpc"]["vpc_id"])
    associate = item(ROUTE_TABLES, table["route_table_id"], "associate")
    refused = engine.admin.post(associate, json={"subnet_id": elsewhere["subnet_id"]})
    assert "subnet_id" in expect_error(refused, 400, "VALIDATION_ERROR")["details"]
    missing = engine.admin.post(associate, json={"subnet_id": "subnet-000000000000"})
    expect_error(missing, 400, "VALIDATION_ERROR")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"destination_cidr": "0.0.0.0/33"}, "destination_cidr"),
        ({"destination_cidr": "everywhere"}, "destination_cidr"),
        ({"destination_cidr": None}, "destination_cidr"),
        (
            {"destination_ipv6_cidr": "10.0.0.0/8", "destination_cidr": None},
            "destination_ipv6_cidr",
        ),
        ({"target_type": "teleporter"}, "target_type"),
        ({"target_type": "local", "target_id": "local"}, "target_type"),
        ({"target_id": "igw-000000000000"}, "target_id"),
        ({"target_type": "vpn-gateway", "target_id": "vpn-gw-000000000000"}, "target_id"),
        ({"target_type": "nat-gateway"}, "target_id"),
    ],
)
def test_an_invalid_route_is_a_400_naming_the_field(
    engine: LocalEngine, net: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    table = route_table(engine.admin, net["vpc"]["vpc_id"])
    full = {
        "destination_cidr": "0.0.0.0/0",
        "target_type": "internet-gateway",
        "target_id": net["igw"]["ig_id"],
        **body,
    }
    full = {k: v for k, v in full.items() if v is not None}
    refused = engine.admin.post(item(ROUTE_TABLES, table["route_table_id"], "add_route"), json=full)
    assert field in expect_error(refused, 400, "VALIDATION_ERROR")["details"]
    assert len(_routes(engine, table["route_table_id"])) == 1


def test_a_target_of_another_vpc_is_a_400(engine: LocalEngine, net: dict[str, Any]) -> None:
    other = vpc(engine.admin, "other", "10.2.0.0/16")
    their_igw = internet_gateway(engine.admin, other["vpc_id"], "their-igw")
    outside = launch(engine.admin, "outside")  # in no VPC at all
    table = route_table(engine.admin, net["vpc"]["vpc_id"])
    for target_type, target_id in (
        ("internet-gateway", their_igw["ig_id"]),
        ("instance", outside["instance_id"]),
    ):
        refused = add_route(
            engine.admin, table["route_table_id"], "0.0.0.0/0", target_type, target_id
        )
        body = expect_error(refused, 400, "VALIDATION_ERROR")
        assert "target_id" in body["details"] and "not route table" in body["error"]


def test_a_duplicate_destination_is_a_409_and_host_bits_are_cleared(
    engine: LocalEngine, net: dict[str, Any]
) -> None:
    table_id = route_table(engine.admin, net["vpc"]["vpc_id"])["route_table_id"]
    igw = net["igw"]["ig_id"]
    created = expect(add_route(engine.admin, table_id, "0.0.0.0/0", "internet-gateway", "igw"), 201)
    assert created["route_id"].startswith("route-")
    assert (created["target_id"], created["status"]) == (igw, "active")
    for destination in ("0.0.0.0/0", "10.1.0.0/16"):
        refused = add_route(engine.admin, table_id, destination, "internet-gateway", igw)
        assert expect_error(refused, 409, "CONFLICT")["details"]["destination_cidr"] == destination
    made = expect(
        add_route(engine.admin, table_id, "192.168.1.77/24", "internet-gateway", igw), 201
    )
    assert made["destination_cidr"] == "192.168.1.0/24"


def test_routes_are_removed_but_not_the_local_one(engine: LocalEngine, net: dict[str, Any]) -> None:
    table_id = route_table(engine.admin, net["vpc"]["vpc_id"])["route_table_id"]
    route = expect(add_route(engine.admin, table_id, "0.0.0.0/0", "internet-gateway", "igw"), 201)
    remove = item(ROUTE_TABLES, table_id, "remove_route")
    local = next(
        r
        for r in expect(engine.admin.get(item(ROUTE_TABLES, table_id, "routes")), 200)["results"]
        if r["target_type"] == "local"
    )
    refused = engine.admin.post(remove, json={"route_id": local["route_id"]})
    assert "local route" in expect_error(refused, 400, "VALIDATION_ERROR")["error"]
    expect_error(
        engine.admin.post(remove, json={"route_id": "route-000000000000"}), 400, "VALIDATION_ERROR"
    )
    expect_error(engine.admin.post(remove, json={}), 400, "VALIDATION_ERROR")
    expect(engine.admin.post(remove, json={"route_id": route["route_id"]}), 200)
    expect(add_route(engine.admin, table_id, "0.0.0.0/0", "internet-gateway", "igw"), 201)
    expect(engine.admin.post(remove, json={"destination_cidr": "0.0.0.0/0"}), 200)
    assert _routes(engine, table_id) == [("10.1.0.0/16", "local", "active")]


def test_the_most_specific_route_wins(engine: LocalEngine, net: dict[str, Any]) -> None:
    vpc_id = net["vpc"]["vpc_id"]
    web = public_subnet(engine.admin, vpc_id, "10.1.1.0/24")
    nat = expect(engine.admin.post(NAT_GATEWAYS, json={"name": "nat", "subnet_id": "web-a"}), 201)
    appliance = launch(engine.admin, "appliance", subnet_id=web["subnet_id"])
    table_id = web["route_table_id"]
    expect(add_route(engine.admin, table_id, "172.16.0.0/12", "instance", "appliance"), 201)
    expect(add_route(engine.admin, table_id, "172.16.5.0/24", "nat-gateway", nat["nat_gw_id"]), 201)
    expect(add_route(engine.admin, table_id, "10.1.9.0/24", "nat-gateway", "nat"), 201)
    cases = {
        "8.8.8.8": net["igw"]["ig_id"],
        "172.20.0.1": appliance["instance_id"],
        "172.16.5.9": nat["nat_gw_id"],
        "10.1.200.3": "local",
        "10.1.9.1": nat["nat_gw_id"],
    }
    private = subnet(engine.admin, vpc_id, "10.1.2.0/24", "db-a")
    with unit_of_work(engine) as ctx:
        for address, target in cases.items():
            found = route_tables.lookup(ctx, subnet_id=web["subnet_id"], destination=address)
            assert found is not None and found.target_id == target, address
        assert (
            route_tables.lookup(ctx, subnet_id=private["subnet_id"], destination="8.8.8.8") is None
        )
        local = route_tables.lookup(ctx, subnet_id=private["subnet_id"], destination="10.1.1.9")
        assert local is not None and local.target_type == "local"


def test_routes_turn_blackhole_when_their_target_goes(
    engine: LocalEngine, net: dict[str, Any]
) -> None:
    vpc_id = net["vpc"]["vpc_id"]
    web = public_subnet(engine.admin, vpc_id, "10.1.1.0/24")
    nat = expect(engine.admin.post(NAT_GATEWAYS, json={"name": "nat", "subnet_id": "web-a"}), 201)
    appliance = launch(engine.admin, "appliance", subnet_id=web["subnet_id"])
    private = route_table(engine.admin, vpc_id, "private")
    table_id = private["route_table_id"]
    expect(add_route(engine.admin, table_id, "0.0.0.0/0", "nat-gateway", nat["nat_gw_id"]), 201)
    expect(
        add_route(engine.admin, table_id, "172.16.0.0/12", "instance", appliance["instance_id"]),
        201,
    )
    expect(add_route(engine.admin, table_id, "192.0.2.0/24", "internet-gateway", "igw"), 201)

    expect(engine.admin.delete(item(NAT_GATEWAYS, nat["nat_gw_id"])), 202)
    expect(engine.admin.post(instance(appliance["instance_id"], "terminate")), 200)
    statuses = {destination: status for destination, _, status in _routes(engine, table_id)}
    assert statuses == {
        "10.1.0.0/16": "active",
        "0.0.0.0/0": "blackhole",
        "172.16.0.0/12": "blackhole",
        "192.0.2.0/24": "active",
    }
    expect(engine.admin.delete(item(INTERNET_GATEWAYS, net["igw"]["ig_id"])), 204)
    statuses = {destination: status for destination, _, status in _routes(engine, table_id)}
    assert statuses["192.0.2.0/24"] == "blackhole"
    assert statuses["10.1.0.0/16"] == "active"
    # The VPC's route tables answer its action too, main first by creation.
    tables = expect(engine.admin.get(item(VPCS, vpc_id, "route_tables")), 200)["results"]
    assert len(tables) == 3
