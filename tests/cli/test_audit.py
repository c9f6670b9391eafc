"""`atonix audit list`: every change, refused ones included, newest first."""

from __future__ import annotations

from tests.cli.runner import Cli


def test_audit_list_records_changes_and_refusals(cli: Cli) -> None:
    instance_id = cli.json(
        "instance", "create", "--name", "web-1", "--flavor", "t3.micro", "--image",
        "ubuntu-22.04", "--wait", "--query", "instance_id",
    )  # fmt: skip
    cli.ok("instance", "stop", "web-1", "--wait")
    assert cli("instance", "stop", "web-1").exit_code != 0

    records = cli.json("audit", "list", "--resource", instance_id)
    assert [(r["action"], r["status"]) for r in records] == [
        ("stop", "failure"), ("stop", "success"), ("create", "success"),
    ]  # fmt: skip
    assert {(r["user"], r["resource_type"]) for r in records} == {(cli.username, "instance")}
    assert "INVALID_STATE" in records[0]["error_message"]

    creates = cli.json("audit", "list", "--type", "instance", "--action", "create", "--limit", "1")
    assert [(r["resource_id"], r["action"]) for r in creates] == [(instance_id, "create")]
    text = cli.ok("audit", "list", "--resource", instance_id, "--status", "success").stdout
    assert [line.split("\t")[2] for line in text.splitlines()] == ["stop", "create"]
