"""`atonix subnet`: a VPC's address blocks, each in one availability zone."""

from __future__ import annotations

from typing import Any

import typer

from atonix_cli.context import current
from atonix_cli.flags import flag
from atonix_cli.framework import ResourceApp
from atonix_cli.options import Description, NewTags, Tags, Yes, Zone
from atonix_cli.resources import Resource, tags

app = ResourceApp(help="Subnets: a VPC's address blocks, handing out instance addresses.")

SUBNETS = Resource("subnets")
VPCS = Resource("vpcs")
COLUMNS = (
    ("subnet_id", "ID"),
    ("name", "NAME"),
    ("vpc_id", "VPC"),
    ("cidr_block", "CIDR"),
    ("availability_zone", "ZONE"),
    ("available_ip_count", "FREE IPS"),
    ("map_public_ip_on_launch", "PUBLIC IPS"),
)
Ref = SUBNETS.argument("SUBNET")


@app.command("list")
def list_subnets(
    vpc_id: str | None = typer.Option(None, *flag("vpc_id"), help="Only this VPC's (id or name)."),
    availability_zone: str | None = Zone,
    search: str | None = typer.Option(None, "--search", help="Text in the id, name or CIDR."),
) -> None:
    """List your subnets, newest first.

    Example: atonix subnet list --vpc prod
    """
    cli = current()
    vpc = VPCS.resolve(cli, vpc_id) if vpc_id else None
    items = SUBNETS.list(cli, vpc_id=vpc, availability_zone=availability_zone, search=search)
    cli.render(items, columns=COLUMNS)


@app.command("show")
def show(ref: str = Ref) -> None:
    """Show one subnet and how many addresses it has left.

    Example: atonix subnet show web-a
    """
    cli = current()
    cli.render(SUBNETS.show(cli, SUBNETS.resolve(cli, ref)))


@app.command("create")
def create(
    vpc_id: str = typer.Option(..., *flag("vpc_id"), help="The VPC, by id or name."),
    name: str = typer.Option(..., "--name", help="Subnet name."),
    cidr_block: str = typer.Option(..., *flag("cidr_block"), help="Inside the VPC's CIDR."),
    availability_zone: str | None = Zone,
    map_public_ip_on_launch: bool = typer.Option(
        False,
        *flag("map_public_ip_on_launch", negatable=True),
        help="Give instances launched here a public IP.",
    ),
    description: str | None = Description,
    tag: list[str] = Tags,
) -> None:
    """Create a subnet in a VPC (its 4 first addresses and its last are reserved).

    Example: atonix subnet create --vpc prod --name web-a --cidr 10.1.1.0/24 --public-ips
    """
    cli = current()
    body: dict[str, Any] = {
        "vpc_id": VPCS.resolve(cli, vpc_id),
        "name": name,
        "cidr_block": cidr_block,
        "availability_zone": availability_zone,
        "map_public_ip_on_launch": map_public_ip_on_launch,
        "description": description,
        "tags": tags(tag) or None,
    }
    created = SUBNETS.create(
        cli, body, detail=lambda s: f"{s['cidr_block']}, {s['available_ip_count']} addresses"
    )
    cli.render(created)


@app.command("update")
def update(
    ref: str = Ref,
    name: str | None = typer.Option(None, "--name", help="New name."),
    description: str | None = Description,
    map_public_ip_on_launch: bool | None = typer.Option(
        None, *flag("map_public_ip_on_launch", negatable=True)
    ),
    tag: list[str] = NewTags,
) -> None:
    """Change a subnet's name, description, public IP mapping or tags.

    Example: atonix subnet update web-a --no-public-ips
    """
    cli = current()
    body: dict[str, Any] = {
        "name": name,
        "description": description,
        "map_public_ip_on_launch": map_public_ip_on_launch,
        "tags": tags(tag) if tag else None,
    }
    cli.render(SUBNETS.update(cli, ref, body))


@app.command("enable-public-ips")
def enable_public_ips(ref: str = Ref) -> None:
    """Give instances launched into a subnet from now on a public IP.

    Example: atonix subnet enable-public-ips web-a
    """
    cli = current()
    cli.render(SUBNETS.act(cli, ref, "enable_public_ips", wait=False, timeout=0))


@app.command("delete")
def delete(ref: str = Ref, yes: bool = Yes) -> None:
    """Delete a subnet (refused while instances or NAT gateways live in it).

    Example: atonix subnet delete web-a --yes
    """
    SUBNETS.delete(current(), ref, yes=yes)
