"""Route tables: a VPC's main one and others, their routes, and the subnets associated with them.

Every table holds the implicit `local` route (the VPC's CIDR, within the VPC). A route's target
is an internet gateway, NAT gateway or instance of the same VPC; when the target goes, the route
stays and turns `blackhole`. A lookup takes the most specific route holding an address, in SQL:
each route keeps its destination as the range of numbers it covers and its prefix length.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, UniqueConstraint, bindparam, delete, func, update
from sqlalchemy import select as sa_select
from sqlmodel import Field, SQLModel, col, select

from engine.clock import utcnow
from engine.collection import Action, Collection, table_exists
from engine.context import Ctx
from engine.errors import Conflict, DependencyViolation, ValidationFailed, field_error
from engine.ids import new_id
from engine.networking import refs, vpcs
from engine.resources import (
    Body,
    CommonInput,
    Name,
    ResourceBase,
    apply_common,
    common_public,
    parse_bool,
)
from engine.sqltypes import UTCDateTime

TARGET_TYPES = (
    "instance",
    "nat-gateway",
    "internet-gateway",
    "vpn-gateway",
    "vpc-peering",
    "network-interface",
    "local",
)


class RouteTable(ResourceBase, table=True):
    __tablename__ = "route_tables"
    route_table_id: str = Field(unique=True, max_length=32)
    vpc_id: str = Field(index=True, max_length=32)
    is_main: bool = False


class Route(SQLModel, table=True):
    __tablename__ = "routes"
    __table_args__ = (UniqueConstraint("route_table_id", "destination_cidr"),)
    id: int | None = Field(default=None, primary_key=True)
    route_id: str = Field(unique=True, max_length=32)
    route_table_id: str = Field(index=True, max_length=32)
    destination_cidr: str | None = Field(default=None, max_length=18)
    destination_ipv6_cidr: str | None = Field(default=None, max_length=43)
    destination_prefix_list_id: str | None = Field(default=None, max_length=64)
    target_type: str = Field(max_length=32)
    target_id: str = Field(index=True, max_length=64)
    status: str = Field(default="active", max_length=16)
    # The IPv4 destination as numbers (first and last address) and its prefix length: a lookup
    # is a range condition ordered by specificity.
    destination_first: int | None = Field(default=None, sa_type=BigInteger)
    destination_last: int | None = Field(default=None, sa_type=BigInteger)
    prefix_length: int | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RouteTableCreate(CommonInput):
    name: Name
    vpc_id: str


class RouteTableUpdate(CommonInput):
    pass


class RouteCreate(Body):
    destination_cidr: str | None = None
    destination_ipv6_cidr: str | None = None
    destination_prefix_list_id: str | None = None
    target_type: str
    target_id: str


class RouteRemove(Body):
    route_id: str | None = None
    destination_cidr: str | None = None


class Association(Body):
    subnet_id: str


def public(table: RouteTable) -> dict[str, Any]:
    return {
        **common_public(table, "route_table_id"),
        "vpc_id": table.vpc_id,
        "is_main": table.is_main,
    }


def detail(ctx: Ctx, table: RouteTable) -> dict[str, Any]:
    from engine.networking.subnets import Subnet

    associated = ctx.session.exec(
        select(Subnet.subnet_id)
        .where(col(Subnet.route_table_id) == table.route_table_id)
        .order_by(col(Subnet.id))
    ).all()
    return {
        **public(table),
        "associated_subnets": list(associated),
        "routes": [route_public(r) for r in _routes(ctx, table.route_table_id)],
    }


def route_public(route: Route) -> dict[str, Any]:
    return {
        "route_id": route.route_id,
        "route_table_id": route.route_table_id,
        "destination_cidr": route.destination_cidr,
        "destination_ipv6_cidr": route.destination_ipv6_cidr,
        "destination_prefix_list_id": route.destination_prefix_list_id,
        "target_type": route.target_type,
        "target_id": route.target_id,
        "status": route.status,
        "created_at": route.created_at,
        "updated_at": route.updated_at,
    }


def _routes(ctx: Ctx, route_table_id: str) -> list[Route]:
    return list(
        ctx.session.exec(
            select(Route)
            .where(col(Route.route_table_id) == route_table_id)
            .order_by(col(Route.prefix_length).desc(), col(Route.id))
        )
    )


# --- tables ---------------------------------------------------------------------------------


def _new_table(ctx: Ctx, vpc: vpcs.Vpc, *, name: str, is_main: bool) -> RouteTable:
    table = RouteTable(
        route_table_id=ROUTE_TABLES.new_id(),
        vpc_id=vpc.vpc_id,
        owner=vpc.owner,
        region=vpc.region,
        name=name,
        is_main=is_main,
        created_at=ctx.now,
        updated_at=ctx.now,
    )
    ROUTE_TABLES.added(ctx, table)
    _add(ctx, table, ipaddress.IPv4Network(vpc.cidr_block), None, None, "local", "local")
    return table


def create_main(ctx: Ctx, vpc: vpcs.Vpc) -> RouteTable:
    """The VPC's main route table, with its `local` route; made with the VPC."""
    return _new_table(ctx, vpc, name=f"{vpc.name}-main", is_main=True)


def main_of(ctx: Ctx, vpc_id: str) -> str:
    found = ctx.session.exec(
        select(RouteTable.route_table_id).where(
            col(RouteTable.vpc_id) == vpc_id, col(RouteTable.is_main).is_(True)
        )
    ).one()
    return found


def find(ctx: Ctx, ref: str, *, field: str = "route_table_id") -> RouteTable:
    found: RouteTable = refs.find(ctx, ROUTE_TABLES, ref, field=field)
    return found


def create_route_table(ctx: Ctx, spec: RouteTableCreate) -> RouteTable:
    vpc = vpcs.find(ctx, spec.vpc_id)
    assert spec.name is not None
    table = _new_table(ctx, vpc, name=spec.name, is_main=False)
    apply_common(table, spec, now=ctx.now)
    ctx.audit_details.update(vpc_id=vpc.vpc_id)
    return table


def update_route_table(ctx: Ctx, table: RouteTable, spec: RouteTableUpdate) -> RouteTable:
    apply_common(table, spec, now=ctx.now)
    ctx.session.add(table)
    return table


def delete_route_table(ctx: Ctx, table: RouteTable, *, force: bool = False) -> int:
    from engine.networking.subnets import Subnet

    if table.is_main:
        raise DependencyViolation(
            f"route table {table.route_table_id} is the main table of VPC {table.vpc_id}; "
            "it is deleted with the VPC",
            details={"is_main": True},
        )
    associated = ctx.session.exec(
        select(func.count())
        .select_from(Subnet)
        .where(col(Subnet.route_table_id) == table.route_table_id)
    ).one()
    if associated:
        raise DependencyViolation(
            f"route table {table.route_table_id} has {associated} subnet(s) associated; "
            "associate them with another table (or disassociate them) first",
            details={"subnets": associated},
        )
    ctx.session.execute(delete(Route).where(col(Route.route_table_id) == table.route_table_id))
    ctx.session.delete(table)
    return 204


def remove_in_vpc(ctx: Ctx, vpc_id: str) -> None:
    ids = list(
        ctx.session.exec(select(RouteTable.route_table_id).where(col(RouteTable.vpc_id) == vpc_id))
    )
    if ids:
        ctx.session.execute(delete(Route).where(col(Route.route_table_id).in_(ids)))
        ctx.session.execute(delete(RouteTable).where(col(RouteTable.vpc_id) == vpc_id))


# --- routes ---------------------------------------------------------------------------------


def _add(
    ctx: Ctx,
    table: RouteTable,
    network: ipaddress.IPv4Network | None,
    ipv6: str | None,
    prefix_list: str | None,
    target_type: str,
    target_id: str,
) -> Route:
    route = Route(
        route_id=new_id("route"),
        route_table_id=table.route_table_id,
        destination_cidr=str(network) if network is not None else None,
        destination_ipv6_cidr=ipv6,
        destination_prefix_list_id=prefix_list,
        target_type=target_type,
        target_id=target_id,
        destination_first=int(network.network_address) if network is not None else None,
        destination_last=int(network.broadcast_address) if network is not None else None,
        prefix_length=network.prefixlen if network is not None else None,
        created_at=ctx.now,
        updated_at=ctx.now,
    )
    ctx.session.add(route)
    return route


def add_route(ctx: Ctx, table: RouteTable, spec: RouteCreate) -> dict[str, Any]:
    """A route of the table to a target of its VPC; a duplicate destination is 409."""
    if not (spec.destination_cidr or spec.destination_ipv6_cidr):
        raise ValidationFailed(
            "destination_cidr: required (or destination_ipv6_cidr)",
            details={"destination_cidr": ["required"]},
        )
    network = (
        refs.network(spec.destination_cidr, "destination_cidr") if spec.destination_cidr else None
    )
    ipv6 = spec.destination_ipv6_cidr
    ipv6 = str(refs.network_v6(ipv6, "destination_ipv6_cidr")) if ipv6 else None
    if spec.target_type not in TARGET_TYPES:
        raise field_error("target_type", f"must be one of {', '.join(TARGET_TYPES)}")
    target_id = _target(ctx, table, spec.target_type, spec.target_id)
    for route in _routes(ctx, table.route_table_id):
        if (network is not None and route.destination_cidr == str(network)) or (
            ipv6 is not None and route.destination_ipv6_cidr == ipv6
        ):
            destination = str(network) if network is not None else ipv6
            raise Conflict(
                f"route table {table.route_table_id} already has a route to {destination} "
                f"({route.route_id}, to {route.target_id})",
                details={"destination_cidr": destination, "route_id": route.route_id},
            )
    route = _add(
        ctx, table, network, ipv6, spec.destination_prefix_list_id, spec.target_type, target_id
    )
    table.updated_at = ctx.now
    ctx.session.add(table)
    ctx.audit_details.update(route_id=route.route_id, target_id=target_id)
    return route_public(route)


def _target(ctx: Ctx, table: RouteTable, target_type: str, ref: str) -> str:
    """The id of a route's target: it must exist and be in the table's VPC (else 400)."""
    if target_type == "local":
        raise field_error("target_type", "the local route is implicit in every route table")
    collections = {
        "internet-gateway": "internet-gateways",
        "nat-gateway": "nat-gateways",
        "instance": "instances",
    }
    if target_type not in collections:
        raise field_error("target_id", f"no {target_type} {ref!r} exists in this cloud yet")
    from engine import registry

    kind = registry.get(collections[target_type])
    # Loaded here, its table may never have been made: then there is no such target.
    if not table_exists(ctx, kind.model):
        raise field_error("target_id", f"no {kind.label} {ref!r}")
    target = refs.find(ctx, kind, ref, field="target_id")
    target_id = getattr(target, kind.id_field)
    if target.vpc_id != table.vpc_id:
        where = f"VPC {target.vpc_id}" if target.vpc_id else "no VPC"
        raise field_error(
            "target_id",
            f"{target_type} {target_id} is in {where}, not route table "
            f"{table.route_table_id}'s VPC {table.vpc_id}",
        )
    return str(target_id)


def remove_route(ctx: Ctx, table: RouteTable, spec: RouteRemove) -> RouteTable:
    if not (spec.route_id or spec.destination_cidr):
        raise field_error("route_id", "required (or destination_cidr)")
    wanted = spec.destination_cidr
    if wanted:
        wanted = str(refs.network(wanted, "destination_cidr"))
    found = [
        r
        for r in _routes(ctx, table.route_table_id)
        if r.route_id == spec.route_id or (wanted and r.destination_cidr == wanted)
    ]
    if not found:
        named = spec.route_id or wanted
        raise field_error(
            "route_id" if spec.route_id else "destination_cidr",
            f"route table {table.route_table_id} has no route {named}",
        )
    route = found[0]
    if route.target_type == "local":
        raise field_error("route_id", "the local route cannot be removed")
    ctx.session.delete(route)
    table.updated_at = ctx.now
    ctx.session.add(table)
    ctx.audit_details.update(route_id=route.route_id)
    return table


def list_routes(ctx: Ctx, table: RouteTable) -> dict[str, Any]:
    rows = [route_public(r) for r in _routes(ctx, table.route_table_id)]
    return {"count": len(rows), "next": None, "previous": None, "results": rows}


def target_gone(ctx: Ctx, target_id: str) -> None:
    """The routes to a deleted gateway or terminated instance turn `blackhole`."""
    ctx.session.execute(_BLACKHOLE, {"t": target_id, "at": ctx.now})


_route_rows = Route.__table__  # type: ignore[attr-defined]
_BLACKHOLE = (
    update(_route_rows)
    .where(_route_rows.c.target_id == bindparam("t"), _route_rows.c.status == "active")
    .values(status="blackhole", updated_at=bindparam("at"))
)


def lookup(ctx: Ctx, *, subnet_id: str, destination: str) -> Route | None:
    """The most specific route of `subnet_id`'s route table holding the IPv4 `destination`
    (a blackhole one included: the caller judges it); None when no route holds it."""
    from engine.networking.subnets import Subnet

    number = int(ipaddress.IPv4Address(destination))
    table = sa_select(col(Subnet.route_table_id)).where(col(Subnet.subnet_id) == subnet_id)
    found: Route | None = ctx.session.exec(
        select(Route)
        .where(
            col(Route.route_table_id) == table.scalar_subquery(),
            col(Route.destination_first) <= number,
            col(Route.destination_last) >= number,
        )
        .order_by(col(Route.prefix_length).desc())
        .limit(1)
    ).first()
    return found


def table_of(ctx: Ctx, subnet_id: str) -> RouteTable | None:
    """The route table a subnet is associated with."""
    from engine.networking.subnets import Subnet

    found: RouteTable | None = ctx.session.exec(
        select(RouteTable).where(
            col(RouteTable.route_table_id)
            == sa_select(col(Subnet.route_table_id))
            .where(col(Subnet.subnet_id) == subnet_id)
            .scalar_subquery()
        )
    ).first()
    return found


def reaches_internet(ctx: Ctx, route_table_id: str) -> bool:
    """Whether a table has an active route to an internet gateway."""
    found = ctx.session.exec(
        select(Route.route_id).where(
            col(Route.route_table_id) == route_table_id,
            col(Route.target_type) == "internet-gateway",
            col(Route.status) == "active",
        )
    ).first()
    return found is not None


# --- associations -----------------------------------------------------------------------------


def associate(ctx: Ctx, table: RouteTable, spec: Association) -> RouteTable:
    """Associate a subnet of the table's VPC with it (instead of the one it had)."""
    from engine.networking import subnets

    subnet = subnets.find(ctx, spec.subnet_id, for_write=True)
    if subnet.vpc_id != table.vpc_id:
        raise field_error(
            "subnet_id",
            f"subnet {subnet.subnet_id} is in VPC {subnet.vpc_id}, not route table "
            f"{table.route_table_id}'s VPC {table.vpc_id}",
        )
    previous = subnet.route_table_id
    subnet.route_table_id = table.route_table_id
    subnet.updated_at = ctx.now
    ctx.session.add(subnet)
    ctx.audit_details.update(subnet_id=subnet.subnet_id, previous=previous)
    return table


def disassociate(ctx: Ctx, table: RouteTable, spec: Association) -> RouteTable:
    """A subnet associated with this table goes back to its VPC's main table."""
    from engine.networking import subnets

    subnet = subnets.find(ctx, spec.subnet_id, for_write=True)
    if subnet.route_table_id != table.route_table_id:
        raise field_error(
            "subnet_id", f"subnet {subnet.subnet_id} is not associated with {table.route_table_id}"
        )
    if table.is_main:
        raise field_error(
            "subnet_id",
            "a subnet of the main table has no other to go back to; associate it with another",
        )
    subnet.route_table_id = main_of(ctx, table.vpc_id)
    subnet.updated_at = ctx.now
    ctx.session.add(subnet)
    ctx.audit_details.update(subnet_id=subnet.subnet_id)
    return table


ROUTE_TABLES = Collection(
    service="networking",
    name="route-tables",
    label="route table",
    id_prefix="rtb",
    model=RouteTable,
    id_field="route_table_id",
    public=public,
    detail=detail,
    filters={"vpc_id": str, "is_main": parse_bool, "owner": str},
    search=("route_table_id", "name"),
    create_schema=RouteTableCreate,
    create=create_route_table,
    update_schema=RouteTableUpdate,
    update=update_route_table,
    delete=delete_route_table,
    actions=(
        Action("routes", list_routes, "GET", summary="The table's routes, most specific first"),
        Action(
            "add_route",
            add_route,
            body=RouteCreate,
            status=201,
            summary="Add a route to a target of the VPC",
        ),
        Action("remove_route", remove_route, body=RouteRemove, summary="Remove a route"),
        Action("associate", associate, body=Association, summary="Associate a subnet"),
        Action(
            "disassociate",
            disassociate,
            body=Association,
            summary="Send a subnet back to the main table",
        ),
    ),
)
