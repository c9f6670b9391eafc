"""`atonix apikey`: scoped keys, shown once, and revoked at once."""

from __future__ import annotations

import pytest

from atonix_cli.errors import ExitCode
from tests.cli.runner import Cli, expect_error

CREATE = (
    "instance",
    "create",
    "--name",
    "web-1",
    "--flavor",
    "t3.micro",
    "--image",
    "ubuntu-22.04",
)


def test_a_read_only_key_reads_but_cannot_write(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    made = cli.ok("apikey", "create", "--name", "ro", "--scope", "compute:read", "-o", "json")
    assert made.stderr == "This is the only time the key is shown.\n"
    key = made.json()
    assert key["key"].startswith("atonix_") and len(key["key"]) == len("atonix_") + 43
    assert key["scopes"] == ["compute:read"]
    cli.ok(*CREATE, "--wait")

    monkeypatch.setenv("ATONIX_API_KEY", key["key"])
    assert [i["name"] for i in cli.live_instances()] == ["web-1"]
    expect_error(cli(*CREATE[:3], "web-2", *CREATE[4:]), ExitCode.AUTH, "FORBIDDEN")
    expect_error(cli("instance", "stop", "web-1"), ExitCode.AUTH, "FORBIDDEN")
    monkeypatch.delenv("ATONIX_API_KEY")
    assert [(i["name"], i["status"]) for i in cli.live_instances()] == [("web-1", "running")]


def test_revoked_keys_stop_working(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    key = cli.json("apikey", "create", "--name", "ci")
    listed = {k["key_id"]: k for k in cli.json("apikey", "list")}
    assert listed[key["key_id"]]["status"] == "active"
    assert all("key" not in k for k in listed.values())  # the secret is never shown again

    refused = cli("apikey", "revoke", key["key_id"])
    expect_error(refused, ExitCode.USAGE, "pass --yes")
    monkeypatch.setenv("ATONIX_API_KEY", key["key"])
    assert cli.json("whoami")["credential"]["id"] == key["key_id"]
    monkeypatch.delenv("ATONIX_API_KEY")

    revoked = cli.ok("apikey", "revoke", key["key_id"], "--yes")
    assert revoked.stderr == f"Revoked {key['key_id']}\n"
    listed = {k["key_id"]: k for k in cli.json("apikey", "list")}
    assert listed[key["key_id"]]["status"] == "revoked"

    monkeypatch.setenv("ATONIX_API_KEY", key["key"])
    expect_error(cli("instance", "list"), ExitCode.AUTH, "UNAUTHENTICATED")


def test_revoking_an_unknown_key(cli: Cli) -> None:
    expect_error(cli("apikey", "revoke", "key-000000000000", "--yes"), ExitCode.NOT_FOUND)


def test_bad_scope_is_a_usage_error(cli: Cli) -> None:
    before = cli.json("apikey", "list")
    result = cli("apikey", "create", "--name", "x", "--scope", "compute:everything")
    expect_error(result, ExitCode.USAGE, "VALIDATION_ERROR")
    assert cli.json("apikey", "list") == before
