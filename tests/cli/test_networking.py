"""`atonix vpc|subnet|route-table|internet-gateway|nat-gateway` and `instance create --subnet`:
the issue's tour (its networking core), the refusals, and names wherever a resource is named."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from atonix_cli.errors import ExitCode
from tests.cli.runner import Cli, expect_error

LAUNCH = ("instance", "create", "--flavor", "t3.micro", "--image", "ubuntu-22.04")


def _rows(text: str) -> list[list[str]]:
    return [line.split("\t") for line in text.splitlines()]


def test_the_networking_tour_from_the_issue(cli: Cli) -> None:
    created = cli.ok("vpc", "create", "--name", "prod", "--cidr", "10.1.0.0/16")
    assert created.stderr.startswith("Created vpc prod (vpc-")
    vpc = cli.json("vpc", "show", "prod")
    assert (vpc["cidr_block"], vpc["subnet_count"]) == ("10.1.0.0/16", 0)

    web = cli.json(
        "subnet", "create", "--vpc", "prod", "--name", "web-a", "--cidr", "10.1.1.0/24",
        "--zone", "us-west-2a", "--public-ips",
    )  # fmt: skip
    assert (web["vpc_id"], web["available_ip_count"], web["map_public_ip_on_launch"]) == (
        vpc["vpc_id"],
        251,
        True,
    )
    db = cli.json(
        "subnet", "create", "--vpc", "prod", "--name", "db-a", "--cidr", "10.1.2.0/24",
        "--zone", "us-west-2a",
    )  # fmt: skip
    assert db["map_public_ip_on_launch"] is False
    igw = cli.json("internet-gateway", "create", "--vpc", "prod", "--name", "igw")
    assert igw["vpc_id"] == vpc["vpc_id"]
    table = cli.json("route-table", "create", "--vpc", "prod", "--name", "public")
    route = cli.json(
        "route-table", "add-route", "public", "--destination", "0.0.0.0/0",
        "--internet-gateway", "igw",
    )  # fmt: skip
    assert (route["target_type"], route["target_id"]) == ("internet-gateway", igw["ig_id"])
    associated = cli.ok("route-table", "associate", "public", "--subnet", "web-a")
    assert associated.stderr == "Associated subnet web-a with route table public\n"
    nat = cli.json("nat-gateway", "create", "--subnet", "web-a", "--name", "nat", "--wait")
    assert (nat["status"], nat["network_interface_ip"]) == ("available", "10.1.1.4")

    web_1 = cli.json(*LAUNCH, "--name", "web-1", "--subnet", "web-a", "--wait")
    assert (web_1["subnet_id"], web_1["vpc_id"]) == (web["subnet_id"], vpc["vpc_id"])
    assert web_1["private_ip"] == "10.1.1.5"  # the NAT gateway holds .4
    assert web_1["public_ip"].startswith("203.0.113.")
    db_1 = cli.json(*LAUNCH, "--name", "db-1", "--subnet", db["subnet_id"], "--wait")
    assert (db_1["private_ip"], db_1["public_ip"]) == ("10.1.2.4", None)

    in_web = cli.json("instance", "list", "--subnet", "web-a")
    assert [i["name"] for i in in_web] == ["web-1"]

    routes = _rows(cli.ok("route-table", "routes", "public").stdout)
    assert [r[1:] for r in routes] == [
        ["10.1.0.0/16", "local", "local", "active"],
        ["0.0.0.0/0", "internet-gateway", igw["ig_id"], "active"],
    ]
    shown = cli.json("route-table", "show", table["route_table_id"])
    assert shown["associated_subnets"] == [web["subnet_id"]]
    assert [s[1] for s in _rows(cli.ok("vpc", "subnets", "prod").stdout)] == ["db-a", "web-a"]
    tables = _rows(cli.ok("vpc", "route-tables", "prod").stdout)
    assert sorted(t[3] for t in tables) == ["false", "true"]
    assert cli.json("subnet", "show", "web-a")["available_ip_count"] == 249

    refused = cli("vpc", "delete", "prod", "--yes")
    expect_error(refused, ExitCode.CONFLICT, "used by 2 subnet(s)", "force")
    refused = cli("vpc", "delete", "prod", "--force", "--yes")
    expect_error(refused, ExitCode.CONFLICT, "2 instance(s) still in it")
    for name in ("web-1", "db-1"):
        cli.ok("instance", "terminate", name, "--wait")
    deleted = cli.ok("vpc", "delete", "prod", "--force", "--yes")
    assert deleted.stderr == f"Deleted vpc {vpc['vpc_id']}\n"
    assert cli.json("vpc", "list") == []
    assert cli.json("subnet", "list") == []
    assert cli.json("route-table", "list") == []
    assert cli.json("internet-gateway", "list") == []


def test_network_refusals_have_one_line_and_their_exit_codes(cli: Cli) -> None:
    bad = cli("vpc", "create", "--name", "wide", "--cidr", "10.0.0.0/8")
    expect_error(bad, ExitCode.USAGE, "cidr_block", "a /16 to a /28")
    cli.ok("vpc", "create", "--name", "prod", "--cidr", "10.1.0.0/16")
    twin = cli("vpc", "create", "--name", "twin", "--cidr", "10.1.0.0/16")
    expect_error(twin, ExitCode.CONFLICT, "already have VPC")
    outside = cli("subnet", "create", "--vpc", "prod", "--name", "x", "--cidr", "10.2.0.0/24")
    expect_error(outside, ExitCode.USAGE, "is not inside VPC")
    cli.ok("subnet", "create", "--vpc", "prod", "--name", "tiny", "--cidr", "10.1.1.0/28")
    overlap = cli("subnet", "create", "--vpc", "prod", "--name", "y", "--cidr", "10.1.1.0/25")
    expect_error(overlap, ExitCode.CONFLICT, "overlaps subnet")
    missing = cli("subnet", "create", "--vpc", "nowhere", "--name", "y", "--cidr", "10.1.1.0/24")
    expect_error(missing, ExitCode.NOT_FOUND, "no vpc named or with id 'nowhere'")

    for n in range(11):
        cli.ok(*LAUNCH, "--name", f"t{n}", "--subnet", "tiny")
    full = cli(*LAUNCH, "--name", "t11", "--subnet", "tiny")
    expect_error(full, ExitCode.CONFLICT, "subnet tiny (subnet-", "all 11 addresses of 10.1.1.0/28")
    in_use = cli("subnet", "delete", "tiny", "--yes")
    expect_error(in_use, ExitCode.CONFLICT, "used by 11 instance(s)")

    cli.ok("internet-gateway", "create", "--vpc", "prod", "--name", "igw")
    second = cli("internet-gateway", "create", "--vpc", "prod", "--name", "igw2")
    expect_error(second, ExitCode.CONFLICT, "at most one")
    private_nat = cli("nat-gateway", "create", "--subnet", "tiny", "--name", "nat")
    expect_error(private_nat, ExitCode.USAGE, "no route to an internet gateway")
    cli.ok("route-table", "create", "--vpc", "prod", "--name", "public")
    cli.ok("route-table", "add-route", "public", "--destination", "0.0.0.0/0",
           "--internet-gateway", "igw")  # fmt: skip
    duplicate = cli("route-table", "add-route", "public", "--destination", "0.0.0.0/0",
                    "--internet-gateway", "igw")  # fmt: skip
    expect_error(duplicate, ExitCode.CONFLICT, "already has a route to 0.0.0.0/0")
    no_target = cli("route-table", "add-route", "public", "--destination", "10.9.0.0/16")
    expect_error(no_target, ExitCode.USAGE, "name one target")
    main = next(t for t in cli.json("route-table", "list") if t["is_main"])
    refused = cli("route-table", "delete", main["route_table_id"], "--yes")
    expect_error(refused, ExitCode.CONFLICT, "main table")


def test_routes_go_blackhole_and_public_ips_follow_the_subnet(cli: Cli) -> None:
    cli.ok("vpc", "create", "--name", "prod", "--cidr", "10.1.0.0/16")
    cli.ok("subnet", "create", "--vpc", "prod", "--name", "web-a", "--cidr", "10.1.1.0/24")
    first = cli.json(*LAUNCH, "--name", "web-1", "--subnet", "web-a")
    assert first["public_ip"] is None
    enabled = cli.ok("subnet", "enable-public-ips", "web-a")
    assert enabled.stderr.startswith("Mapping public IPs on launch in subnet web-a (subnet-")
    assert cli.json(*LAUNCH, "--name", "web-2", "--subnet", "web-a")["public_ip"]

    cli.ok("internet-gateway", "create", "--vpc", "prod", "--name", "igw")
    cli.ok("route-table", "create", "--vpc", "prod", "--name", "edge")
    cli.ok("route-table", "add-route", "edge", "--destination", "0.0.0.0/0",
           "--internet-gateway", "igw")  # fmt: skip
    cli.ok("route-table", "add-route", "edge", "--destination", "172.16.0.0/12",
           "--instance", "web-1")  # fmt: skip
    cli.ok("internet-gateway", "delete", "igw", "--yes")
    cli.ok("instance", "terminate", "web-1", "--wait")
    statuses = {r[1]: r[4] for r in _rows(cli.ok("route-table", "routes", "edge").stdout)}
    assert statuses == {
        "10.1.0.0/16": "active",
        "0.0.0.0/0": "blackhole",
        "172.16.0.0/12": "blackhole",
    }
    cli.ok("route-table", "remove-route", "edge", "--destination", "172.16.0.0/12")
    cli.ok("route-table", "associate", "edge", "--subnet", "web-a")
    cli.ok("route-table", "disassociate", "edge", "--subnet", "web-a")
    cli.ok("route-table", "delete", "edge", "--yes")
    renamed = cli.json("vpc", "update", "prod", "--name", "production")
    assert renamed["name"] == "production"
    assert cli.json("subnet", "list", "--vpc", "production")[0]["name"] == "web-a"


def test_gateways_and_tables_are_shown_updated_and_deleted_by_name(cli: Cli) -> None:
    cli.ok("vpc", "create", "--name", "prod", "--cidr", "10.1.0.0/16")
    cli.ok("subnet", "create", "--vpc", "prod", "--name", "web-a", "--cidr", "10.1.1.0/24")
    cli.ok("internet-gateway", "create", "--vpc", "prod", "--name", "igw")
    assert cli.json("internet-gateway", "show", "igw")["status"] == "available"
    assert cli.json("internet-gateway", "update", "igw", "--name", "edge")["name"] == "edge"
    cli.ok("route-table", "create", "--vpc", "prod", "--name", "public")
    cli.ok("route-table", "add-route", "public", "--destination", "0.0.0.0/0",
           "--internet-gateway", "edge")  # fmt: skip
    cli.ok("route-table", "associate", "public", "--subnet", "web-a")
    assert cli.json("route-table", "update", "public", "--description", "out")["description"] == (
        "out"
    )
    nat = cli.json("nat-gateway", "create", "--subnet", "web-a", "--name", "nat")
    assert nat["status"] in ("creating", "available")
    listed = _rows(cli.ok("nat-gateway", "list", "--vpc", "prod").stdout)
    assert [row[1] for row in listed] == ["nat"]
    subnet = cli.json("subnet", "update", "web-a", "--public-ips", "--description", "front")
    assert (subnet["map_public_ip_on_launch"], subnet["description"]) == (True, "front")
    deleted = cli.ok("nat-gateway", "delete", "nat", "--yes", "--wait")
    assert deleted.stderr.startswith(f"Deleted nat gateway {nat['nat_gw_id']}")
    assert cli.json("nat-gateway", "show", "nat")["status"] == "deleted"
    cli.ok("route-table", "disassociate", "public", "--subnet", "web-a")
    cli.ok("route-table", "delete", "public", "--yes")
    cli.ok("internet-gateway", "delete", "edge", "--yes")
    cli.ok("subnet", "delete", "web-a", "--yes")
    cli.ok("vpc", "delete", "prod", "--yes")
    assert cli.json("vpc", "list") == []
    unasked = cli("vpc", "create", "--name", "x", "--cidr", "10.1.0.0/16")
    assert unasked.exit_code == 0
    expect_error(cli("vpc", "delete", "x"), ExitCode.USAGE, "pass --yes")


def test_networking_in_processes_of_its_own_on_a_database_without_compute(
    embedded: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each command a fresh process, as a user runs them: networking loads no compute module,
    so the instances' table may not exist yet; deletes and launches still answer, never a 500."""
    monkeypatch.setenv("ATONIX_SECRET_STORE", "file")

    def atonix(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "atonix_cli", *args], env=os.environ.copy(),
            capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60,
        )  # fmt: skip

    steps = [
        ("vpc", "create", "--name", "prod", "--cidr", "10.1.0.0/16"),
        ("subnet", "create", "--vpc", "prod", "--name", "web-a", "--cidr", "10.1.1.0/24"),
        ("subnet", "delete", "web-a", "--yes"),
        ("image", "create", "--name", "golden"),
        ("image", "delete", "golden", "--yes"),
        ("vpc", "delete", "prod", "--force", "--yes"),
    ]
    for step in steps:
        done = atonix(*step)
        assert done.returncode == 0, (step, done.stderr)
    atonix("vpc", "create", "--name", "again", "--cidr", "10.1.0.0/16")
    atonix("route-table", "create", "--vpc", "again", "--name", "edge")
    for target_type in ("internet-gateway", "nat-gateway", "instance"):
        refused = atonix(
            "route-table", "add-route", "edge", "--destination", "0.0.0.0/0",
            "--target-type", target_type, "--target-id", "nowhere",
        )  # fmt: skip
        assert refused.returncode == ExitCode.USAGE, refused.stderr
        assert "target_id: no " in refused.stderr
    assert atonix("vpc", "delete", "again", "--force", "--yes").returncode == 0
    refused = atonix(*LAUNCH, "--name", "x", "--subnet", "subnet-000000000000")
    assert refused.returncode == ExitCode.USAGE, refused.stderr
    assert "no subnet 'subnet-000000000000'" in refused.stderr
