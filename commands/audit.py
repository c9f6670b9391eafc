"""`atonix audit`: the audit log."""

from __future__ import annotations

import typer

from atonix_cli.context import current
from atonix_cli.flags import flag
from atonix_cli.framework import ResourceApp

app = ResourceApp(help="The audit log of every change.")


@app.callback()
def audit() -> None:
    """The audit log of every change."""
    # A callback keeps `audit` a group: Typer would make a lone command the group itself,
    # and `atonix audit list` would then be refused.


COLUMNS = (
    ("created_at", "TIME"),
    ("user", "USER"),
    ("action", "ACTION"),
    ("resource_type", "TYPE"),
    ("resource_id", "RESOURCE"),
    ("status", "STATUS"),
    ("error_message", "ERROR"),
)


@app.command("list")
def list_records(
    action: str | None = typer.Option(None, "--action", help="create, update, delete, start, …"),
    resource_type: str | None = typer.Option(
        None, *flag("resource_type"), help="instance, image, api_key, …"
    ),
    resource_id: str | None = typer.Option(None, *flag("resource_id"), help="A resource id."),
    status: str | None = typer.Option(None, "--status", help="success or failure."),
    user: str | None = typer.Option(None, "--user", help="Whose records (admin sees everyone's)."),
    limit: int = typer.Option(50, "--limit", min=1, max=1000, help="Newest records to show."),
) -> None:
    """Show the newest audit records: yours, or everyone's for an admin.

    Example: atonix audit list --type instance --status failure
    """
    cli = current()
    page = cli.client.get(
        "audit-logs/",
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        status=status,
        user=user,
        page_size=limit,
    )
    cli.render(page["results"], columns=COLUMNS)
