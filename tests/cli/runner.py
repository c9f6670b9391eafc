"""Running `atonix` in-process as a user would, and asserting on what it printed."""

from __future__ import annotations

import io
import json
import secrets
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

from atonix_cli.app import run
from atonix_cli.catalog import CATALOG
from profiles.store import Config
from tests.cli.keyring_memory import MemoryKeyring

GONE = CATALOG["instances"].final
SERVICE = "atonix"  # the keyring service name the CLI stores secrets under


@dataclass
class Result:
    args: tuple[str, ...]
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    @property
    def error(self) -> str:
        """The single line a failed command writes on stderr."""
        lines = self.stderr.splitlines()
        assert len(lines) == 1, f"expected one line on stderr:\n{self}"
        return lines[0]

    def __str__(self) -> str:
        return (
            f"atonix {' '.join(self.args)} -> exit {self.exit_code}\n"
            f"--- stdout\n{self.stdout}--- stderr\n{self.stderr}"
        )


class Cli:
    """`atonix` as a user in a shell runs it, with stdout and stderr as pipes; one run per call."""

    def __init__(
        self, backend: str, *, profile: str, endpoint: str | None, home: Path, ring: MemoryKeyring
    ) -> None:
        self.backend = backend
        self.profile = profile
        self.endpoint = endpoint
        self.config_dir = home / "config"
        self.data_dir = home / "data"
        self.ring = ring
        self.username = "admin"

    def __call__(self, *args: str, input: str | None = None) -> Result:
        out, err = io.StringIO(), io.StringIO()
        with (
            redirect_stdout(out),
            redirect_stderr(err),
            mock.patch("sys.stdin", io.StringIO(input or "")),
        ):
            code = run(list(args))
        result = Result(args, code, out.getvalue(), err.getvalue())
        if "--debug" not in args:
            assert "Traceback" not in result.stderr, str(result)
        return result

    def binary(self, *args: str, stdin: bytes = b"") -> tuple[Result, bytes]:
        """Run a command whose stdin or stdout carries bytes (`atonix object put ... -`): its
        result (stdout decoded, for text) and the raw bytes it wrote on stdout."""
        raw_out = io.BytesIO()
        out = io.TextIOWrapper(raw_out, encoding="utf-8", write_through=True)
        stdin_text = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
        err = io.StringIO()
        with redirect_stdout(out), redirect_stderr(err), mock.patch("sys.stdin", stdin_text):
            code = run(list(args))
            out.flush()
        data = raw_out.getvalue()
        result = Result(args, code, data.decode(errors="replace"), err.getvalue())
        assert "Traceback" not in result.stderr, str(result)
        return result, data

    def ok(self, *args: str, input: str | None = None) -> Result:
        """Run a command that must succeed."""
        result = self(*args, input=input)
        assert result.exit_code == 0, str(result)
        return result

    def json(self, *args: str, input: str | None = None) -> Any:
        """Run a command that must succeed, with `-o json`, and decode what it printed."""
        return self.ok(*args, "-o", "json", input=input).json()

    def live_instances(self, *args: str) -> list[dict[str, Any]]:
        """The instances not terminated or cancelled."""
        found = self.json("instance", "list", *args)
        return [i for i in found if i["status"] not in GONE]

    def add_profile(self, name: str, *, api_key: str | None = None) -> None:
        """Another profile on this test's backend, holding `api_key` or no credential yet."""
        if self.endpoint is None:
            where = ("--data-dir", str(self.data_dir / "profiles" / self.profile))
        else:
            where = ("--endpoint", self.endpoint)
        self.ok("profile", "create", name, *where, *(("--api-key", api_key) if api_key else ()))

    def add_user(self, prefix: str, role: str = "developer") -> tuple[str, str]:
        """Create a user (as admin) with a name unique to this test; its name and password."""
        username = f"{prefix}-{secrets.token_hex(3)}"
        password = secrets.token_urlsafe(12)
        created = self.json(
            "user", "create", username, "--role", role, "--password-stdin", input=password + "\n"
        )
        assert created["username"] == username
        return username, password

    def login(self, profile: str, username: str, password: str) -> None:
        self.ok(
            "--profile",
            profile,
            "login",
            "--username",
            username,
            "--password-stdin",
            input=password + "\n",
        )

    def secret(self, kind: str, profile: str | None = None) -> str | None:
        """What the keyring holds for a profile (`api_key` or `token`)."""
        return self.ring.get_password(SERVICE, f"{profile or self.profile}:{kind}")

    def config(self) -> Config:
        return Config.load(self.config_dir)


def expect_error(result: Result, exit_code: int, *fragments: str) -> str:
    """A refused command: its exit code, nothing on stdout, one `Error: ...` line on stderr."""
    assert result.exit_code == exit_code, str(result)
    assert result.stdout == "", str(result)
    line = result.error
    assert line.startswith("Error: "), str(result)
    for fragment in fragments:
        assert fragment in line, str(result)
    return line
