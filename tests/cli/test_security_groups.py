"""`atonix security-group`: groups, rules and attachments through the CLI, on both backends."""

from __future__ import annotations

from atonix_cli.errors import ExitCode
from tests.cli.runner import Cli, expect_error

CREATE = ("instance", "create", "--flavor", "t3.micro", "--image", "ubuntu-22.04")


def test_groups_and_rules_from_create_to_delete(cli: Cli) -> None:
    web = cli.json("security-group", "create", "--name", "web", "--description", "front")
    assert web["sg_id"].startswith("sg-") and web["rule_count"] == 1

    https = cli.ok(
        "security-group", "authorize-ingress", "web", "--protocol", "tcp", "--port", "443"
    )
    assert https.stderr.startswith("Added rule rule-")
    rule = dict(line.split("\t", 1) for line in https.stdout.splitlines())
    assert (rule["direction"], rule["protocol"], rule["from_port"], rule["to_port"]) == (
        "ingress", "tcp", "443", "443",
    )  # fmt: skip
    assert rule["cidr_ipv4"] == "0.0.0.0/0"

    cli.json("security-group", "create", "--name", "db")
    by_group = cli.json(
        "security-group", "add-rule", "db", "--direction", "ingress", "--protocol", "tcp",
        "--port", "5432", "--source-group", "web",
    )  # fmt: skip
    assert by_group["referenced_sg_id"] == web["sg_id"]
    out = cli.json(
        "security-group", "add-rule", "db", "--direction", "egress", "--protocol", "all",
        "--cidr", "10.0.0.0/8",
    )  # fmt: skip
    assert (out["protocol"], out["from_port"]) == ("-1", None)

    listed = cli.ok("security-group", "list").stdout.splitlines()
    assert sorted(line.split("\t")[1] for line in listed) == ["db", "web"]
    rules = cli.ok("security-group", "rules", "db").stdout.splitlines()
    assert [line.split("\t")[:3] for line in rules][1:] == [
        [by_group["rule_id"], "ingress", "tcp"],
        [out["rule_id"], "egress", "-1"],
    ]
    shown = cli.json("security-group", "show", "db")
    assert shown["rule_count"] == 3 and len(shown["rules"]) == 3

    removed = cli.ok("security-group", "remove-rule", "db", out["rule_id"])
    assert removed.stderr == f"Removed rule {out['rule_id']} from security group db\n"
    assert cli.json("security-group", "show", "db")["rule_count"] == 2

    renamed = cli.json("security-group", "update", "web", "--name", "edge")
    assert renamed["name"] == "edge"
    # web is referred to by db's rule until that rule goes.
    refused = cli("security-group", "delete", "edge", "--yes")
    expect_error(refused, ExitCode.CONFLICT, "DEPENDENCY_VIOLATION", "referred to")
    cli.ok("security-group", "remove-rule", "db", by_group["rule_id"])
    deleted = cli.ok("security-group", "delete", "edge", "--yes")
    assert deleted.stderr == f"Deleted security group {web['sg_id']}\n"


def test_invalid_rules_are_usage_errors_naming_the_field(cli: Cli) -> None:
    cli.ok("security-group", "create", "--name", "web")
    rule = ("security-group", "add-rule", "web")
    expect_error(cli(*rule, "--protocol", "gre", "--port", "1", "--cidr", "10.0.0.0/8"),
                 ExitCode.USAGE, "protocol", "VALIDATION_ERROR")  # fmt: skip
    expect_error(cli(*rule, "--port", "90", "--to-port", "80", "--cidr", "10.0.0.0/8"),
                 ExitCode.USAGE, "to_port")  # fmt: skip
    expect_error(cli(*rule, "--port", "70000", "--cidr", "10.0.0.0/8"), ExitCode.USAGE, "from_port")
    expect_error(cli(*rule, "--port", "22"), ExitCode.USAGE, "cidr_ipv4")
    expect_error(cli(*rule, "--port", "22", "--cidr", "10.0.0.0/33"), ExitCode.USAGE, "cidr")
    expect_error(cli(*rule, "--port", "22", "--source-group", "nosuch"),
                 ExitCode.USAGE, "referenced_sg_id")  # fmt: skip
    assert cli.json("security-group", "show", "web")["rule_count"] == 1


def test_a_duplicate_rule_is_a_conflict_and_the_61st_a_quota_error(cli: Cli) -> None:
    cli.ok("security-group", "create", "--name", "web")
    ssh = ("security-group", "authorize-ingress", "web", "--port", "22", "--cidr", "10.0.0.0/8")
    cli.ok(*ssh)
    expect_error(cli(*ssh), ExitCode.CONFLICT, "already has this rule", "CONFLICT")
    for port in range(58):  # with the egress rule a new group has, and ssh
        cli.ok("security-group", "authorize-ingress", "web", "--port", str(1000 + port))
    expect_error(
        cli("security-group", "authorize-ingress", "web", "--port", "80"),
        ExitCode.QUOTA,
        "QUOTA_EXCEEDED",
        "60",
    )


def test_instances_take_and_change_security_groups(cli: Cli) -> None:
    web = cli.json("security-group", "create", "--name", "web")["sg_id"]
    ssh = cli.json("security-group", "create", "--name", "ssh")["sg_id"]
    created = cli.json(
        *CREATE, "--name", "web-1", "--security-group", "web", "--security-group", ssh
    )
    assert created["security_groups"] == [web, ssh]
    expect_error(
        cli("security-group", "delete", "web", "--yes"),
        ExitCode.CONFLICT,
        "DEPENDENCY_VIOLATION",
        created["instance_id"],
    )
    changed = cli.json("instance", "update", "web-1", "--security-group", "ssh")
    assert changed["security_groups"] == [ssh]
    cli.ok("security-group", "delete", "web", "--yes")
    expect_error(
        cli(*CREATE, "--name", "web-2", "--security-group", "nosuch"),
        ExitCode.USAGE,
        "security_groups",
    )
    cli.ok("instance", "terminate", "web-1", "--wait")
    cli.ok("security-group", "delete", "ssh", "--yes")
    expect_error(cli("security-group", "show", "ssh"), ExitCode.NOT_FOUND, "ssh")


def _tour(cli: Cli) -> None:
    """The issue's commands up to the two instances."""
    for command in (
        ("vpc", "create", "--name", "prod", "--cidr", "10.1.0.0/16"),
        ("subnet", "create", "--vpc", "prod", "--name", "web-a", "--cidr", "10.1.1.0/24",
         "--zone", "us-west-2a", "--public-ips"),
        ("subnet", "create", "--vpc", "prod", "--name", "db-a", "--cidr", "10.1.2.0/24",
         "--zone", "us-west-2a"),
        ("security-group", "create", "--vpc", "prod", "--name", "web"),
        ("security-group", "authorize-ingress", "web", "--protocol", "tcp", "--port", "443",
         "--cidr", "0.0.0.0/0"),
        ("security-group", "create", "--vpc", "prod", "--name", "db"),
        ("security-group", "add-rule", "db", "--direction", "ingress", "--protocol", "tcp",
         "--port", "5432", "--source-group", "web"),
        ("internet-gateway", "create", "--vpc", "prod", "--name", "igw"),
        ("route-table", "create", "--vpc", "prod", "--name", "public"),
        ("route-table", "add-route", "public", "--destination", "0.0.0.0/0",
         "--internet-gateway", "igw"),
        ("route-table", "associate", "public", "--subnet", "web-a"),
        ("nat-gateway", "create", "--subnet", "web-a", "--name", "nat", "--wait"),
        (*CREATE, "--name", "web-1", "--subnet", "web-a", "--security-group", "web", "--wait"),
        (*CREATE, "--name", "db-1", "--subnet", "db-a", "--security-group", "db", "--wait"),
    ):  # fmt: skip
        cli.ok(*command)


def test_the_issues_tour_answers_reachability_with_exit_codes(cli: Cli) -> None:
    _tour(cli)
    db = cli.json("security-group", "show", "db")
    web_1 = cli.json("instance", "show", "web-1")
    assert web_1["security_groups"] == [cli.json("security-group", "show", "web")["sg_id"]]

    reachable = cli("network", "reachability", "--from", "web-1", "--to", "db-1", "--port", "5432")
    assert reachable.exit_code == 0, str(reachable)
    hops = [line.split("\t") for line in reachable.stdout.splitlines()]
    assert [h[:2] for h in hops] == [
        ["security-group-egress", "allowed"],
        ["route", "allowed"],
        ["security-group-ingress", "allowed"],
    ]
    db_rule = next(r for r in db["rules"] if r["direction"] == "ingress")["rule_id"]
    assert hops[2][2:4] == [db["sg_id"], db_rule]
    assert hops[1][3].startswith("route-") and "local" in hops[1][4]
    assert reachable.stderr.startswith("Reachable: ") and db_rule in reachable.stderr

    blocked = cli("network", "reachability", "--from", "internet", "--to", "db-1", "--port", "5432")
    assert blocked.exit_code == ExitCode.NOT_REACHABLE == 5, str(blocked)
    assert blocked.stderr.startswith("Not reachable: ") and "no public IP" in blocked.stderr
    assert blocked.stdout.splitlines()[-1].split("\t")[:2] == ["destination", "blocked"]

    answer = cli("network", "reachability", "--from", "internet", "--to", "web-1",
                 "--port", "22", "-o", "json")  # fmt: skip
    assert answer.exit_code == 5
    found = answer.json()
    assert found["reachable"] is False
    assert found["blocked_at"]["step"] == "security-group-ingress"
    # db-a keeps the main route table: no way out until a route through the NAT gateway.
    out = ("network", "reachability", "--from", "db-1", "--to", "internet", "--port", "443")
    assert cli(*out).exit_code == 5
    cli.ok("route-table", "create", "--vpc", "prod", "--name", "private")
    cli.ok("route-table", "add-route", "private", "--destination", "0.0.0.0/0",
           "--nat-gateway", "nat")  # fmt: skip
    cli.ok("route-table", "associate", "private", "--subnet", "db-a")
    via_nat = cli(*out, "-o", "json")
    assert via_nat.exit_code == 0, str(via_nat)
    assert [h["step"] for h in via_nat.json()["hops"]][-1] == "nat-gateway"

    expect_error(
        cli("security-group", "delete", "web", "--yes"),
        ExitCode.CONFLICT,
        "DEPENDENCY_VIOLATION",
        f"attached to 1 resource(s): web-1 ({web_1['instance_id']})",
    )
    expect_error(
        cli("network", "reachability", "--from", "nosuch", "--to", "db-1", "--port", "1"),
        ExitCode.USAGE,
        "source",
    )


def test_the_default_group_and_vpc_groups_through_the_cli(cli: Cli) -> None:
    cli.ok("vpc", "create", "--name", "prod", "--cidr", "10.1.0.0/16")
    cli.ok("subnet", "create", "--vpc", "prod", "--name", "web-a", "--cidr", "10.1.1.0/24")
    [default] = cli.json("security-group", "list", "--vpc", "prod")
    assert (default["name"], default["is_default"], default["rule_count"]) == ("default", True, 2)
    expect_error(
        cli("security-group", "delete", default["sg_id"], "--yes"),
        ExitCode.CONFLICT,
        "default group",
    )
    launched = cli.json(*CREATE, "--name", "web-1", "--subnet", "web-a")
    assert launched["security_groups"] == [default["sg_id"]]
    cli.ok("security-group", "create", "--vpc", "prod", "--name", "web")
    changed = cli.json("instance", "update", "web-1", "--security-group", "web",
                       "--security-group", "default")  # fmt: skip
    assert changed["security_groups"][1] == default["sg_id"]
    expect_error(
        cli("security-group", "create", "--vpc", "prod", "--name", "web"),
        ExitCode.CONFLICT,
        "already exists",
    )
