"""Failures all commands share: usage errors, unknown profiles, bad keys, unreachable endpoints."""

from __future__ import annotations

import socket
import time

import pytest

from atonix_cli.errors import ExitCode
from tests.cli.runner import Cli, expect_error


def closed_port() -> int:
    """A local port nothing listens on (bound for a moment, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_unknown_command(cli: Cli) -> None:
    expect_error(
        cli("instnace", "list"), ExitCode.USAGE, "No such command 'instnace'", "'instance'"
    )
    expect_error(cli("instance", "reboot", "web-1"), ExitCode.USAGE, "No such command 'reboot'")


@pytest.mark.parametrize("args", [(), ("instance",), ("audit",)])
def test_a_bare_group_prints_its_help(cli: Cli, args: tuple[str, ...]) -> None:
    result = cli(*args)
    assert result.exit_code == ExitCode.USAGE
    assert f"Usage: atonix {' '.join(args)}".rstrip() in result.stdout
    assert result.stderr == ""


def test_unknown_option(cli: Cli) -> None:
    result = cli("instance", "list", "--colour")
    expect_error(
        result, ExitCode.USAGE, "No such option", "--colour", "atonix instance list --help"
    )


def test_missing_required_option_creates_nothing(cli: Cli) -> None:
    result = cli("instance", "create", "--name", "web-1", "--image", "ubuntu-22.04")
    expect_error(result, ExitCode.USAGE, "--flavor")
    assert cli.live_instances() == []


def test_bad_option_value(cli: Cli) -> None:
    expect_error(cli("flavor", "list", "-o", "xml"), ExitCode.USAGE, "'xml'")
    expect_error(cli("instance", "wait", "web-1", "--state", "asleep"), ExitCode.USAGE, "--state")


def test_unknown_profile(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = "no profile named 'nope'"
    expect_error(cli("--profile", "nope", "instance", "list"), ExitCode.USAGE, expected)
    expect_error(cli("instance", "list", "--profile", "nope"), ExitCode.USAGE, expected)
    monkeypatch.setenv("ATONIX_PROFILE", "nope")
    expect_error(cli("instance", "list"), ExitCode.USAGE, expected)


def test_unreachable_endpoint_fails_fast(cli: Cli) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    cli.ok("profile", "create", "dead", "--endpoint", url, "--api-key", "atonix_" + "x" * 43)
    started = time.monotonic()
    result = cli("--profile", "dead", "instance", "list")
    expect_error(result, ExitCode.UNAVAILABLE, f"cannot reach {url}")
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("key", ["atonix_" + "A" * 43, "not-a-key"])
def test_a_bad_api_key_is_refused(cli: Cli, monkeypatch: pytest.MonkeyPatch, key: str) -> None:
    monkeypatch.setenv("ATONIX_API_KEY", key)
    expect_error(cli("instance", "list"), ExitCode.AUTH, "UNAUTHENTICATED")
    expect_error(cli("whoami"), ExitCode.AUTH, "UNAUTHENTICATED")


def test_errors_carry_no_traceback_and_debug_adds_details(cli: Cli) -> None:
    plain = cli("instance", "terminate", "i-0123456789ab")
    assert expect_error(plain, ExitCode.NOT_FOUND) == (
        "Error: instance i-0123456789ab not found (NOT_FOUND)"
    )
    debug = cli("instance", "terminate", "i-0123456789ab", "--debug")
    assert debug.exit_code == ExitCode.NOT_FOUND
    assert "debug: > POST /api/v1/services/instances/i-0123456789ab/terminate/" in debug.stderr
    assert "debug: < 404" in debug.stderr
    assert "Traceback" not in debug.stderr
