"""`atonix apikey`: create, list and revoke your API keys."""

from __future__ import annotations

import typer

from atonix_cli.context import current
from atonix_cli.framework import ResourceApp
from atonix_cli.options import Yes

app = ResourceApp(help="Your API keys: create, list, revoke.")

PATH = "auth/keys/"
COLUMNS = (
    ("key_id", "ID"),
    ("name", "NAME"),
    ("prefix", "PREFIX"),
    ("scopes", "SCOPES"),
    ("status", "STATUS"),
    ("expires_at", "EXPIRES"),
)


@app.command("create")
def create(
    name: str = typer.Option(..., "--name", help="What the key is for."),
    scope: list[str] = typer.Option(
        [],
        "--scope",
        help="Repeatable: compute:read, compute:write, storage:…, networking:…, admin, "
        "compute:* or *. Default: all of yours.",
    ),
    expires_in_days: int = typer.Option(90, "--expires-in-days", min=1, max=3650),
) -> None:
    """Create an API key. Its secret is printed once, on stdout: store it now.

    Example: atonix apikey create --name ci --scope compute:read -o json --query key
    """
    cli = current()
    body = {"name": name, "scopes": scope or None, "expires_in_days": expires_in_days}
    created = cli.client.post(PATH, body)
    cli.info("This is the only time the key is shown.")
    cli.render(created)


@app.command("list")
def list_keys() -> None:
    """List your API keys (secrets are never shown again).

    Example: atonix apikey list
    """
    cli = current()
    cli.render(cli.client.list_all(PATH), columns=COLUMNS)


@app.command("revoke")
def revoke(
    key_id: str = typer.Argument(..., help="Key id (key-…)."),
    yes: bool = Yes,
) -> None:
    """Revoke an API key at once.

    Example: atonix apikey revoke key-0123456789ab --yes
    """
    cli = current()
    cli.confirm(f"Revoke API key {key_id}?", yes=yes)
    cli.client.call("DELETE", f"{PATH}{key_id}/")
    cli.info(f"Revoked {key_id}")
