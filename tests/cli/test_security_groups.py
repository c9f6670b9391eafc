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
