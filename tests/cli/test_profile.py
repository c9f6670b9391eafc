"""`atonix profile`: profiles, where secrets live, and which profile and key a command uses."""

from __future__ import annotations

import json
import stat
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from atonix_cli.errors import ExitCode
from tests.cli.runner import Cli, expect_error

KEYRING = "OS keyring (service 'atonix')"


class Recorder(BaseHTTPRequestHandler):
    """An endpoint that refuses every request and remembers its Authorization header."""

    seen: list[str | None] = []

    def do_GET(self) -> None:
        self.seen.append(self.headers.get("Authorization"))
        body = json.dumps({"error": "who are you", "code": "UNAUTHENTICATED", "details": {},
                           "request_id": "req-0"}).encode()  # fmt: skip
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[str | None]]]:
    """The URL of a `Recorder` endpoint, and the Authorization headers it received."""
    seen: list[str | None] = []
    handler = type("Handler", (Recorder,), {"seen": seen})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    httpd.shutdown()
    httpd.server_close()


def profiles(cli: Cli) -> dict[str, dict]:
    return {p["name"]: p for p in cli.json("profile", "list")}


def test_first_use_creates_the_default_profile_and_admin(embedded: Cli) -> None:
    first = embedded.ok("instance", "list")
    assert first.stdout == ""
    assert first.stderr == "Created the embedded engine's admin user for profile 'default'\n"
    config = embedded.config()
    assert config.default_profile == "default"
    assert config.profiles["default"].credential == "api_key"
    key = embedded.secret("api_key")
    assert key is not None and key.startswith("atonix_")
    assert key not in config.path.read_text()
    assert not (embedded.config_dir / "credentials.json").exists()

    again = embedded.ok("whoami", "-o", "json")
    assert again.stderr == ""
    assert again.json()["username"] == "admin"


def test_create_list_show_use_delete(cli: Cli) -> None:
    cli.add_profile("spare")
    listed = profiles(cli)
    assert set(listed) == {cli.profile, "spare"}
    assert listed[cli.profile]["default"] is True
    assert listed["spare"]["default"] is False
    assert listed["spare"]["backend"] == cli.backend
    assert listed["spare"]["credential"] is None

    shown = cli.json("profile", "show", "spare")
    assert shown["name"] == "spare"
    assert shown["location"] == (cli.endpoint or str(cli.data_dir / "profiles" / cli.profile))

    used = cli.ok("profile", "use", "spare")
    assert used.stderr == "Default profile is now 'spare'\n"
    assert profiles(cli)["spare"]["default"] is True
    assert cli.json("profile", "show")["name"] == "spare"

    refused = cli("profile", "delete", "spare")
    expect_error(refused, ExitCode.USAGE, "pass --yes")
    assert "spare" in profiles(cli)

    cli.ok("profile", "delete", "spare", "--yes")
    assert set(profiles(cli)) == {cli.profile}
    expect_error(cli("profile", "show", "spare"), ExitCode.NOT_FOUND, "no profile named 'spare'")


def test_create_refuses_duplicates_and_bad_input(cli: Cli) -> None:
    before = cli.config().path.read_text()
    expect_error(cli("profile", "create", cli.profile), ExitCode.CONFLICT, "already exists")
    expect_error(cli("profile", "create", "-bad"), ExitCode.USAGE)
    expect_error(cli("profile", "create", "x", "--endpoint", "ftp://h"), ExitCode.USAGE, "http")
    expect_error(cli("profile", "use", "nope"), ExitCode.NOT_FOUND, "no profile named 'nope'")
    assert cli.config().path.read_text() == before


def test_show_says_where_the_secret_lives_and_the_config_never_holds_it(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = cli.json("profile", "show")
    assert shown["credential"] == "api_key"
    assert shown["secret_location"] == KEYRING
    key = cli.secret("api_key")
    assert key is not None and key.startswith("atonix_")
    assert key not in cli.config().path.read_text()

    monkeypatch.setenv("ATONIX_API_KEY", key)
    assert "ATONIX_API_KEY" in cli.json("profile", "show")["secret_location"]


def test_the_file_secret_store_is_private(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    key = cli.json("apikey", "create", "--name", "filed", "--query", "key")
    monkeypatch.setenv("ATONIX_SECRET_STORE", "file")
    cli.add_profile("filed", api_key=key)
    secrets_file = cli.config_dir / "credentials.json"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    assert key in secrets_file.read_text()
    assert key not in cli.config().path.read_text()
    shown = cli.json("profile", "show", "filed")
    assert shown["secret_location"] == f"file {secrets_file} (mode 0600)"
    assert cli.json("--profile", "filed", "whoami")["username"] == cli.username

    # The warning about a plain file comes once per config dir, not on every write.
    again = cli.ok(
        "profile", "create", "filed2", "--endpoint", "http://127.0.0.1:9", "--api-key", key
    )
    assert "warning" not in again.stderr


def test_which_profile_a_command_uses(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    bob, password = cli.add_user("bob")
    cli.add_profile("bob")
    cli.login("bob", bob, password)

    assert cli.json("whoami")["username"] == cli.username  # the default profile
    monkeypatch.setenv("ATONIX_PROFILE", "bob")
    assert cli.json("whoami")["username"] == bob  # environment over the default
    assert cli.json("--profile", cli.profile, "whoami")["username"] == cli.username  # flag wins
    monkeypatch.delenv("ATONIX_PROFILE")
    cli.ok("profile", "use", "bob")
    assert cli.json("whoami")["username"] == bob


def test_atonix_api_key_overrides_the_profile_key(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    bob, password = cli.add_user("bob")
    cli.add_profile("bob")
    cli.login("bob", bob, password)
    key = cli.json("apikey", "create", "--name", "ro", "--scope", "compute:read", "--query", "key")

    monkeypatch.setenv("ATONIX_API_KEY", key)
    me = cli.json("--profile", "bob", "whoami")
    assert me["username"] == cli.username
    assert me["credential"]["type"] == "api_key"
    assert me["credential"]["scopes"] == ["compute:read"]


def test_atonix_endpoint_never_receives_the_profile_key(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, recorder: tuple[str, list[str | None]]
) -> None:
    url, seen = recorder
    monkeypatch.setenv("ATONIX_ENDPOINT", url)
    expect_error(cli("whoami"), ExitCode.AUTH, "UNAUTHENTICATED")
    assert seen == [None]  # the profile's key belongs to the profile's own backend

    monkeypatch.setenv("ATONIX_API_KEY", "atonix_" + "k" * 43)
    expect_error(cli("whoami"), ExitCode.AUTH, "UNAUTHENTICATED")
    assert seen == [None, "ApiKey atonix_" + "k" * 43]
