"""Security groups: every rule of B4, duplicates, the 60-rule limit, attachments and the 409s."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.api import SERVICES, expect, expect_error, instance, launch
from tests.support.engine import LocalEngine

GROUPS = f"{SERVICES}/security-groups/"


def group(sg_id: str, action: str = "") -> str:
    return f"{GROUPS}{sg_id}/{action + '/' if action else ''}"


def make_group(client: httpx.Client, name: str = "web", **fields: Any) -> dict[str, Any]:
    created: dict[str, Any] = expect(client.post(GROUPS, json={"name": name, **fields}), 201)
    return created


def add_rule(client: httpx.Client, sg_id: str, **rule: Any) -> httpx.Response:
    return client.post(group(sg_id, "add_rule"), json=rule)


def test_a_group_is_created_shown_listed_and_deleted(engine: LocalEngine) -> None:
    created = make_group(engine.admin, "web", description="front end", tags={"team": "a"})
    sg_id = created["sg_id"]
    assert sg_id.startswith("sg-") and len(sg_id) == 15
    assert created["resource_id"] == sg_id
    assert (created["vpc_id"], created["is_default"], created["rule_count"]) == (None, False, 1)
    # As in AWS, a new group lets everything out, and nothing in.
    [out] = created["rules"]
    assert (out["direction"], out["protocol"], out["cidr_ipv4"]) == ("egress", "-1", "0.0.0.0/0")
    listed = expect(engine.admin.get(GROUPS), 200)
    assert [g["sg_id"] for g in listed["results"]] == [sg_id]
    assert listed["results"][0]["rule_count"] == 1
    updated = expect(engine.admin.patch(group(sg_id), json={"description": "edge"}), 200)
    assert updated["description"] == "edge"
    expect(engine.admin.delete(group(sg_id)), 204)
    expect_error(engine.admin.get(group(sg_id)), 404, "NOT_FOUND")
    assert expect(engine.admin.get(GROUPS), 200)["count"] == 0


def test_a_rule_is_a_row_of_its_own_with_its_fields(engine: LocalEngine) -> None:
    sg_id = make_group(engine.admin)["sg_id"]
    rule = expect(
        add_rule(
            engine.admin, sg_id, protocol="TCP", from_port=443, cidr_ipv4="0.0.0.0/0",
            description="https",
        ),
        201,
    )  # fmt: skip
    assert rule["rule_id"].startswith("rule-") and len(rule["rule_id"]) == 17
    assert {k: rule[k] for k in ("direction", "protocol", "from_port", "to_port")} == {
        "direction": "ingress",
        "protocol": "tcp",
        "from_port": 443,
        "to_port": 443,
    }
    assert (rule["cidr_ipv4"], rule["cidr_ipv6"], rule["referenced_sg_id"]) == (
        "0.0.0.0/0", None, None
    )  # fmt: skip
    assert rule["is_enabled"] is True
    everything = expect(
        add_rule(engine.admin, sg_id, direction="egress", protocol="all", cidr="::/0"), 201
    )
    assert (everything["protocol"], everything["from_port"], everything["to_port"]) == (
        "-1", None, None
    )  # fmt: skip
    assert everything["cidr_ipv6"] == "::/0"
    shown = expect(engine.admin.get(group(sg_id)), 200)
    assert shown["rule_count"] == 3
    assert [r["rule_id"] for r in shown["rules"]][1:] == [rule["rule_id"], everything["rule_id"]]
    rules = expect(engine.admin.get(group(sg_id, "rules")), 200)
    assert rules["count"] == 3 and rules["results"] == shown["rules"]


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ({"protocol": "gre", "from_port": 1, "cidr": "10.0.0.0/8"}, "protocol"),
        ({"direction": "sideways", "from_port": 1, "cidr": "10.0.0.0/8"}, "direction"),
        ({"protocol": "tcp", "cidr": "10.0.0.0/8"}, "from_port"),
        ({"protocol": "udp", "from_port": -1, "cidr": "10.0.0.0/8"}, "from_port"),
        ({"protocol": "tcp", "from_port": 70000, "cidr": "10.0.0.0/8"}, "from_port"),
        ({"protocol": "tcp", "from_port": 80, "to_port": 65536, "cidr": "10.0.0.0/8"}, "to_port"),
        ({"protocol": "tcp", "from_port": 90, "to_port": 80, "cidr": "10.0.0.0/8"}, "to_port"),
        ({"protocol": "tcp", "from_port": "80", "cidr": "10.0.0.0/8"}, "from_port"),
        ({"protocol": "tcp", "from_port": 8.5, "cidr": "10.0.0.0/8"}, "from_port"),
        ({"protocol": "all", "from_port": 22, "cidr": "10.0.0.0/8"}, "from_port"),
        ({"protocol": "esp", "to_port": 22, "cidr": "10.0.0.0/8"}, "to_port"),
        ({"protocol": "icmp", "from_port": 300, "cidr": "10.0.0.0/8"}, "from_port"),
        ({"protocol": "tcp", "from_port": 22}, "cidr_ipv4"),
        ({"protocol": "tcp", "from_port": 22, "cidr_ipv4": "10.0.0.0/33"}, "cidr_ipv4"),
        ({"protocol": "tcp", "from_port": 22, "cidr_ipv4": "10.0.0.1"}, "cidr_ipv4"),
        ({"protocol": "tcp", "from_port": 22, "cidr_ipv4": "2001:db8::/32"}, "cidr_ipv4"),
        ({"protocol": "tcp", "from_port": 22, "cidr_ipv6": "10.0.0.0/8"}, "cidr_ipv6"),
        ({"protocol": "tcp", "from_port": 22, "cidr": "nonsense/8"}, "cidr"),
        (
            {"protocol": "tcp", "from_port": 22, "cidr_ipv4": "10.0.0.0/8", "cidr_ipv6": "::/0"},
            "cidr_ipv6",
        ),
        (
            {"protocol": "tcp", "from_port": 22, "referenced_sg_id": "sg-000000000000"},
            "referenced_sg_id",
        ),
        ({"protocol": "tcp", "from_port": 22, "cidr": "10.0.0.0/8", "colour": "red"}, "colour"),
    ],
)
def test_an_invalid_rule_is_a_400_naming_its_field(
    engine: LocalEngine, rule: dict[str, Any], field: str
) -> None:
    sg_id = make_group(engine.admin)["sg_id"]
    body = expect_error(add_rule(engine.admin, sg_id, **rule), 400, "VALIDATION_ERROR")
    assert field in body["details"], body
    assert expect(engine.admin.get(group(sg_id)), 200)["rule_count"] == 1


def test_host_bits_are_cleared_and_icmp_takes_type_and_code(engine: LocalEngine) -> None:
    sg_id = make_group(engine.admin)["sg_id"]
    rule = expect(
        add_rule(engine.admin, sg_id, protocol="tcp", from_port=22, cidr="10.1.2.3/16"), 201
    )
    assert rule["cidr_ipv4"] == "10.1.0.0/16"
    ping = expect(
        add_rule(engine.admin, sg_id, protocol="icmp", from_port=8, to_port=-1, cidr="0.0.0.0/0"),
        201,
    )
    assert (ping["protocol"], ping["from_port"], ping["to_port"]) == ("icmp", 8, -1)


def test_a_duplicate_rule_is_409_whatever_its_description(engine: LocalEngine) -> None:
    sg_id = make_group(engine.admin)["sg_id"]
    first = expect(add_rule(engine.admin, sg_id, from_port=22, cidr="10.0.0.0/8"), 201)
    again = add_rule(
        engine.admin, sg_id, from_port=22, to_port=22, cidr_ipv4="10.0.0.0/8", description="x"
    )
    body = expect_error(again, 409, "CONFLICT")
    assert body["details"]["rule_id"] == first["rule_id"]
    # The same rule the other way, or on another port, is another rule.
    expect(add_rule(engine.admin, sg_id, direction="egress", from_port=22, cidr="10.0.0.0/8"), 201)
    expect(add_rule(engine.admin, sg_id, from_port=23, cidr="10.0.0.0/8"), 201)
    assert expect(engine.admin.get(group(sg_id)), 200)["rule_count"] == 4


def test_the_61st_rule_is_429_quota_exceeded(engine: LocalEngine) -> None:
    sg_id = make_group(engine.admin)["sg_id"]
    for port in range(59):  # and the egress rule every new group has
        expect(add_rule(engine.admin, sg_id, from_port=1000 + port, cidr="10.0.0.0/8"), 201)
    body = expect_error(
        add_rule(engine.admin, sg_id, from_port=2000, cidr="10.0.0.0/8"), 429, "QUOTA_EXCEEDED"
    )
    assert body["details"] == {"limit": 60, "used": 60, "requested": 1}
    assert expect(engine.admin.get(group(sg_id)), 200)["rule_count"] == 60
    # Removing one makes room for one.
    some = expect(engine.admin.get(group(sg_id, "rules")), 200)["results"][0]["rule_id"]
    expect(engine.admin.post(group(sg_id, "remove_rule"), json={"rule_id": some}), 200)
    expect(add_rule(engine.admin, sg_id, from_port=2000, cidr="10.0.0.0/8"), 201)


def test_authorize_ingress_defaults_to_anywhere_and_one_port(engine: LocalEngine) -> None:
    sg_id = make_group(engine.admin)["sg_id"]
    rule = expect(
        engine.admin.post(group(sg_id, "authorize_ingress"), json={"from_port": 443}), 201
    )
    assert (rule["direction"], rule["protocol"], rule["from_port"], rule["to_port"]) == (
        "ingress", "tcp", 443, 443,
    )  # fmt: skip
    assert rule["cidr_ipv4"] == "0.0.0.0/0"
    six = expect(
        engine.admin.post(
            group(sg_id, "authorize_ingress"),
            json={"protocol": "udp", "from_port": 5000, "to_port": 5010, "cidr": "2001:db8::/32"},
        ),
        201,
    )
    assert (six["cidr_ipv6"], six["to_port"]) == ("2001:db8::/32", 5010)
    missing = engine.admin.post(group(sg_id, "authorize_ingress"), json={})
    assert "from_port" in expect_error(missing, 400, "VALIDATION_ERROR")["details"]


def test_remove_rule_removes_one_and_an_unknown_one_is_404(engine: LocalEngine) -> None:
    sg_id = make_group(engine.admin)["sg_id"]
    keep = expect(add_rule(engine.admin, sg_id, from_port=22, cidr="10.0.0.0/8"), 201)
    drop = expect(add_rule(engine.admin, sg_id, from_port=80, cidr="10.0.0.0/8"), 201)
    after = expect(
        engine.admin.post(group(sg_id, "remove_rule"), json={"rule_id": drop["rule_id"]}), 200
    )
    assert after["rule_count"] == 2
    assert [r["rule_id"] for r in after["rules"]][1:] == [keep["rule_id"]]
    gone = engine.admin.post(group(sg_id, "remove_rule"), json={"rule_id": drop["rule_id"]})
    expect_error(gone, 404, "NOT_FOUND")
    other = make_group(engine.admin, "other")["sg_id"]
    elsewhere = engine.admin.post(group(other, "remove_rule"), json={"rule_id": keep["rule_id"]})
    expect_error(elsewhere, 404, "NOT_FOUND")
    expect_error(engine.admin.post(group(sg_id, "remove_rule"), json={}), 400, "VALIDATION_ERROR")


def test_a_rule_may_name_a_group_by_id_or_name_but_not_anothers(engine: LocalEngine) -> None:
    web = make_group(engine.admin, "web")["sg_id"]
    db = make_group(engine.admin, "db")["sg_id"]
    by_name = expect(add_rule(engine.admin, db, from_port=5432, referenced_sg_id="web"), 201)
    assert by_name["referenced_sg_id"] == web
    by_id = expect(add_rule(engine.admin, db, from_port=5433, referenced_sg_id=web), 201)
    assert by_id["referenced_sg_id"] == web
    itself = expect(add_rule(engine.admin, db, protocol="all", referenced_sg_id=db), 201)
    assert itself["referenced_sg_id"] == db
    alice, bob = engine.user().client, engine.user().client
    hers = make_group(alice, "hers")["sg_id"]
    his = make_group(bob, "his")["sg_id"]
    body = expect_error(
        add_rule(bob, his, from_port=1, referenced_sg_id=hers), 400, "VALIDATION_ERROR"
    )
    assert "referenced_sg_id" in body["details"]


def test_names_are_unique_and_default_is_reserved(engine: LocalEngine) -> None:
    make_group(engine.admin, "web")
    expect_error(engine.admin.post(GROUPS, json={"name": "web"}), 409, "CONFLICT")
    body = expect_error(
        engine.admin.post(GROUPS, json={"name": "default"}), 400, "VALIDATION_ERROR"
    )
    assert "name" in body["details"]
    other = make_group(engine.admin, "api")["sg_id"]
    expect_error(engine.admin.patch(group(other), json={"name": "web"}), 409, "CONFLICT")
    # Another user's namespace is their own.
    make_group(engine.user().client, "web")


def test_another_users_group_is_404(engine: LocalEngine) -> None:
    mine = make_group(engine.user().client, "mine")["sg_id"]
    stranger = engine.user().client
    expect_error(stranger.get(group(mine)), 404, "NOT_FOUND")
    expect_error(stranger.delete(group(mine)), 404, "NOT_FOUND")
    expect_error(add_rule(stranger, mine, from_port=1, cidr="0.0.0.0/0"), 404, "NOT_FOUND")
    assert expect(stranger.get(GROUPS), 200)["count"] == 0


def test_a_group_referred_to_by_another_groups_rules_is_409_on_delete(engine: LocalEngine) -> None:
    web = make_group(engine.admin, "web")["sg_id"]
    db = make_group(engine.admin, "db")["sg_id"]
    rule = expect(add_rule(engine.admin, db, from_port=5432, referenced_sg_id=web), 201)
    body = expect_error(engine.admin.delete(group(web)), 409, "DEPENDENCY_VIOLATION")
    assert body["details"]["referenced_by"] == [db]
    expect(engine.admin.post(group(db, "remove_rule"), json={"rule_id": rule["rule_id"]}), 200)
    expect(engine.admin.delete(group(web)), 204)


def test_instances_wear_groups_and_a_group_in_use_is_409_on_delete(engine: LocalEngine) -> None:
    web = make_group(engine.admin, "web")["sg_id"]
    ssh = make_group(engine.admin, "ssh")["sg_id"]
    created = launch(engine.admin, "web-1", security_groups=["web", ssh])
    assert created["security_groups"] == [web, ssh]
    iid = created["instance_id"]
    body = expect_error(engine.admin.delete(group(web)), 409, "DEPENDENCY_VIOLATION")
    assert body["details"]["attached_to"] == [iid]
    assert iid in body["error"]
    assert expect(engine.admin.get(group(web)), 200)["attachments"] == {"instance": 1}
    # Changed while running: ssh comes off, so it can go.
    changed = expect(engine.admin.patch(instance(iid), json={"security_groups": [web]}), 200)
    assert changed["security_groups"] == [web]
    expect(engine.admin.delete(group(ssh)), 204)
    expect(engine.admin.post(instance(iid, "terminate")), 200)
    expect(engine.admin.delete(group(web)), 204)


@pytest.mark.parametrize(
    "groups", [["nosuch"], ["sg-000000000000"], ["a", "b", "c", "d", "e", "f"]]
)
def test_an_instance_naming_an_unknown_group_is_400_and_launches_nothing(
    engine: LocalEngine, groups: list[str]
) -> None:
    for name in "abcdef":
        make_group(engine.admin, name)
    body = {
        "name": "web-1",
        "flavor": "t3.micro",
        "image": "ubuntu-22.04",
        "security_groups": groups,
    }
    found = expect_error(
        engine.admin.post(f"{SERVICES}/instances/", json=body), 400, "VALIDATION_ERROR"
    )
    assert "security_groups" in found["details"]
    assert expect(engine.admin.get(f"{SERVICES}/instances/"), 200)["count"] == 0
    iid = launch(engine.admin, "web-2")["instance_id"]
    patched = engine.admin.patch(instance(iid), json={"security_groups": groups})
    expect_error(patched, 400, "VALIDATION_ERROR")
    assert expect(engine.admin.get(instance(iid)), 200)["security_groups"] == []


def test_another_users_group_cannot_be_worn(engine: LocalEngine) -> None:
    hers = make_group(engine.user().client, "hers")["sg_id"]
    bob = engine.user().client
    body = {"name": "b", "flavor": "t3.micro", "image": "ubuntu-22.04", "security_groups": [hers]}
    expect_error(bob.post(f"{SERVICES}/instances/", json=body), 400, "VALIDATION_ERROR")


# --- in VPCs ----------------------------------------------------------------------------------

VPCS = f"{SERVICES}/vpcs/"
SUBNETS = f"{SERVICES}/subnets/"


def make_vpc(client: httpx.Client, name: str = "prod", cidr: str = "10.1.0.0/16") -> dict[str, Any]:
    created: dict[str, Any] = expect(
        client.post(VPCS, json={"name": name, "cidr_block": cidr}), 201
    )
    return created


def make_subnet(client: httpx.Client, vpc: str, cidr: str, name: str = "web-a") -> dict[str, Any]:
    body = {"name": name, "vpc_id": vpc, "cidr_block": cidr}
    created: dict[str, Any] = expect(client.post(SUBNETS, json=body), 201)
    return created


def test_a_vpc_comes_with_its_default_group_which_stays_with_it(engine: LocalEngine) -> None:
    vpc = make_vpc(engine.admin)
    groups = expect(engine.admin.get(f"{VPCS}{vpc['vpc_id']}/security_groups/"), 200)["results"]
    assert [(g["name"], g["is_default"], g["rule_count"]) for g in groups] == [("default", True, 2)]
    default = expect(engine.admin.get(group(groups[0]["sg_id"])), 200)
    assert default["vpc_id"] == vpc["vpc_id"]
    assert [(r["direction"], r["protocol"], r["cidr_ipv4"]) for r in default["rules"]] == [
        ("ingress", "-1", "10.1.0.0/16"),
        ("egress", "-1", "0.0.0.0/0"),
    ]
    body = expect_error(engine.admin.delete(group(default["sg_id"])), 409, "DEPENDENCY_VIOLATION")
    assert body["details"]["is_default"] is True
    renamed = engine.admin.patch(group(default["sg_id"]), json={"name": "mine"})
    expect_error(renamed, 400, "VALIDATION_ERROR")
    # Its rules are rules like any other: they can change.
    expect(add_rule(engine.admin, default["sg_id"], from_port=22, cidr="0.0.0.0/0"), 201)
    listed = expect(engine.admin.get(GROUPS, params={"vpc_id": vpc["vpc_id"]}), 200)
    assert listed["count"] == 1
    assert expect(engine.admin.get(GROUPS, params={"is_default": "true"}), 200)["count"] == 1


def test_groups_live_in_one_vpc_and_rules_refer_only_to_its_groups(engine: LocalEngine) -> None:
    prod = make_vpc(engine.admin, "prod", "10.1.0.0/16")["vpc_id"]
    test = make_vpc(engine.admin, "test", "10.2.0.0/16")["vpc_id"]
    web = make_group(engine.admin, "web", vpc_id="prod")
    assert web["vpc_id"] == prod
    # The same name in another VPC is another group; in the same VPC, a conflict.
    other_web = make_group(engine.admin, "web", vpc_id=test)
    expect_error(engine.admin.post(GROUPS, json={"name": "web", "vpc_id": prod}), 409, "CONFLICT")
    db = make_group(engine.admin, "db", vpc_id=prod)["sg_id"]
    # By name, `web` is the one of db's own VPC.
    rule = expect(add_rule(engine.admin, db, from_port=5432, referenced_sg_id="web"), 201)
    assert rule["referenced_sg_id"] == web["sg_id"]
    across = add_rule(engine.admin, db, from_port=5433, referenced_sg_id=other_web["sg_id"])
    body = expect_error(across, 400, "VALIDATION_ERROR")
    assert test in body["error"] and "referenced_sg_id" in body["details"]
    loose = make_group(engine.admin, "loose")["sg_id"]
    expect_error(
        add_rule(engine.admin, db, from_port=1, referenced_sg_id=loose), 400, "VALIDATION_ERROR"
    )
    nowhere = engine.admin.post(GROUPS, json={"name": "x", "vpc_id": "vpc-000000000000"})
    assert "vpc_id" in expect_error(nowhere, 400, "VALIDATION_ERROR")["details"]


def test_an_instance_in_a_subnet_wears_its_vpcs_groups(engine: LocalEngine) -> None:
    prod = make_vpc(engine.admin, "prod", "10.1.0.0/16")["vpc_id"]
    test = make_vpc(engine.admin, "test", "10.2.0.0/16")["vpc_id"]
    subnet = make_subnet(engine.admin, prod, "10.1.1.0/24")["subnet_id"]
    default = expect(engine.admin.get(GROUPS, params={"vpc_id": prod}), 200)["results"][0]["sg_id"]
    plain = launch(engine.admin, "web-1", subnet_id=subnet)
    assert plain["security_groups"] == [default]
    web = make_group(engine.admin, "web", vpc_id=prod)["sg_id"]
    chosen = launch(engine.admin, "web-2", subnet_id=subnet, security_groups=["web"])
    assert chosen["security_groups"] == [web]
    elsewhere = make_group(engine.admin, "far", vpc_id=test)["sg_id"]
    body = {"name": "x", "flavor": "t3.micro", "image": "ubuntu-22.04", "subnet_id": subnet}
    refused = engine.admin.post(
        f"{SERVICES}/instances/", json={**body, "security_groups": [elsewhere]}
    )
    assert test in expect_error(refused, 400, "VALIDATION_ERROR")["error"]
    loose = make_group(engine.admin, "loose")["sg_id"]
    refused = engine.admin.post(f"{SERVICES}/instances/", json={**body, "security_groups": [loose]})
    expect_error(refused, 400, "VALIDATION_ERROR")
    # Changed while running, within the VPC only.
    iid = plain["instance_id"]
    expect(engine.admin.patch(instance(iid), json={"security_groups": [web, default]}), 200)
    patched = engine.admin.patch(instance(iid), json={"security_groups": [elsewhere]})
    expect_error(patched, 400, "VALIDATION_ERROR")
    assert expect(engine.admin.get(instance(iid)), 200)["security_groups"] == [web, default]
    body_ = expect_error(engine.admin.delete(group(web)), 409, "DEPENDENCY_VIOLATION")
    assert sorted(body_["details"]["attached_to"]) == sorted([iid, chosen["instance_id"]])


def test_a_vpc_delete_takes_its_groups_along(engine: LocalEngine) -> None:
    prod = make_vpc(engine.admin)["vpc_id"]
    subnet = make_subnet(engine.admin, prod, "10.1.1.0/24")["subnet_id"]
    web = make_group(engine.admin, "web", vpc_id=prod)["sg_id"]
    iid = launch(engine.admin, "web-1", subnet_id=subnet, security_groups=[web])["instance_id"]
    refused = engine.admin.delete(f"{VPCS}{prod}/", params={"force": "true"})
    expect_error(refused, 409, "DEPENDENCY_VIOLATION")
    assert expect(engine.admin.get(group(web)), 200)["attachments"] == {"instance": 1}
    expect(engine.admin.post(instance(iid, "terminate")), 200)
    expect(engine.admin.delete(f"{VPCS}{prod}/", params={"force": "true"}), 204)
    expect_error(engine.admin.get(group(web)), 404, "NOT_FOUND")
    assert expect(engine.admin.get(GROUPS), 200)["count"] == 0


def test_concurrent_adds_never_pass_60_rules_nor_make_a_duplicate(engine: LocalEngine) -> None:
    from concurrent.futures import ThreadPoolExecutor

    sg_id = make_group(engine.admin)["sg_id"]
    for port in range(54):  # with the egress rule: 55
        expect(add_rule(engine.admin, sg_id, from_port=1000 + port, cidr="10.0.0.0/8"), 201)
    authorization = str(engine.admin.headers["Authorization"])

    def attempt(target: tuple[str, dict[str, Any]]) -> int:
        with engine.client(authorization) as client:
            return add_rule(client, target[0], **target[1]).status_code

    distinct = [(sg_id, {"from_port": 2000 + n, "cidr": "10.0.0.0/8"}) for n in range(10)]
    with ThreadPoolExecutor(max_workers=5) as pool:
        statuses = sorted(pool.map(attempt, distinct))
    assert statuses == [201] * 5 + [429] * 5
    shown = expect(engine.admin.get(group(sg_id)), 200)
    assert shown["rule_count"] == len(shown["rules"]) == 60

    other = make_group(engine.admin, "other")["sg_id"]
    same = [(other, {"from_port": 22, "cidr": "10.0.0.0/8"})] * 4
    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = sorted(pool.map(attempt, same))
    assert statuses == [201, 409, 409, 409]
    assert expect(engine.admin.get(group(other)), 200)["rule_count"] == 2


def test_a_group_naming_a_vpc_before_any_vpc_existed_is_a_400(tmp_path: Path) -> None:
    """In a fresh process only the tables of the modules a request loads exist."""
    probe = f"""
import httpx
from engine.api.app import EngineApp
from engine.db import Database
from engine.identity.service import bootstrap_admin
db = Database("sqlite:///{tmp_path / "atonix.db"}")
key = bootstrap_admin(db).api_key
client = httpx.Client(transport=httpx.WSGITransport(app=EngineApp(db)), base_url="http://e",
                      headers={{"Authorization": f"Token {{key}}"}})
print(client.post("{GROUPS}", json={{"name": "web", "vpc_id": "prod"}}).status_code)
print(client.post("{GROUPS}", json={{"name": "web"}}).status_code)
"""
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["400", "201"], done.stderr
