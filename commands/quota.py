"""`atonix quota`: usage and limits per resource type."""

from __future__ import annotations

import typer

from atonix_cli.context import current
from atonix_cli.framework import ResourceApp

app = ResourceApp(help="Quotas: what you use and your limits.")

COLUMNS = (
    ("resource_type", "RESOURCE"),
    ("used", "USED"),
    ("limit", "LIMIT"),
    ("available", "AVAILABLE"),
    ("usage_percentage", "USED %"),
)


@app.command("list")
def list_quotas(
    owner: str | None = typer.Option(None, "--user", help="Another user's quotas (admin)."),
) -> None:
    """List quotas with what is used and what is left.

    Example: atonix quota list
    """
    cli = current()
    cli.render(cli.client.list_all("quotas/", owner=owner), columns=COLUMNS)


@app.command("set")
def set_quota(
    resource_type: str = typer.Argument(..., help="instances, vcpus, memory_gb, buckets, …"),
    limit: int = typer.Argument(..., min=0),
    owner: str = typer.Option(..., "--user", help="Whose limit to set."),
) -> None:
    """Set a user's limit for one resource type (admin).

    Example: atonix quota set instances 200 --user alice
    """
    cli = current()
    cli.render(
        cli.client.call(
            "PUT", f"quotas/{resource_type}/", json_body={"owner": owner, "limit": limit}
        )
    )
