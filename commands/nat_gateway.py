"""`atonix nat-gateway`: a private subnet's way out to the internet."""

from __future__ import annotations

from typing import Any

import typer

from atonix_cli.context import current
from atonix_cli.flags import flag
from atonix_cli.framework import ResourceApp
from atonix_cli.options import Description, NewTags, Tags, Timeout, Wait, Yes
from atonix_cli.resources import Resource, tags

app = ResourceApp(help="NAT gateways: private subnets' way out, from a public subnet.")

GATEWAYS = Resource("nat-gateways")
SUBNETS = Resource("subnets")
VPCS = Resource("vpcs")
COLUMNS = (
    ("nat_gw_id", "ID"),
    ("name", "NAME"),
    ("status", "STATUS"),
    ("subnet_id", "SUBNET"),
    ("public_ip", "PUBLIC IP"),
    ("network_interface_ip", "PRIVATE IP"),
)
Ref = GATEWAYS.argument("GATEWAY", label="NAT gateway")


@app.command("list")
def list_gateways(
    vpc_id: str | None = typer.Option(None, *flag("vpc_id"), help="Only this VPC's (id or name)."),
    subnet_id: str | None = typer.Option(None, *flag("subnet_id"), help="Only this subnet's."),
) -> None:
    """List your NAT gateways (deleted ones stay listed for an hour).

    Example: atonix nat-gateway list --vpc prod
    """
    cli = current()
    vpc = VPCS.resolve(cli, vpc_id) if vpc_id else None
    subnet = SUBNETS.resolve(cli, subnet_id) if subnet_id else None
    cli.render(GATEWAYS.list(cli, vpc_id=vpc, subnet_id=subnet), columns=COLUMNS)


@app.command("show")
def show(ref: str = Ref) -> None:
    """Show one NAT gateway.

    Example: atonix nat-gateway show nat
    """
    cli = current()
    cli.render(GATEWAYS.show(cli, GATEWAYS.resolve(cli, ref)))


@app.command("create")
def create(
    subnet_id: str = typer.Option(
        ..., *flag("subnet_id"), help="A subnet whose route table reaches an internet gateway."
    ),
    name: str = typer.Option(..., "--name", help="Gateway name."),
    public_ip: str | None = typer.Option(
        None, "--public-ip", help="Its public IP (default: one from the public pool)."
    ),
    eip_allocation_id: str | None = typer.Option(None, "--eip-allocation-id"),
    description: str | None = Description,
    tag: list[str] = Tags,
    wait: bool = Wait,
    timeout: float = Timeout,
) -> None:
    """Create a NAT gateway in a public subnet; it is creating, then available.

    Example: atonix nat-gateway create --subnet web-a --name nat --wait
    """
    cli = current()
    body: dict[str, Any] = {
        "subnet_id": SUBNETS.resolve(cli, subnet_id),
        "name": name,
        "public_ip": public_ip,
        "eip_allocation_id": eip_allocation_id,
        "description": description,
        "tags": tags(tag) or None,
    }
    created = GATEWAYS.create(cli, body, verb="Creating", detail=lambda g: g["public_ip"])
    cli.render(GATEWAYS.settle(cli, created, timeout) if wait else created)


@app.command("update")
def update(
    ref: str = Ref,
    name: str | None = typer.Option(None, "--name", help="New name."),
    description: str | None = Description,
    tag: list[str] = NewTags,
) -> None:
    """Change a NAT gateway's name, description or tags.

    Example: atonix nat-gateway update nat --name egress
    """
    cli = current()
    body = {"name": name, "description": description, "tags": tags(tag) if tag else None}
    cli.render(GATEWAYS.update(cli, ref, body))


@app.command("delete")
def delete(
    ref: str = Ref,
    yes: bool = Yes,
    wait: bool = Wait,
    timeout: float = Timeout,
) -> None:
    """Delete a NAT gateway: its addresses go back, routes to it turn blackhole.

    Example: atonix nat-gateway delete nat --yes --wait
    """
    cli = current()
    gateway_id = GATEWAYS.delete(cli, ref, yes=yes)
    if wait:
        GATEWAYS.wait(cli, gateway_id, ("deleted",), timeout)
