"""Reachability: reachable paths name their rules and routes; each kind of hop can block."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.api import SERVICES, expect, expect_error, instance, launch
from tests.support.engine import LocalEngine

REACH = f"{SERVICES}/vpcs/reachability/"
GROUPS = f"{SERVICES}/security-groups/"


def post(client: httpx.Client, collection: str, **body: Any) -> dict[str, Any]:
    created: dict[str, Any] = expect(client.post(f"{SERVICES}/{collection}/", json=body), 201)
    return created


def act(client: httpx.Client, collection: str, rid: str, action: str, **body: Any) -> Any:
    response = client.post(f"{SERVICES}/{collection}/{rid}/{action}/", json=body)
    assert response.status_code in (200, 201), response.text
    return response.json()


@dataclass
class Tour:
    """The issue's network: a public web subnet behind an internet gateway, a private db one."""

    client: httpx.Client
    vpc: str
    web_subnet: str
    db_subnet: str
    web: str  # security groups
    db: str
    igw: str
    public_table: str
    nat: str
    web_1: dict[str, Any]
    db_1: dict[str, Any]
    https_rule: str
    db_rule: str

    def ask(self, source: str, destination: str, port: int | None = None, **extra: str) -> Any:
        params = {"source": source, "destination": destination, **extra}
        if port is not None:
            params["port"] = str(port)
        return expect(self.client.get(REACH, params=params), 200)


def build(client: httpx.Client) -> Tour:
    vpc = post(client, "vpcs", name="prod", cidr_block="10.1.0.0/16")["vpc_id"]
    web_subnet = post(
        client, "subnets", vpc_id=vpc, name="web-a", cidr_block="10.1.1.0/24",
        map_public_ip_on_launch=True,
    )["subnet_id"]  # fmt: skip
    db_subnet = post(client, "subnets", vpc_id=vpc, name="db-a", cidr_block="10.1.2.0/24")[
        "subnet_id"
    ]
    web = post(client, "security-groups", vpc_id=vpc, name="web")["sg_id"]
    https = act(client, "security-groups", web, "authorize_ingress", from_port=443)
    db = post(client, "security-groups", vpc_id=vpc, name="db")["sg_id"]
    db_rule = act(
        client, "security-groups", db, "add_rule", direction="ingress", protocol="tcp",
        from_port=5432, referenced_sg_id="web",
    )  # fmt: skip
    igw = post(client, "internet-gateways", vpc_id=vpc, name="igw")["ig_id"]
    table = post(client, "route-tables", vpc_id=vpc, name="public")["route_table_id"]
    act(client, "route-tables", table, "add_route", destination_cidr="0.0.0.0/0",
        target_type="internet-gateway", target_id=igw)  # fmt: skip
    act(client, "route-tables", table, "associate", subnet_id=web_subnet)
    nat = post(client, "nat-gateways", subnet_id=web_subnet, name="nat")["nat_gw_id"]
    web_1 = launch(client, "web-1", subnet_id=web_subnet, security_groups=["web"])
    db_1 = launch(client, "db-1", subnet_id=db_subnet, security_groups=["db"])
    return Tour(
        client, vpc, web_subnet, db_subnet, web, db, igw, table, nat, web_1, db_1,
        https["rule_id"], db_rule["rule_id"],
    )  # fmt: skip


@pytest.fixture
def tour(engine: LocalEngine) -> Tour:
    return build(engine.admin)


def steps(answer: dict[str, Any]) -> list[tuple[str, str]]:
    return [(h["step"], h["verdict"]) for h in answer["hops"]]


def test_web_reaches_db_naming_the_route_and_the_rules(tour: Tour) -> None:
    answer = tour.ask("web-1", "db-1", 5432)
    assert answer["reachable"] is True, answer
    assert answer["blocked_at"] is None
    assert steps(answer) == [
        ("security-group-egress", "allowed"),
        ("route", "allowed"),
        ("security-group-ingress", "allowed"),
    ]
    egress, route, ingress = answer["hops"]
    assert egress["resource_id"] == tour.web and egress["rule_id"].startswith("rule-")
    assert route["rule_id"].startswith("route-") and "local" in route["detail"]
    assert (ingress["resource_id"], ingress["rule_id"]) == (tour.db, tour.db_rule)
    assert answer["source"]["instance_id"] == tour.web_1["instance_id"]
    assert (answer["protocol"], answer["port"]) == ("tcp", 5432)
    assert tour.db_rule in answer["summary"]
    # By id as well as by name.
    by_id = tour.ask(tour.web_1["instance_id"], tour.db_1["instance_id"], 5432)
    assert by_id["reachable"] is True


def test_the_internet_cannot_reach_the_private_db(tour: Tour) -> None:
    answer = tour.ask("internet", "db-1", 5432)
    assert answer["reachable"] is False
    assert answer["blocked_at"]["step"] == "destination"
    assert "no public IP" in answer["blocked_at"]["detail"]
    assert "no public IP" in answer["summary"]


def test_the_internet_reaches_web_on_443_through_the_internet_gateway(tour: Tour) -> None:
    answer = tour.ask("internet", "web-1", 443)
    assert answer["reachable"] is True, answer
    assert steps(answer) == [("internet-gateway", "allowed"), ("security-group-ingress", "allowed")]
    assert answer["hops"][0]["resource_id"] == tour.igw
    assert answer["hops"][1]["rule_id"] == tour.https_rule


def test_blocked_at_the_destinations_ingress(tour: Tour) -> None:
    answer = tour.ask("internet", "web-1", 22)
    assert answer["reachable"] is False
    blocked = answer["blocked_at"]
    assert (blocked["step"], blocked["resource_id"]) == ("security-group-ingress", tour.web)
    assert "tcp/22" in blocked["detail"] and "the internet" in blocked["detail"]
    # The db admits web's members only: not a CIDR of the VPC, nor web-1 on another port.
    assert tour.ask("10.1.1.0/24", "db-1", 5432)["blocked_at"]["step"] == "security-group-ingress"
    assert tour.ask("web-1", "db-1", 5433)["blocked_at"]["step"] == "security-group-ingress"
    # db-1 is not in web, so not admitted by a rule naming web.
    reverse = tour.ask("db-1", "web-1", 5432)
    assert reverse["blocked_at"]["step"] == "security-group-ingress"


def test_blocked_at_the_sources_egress(tour: Tour) -> None:
    egress = expect(tour.client.get(f"{GROUPS}{tour.web}/rules/"), 200)["results"]
    everything = next(r for r in egress if r["direction"] == "egress")
    act(tour.client, "security-groups", tour.web, "remove_rule", rule_id=everything["rule_id"])
    answer = tour.ask("web-1", "db-1", 5432)
    assert answer["reachable"] is False
    assert steps(answer) == [("security-group-egress", "blocked")]
    assert answer["blocked_at"]["resource_id"] == tour.web
    # An egress rule naming the db group lets it out again.
    act(tour.client, "security-groups", tour.web, "add_rule", direction="egress",
        protocol="tcp", from_port=5432, referenced_sg_id=tour.db)  # fmt: skip
    assert tour.ask("web-1", "db-1", 5432)["reachable"] is True


def test_web_goes_out_through_the_internet_gateway_with_its_public_ip(tour: Tour) -> None:
    answer = tour.ask("web-1", "internet", 443)
    assert answer["reachable"] is True, answer
    assert steps(answer) == [
        ("security-group-egress", "allowed"),
        ("route", "allowed"),
        ("internet-gateway", "allowed"),
    ]
    assert answer["hops"][1]["resource_id"] == tour.public_table
    assert tour.web_1["public_ip"] in answer["hops"][2]["detail"]


def test_a_private_subnet_has_no_way_out_until_a_nat_route(tour: Tour) -> None:
    answer = tour.ask("db-1", "internet", 443)
    assert answer["reachable"] is False
    assert answer["blocked_at"]["step"] == "route"
    assert "no route" in answer["blocked_at"]["detail"]
    private = post(tour.client, "route-tables", vpc_id=tour.vpc, name="private")["route_table_id"]
    act(tour.client, "route-tables", private, "add_route", destination_cidr="0.0.0.0/0",
        target_type="nat-gateway", target_id=tour.nat)  # fmt: skip
    act(tour.client, "route-tables", private, "associate", subnet_id=tour.db_subnet)
    out = tour.ask("db-1", "internet", 443)
    assert out["reachable"] is True, out
    assert steps(out) == [
        ("security-group-egress", "allowed"),
        ("route", "allowed"),
        ("nat-gateway", "allowed"),
    ]
    assert out["hops"][2]["resource_id"] == tour.nat


def test_a_blackhole_route_blocks(tour: Tour) -> None:
    expect(tour.client.delete(f"{SERVICES}/internet-gateways/{tour.igw}/"), 204)
    answer = tour.ask("web-1", "internet", 443)
    assert answer["reachable"] is False
    blocked = answer["blocked_at"]
    assert (blocked["step"], blocked["resource_id"]) == ("route", tour.public_table)
    assert "blackhole" in blocked["detail"] and blocked["rule_id"].startswith("route-")
    # And nothing comes in from the internet any more.
    inbound = tour.ask("internet", "web-1", 443)["blocked_at"]
    assert inbound["step"] == "route" and "private" in inbound["detail"]


def test_an_instance_without_a_public_ip_cannot_use_the_internet_gateway(tour: Tour) -> None:
    act(tour.client, "route-tables", tour.public_table, "associate", subnet_id=tour.db_subnet)
    answer = tour.ask("db-1", "internet", 443)
    blocked = answer["blocked_at"]
    assert (blocked["step"], blocked["resource_id"]) == ("internet-gateway", tour.igw)
    assert "no public IP" in blocked["detail"]


def test_a_nat_gateway_in_a_private_subnet_leads_nowhere(tour: Tour) -> None:
    # A NAT gateway whose own subnet lost its way to the internet gateway.
    private = post(tour.client, "route-tables", vpc_id=tour.vpc, name="private")["route_table_id"]
    act(tour.client, "route-tables", private, "add_route", destination_cidr="0.0.0.0/0",
        target_type="nat-gateway", target_id=tour.nat)  # fmt: skip
    act(tour.client, "route-tables", private, "associate", subnet_id=tour.db_subnet)
    act(tour.client, "route-tables", tour.public_table, "disassociate", subnet_id=tour.web_subnet)
    answer = tour.ask("db-1", "internet", 443)
    blocked = answer["blocked_at"]
    assert (blocked["step"], blocked["resource_id"]) == ("nat-gateway", tour.nat)
    assert "internet gateway" in blocked["detail"]


def test_a_stopped_instance_is_not_reachable(tour: Tour) -> None:
    expect(tour.client.post(instance(tour.db_1["instance_id"], "stop")), 200)
    answer = tour.ask("web-1", "db-1", 5432)
    assert answer["blocked_at"]["step"] == "instance"
    assert "stopp" in answer["blocked_at"]["detail"]


def test_cidr_ends_and_protocols(tour: Tour) -> None:
    # A CIDR of the VPC is inside it: the local route, no gateway.
    inside = tour.ask("web-1", "10.1.2.0/24", 5432)
    assert inside["reachable"] is True
    assert steps(inside)[-1] == ("delivered", "allowed")
    # Everything out is allowed by the group's default egress rule; ICMP and all need no port.
    assert tour.ask("web-1", "8.8.8.8", protocol="icmp")["reachable"] is True
    assert tour.ask("web-1", "db-1", protocol="all")["blocked_at"]["step"] == (
        "security-group-ingress"
    )
    act(tour.client, "security-groups", tour.db, "add_rule", protocol="all",
        referenced_sg_id=tour.web)  # fmt: skip
    assert tour.ask("web-1", "db-1", protocol="all")["reachable"] is True
    assert tour.ask("web-1", "db-1", 9999, protocol="udp")["reachable"] is True


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"destination": "db-1", "port": "5432"}, "source"),
        ({"source": "web-1", "port": "5432"}, "destination"),
        ({"source": "web-1", "destination": "db-1"}, "port"),
        ({"source": "web-1", "destination": "db-1", "port": "70000"}, "port"),
        ({"source": "web-1", "destination": "db-1", "port": "x"}, "port"),
        ({"source": "web-1", "destination": "db-1", "port": "1", "protocol": "gre"}, "protocol"),
        ({"source": "nosuch", "destination": "db-1", "port": "1"}, "source"),
        ({"source": "web-1", "destination": "10.1.0.0/33", "port": "1"}, "destination"),
        ({"source": "internet", "destination": "10.0.0.0/8", "port": "1"}, "source"),
    ],
)
def test_a_bad_question_is_a_400_naming_its_field(
    tour: Tour, params: dict[str, str], field: str
) -> None:
    body = expect_error(tour.client.get(REACH, params=params), 400, "VALIDATION_ERROR")
    assert field in body["details"], body


def test_another_users_instances_are_not_found(engine: LocalEngine) -> None:
    build(engine.user().client)
    stranger = engine.user().client
    found = stranger.get(REACH, params={"source": "web-1", "destination": "db-1", "port": "5432"})
    assert "source" in expect_error(found, 400, "VALIDATION_ERROR")["details"]


def test_between_vpcs_only_public_addresses_and_cidr_rules_count(tour: Tour) -> None:
    client = tour.client
    other = post(client, "vpcs", name="api", cidr_block="10.9.0.0/16")["vpc_id"]
    subnet = post(client, "subnets", vpc_id=other, name="api-a", cidr_block="10.9.1.0/24",
                  map_public_ip_on_launch=True)["subnet_id"]  # fmt: skip
    igw = post(client, "internet-gateways", vpc_id=other, name="igw-api")["ig_id"]
    table = post(client, "route-tables", vpc_id=other, name="api-public")["route_table_id"]
    act(client, "route-tables", table, "add_route", destination_cidr="0.0.0.0/0",
        target_type="internet-gateway", target_id=igw)  # fmt: skip
    act(client, "route-tables", table, "associate", subnet_id=subnet)
    api = post(client, "security-groups", vpc_id=other, name="api")["sg_id"]
    launch(client, "api-1", subnet_id=subnet, security_groups=[api])
    # A rule for web-1's private address does not admit it from another VPC.
    act(client, "security-groups", api, "add_rule", from_port=8080,
        cidr=f"{tour.web_1['private_ip']}/32")  # fmt: skip
    blocked = tour.ask("web-1", "api-1", 8080)
    assert blocked["blocked_at"]["step"] == "security-group-ingress"
    assert tour.web_1["public_ip"] in blocked["blocked_at"]["detail"]
    act(client, "security-groups", api, "add_rule", from_port=8080,
        cidr=f"{tour.web_1['public_ip']}/32")  # fmt: skip
    answer = tour.ask("web-1", "api-1", 8080)
    assert answer["reachable"] is True, answer
    assert steps(answer) == [
        ("security-group-egress", "allowed"),
        ("route", "allowed"),
        ("internet-gateway", "allowed"),
        ("internet-gateway", "allowed"),
        ("security-group-ingress", "allowed"),
    ]
    assert answer["hops"][3]["resource_id"] == igw
    # db-1 goes out through the NAT gateway: api-1 sees the NAT gateway's address.
    private = post(client, "route-tables", vpc_id=tour.vpc, name="private")["route_table_id"]
    act(client, "route-tables", private, "add_route", destination_cidr="0.0.0.0/0",
        target_type="nat-gateway", target_id=tour.nat)  # fmt: skip
    act(client, "route-tables", private, "associate", subnet_id=tour.db_subnet)
    nat_ip = expect(client.get(f"{SERVICES}/nat-gateways/{tour.nat}/"), 200)["public_ip"]
    assert nat_ip in tour.ask("db-1", "api-1", 8080)["blocked_at"]["detail"]
    act(client, "security-groups", api, "add_rule", from_port=8080, cidr=f"{nat_ip}/32")
    assert tour.ask("db-1", "api-1", 8080)["reachable"] is True


def test_a_disabled_rule_admits_nothing_and_an_instance_outside_a_vpc_is_no_end(
    tour: Tour,
) -> None:
    act(tour.client, "security-groups", tour.web, "add_rule", from_port=8443,
        cidr="0.0.0.0/0", is_enabled=False)  # fmt: skip
    assert tour.ask("internet", "web-1", 8443)["blocked_at"]["step"] == "security-group-ingress"
    launch(tour.client, "loose-1")
    blocked = tour.ask("loose-1", "web-1", 443)["blocked_at"]
    assert blocked["step"] == "instance" and "no subnet" in blocked["detail"]


def test_a_nat_gateway_still_creating_blocks(manual: LocalEngine) -> None:
    tour = build(manual.admin)
    manual.advance(3)  # the first NAT gateway and the instances are up
    second = post(tour.client, "nat-gateways", subnet_id=tour.web_subnet, name="nat-2")
    assert second["status"] == "creating"
    private = post(tour.client, "route-tables", vpc_id=tour.vpc, name="private")["route_table_id"]
    act(tour.client, "route-tables", private, "add_route", destination_cidr="0.0.0.0/0",
        target_type="nat-gateway", target_id=second["nat_gw_id"])  # fmt: skip
    act(tour.client, "route-tables", private, "associate", subnet_id=tour.db_subnet)
    blocked = tour.ask("db-1", "internet", 443)["blocked_at"]
    assert (blocked["step"], blocked["resource_id"]) == ("nat-gateway", second["nat_gw_id"])
    assert "creating" in blocked["detail"]
    manual.advance(2)
    assert tour.ask("db-1", "internet", 443)["reachable"] is True


def test_an_instances_address_stands_for_the_instance(tour: Tour) -> None:
    by_address = tour.ask("web-1", tour.db_1["private_ip"], 5432)
    assert by_address["reachable"] is True, by_address
    assert by_address["destination"]["instance_id"] == tour.db_1["instance_id"]
    assert steps(by_address)[-1] == ("security-group-ingress", "allowed")
    public = tour.ask("internet", tour.web_1["public_ip"], 443)
    assert public["reachable"] is True
    assert public["destination"]["instance_id"] == tour.web_1["instance_id"]
    # An address of the VPC that nothing holds stays an address.
    assert tour.ask("web-1", "10.1.2.200", 5432)["destination"]["type"] == "cidr"


def test_naming_an_instance_before_any_was_launched_is_a_400(tmp_path: Path) -> None:
    """In a fresh process networking loads no compute module, so no instances' table exists."""
    probe = f"""
import httpx
from engine.api.app import EngineApp
from engine.db import Database
from engine.identity.service import bootstrap_admin
db = Database("sqlite:///{tmp_path / "atonix.db"}")
key = bootstrap_admin(db).api_key
client = httpx.Client(transport=httpx.WSGITransport(app=EngineApp(db)), base_url="http://e",
                      headers={{"Authorization": f"Token {{key}}"}})
client.post("{SERVICES}/vpcs/", json={{"name": "prod", "cidr_block": "10.1.0.0/16"}})
params = {{"source": "web-1", "destination": "internet", "port": "443"}}
print(client.get("{REACH}", params=params).status_code)
print(client.get("{REACH}", params={{**params, "source": "10.1.0.5"}}).status_code)
"""
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["400", "400"], done.stderr
