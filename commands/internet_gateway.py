"""`atonix internet-gateway`: a VPC's way to and from the internet (one per VPC)."""

from __future__ import annotations

from typing import Any

import typer

from atonix_cli.context import current
from atonix_cli.flags import flag
from atonix_cli.framework import ResourceApp
from atonix_cli.options import Description, NewTags, Tags, Yes
from atonix_cli.resources import Resource, tags

app = ResourceApp(help="Internet gateways: a VPC's way to the internet, one per VPC.")

GATEWAYS = Resource("internet-gateways")
VPCS = Resource("vpcs")
COLUMNS = (("ig_id", "ID"), ("name", "NAME"), ("vpc_id", "VPC"), ("status", "STATUS"))
Ref = GATEWAYS.argument("GATEWAY")


@app.command("list")
def list_gateways(
    vpc_id: str | None = typer.Option(None, *flag("vpc_id"), help="Only this VPC's (id or name)."),
) -> None:
    """List your internet gateways.

    Example: atonix internet-gateway list
    """
    cli = current()
    vpc = VPCS.resolve(cli, vpc_id) if vpc_id else None
    cli.render(GATEWAYS.list(cli, vpc_id=vpc), columns=COLUMNS)


@app.command("show")
def show(ref: str = Ref) -> None:
    """Show one internet gateway.

    Example: atonix internet-gateway show igw
    """
    cli = current()
    cli.render(GATEWAYS.show(cli, GATEWAYS.resolve(cli, ref)))


@app.command("create")
def create(
    vpc_id: str = typer.Option(..., *flag("vpc_id"), help="The VPC it attaches to (id or name)."),
    name: str = typer.Option(..., "--name", help="Gateway name."),
    description: str | None = Description,
    tag: list[str] = Tags,
) -> None:
    """Create an internet gateway attached to a VPC (a VPC has at most one).

    Example: atonix internet-gateway create --vpc prod --name igw
    """
    cli = current()
    body: dict[str, Any] = {
        "vpc_id": VPCS.resolve(cli, vpc_id),
        "name": name,
        "description": description,
        "tags": tags(tag) or None,
    }
    cli.render(GATEWAYS.create(cli, body))


@app.command("update")
def update(
    ref: str = Ref,
    name: str | None = typer.Option(None, "--name", help="New name."),
    description: str | None = Description,
    tag: list[str] = NewTags,
) -> None:
    """Change an internet gateway's name, description or tags.

    Example: atonix internet-gateway update igw --name edge
    """
    cli = current()
    body = {"name": name, "description": description, "tags": tags(tag) if tag else None}
    cli.render(GATEWAYS.update(cli, ref, body))


@app.command("delete")
def delete(ref: str = Ref, yes: bool = Yes) -> None:
    """Delete an internet gateway; routes to it turn blackhole.

    Example: atonix internet-gateway delete igw --yes
    """
    GATEWAYS.delete(current(), ref, yes=yes)
