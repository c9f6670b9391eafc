"""`atonix user`: users and roles (admin only)."""

from __future__ import annotations

import sys
from typing import Any

import typer

from atonix_cli.context import current
from atonix_cli.errors import CliError, ExitCode
from atonix_cli.framework import ResourceApp

app = ResourceApp(help="Users and their roles (admin).")

PATH = "users/"
COLUMNS = (
    ("username", "USERNAME"),
    ("role", "ROLE"),
    ("email", "EMAIL"),
    ("is_active", "ACTIVE"),
    ("created_at", "CREATED"),
)
ROLES = "viewer, developer or admin"


def _password(password_stdin: bool) -> str:
    cli = current()
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if cli.interactive:
        return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True, err=True))
    raise CliError("not on a terminal: pass --password-stdin", ExitCode.USAGE)


@app.command("create")
def create(
    username: str = typer.Argument(...),
    role: str = typer.Option("developer", "--role", help=ROLES),
    email: str = typer.Option("", "--email"),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from stdin."
    ),
) -> None:
    """Create a user.

    Example: echo "$PW" | atonix user create alice --role developer --password-stdin
    """
    cli = current()
    body = {
        "username": username,
        "password": _password(password_stdin),
        "role": role,
        "email": email,
    }
    cli.render(cli.client.post(PATH, body))


@app.command("list")
def list_users() -> None:
    """List users.

    Example: atonix user list
    """
    cli = current()
    cli.render(cli.client.list_all(PATH), columns=COLUMNS)


@app.command("show")
def show(username: str = typer.Argument(...)) -> None:
    """Show a user.

    Example: atonix user show alice
    """
    cli = current()
    cli.render(cli.client.get(f"{PATH}{username}/"))


@app.command("update")
def update(
    username: str = typer.Argument(...),
    role: str | None = typer.Option(None, "--role", help=ROLES),
    email: str | None = typer.Option(None, "--email"),
    active: bool | None = typer.Option(None, "--active/--inactive"),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Set a new password from stdin."
    ),
) -> None:
    """Change a user's role, email, password or whether they may sign in.

    Example: atonix user update alice --role viewer
    """
    cli = current()
    body: dict[str, Any] = {"role": role, "email": email, "is_active": active}
    if password_stdin:
        body["password"] = _password(True)
    cli.render(
        cli.client.call(
            "PATCH",
            f"{PATH}{username}/",
            json_body={k: v for k, v in body.items() if v is not None},
        )
    )
