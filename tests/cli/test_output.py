"""Output: formats, --query, global options anywhere, --quiet, --debug, data on stdout only."""

from __future__ import annotations

import csv
import io
import json

import pytest
import yaml

from atonix_cli.errors import ExitCode
from tests.cli.runner import Cli, expect_error

INSTANCE_LIST_FIELDS = {
    "resource_id", "instance_id", "name", "status", "flavor_name", "image_name", "private_ip",
    "public_ip", "owner", "created_at", "is_running",
}  # fmt: skip
CREATE_WEB = (
    "instance", "create", "--name", "web-1", "--flavor", "t3.micro", "--image", "ubuntu-22.04",
)  # fmt: skip
FLAVOR_COLUMNS = ["name", "vcpus", "memory_mb", "disk_gb", "gpu_count", "hourly_cost_usd"]


@pytest.fixture
def web(cli: Cli) -> dict:
    created: dict = cli.json(*CREATE_WEB, "--wait")
    return created


def test_json_lists_hold_full_objects(cli: Cli, web: dict) -> None:
    listed = cli.json("instance", "list", "--status", "running")
    assert len(listed) == 1
    assert set(listed[0]) >= INSTANCE_LIST_FIELDS
    assert listed[0]["instance_id"] == web["instance_id"]
    assert listed[0]["flavor_name"] == "t3.micro"

    shown = cli.json("instance", "show", "web-1")
    assert {"flavor_details", "image_details", "metrics"} <= set(shown)


def test_yaml(cli: Cli) -> None:
    flavor = yaml.safe_load(cli.ok("flavor", "show", "t3.micro", "-o", "yaml").stdout)
    assert flavor["flavor_id"] == "t3-micro"
    assert (flavor["vcpus"], flavor["memory_mb"], flavor["hourly_cost_usd"]) == (2, 1024, 0.0104)


def test_csv_has_a_header(cli: Cli) -> None:
    rows = list(csv.reader(io.StringIO(cli.ok("flavor", "list", "-o", "csv").stdout)))
    assert rows[0] == FLAVOR_COLUMNS
    assert rows[1] == ["t3.micro", "2", "1024", "10", "0", "0.0104"]
    assert len(rows) == 1 + len(cli.json("flavor", "list"))


def test_text_is_tab_separated_without_a_header_in_a_pipe(cli: Cli) -> None:
    piped = cli.ok("flavor", "list")
    assert piped.stdout == cli.ok("flavor", "list", "-o", "text").stdout
    lines = piped.stdout.splitlines()
    assert lines[0] == "t3.micro\t2\t1024\t10\t0\t0.0104"
    assert all(len(line.split("\t")) == len(FLAVOR_COLUMNS) for line in lines)
    assert not any(line.startswith("NAME") for line in lines)


def test_table_when_forced(cli: Cli) -> None:
    lines = cli.ok("flavor", "list", "-o", "table").stdout.splitlines()
    assert lines[0].split() == ["NAME", "VCPUS", "MEMORY", "MB", "DISK", "GB", "GPUS", "USD/HOUR"]
    assert lines[1].split() == ["t3.micro", "2", "1024", "10", "0", "0.0104"]
    assert "\t" not in lines[1]
    assert "\x1b[" not in "".join(lines)


def test_query_on_lists_and_objects(cli: Cli, web: dict) -> None:
    four = cli.json("flavor", "list", "--query", "[?vcpus==`4`].name")
    assert four == ["c5.xlarge", "m5.xlarge", "g4dn.xlarge", "r5.xlarge"]
    assert cli.json("flavor", "show", "t3.micro", "--query", "vcpus") == 2
    assert cli.ok("instance", "show", "web-1", "--query", "status").stdout == "running\n"
    names = cli.ok("instance", "list", "--query", "[?status=='running'].[name, flavor_name]")
    assert names.stdout == '["web-1","t3.micro"]\n'


def test_an_invalid_query_is_a_usage_error(cli: Cli) -> None:
    expect_error(cli("flavor", "list", "--query", "[?"), ExitCode.USAGE, "invalid --query")


@pytest.mark.parametrize(
    "args",
    [
        ("-o", "json", "--query", "[0].name", "flavor", "list"),
        ("flavor", "list", "-o", "json", "--query", "[0].name"),
        ("-o", "yaml", "flavor", "list", "--query", "[0].name", "-o", "json"),
        ("--output=json", "flavor", "list", "--query=[0].name"),
        ("flavor", "-o", "json", "list", "--query", "[0].name"),
    ],
)
def test_global_options_before_or_after_the_subcommand(cli: Cli, args: tuple[str, ...]) -> None:
    assert cli.ok(*args).stdout == '"t3.micro"\n'


def test_output_from_the_environment_and_the_flag_wins(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATONIX_OUTPUT", "json")
    assert json.loads(cli.ok("flavor", "show", "t3.micro").stdout)["name"] == "t3.micro"
    assert cli.ok("flavor", "show", "t3.micro", "-o", "text").stdout.startswith("resource_id\t")


def test_data_on_stdout_and_messages_on_stderr(cli: Cli) -> None:
    created = cli.ok(*CREATE_WEB, "-o", "json")
    body = json.loads(created.stdout)
    assert created.stderr == f"Launching instance web-1 ({body['instance_id']})\n"


@pytest.mark.parametrize("where", ["before", "after"])
def test_quiet_silences_messages_but_not_data(cli: Cli, where: str) -> None:
    args = CREATE_WEB
    created = cli.ok("-q", *args) if where == "before" else cli.ok(*args, "--quiet")
    assert created.stderr == ""
    assert "\nname\tweb-1\n" in created.stdout
    stopped = cli.ok("instance", "stop", "web-1", "--wait", "--quiet")
    assert stopped.stderr == ""


def test_debug_traces_requests_on_stderr(cli: Cli) -> None:
    traced = cli.ok("--debug", "flavor", "list")
    assert traced.stdout == cli.ok("flavor", "list").stdout
    assert "debug: > GET /api/v1/services/flavors/" in traced.stderr
    assert "debug: < 200 (" in traced.stderr
    assert f"debug: profile {cli.profile}: {cli.backend}" in traced.stderr

    failed = cli("instance", "show", "i-000000000000", "--debug")
    assert failed.exit_code == ExitCode.NOT_FOUND
    assert "Error: instance i-000000000000 not found (NOT_FOUND)" in failed.stderr
    assert "debug: HTTP 404, request id req-" in failed.stderr
