"""`atonix bucket`: create, list, show, update, versioning, logging, stats, delete."""

from __future__ import annotations

from pathlib import Path

from atonix_cli.errors import ExitCode
from tests.cli.runner import Cli, expect_error


def make(cli: Cli, name: str, *extra: str) -> dict:
    created = cli.json("bucket", "create", name, *extra)
    assert created["status"] == "active"
    assert created["bucket_name"] == name
    return created


def put_bytes(cli: Cli, tmp_path: Path, bucket: str, key: str, data: bytes) -> None:
    source = tmp_path / "upload.bin"
    source.write_bytes(data)
    cli.ok("object", "put", bucket, key, str(source))


def test_create_list_show_update(cli: Cli) -> None:
    created = cli.ok("bucket", "create", "photos", "--versioning")
    assert created.stderr.startswith("Creating bucket photos (")
    shown = cli.json("bucket", "show", "photos")
    assert shown["versioning_enabled"] is True
    assert shown["encryption_enabled"] is True
    assert shown["status"] == "active"

    listed = cli.ok("bucket", "list").stdout.splitlines()
    assert [line.split("\t")[1:3] for line in listed] == [["photos", "active"]]
    by_id = cli.json("bucket", "show", shown["bucket_id"])
    assert by_id["bucket_name"] == "photos"

    updated = cli.json("bucket", "update", "photos", "--acl", "public-read", "--tag", "team=web")
    assert updated["acl"] == "public-read"
    assert updated["tags"] == {"team": "web"}


def test_names_are_checked_and_unique(cli: Cli) -> None:
    make(cli, "photos")
    expect_error(cli("bucket", "create", "photos"), ExitCode.CONFLICT, "CONFLICT")
    expect_error(cli("bucket", "create", "bad-"), ExitCode.USAGE, "VALIDATION_ERROR")
    expect_error(cli("bucket", "create", "a..b"), ExitCode.USAGE, "VALIDATION_ERROR")
    expect_error(cli("bucket", "show", "nope"), ExitCode.NOT_FOUND, "nope")


def test_versioning_is_idempotent(cli: Cli) -> None:
    make(cli, "plain")
    first = cli.json("bucket", "versioning", "plain")
    again = cli.json("bucket", "versioning", "plain")
    assert cli.json("bucket", "show", "plain")["versioning_enabled"] is True
    assert first.get("versioning_enabled", True) and again.get("versioning_enabled", True)


def test_logging_to_another_bucket(cli: Cli, tmp_path: Path) -> None:
    make(cli, "site")
    make(cli, "site-logs")
    cli.ok("bucket", "logging", "site", "--target-bucket", "site-logs", "--prefix", "access/")
    shown = cli.json("bucket", "show", "site")
    assert shown["logging_enabled"] is True
    assert shown["log_prefix"] == "access/"
    put_bytes(cli, tmp_path, "site", "index.html", b"<h1>hi</h1>")
    cli.ok("object", "get", "site", "index.html", str(tmp_path / "got.html"))
    logs = cli.json("object", "ls", "site-logs", "--prefix", "access/")["objects"]
    assert logs, "the instant clock delivers access logs at once"
    _, text = cli.binary("object", "get", "site-logs", logs[-1]["object_key"], "-")
    assert b"index.html" in text
    make(cli, "other")
    refused = cli("bucket", "logging", "other", "--target-bucket", "nowhere")
    assert refused.exit_code in (ExitCode.USAGE, ExitCode.NOT_FOUND), str(refused)
    assert cli.json("bucket", "show", "other")["logging_enabled"] is False


def test_stats_and_delete(cli: Cli, tmp_path: Path) -> None:
    make(cli, "data")
    put_bytes(cli, tmp_path, "data", "a.txt", b"a" * 1000)
    put_bytes(cli, tmp_path, "data", "b.txt", b"b" * 3000)
    stats = cli.json("bucket", "stats", "data")
    assert stats["total_objects"] == 2
    assert stats["versioning_enabled"] is False
    assert stats["encryption_enabled"] is True

    refused = cli("bucket", "delete", "data", "--yes")
    expect_error(refused, ExitCode.CONFLICT, "DEPENDENCY_VIOLATION")
    assert cli.json("bucket", "stats", "data")["total_objects"] == 2

    deleted = cli.ok("bucket", "delete", "data", "--force", "--yes")
    assert "Deleted bucket data" in deleted.stderr
    live = [b for b in cli.json("bucket", "list") if b["status"] not in ("deleting", "deleted")]
    assert live == []


def test_delete_asks_off_a_terminal_for_yes(cli: Cli) -> None:
    make(cli, "keep")
    expect_error(cli("bucket", "delete", "keep"), ExitCode.USAGE, "--yes")
    assert cli.json("bucket", "show", "keep")["status"] == "active"
