"""`atonix instance`: the issue's tour, lifecycle errors, quotas, waiting and name lookups."""

from __future__ import annotations

import json

import pytest
import yaml

from atonix_cli.errors import ExitCode
from tests.cli.runner import Cli, expect_error

CREATE = ("instance", "create", "--flavor", "t3.micro", "--image", "ubuntu-22.04")


def launch(cli: Cli, name: str, *extra: str) -> dict:
    """Create a running instance and return it."""
    created = cli.json(*CREATE, "--name", name, "--wait", *extra)
    assert created["status"] == "running"
    return created


def test_the_tour_from_the_issue(cli: Cli) -> None:
    flavors = cli.ok("flavor", "list")
    assert flavors.stdout.splitlines()[0].split("\t")[:2] == ["t3.micro", "2"]

    images = cli.ok("image", "list", "-o", "json").json()
    assert "ubuntu-22.04" in [i["name"] for i in images]

    created = cli.ok(*CREATE, "--name", "web-1", "--wait")
    assert "\nstatus\trunning\n" in created.stdout
    assert created.stderr.startswith("Launching instance web-1 (i-")
    instance_id = dict(line.split("\t", 1) for line in created.stdout.splitlines())["instance_id"]

    listed = cli.ok("instance", "list").stdout.splitlines()
    assert [line.split("\t")[:3] for line in listed if line.startswith(instance_id)] == [
        [instance_id, "web-1", "running"]
    ]

    stopped = cli.ok("instance", "stop", "web-1", "--wait")
    assert "\nstatus\tstopped\n" in stopped.stdout
    assert stopped.stderr == f"Stopping instance web-1 ({instance_id})\n"

    started = cli.ok("instance", "start", "web-1")
    assert started.stderr == f"Starting instance web-1 ({instance_id})\n"

    waited = cli.ok("instance", "wait", "web-1", "--state", "running", "--timeout", "60")
    assert "\nstatus\trunning\n" in waited.stdout

    shown = yaml.safe_load(cli.ok("instance", "show", "web-1", "-o", "yaml").stdout)
    assert shown["instance_id"] == instance_id
    assert shown["status"] == "running"
    assert shown["flavor_details"]["name"] == "t3.micro"
    assert shown["image_details"]["name"] == "ubuntu-22.04"

    samples = cli.ok("instance", "metrics", "web-1").stdout.splitlines()
    assert samples, "a running, monitored instance has metric samples"
    assert all(len(line.split("\t")) == 6 for line in samples)

    terminated = cli.ok("instance", "terminate", "web-1", "--wait")
    assert "\nstatus\tterminated\n" in terminated.stdout

    running = cli.ok("instance", "list", "--status", "running", "-o", "json", "--query", "[].name")
    assert json.loads(running.stdout) == []


def test_state_persists_between_invocations(cli: Cli) -> None:
    created = launch(cli, "keep-1")
    again = cli.json("instance", "show", "keep-1")
    assert again["instance_id"] == created["instance_id"]
    assert again["private_ip"] == created["private_ip"]
    assert [i["instance_id"] for i in cli.live_instances()] == [created["instance_id"]]


def test_unknown_flavor_is_refused_and_creates_nothing(cli: Cli) -> None:
    result = cli(*CREATE[:2], "--name", "web-1", "--flavor", "t9.huge", "--image", "ubuntu-22.04")
    expect_error(result, ExitCode.USAGE, "t9.huge", "VALIDATION_ERROR")
    assert cli.live_instances() == []


@pytest.mark.parametrize("name", ["", "   ", "web\n1", "x" * 256])
def test_an_invalid_name_is_refused(cli: Cli, name: str) -> None:
    expect_error(cli(*CREATE, "--name", name), ExitCode.USAGE, "name", "VALIDATION_ERROR")
    assert cli.live_instances() == []


@pytest.mark.parametrize("ref", ["i-000000000000", "nosuch"])
def test_unknown_instance_is_not_found(cli: Cli, ref: str) -> None:
    expect_error(cli("instance", "show", ref), ExitCode.NOT_FOUND, ref)


def test_stopping_a_stopped_instance_is_a_conflict(cli: Cli) -> None:
    launch(cli, "web-1")
    expect_error(cli("instance", "start", "web-1"), ExitCode.CONFLICT, "INVALID_STATE")
    stopped = cli.json("instance", "stop", "web-1", "--wait")
    expect_error(cli("instance", "stop", "web-1"), ExitCode.CONFLICT, "INVALID_STATE")
    after = cli.json("instance", "show", "web-1")
    assert (after["status"], after["stop_time"], after["updated_at"]) == (
        "stopped", stopped["stop_time"], stopped["updated_at"],
    )  # fmt: skip


def test_termination_protection_until_cleared(cli: Cli) -> None:
    launch(cli, "guarded", "--termination-protection")
    expect_error(cli("instance", "terminate", "guarded"), ExitCode.CONFLICT, "protection")
    assert cli.json("instance", "show", "guarded")["status"] == "running"

    updated = cli.json("instance", "update", "guarded", "--no-termination-protection")
    assert updated["enable_termination_protection"] is False
    terminated = cli.json("instance", "terminate", "guarded", "--wait")
    assert terminated["status"] == "terminated"


def test_quota_exceeded_leaves_the_count_unchanged(cli: Cli) -> None:
    quota = cli.json("quota", "set", "instances", "1", "--user", cli.username)
    assert (quota["limit"], quota["used"]) == (1, 0)
    launch(cli, "first")
    result = cli(*CREATE, "--name", "second")
    expect_error(result, ExitCode.QUOTA, "QUOTA_EXCEEDED")
    assert [i["name"] for i in cli.live_instances()] == ["first"]
    usage = cli.json("quota", "list", "--query", "[?resource_type=='instances'] | [0]")
    assert (usage["limit"], usage["used"]) == (1, 1)


def test_wait_for_a_state_that_never_comes_times_out(cli: Cli) -> None:
    created = launch(cli, "web-1")
    result = cli("instance", "wait", "web-1", "--state", "stopped", "--timeout", "0.2")
    expect_error(
        result, ExitCode.UNAVAILABLE, "timed out after 0.2s", created["instance_id"], "running"
    )


@pytest.mark.clock("manual")
def test_wait_times_out_on_a_stopped_clock_and_completes_once_advanced(cli: Cli) -> None:
    created = cli.json(*CREATE, "--name", "slow-1")
    assert created["status"] == "pending"
    result = cli("instance", "wait", "slow-1", "--timeout", "0.2")
    expect_error(result, ExitCode.UNAVAILABLE, "timed out", "(it is pending)")

    cli.ok("engine", "clock", "advance", "5m")
    assert cli.json("instance", "wait", "slow-1", "--timeout", "5")["status"] == "running"


def test_two_live_instances_of_one_name_need_an_id(cli: Cli) -> None:
    first = launch(cli, "twin")
    second = launch(cli, "twin")
    line = expect_error(cli("instance", "stop", "twin"), ExitCode.USAGE, "use an id")
    assert first["instance_id"] in line and second["instance_id"] in line
    assert {i["status"] for i in cli.live_instances()} == {"running"}
    assert cli.json("instance", "show", first["instance_id"])["name"] == "twin"


def test_a_live_instance_wins_over_a_terminated_one_of_the_same_name(cli: Cli) -> None:
    old = launch(cli, "reborn")
    cli.ok("instance", "terminate", old["instance_id"], "--wait")
    new = launch(cli, "reborn")
    assert cli.json("instance", "show", "reborn")["instance_id"] == new["instance_id"]
    stopped = cli.json("instance", "stop", "reborn", "--wait")
    assert stopped["instance_id"] == new["instance_id"]


def test_an_action_prints_what_the_api_answered_with_one_request(cli: Cli) -> None:
    instance_id = launch(cli, "web-1")["instance_id"]
    stopped = cli.ok("instance", "stop", instance_id, "-o", "json", "--debug")
    assert stopped.json()["status"] in ("stopping", "stopped")
    requests = [line for line in stopped.stderr.splitlines() if line.startswith("debug: > ")]
    assert len(requests) == 1, requests
    assert requests[0].startswith(f"debug: > POST /api/v1/services/instances/{instance_id}/stop/")


def test_flags_are_the_api_field_names(cli: Cli) -> None:
    created = cli.json(
        *CREATE,
        "--name", "named-1",
        "--availability-zone", "us-west-2b",
        "--enable-termination-protection",
        "--no-enable-monitoring",
        "--root-volume-size-gb", "20",
        "--wait",
    )  # fmt: skip
    assert (created["availability_zone"], created["root_volume_size_gb"]) == ("us-west-2b", 20)
    assert created["enable_termination_protection"] is True
    assert created["enable_monitoring"] is False
    zone_b = ("--availability-zone", "us-west-2b")
    found = cli.json("instance", "list", "--flavor", "t3.micro", *zone_b)
    assert [i["name"] for i in found] == ["named-1"]
    assert cli.json("instance", "list", "--ordering", "-name", "--zone", "us-west-2b") == found
    updated = cli.json("instance", "update", "named-1", "--no-enable-termination-protection")
    assert updated["enable_termination_protection"] is False
