"""`atonix key`: the issue's tour, names, state errors, no material ever printed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from atonix_cli.errors import ExitCode
from tests.cli.runner import Cli, expect_error


def test_the_tour_from_the_issue(cli: Cli) -> None:
    created = cli.ok("key", "create", "--name", "app-data")
    key_id = dict(line.split("\t", 1) for line in created.stdout.splitlines())["key_id"]
    assert created.stderr == f"Created encryption key app-data ({key_id})\n"
    assert "\nkey_state\tenabled\n" in created.stdout

    rotated = cli.ok("key", "rotate", "app-data")
    assert rotated.stderr == f"Rotated encryption key app-data ({key_id})\n"
    assert "\nrotation_count\t1\n" in rotated.stdout

    disabled = cli.ok("key", "disable", "app-data")
    assert disabled.stderr == f"Disabled encryption key app-data ({key_id})\n"
    assert "\nkey_state\tdisabled\n" in disabled.stdout

    listed = cli.ok("key", "list").stdout.splitlines()
    assert [line.split("\t") for line in listed] == [
        [key_id, "app-data", "disabled", "symmetric", "AES_256", "1"]
    ]
    enabled = cli.json("key", "enable", key_id)
    assert enabled["key_state"] == "enabled"
    shown = cli.json("key", "show", "app-data")
    assert (shown["key_id"], shown["rotation_count"], shown["key_state"]) == (key_id, 1, "enabled")
    cli.ok("key", "delete", "app-data", "--yes")
    assert cli.json("key", "list") == []


def test_create_with_options_and_update(cli: Cli) -> None:
    created = cli.json(
        "key",
        "create",
        "--name",
        "signing",
        "--key-type",
        "asymmetric-ecc",
        "--rotation-period-days",
        "30",
        "--no-rotation-enabled",
        "--description",
        "for tokens",
        "--tag",
        "team=a",
    )
    assert (created["key_type"], created["algorithm"]) == ("asymmetric-ecc", "ECC_NIST_P256")
    assert created["rotation_enabled"] is False and created["rotation_period_days"] == 30
    assert created["tags"] == {"team": "a"} and created["description"] == "for tokens"
    updated = cli.json("key", "update", "signing", "--rotation-enabled", "--name", "signing-2")
    assert updated["rotation_enabled"] is True and updated["name"] == "signing-2"
    assert updated["next_rotation_at"] is not None
    unnamed = cli.json("key", "create")
    assert unnamed["name"] == unnamed["key_id"]
    filtered = cli.json("key", "list", "--key-type", "asymmetric-ecc", "--query", "[].name")
    assert filtered == ["signing-2"]
    assert cli.json("key", "list", "--state", "disabled") == []


def test_no_material_is_ever_printed(cli: Cli) -> None:
    created = cli.json("key", "create", "--name", "secret")
    text = json.dumps(created) + cli.ok("key", "show", "secret", "-o", "yaml").stdout
    assert "material" not in text
    assert set(created) >= {"key_id", "key_state", "encryption_operations_count"}


def test_duplicate_name_is_a_conflict(cli: Cli) -> None:
    cli.ok("key", "create", "--name", "app-data")
    expect_error(cli("key", "create", "--name", "app-data"), ExitCode.CONFLICT, "CONFLICT")
    assert len(cli.json("key", "list")) == 1


def test_state_errors_are_conflicts(cli: Cli) -> None:
    cli.ok("key", "create", "--name", "app-data")
    expect_error(cli("key", "enable", "app-data"), ExitCode.CONFLICT, "INVALID_STATE")
    cli.ok("key", "disable", "app-data")
    expect_error(cli("key", "disable", "app-data"), ExitCode.CONFLICT, "INVALID_STATE")
    expect_error(cli("key", "rotate", "app-data"), ExitCode.CONFLICT, "must be enabled")
    assert cli.json("key", "show", "app-data")["rotation_count"] == 0


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--key-type", "quantum"), "key_type"),
        (("--algorithm", "RSA_2048"), "algorithm"),
        (("--name", ""), "name"),
    ],
)
def test_invalid_input_is_refused(cli: Cli, args: tuple[str, ...], fragment: str) -> None:
    expect_error(cli("key", "create", *args), ExitCode.USAGE, fragment)
    assert cli.json("key", "list") == []


def test_bad_period_is_a_usage_error_before_any_request(cli: Cli) -> None:
    result = cli("key", "create", "--rotation-period-days", "0")
    assert result.exit_code == ExitCode.USAGE
    assert cli.json("key", "list") == []


@pytest.mark.parametrize("ref", ["key-000000000000", "nosuch"])
def test_unknown_key_is_not_found(cli: Cli, ref: str) -> None:
    expect_error(cli("key", "show", ref), ExitCode.NOT_FOUND, ref)
    expect_error(cli("key", "rotate", ref), ExitCode.NOT_FOUND, ref)


def test_delete_asks_off_a_terminal_for_yes(cli: Cli) -> None:
    cli.ok("key", "create", "--name", "app-data")
    expect_error(cli("key", "delete", "app-data"), ExitCode.USAGE, "--yes")
    assert len(cli.json("key", "list")) == 1


def test_another_users_keys_are_invisible(cli: Cli) -> None:
    username, password = cli.add_user("kim")
    cli.add_profile("kim")
    cli.login("kim", username, password)
    cli.ok("key", "create", "--name", "admins-key")
    expect_error(cli("--profile", "kim", "key", "show", "admins-key"), ExitCode.NOT_FOUND)
    assert cli.json("--profile", "kim", "key", "list") == []
    cli.ok("--profile", "kim", "key", "create", "--name", "admins-key")  # names are per owner


def test_objects_under_a_disabled_key_until_it_is_enabled(cli: Cli, tmp_path: Path) -> None:
    key_id = cli.json("key", "create", "--name", "app-data")["key_id"]
    bucket = cli.json("bucket", "create", "vault", "--kms-key-id", "app-data", "--versioning")
    assert bucket["kms_key_id"] == key_id
    before = tmp_path / "before.bin"
    before.write_bytes(os.urandom(300_000))
    cli.ok("object", "put", "vault", "doc", str(before))
    cli.ok("key", "rotate", "app-data")
    after = tmp_path / "after.bin"
    after.write_bytes(os.urandom(1000))
    cli.ok("object", "put", "vault", "doc-2", str(after))

    cli.ok("key", "disable", "app-data")
    got = tmp_path / "got.bin"
    line = expect_error(cli("object", "get", "vault", "doc", str(got)), ExitCode.CONFLICT, key_id)
    assert "app-data" in line and "disabled" in line
    assert not got.exists() or got.read_bytes() == b""
    expect_error(cli("object", "put", "vault", "doc-3", str(after)), ExitCode.CONFLICT, key_id)
    assert [o["object_key"] for o in cli.json("object", "ls", "vault")["objects"]] == [
        "doc",
        "doc-2",
    ]

    cli.ok("key", "enable", "app-data")
    cli.ok("object", "get", "vault", "doc", str(got))
    assert got.read_bytes() == before.read_bytes()  # sealed before the rotation
    cli.ok("object", "get", "vault", "doc-2", str(got))
    assert got.read_bytes() == after.read_bytes()
    expect_error(cli("key", "delete", "app-data", "--yes"), ExitCode.CONFLICT, "DEPENDENCY")
