"""`atonix route-table`: where a subnet's traffic goes, most specific route first."""

from __future__ import annotations

from typing import Any

import typer

from atonix_cli.context import current
from atonix_cli.errors import CliError, ExitCode
from atonix_cli.flags import flag
from atonix_cli.framework import ResourceApp
from atonix_cli.options import Description, NewTags, Tags, Yes
from atonix_cli.resources import Resource, given, tags

app = ResourceApp(help="Route tables: routes to gateways and instances, and their subnets.")

TABLES = Resource("route-tables")
VPCS = Resource("vpcs")
SUBNETS = Resource("subnets")
COLUMNS = (
    ("route_table_id", "ID"),
    ("name", "NAME"),
    ("vpc_id", "VPC"),
    ("is_main", "MAIN"),
)
ROUTE_COLUMNS = (
    ("route_id", "ID"),
    ("destination_cidr", "DESTINATION"),
    ("target_type", "TARGET TYPE"),
    ("target_id", "TARGET"),
    ("status", "STATUS"),
)
Ref = TABLES.argument("ROUTE_TABLE")
Subnet = typer.Option(..., *flag("subnet_id"), help="The subnet, by id or name.")
# The targets a route can name with a flag of their own, and the collection that resolves them.
TARGETS = {
    "internet_gateway": ("internet-gateway", "internet-gateways"),
    "nat_gateway": ("nat-gateway", "nat-gateways"),
    "instance": ("instance", "instances"),
}


@app.command("list")
def list_tables(
    vpc_id: str | None = typer.Option(None, *flag("vpc_id"), help="Only this VPC's (id or name)."),
) -> None:
    """List your route tables, newest first.

    Example: atonix route-table list --vpc prod
    """
    cli = current()
    vpc = VPCS.resolve(cli, vpc_id) if vpc_id else None
    cli.render(TABLES.list(cli, vpc_id=vpc), columns=COLUMNS)


@app.command("show")
def show(ref: str = Ref) -> None:
    """Show a route table with its routes and associated subnets.

    Example: atonix route-table show public -o yaml
    """
    cli = current()
    cli.render(TABLES.show(cli, TABLES.resolve(cli, ref)))


@app.command("create")
def create(
    vpc_id: str = typer.Option(..., *flag("vpc_id"), help="The VPC, by id or name."),
    name: str = typer.Option(..., "--name", help="Route table name."),
    description: str | None = Description,
    tag: list[str] = Tags,
) -> None:
    """Create a route table in a VPC (it starts with the local route only).

    Example: atonix route-table create --vpc prod --name public
    """
    cli = current()
    body: dict[str, Any] = {
        "vpc_id": VPCS.resolve(cli, vpc_id),
        "name": name,
        "description": description,
        "tags": tags(tag) or None,
    }
    cli.render(TABLES.create(cli, body))


@app.command("update")
def update(
    ref: str = Ref,
    name: str | None = typer.Option(None, "--name", help="New name."),
    description: str | None = Description,
    tag: list[str] = NewTags,
) -> None:
    """Change a route table's name, description or tags.

    Example: atonix route-table update public --name edge
    """
    cli = current()
    body = {"name": name, "description": description, "tags": tags(tag) if tag else None}
    cli.render(TABLES.update(cli, ref, body))


@app.command("delete")
def delete(ref: str = Ref, yes: bool = Yes) -> None:
    """Delete a route table (not the main one, nor one a subnet is associated with).

    Example: atonix route-table delete public --yes
    """
    TABLES.delete(current(), ref, yes=yes)


@app.command("routes")
def routes(ref: str = Ref) -> None:
    """List a table's routes, most specific first.

    Example: atonix route-table routes public
    """
    cli = current()
    found = cli.client.get(TABLES.item(TABLES.resolve(cli, ref), "routes"))["results"]
    cli.render(found, columns=ROUTE_COLUMNS)


@app.command("add-route")
def add_route(
    ref: str = Ref,
    destination_cidr: str | None = typer.Option(
        None, *flag("destination_cidr"), help="IPv4 CIDR the route covers, e.g. 0.0.0.0/0."
    ),
    destination_ipv6_cidr: str | None = typer.Option(None, "--destination-ipv6-cidr"),
    internet_gateway: str | None = typer.Option(
        None, "--internet-gateway", help="Target: an internet gateway (id or name)."
    ),
    nat_gateway: str | None = typer.Option(
        None, "--nat-gateway", help="Target: a NAT gateway (id or name)."
    ),
    instance: str | None = typer.Option(
        None, "--instance", help="Target: an instance (id or name)."
    ),
    target_type: str | None = typer.Option(
        None, "--target-type", help="Any other target type, with --target-id."
    ),
    target_id: str | None = typer.Option(None, "--target-id"),
) -> None:
    """Add a route to a target of the table's VPC.

    Example: atonix route-table add-route public --destination 0.0.0.0/0 --internet-gateway igw
    """
    cli = current()
    named = {
        key: value
        for key, value in (
            ("internet_gateway", internet_gateway),
            ("nat_gateway", nat_gateway),
            ("instance", instance),
        )
        if value
    }
    if len(named) + bool(target_type) != 1:
        raise CliError(
            "name one target: --internet-gateway, --nat-gateway, --instance or --target-type",
            ExitCode.USAGE,
        )
    if named:
        key, ref_ = next(iter(named.items()))
        target_type, collection = TARGETS[key]
        target_id = Resource(collection).resolve(cli, ref_)
    elif not target_id:
        raise CliError("--target-type needs --target-id", ExitCode.USAGE)
    body: dict[str, Any] = {
        "destination_cidr": destination_cidr,
        "destination_ipv6_cidr": destination_ipv6_cidr,
        "target_type": target_type,
        "target_id": target_id,
    }
    path = TABLES.item(TABLES.resolve(cli, ref), "add_route")
    route = cli.client.post(path, given(body))
    cli.info(f"Added route {route['route_id']} to {route['target_id']}")
    cli.render(route)


@app.command("remove-route")
def remove_route(
    ref: str = Ref,
    route_id: str | None = typer.Option(None, "--route-id", help="The route's id (route-…)."),
    destination_cidr: str | None = typer.Option(
        None, *flag("destination_cidr"), help="Or the destination it covers."
    ),
) -> None:
    """Remove a route (the local route stays).

    Example: atonix route-table remove-route public --destination 0.0.0.0/0
    """
    cli = current()
    if not (route_id or destination_cidr):
        raise CliError("name the route: --route-id or --destination", ExitCode.USAGE)
    body = {"route_id": route_id, "destination_cidr": destination_cidr}
    path = TABLES.item(TABLES.resolve(cli, ref), "remove_route")
    cli.render(cli.client.post(path, given(body)))


@app.command("associate")
def associate(ref: str = Ref, subnet_id: str = Subnet) -> None:
    """Associate a subnet with this table (instead of the one it had).

    Example: atonix route-table associate public --subnet web-a
    """
    cli = current()
    body = {"subnet_id": SUBNETS.resolve(cli, subnet_id)}
    table = cli.client.post(TABLES.item(TABLES.resolve(cli, ref), "associate"), body)
    cli.info(f"Associated subnet {subnet_id} with route table {ref}")
    cli.render(table)


@app.command("disassociate")
def disassociate(ref: str = Ref, subnet_id: str = Subnet) -> None:
    """Send a subnet back to its VPC's main route table.

    Example: atonix route-table disassociate public --subnet web-a
    """
    cli = current()
    body = {"subnet_id": SUBNETS.resolve(cli, subnet_id)}
    table = cli.client.post(TABLES.item(TABLES.resolve(cli, ref), "disassociate"), body)
    cli.info(f"Subnet {subnet_id} is back on its VPC's main route table")
    cli.render(table)
