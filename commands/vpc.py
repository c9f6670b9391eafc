"""`atonix vpc`: virtual private clouds, the networks everything else sits in."""

from __future__ import annotations

from typing import Any

import typer

from atonix_cli.context import current
from atonix_cli.flags import flag
from atonix_cli.framework import ResourceApp
from atonix_cli.options import Description, NewTags, Tags, Yes
from atonix_cli.resources import Resource, tags

app = ResourceApp(help="Virtual private clouds: CIDR blocks holding subnets, gateways, routes.")

VPCS = Resource("vpcs")
COLUMNS = (
    ("vpc_id", "ID"),
    ("name", "NAME"),
    ("cidr_block", "CIDR"),
    ("status", "STATUS"),
    ("region", "REGION"),
)
Ref = VPCS.argument("VPC", label="VPC")


@app.command("list")
def list_vpcs(
    cidr_block: str | None = typer.Option(None, *flag("cidr_block"), help="Only this CIDR."),
    search: str | None = typer.Option(None, "--search", help="Text in the id, name or CIDR."),
) -> None:
    """List your VPCs, newest first.

    Example: atonix vpc list -o json
    """
    cli = current()
    cli.render(VPCS.list(cli, cidr_block=cidr_block, search=search), columns=COLUMNS)


@app.command("show")
def show(ref: str = Ref) -> None:
    """Show one VPC with its subnet count.

    Example: atonix vpc show prod
    """
    cli = current()
    cli.render(VPCS.show(cli, VPCS.resolve(cli, ref)))


@app.command("create")
def create(
    name: str = typer.Option(..., "--name", help="VPC name."),
    cidr_block: str = typer.Option(
        "10.0.0.0/16", *flag("cidr_block"), help="IPv4 CIDR, a /16 to a /28."
    ),
    ipv6_cidr_block: str | None = typer.Option(None, "--ipv6-cidr-block", help="IPv6 CIDR."),
    description: str | None = Description,
    enable_dns_hostnames: bool = typer.Option(
        True, *flag("enable_dns_hostnames", negatable=True), help="DNS names for instances."
    ),
    tag: list[str] = Tags,
) -> None:
    """Create a VPC, with its main route table and default security group.

    Example: atonix vpc create --name prod --cidr 10.1.0.0/16
    """
    cli = current()
    body: dict[str, Any] = {
        "name": name,
        "cidr_block": cidr_block,
        "ipv6_cidr_block": ipv6_cidr_block,
        "description": description,
        "enable_dns_hostnames": enable_dns_hostnames,
        "tags": tags(tag) or None,
    }
    cli.render(VPCS.create(cli, body, detail=lambda vpc: vpc["cidr_block"]))


@app.command("update")
def update(
    ref: str = Ref,
    name: str | None = typer.Option(None, "--name", help="New name."),
    description: str | None = Description,
    enable_dns_hostnames: bool | None = typer.Option(
        None, *flag("enable_dns_hostnames", negatable=True)
    ),
    enable_dns_support: bool | None = typer.Option(
        None, *flag("enable_dns_support", negatable=True)
    ),
    tag: list[str] = NewTags,
) -> None:
    """Change a VPC's name, description, DNS settings or tags.

    Example: atonix vpc update prod --no-enable-dns-hostnames
    """
    cli = current()
    body: dict[str, Any] = {
        "name": name,
        "description": description,
        "enable_dns_hostnames": enable_dns_hostnames,
        "enable_dns_support": enable_dns_support,
        "tags": tags(tag) if tag else None,
    }
    cli.render(VPCS.update(cli, ref, body))


@app.command("delete")
def delete(
    ref: str = Ref,
    force: bool = typer.Option(
        False, "--force", help="Also delete its subnets, gateways, route tables and groups."
    ),
    yes: bool = Yes,
) -> None:
    """Delete a VPC (refused while it has subnets or gateways, unless --force; refused while
    instances run in it either way).

    Example: atonix vpc delete prod --force --yes
    """
    cli = current()
    vpc_id = VPCS.resolve(cli, ref)
    also = " and everything in it" if force else ""
    cli.confirm(f"Delete vpc {ref}{also}?", yes=yes)
    cli.client.call("DELETE", VPCS.item(vpc_id), params={"force": True} if force else None)
    cli.info(f"Deleted vpc {vpc_id}")


@app.command("subnets")
def subnets(ref: str = Ref) -> None:
    """List a VPC's subnets.

    Example: atonix vpc subnets prod
    """
    from commands.subnet import COLUMNS as SUBNET_COLUMNS

    cli = current()
    found = cli.client.get(VPCS.item(VPCS.resolve(cli, ref), "subnets"))["results"]
    cli.render(found, columns=SUBNET_COLUMNS)


@app.command("route-tables")
def route_tables(ref: str = Ref) -> None:
    """List a VPC's route tables (its main one first).

    Example: atonix vpc route-tables prod
    """
    from commands.route_table import COLUMNS as TABLE_COLUMNS

    cli = current()
    found = cli.client.get(VPCS.item(VPCS.resolve(cli, ref), "route_tables"))["results"]
    cli.render(found, columns=TABLE_COLUMNS)


@app.command("security-groups")
def security_groups(ref: str = Ref) -> None:
    """List a VPC's security groups.

    Example: atonix vpc security-groups prod
    """
    cli = current()
    found = cli.client.get(VPCS.item(VPCS.resolve(cli, ref), "security_groups"))["results"]
    cli.render(found, columns=(("sg_id", "ID"), ("name", "NAME"), ("is_default", "DEFAULT")))
