"""`atonix login`, `logout`, `whoami`, `user`: who is calling, and what each user can see."""

from __future__ import annotations

from atonix_cli.errors import ExitCode
from tests.cli.runner import Cli, expect_error


def test_whoami(cli: Cli) -> None:
    me = cli.json("whoami")
    assert (me["username"], me["role"]) == (cli.username, "admin")
    assert me["credential"]["type"] == "api_key"
    assert me["credential"]["scopes"] == ["*"]
    assert "username\tadmin\n" in cli.ok("whoami").stdout


def test_login_whoami_and_logout_revokes_the_token(cli: Cli) -> None:
    bob, password = cli.add_user("bob")
    logged_in = cli.ok("login", "--username", bob, "--password-stdin", input=password + "\n")
    assert logged_in.stdout == ""
    assert logged_in.stderr.startswith(f"Logged in as {bob} until ")
    assert "OS keyring" in logged_in.stderr
    token = cli.secret("token")
    assert token is not None
    assert cli.secret("api_key") is None  # the admin key this profile held is forgotten
    assert token not in cli.config().path.read_text()

    me = cli.json("whoami")
    assert (me["username"], me["role"], me["credential"]["type"]) == (bob, "developer", "token")

    logged_out = cli.ok("logout")
    assert logged_out.stderr == f"Logged out of profile '{cli.profile}'\n"
    assert cli.secret("token") is None
    assert cli.config().profiles[cli.profile].credential is None
    expect_error(cli("whoami"), ExitCode.AUTH, "UNAUTHENTICATED")

    # Someone who kept a copy of the token cannot use it any more.
    config = cli.config()
    config.profiles[cli.profile].credential = "token"
    config.profiles[cli.profile].secret_store = "keyring"
    config.save()
    cli.ring.set_password("atonix", f"{cli.profile}:token", token)
    expect_error(cli("whoami"), ExitCode.AUTH, "UNAUTHENTICATED")


def test_login_with_a_wrong_password_keeps_the_credential(cli: Cli) -> None:
    bob, _ = cli.add_user("bob")
    result = cli("login", "--username", bob, "--password-stdin", input="wrong\n")
    expect_error(result, ExitCode.AUTH)
    assert cli.json("whoami")["username"] == cli.username


def test_login_off_a_terminal_needs_password_stdin(cli: Cli) -> None:
    expect_error(cli("login", "--username", "bob"), ExitCode.USAGE, "--password-stdin")
    assert cli.json("whoami")["username"] == cli.username


def test_users_are_managed_by_admins_only(cli: Cli) -> None:
    bob, password = cli.add_user("bob")
    assert cli.json("user", "show", bob)["role"] == "developer"
    assert bob in [u["username"] for u in cli.json("user", "list")]
    assert cli.json("user", "update", bob, "--role", "viewer")["role"] == "viewer"
    dup = cli("user", "create", bob, "--password-stdin", input="another-password\n")
    expect_error(dup, ExitCode.CONFLICT, "CONFLICT")

    cli.add_profile("bob")
    cli.login("bob", bob, password)
    expect_error(cli("--profile", "bob", "user", "list"), ExitCode.AUTH, "FORBIDDEN")
    quota = cli("--profile", "bob", "quota", "set", "instances", "500", "--user", bob)
    expect_error(quota, ExitCode.AUTH, "FORBIDDEN")


def test_one_users_instances_are_invisible_to_another(cli: Cli) -> None:
    alice, alice_password = cli.add_user("alice")
    bob, bob_password = cli.add_user("bob")
    cli.add_profile("alice")
    cli.login("alice", alice, alice_password)
    cli.add_profile("bob")
    cli.login("bob", bob, bob_password)

    created = cli.json(
        "--profile", "bob", "instance", "create", "--name", "private-1", "--flavor", "t3.micro",
        "--image", "ubuntu-22.04", "--wait",
    )  # fmt: skip
    instance_id = created["instance_id"]
    assert created["owner"] == bob

    as_alice = ("--profile", "alice", "instance")
    expect_error(cli(*as_alice, "show", instance_id), ExitCode.NOT_FOUND, instance_id)
    expect_error(cli(*as_alice, "show", "private-1"), ExitCode.NOT_FOUND, "private-1")
    expect_error(cli(*as_alice, "stop", instance_id), ExitCode.NOT_FOUND, instance_id)
    assert cli.json(*as_alice, "list") == []

    assert cli.json("--profile", "bob", "instance", "show", "private-1")["status"] == "running"
    assert cli.json("instance", "show", instance_id)["owner"] == bob  # an admin sees everyone's


def test_logout_keeps_the_embedded_admin_key_unless_forced(embedded: Cli) -> None:
    embedded.ok("whoami")
    key = embedded.secret("api_key")
    assert key is not None
    expect_error(embedded("logout"), ExitCode.USAGE, "--force")
    assert embedded.secret("api_key") == key
    embedded.ok("logout", "--force")
    assert embedded.secret("api_key") is None
