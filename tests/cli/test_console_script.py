"""The real console entry point in a process of its own: first run, closed pipes, shared state."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.runner import Cli

REPO = Path(__file__).resolve().parents[2]
ATONIX = (sys.executable, "-m", "atonix_cli")


@pytest.fixture
def shell(embedded: Cli, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """The embedded backend, with secrets in the config dir: a child process cannot see the
    test's in-memory keyring, and must never write to the machine's own."""
    monkeypatch.setenv("ATONIX_SECRET_STORE", "file")
    return embedded


def atonix(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ATONIX, *args], cwd=REPO, env=os.environ.copy(), capture_output=True, text=True,
        stdin=subprocess.DEVNULL, timeout=60,
    )  # fmt: skip


def test_a_fresh_config_works_with_no_setup(shell: Cli) -> None:
    first = atonix("instance", "list")
    assert (first.returncode, first.stdout) == (0, ""), first.stderr
    assert "Created the embedded engine's admin user for profile 'default'" in first.stderr
    assert "Traceback" not in first.stderr
    assert shell.config().default_profile == "default"
    secrets_file = shell.config_dir / "credentials.json"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600

    again = atonix("whoami", "--query", "username")
    assert (again.returncode, again.stdout, again.stderr) == (0, "admin\n", "")


def test_state_is_shared_with_a_new_process(shell: Cli) -> None:
    created = shell.json(
        "instance", "create", "--name", "web-1", "--flavor", "t3.micro", "--image",
        "ubuntu-22.04", "--wait",
    )  # fmt: skip
    listed = atonix("instance", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split("\t")[:3] == [created["instance_id"], "web-1", "running"]


def test_a_closed_pipe_is_not_an_error(shell: Cli) -> None:
    shell.ok("whoami")  # set up first, so the only output is the data
    piped = subprocess.run(
        ["bash", "-c", 'set -o pipefail; "$@" flavor list | head -1', "bash", *ATONIX],
        cwd=REPO, env=os.environ.copy(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (piped.returncode, piped.stdout, piped.stderr) == (
        0,
        "t3.micro\t2\t1024\t10\t0\t0.0104\n",
        "",
    )

    # A reader gone before anything is written: every write of the output fails.
    child = subprocess.Popen(
        [*ATONIX, "image", "list", "-o", "json"], cwd=REPO, env=os.environ.copy(),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()
    errors = child.stderr.read().decode()
    child.stderr.close()
    assert child.wait(timeout=60) == 0, errors
    assert errors == ""


def test_help_in_a_pipe_is_plain_text_and_loads_neither_the_engine_nor_rich() -> None:
    probe = (
        "import sys\nfrom atonix_cli.app import run\ncode = run(sys.argv[1:])\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & {'engine', 'rich', 'httpx'})\n"
        "print(code, *loaded, file=sys.stderr)"
    )
    for args in (["--help"], ["instance", "--help"], ["instance", "list", "--help"]):
        result = subprocess.run(
            [sys.executable, "-c", probe, *args], cwd=REPO, capture_output=True, text=True,
            stdin=subprocess.DEVNULL, timeout=60,
        )  # fmt: skip
        assert result.stderr.strip() == "0", (args, result.stderr)
        assert result.stdout.startswith(f"Usage: atonix {' '.join(args[:-1])}".rstrip())
        assert "Options:" in result.stdout and "--output" in result.stdout
        assert not {"╭", "│", "\x1b"} & set(result.stdout), result.stdout


def test_the_remote_transport_loads_no_renderer() -> None:
    """httpx would import its own CLI (rich, pygments) whenever they are installed."""
    probe = (
        "import sys\nimport atonix_cli.remote\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'rich', 'pygments', 'engine'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "[]", result.stderr
