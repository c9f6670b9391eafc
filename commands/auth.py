"""`atonix login`, `logout` and `whoami`: the credential of the current profile."""

from __future__ import annotations

import sys

import typer

from atonix_cli.context import current
from atonix_cli.errors import CliError, ExitCode
from atonix_cli.framework import ResourceApp

login_app = ResourceApp()
logout_app = ResourceApp()
whoami_app = ResourceApp()


@login_app.command("login")
def login(
    username: str | None = typer.Option(None, "--username", "-u", help="Your username."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from stdin (for scripts)."
    ),
    api_key: str | None = typer.Option(None, "--api-key", help="Use this API key instead."),
) -> None:
    """Log in: exchange a username and password for a bearer token, or store an API key.

    The secret goes to the OS keyring (or a 0600 file where there is none), never the config.

    Example: atonix login --username alice
    Example: echo "$PASSWORD" | atonix login --username alice --password-stdin
    """
    cli = current()
    if api_key:
        cli.client.authorization = f"ApiKey {api_key}"
        me = cli.client.get("auth/whoami/")
        where = cli.save_secret("api_key", api_key)
        cli.info(f"Logged in as {me['username']} with an API key (stored in the {where})")
        return
    if password_stdin:
        if username is None:
            raise CliError("--password-stdin needs --username", ExitCode.USAGE)
        password = sys.stdin.readline().rstrip("\n")
    elif cli.interactive:
        username = username or typer.prompt("Username", err=True)
        password = typer.prompt("Password", hide_input=True, err=True)
    else:
        raise CliError(
            "not on a terminal: pass --username with --password-stdin, or --api-key",
            ExitCode.USAGE,
        )
    answer = cli.client.post("auth/login/", {"username": username, "password": password})
    where = cli.save_secret("token", answer["token"])
    cli.info(
        f"Logged in as {answer['username']} until {answer['expires_at']} "
        f"(token stored in the {where})"
    )


@logout_app.command("logout")
def logout(
    force: bool = typer.Option(
        False, "--force", help="Forget an embedded engine's API key even if it is the only way in."
    ),
) -> None:
    """Revoke this profile's bearer token and forget it (an API key is only forgotten).

    Example: atonix logout
    """
    cli = current()
    settings = cli.settings
    profile = settings.profile
    if profile.credential is None:
        raise CliError(f"profile {profile.name!r} holds no credential", ExitCode.AUTH)
    if profile.credential == "api_key" and not profile.is_remote and not force:
        # The embedded admin's key is the way into a local engine; forgetting it locks you out.
        raise CliError(
            f"profile {profile.name!r} is embedded and its API key may be the only way in; "
            "pass --force to forget it anyway",
            ExitCode.USAGE,
        )
    if profile.credential == "token":
        cli.client.post("auth/logout/")
    settings.secrets.delete(profile.secret_store, profile.name, profile.credential)
    profile.credential = None
    profile.secret_store = None
    settings.config.save()
    cli.info(f"Logged out of profile {profile.name!r}")


@whoami_app.command("whoami")
def whoami() -> None:
    """Show who you are: user, role, and the scopes of the credential in use.

    Example: atonix whoami -o json
    """
    cli = current()
    cli.render(cli.client.get("auth/whoami/"))
