"""Subnets: a VPC's CIDR cut into non-overlapping blocks, each handing out its addresses.

Addresses (SPEC A5): the first four of a subnet and its last are reserved, so a /24 offers 251.
An address goes out lowest first without reading the ones in use: a subnet keeps a cursor past
the highest address ever handed out, and released addresses below it wait in a table of their
own (`subnet_free_addresses`), whose smallest is an index lookup. An allocation is four
statements whether the subnet holds ten addresses or sixty thousand: reserve one (a conditional
UPDATE of the subnet's `available_ip_count`, which also locks the subnet row so concurrent
launches queue), the smallest released address, take it (or move the cursor), record it. A
unique constraint on (subnet, address) makes a double allocation impossible whatever happens.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import BigInteger, UniqueConstraint, bindparam, delete, func, update
from sqlalchemy import select as sa_select
from sqlmodel import Field, SQLModel, col, select

from engine.collection import Action, Collection, Dependent, table_exists
from engine.context import Ctx
from engine.errors import Conflict, ValidationFailed, field_error
from engine.networking import refs, vpcs
from engine.resources import (
    CommonInput,
    Name,
    ResourceBase,
    Zone,
    apply_common,
    common_public,
    parse_bool,
)

# Held back in every subnet: network, router, DNS, future use; and broadcast (SPEC B3).
RESERVED_HEAD, RESERVED_TAIL = 4, 1


class Subnet(ResourceBase, table=True):
    __tablename__ = "subnets"
    subnet_id: str = Field(unique=True, max_length=32)
    vpc_id: str = Field(index=True, max_length=32)
    cidr_block: str = Field(max_length=18)
    availability_zone: str = Field(default="us-west-2a", max_length=16)
    ipv6_cidr_block: str | None = Field(default=None, max_length=43)
    available_ip_count: int
    map_public_ip_on_launch: bool = False
    assign_ipv6_on_creation: bool = False
    is_default: bool = False
    # The route table it is associated with: the VPC's main one unless associated with another.
    route_table_id: str = Field(index=True, max_length=32)
    # The first address that may be handed out, as a number, and how many never were yet.
    first_address: int = Field(sa_type=BigInteger)
    ip_cursor: int = 0


class SubnetAddress(SQLModel, table=True):
    """An address of a subnet held by a resource (an instance, a NAT gateway's interface)."""

    __tablename__ = "subnet_addresses"
    __table_args__ = (UniqueConstraint("subnet_id", "address"),)
    id: int | None = Field(default=None, primary_key=True)
    subnet_id: str = Field(max_length=32)
    address: int = Field(sa_type=BigInteger)
    resource_id: str = Field(index=True, max_length=64)


class SubnetFreeAddress(SQLModel, table=True):
    """An address below a subnet's cursor that was handed out and released since."""

    __tablename__ = "subnet_free_addresses"
    subnet_id: str = Field(primary_key=True, max_length=32)
    address: int = Field(primary_key=True, sa_type=BigInteger)


class SubnetCreate(CommonInput):
    name: Name
    vpc_id: str
    cidr_block: str
    availability_zone: Zone = "us-west-2a"
    ipv6_cidr_block: str | None = None
    map_public_ip_on_launch: bool = False
    assign_ipv6_on_creation: bool = False


class SubnetUpdate(CommonInput):
    map_public_ip_on_launch: bool | None = None
    assign_ipv6_on_creation: bool | None = None


def capacity(network: ipaddress.IPv4Network) -> int:
    return max(network.num_addresses - RESERVED_HEAD - RESERVED_TAIL, 0)


def public(subnet: Subnet) -> dict[str, Any]:
    return {
        **common_public(subnet, "subnet_id"),
        "vpc_id": subnet.vpc_id,
        "cidr_block": subnet.cidr_block,
        "availability_zone": subnet.availability_zone,
        "ipv6_cidr_block": subnet.ipv6_cidr_block,
        "available_ip_count": subnet.available_ip_count,
        "map_public_ip_on_launch": subnet.map_public_ip_on_launch,
        "assign_ipv6_on_creation": subnet.assign_ipv6_on_creation,
        "is_default": subnet.is_default,
        "route_table_id": subnet.route_table_id,
    }


def find(ctx: Ctx, ref: str, *, field: str = "subnet_id", for_write: bool = False) -> Subnet:
    found: Subnet = refs.find(ctx, SUBNETS, ref, field=field, for_write=for_write)
    return found


def for_use(ctx: Ctx, ref: str, *, field: str = "subnet_id") -> Subnet:
    """A subnet something is about to take an address of, locked as a VPC's forced delete
    locks them: its VPC's row first (shared, so launches do not queue on one another), then the
    subnet's. A forced delete that began first is waited for (and the subnet is then gone); one
    that begins after waits for the launch, then sees its instance."""
    found = find(ctx, ref, field=field)
    ctx.session.execute(
        sa_select(_vpcs.c.id).where(_vpcs.c.vpc_id == found.vpc_id).with_for_update(read=True)
    )
    return find(ctx, found.subnet_id, field=field, for_write=True)


def create_subnet(ctx: Ctx, spec: SubnetCreate) -> Subnet:
    """A subnet inside its VPC's CIDR, overlapping none of its siblings (409)."""
    from engine.networking import route_tables

    # The VPC row is locked: two subnets of one VPC are created one after the other, so the
    # overlap check sees the sibling that the other just made.
    vpc = vpcs.find(ctx, spec.vpc_id, for_write=True)
    network = refs.network(spec.cidr_block, "cidr_block")
    parent = ipaddress.IPv4Network(vpc.cidr_block)
    if not network.subnet_of(parent):
        raise field_error("cidr_block", f"{network} is not inside VPC {vpc.vpc_id}'s {parent}")
    if network.prefixlen > vpcs.MAX_PREFIX:
        raise field_error(
            "cidr_block", f"{network} is a /{network.prefixlen}; a subnet is at most a /28"
        )
    siblings = ctx.session.exec(
        select(Subnet.subnet_id, Subnet.cidr_block).where(col(Subnet.vpc_id) == vpc.vpc_id)
    ).all()
    for sibling_id, sibling_cidr in siblings:
        if network.overlaps(ipaddress.IPv4Network(sibling_cidr)):
            same = "is" if str(network) == sibling_cidr else "overlaps"
            raise Conflict(
                f"{network} {same} subnet {sibling_id}'s {sibling_cidr} in VPC {vpc.vpc_id}",
                details={"cidr_block": str(network), "subnet_id": sibling_id},
            )
    ipv6 = spec.ipv6_cidr_block
    size = capacity(network)
    subnet = Subnet(
        subnet_id=SUBNETS.new_id(),
        vpc_id=vpc.vpc_id,
        # A subnet is its VPC owner's, whoever made it (SPEC B2.1).
        owner=vpc.owner,
        region=vpc.region,
        cidr_block=str(network),
        availability_zone=spec.availability_zone,
        ipv6_cidr_block=str(refs.network_v6(ipv6, "ipv6_cidr_block")) if ipv6 else None,
        available_ip_count=size,
        map_public_ip_on_launch=spec.map_public_ip_on_launch,
        assign_ipv6_on_creation=spec.assign_ipv6_on_creation,
        route_table_id=route_tables.main_of(ctx, vpc.vpc_id),
        first_address=int(network.network_address) + RESERVED_HEAD,
        created_at=ctx.now,
    )
    apply_common(subnet, spec, now=ctx.now)
    SUBNETS.added(ctx, subnet)
    ctx.audit_details.update(vpc_id=vpc.vpc_id, cidr_block=str(network))
    return subnet


def update_subnet(ctx: Ctx, subnet: Subnet, spec: SubnetUpdate) -> Subnet:
    apply_common(subnet, spec, now=ctx.now)
    for name in ("map_public_ip_on_launch", "assign_ipv6_on_creation"):
        value = getattr(spec, name)
        if value is not None:
            setattr(subnet, name, value)
    ctx.session.add(subnet)
    ctx.audit_details.update(spec.model_dump(exclude_none=True, exclude={"metadata"}))
    return subnet


def enable_public_ips(ctx: Ctx, subnet: Subnet) -> Subnet:
    subnet.map_public_ip_on_launch = True
    subnet.updated_at = ctx.now
    ctx.session.add(subnet)
    return subnet


def delete_subnet(ctx: Ctx, subnet: Subnet, *, force: bool = False) -> int:
    # Live instances and NAT gateways in it refuse the delete first (SUBNETS.dependents).
    _forget_addresses(ctx, [subnet.subnet_id])
    ctx.session.delete(subnet)
    return 204


def remove_in_vpc(ctx: Ctx, vpc_id: str) -> None:
    """Delete every subnet of a VPC (its forced delete, once nothing lives in them)."""
    ids = list(ctx.session.exec(select(Subnet.subnet_id).where(col(Subnet.vpc_id) == vpc_id)))
    _forget_addresses(ctx, ids)
    ctx.session.execute(delete(Subnet).where(col(Subnet.vpc_id) == vpc_id))


def _forget_addresses(ctx: Ctx, subnet_ids: list[str]) -> None:
    if subnet_ids:
        for model in (SubnetAddress, SubnetFreeAddress):
            ctx.session.execute(delete(model).where(col(model.subnet_id).in_(subnet_ids)))


# --- addresses ------------------------------------------------------------------------------


def allocate(ctx: Ctx, subnet_id: str, *, resource_id: str) -> str:
    """The lowest free address of a subnet for `resource_id`; 409 naming the subnet when full."""
    session = ctx.session
    reserved = session.execute(_RESERVE, {"s": subnet_id}).first()
    if reserved is None:
        raise _full(ctx, subnet_id)
    freed = session.execute(_LOWEST_FREED, {"s": subnet_id}).scalar()
    if freed is not None:
        address = int(freed)
        session.execute(_UNFREE, {"s": subnet_id, "a": address})
    else:
        address = reserved.first_address + reserved.ip_cursor
        session.execute(_ADVANCE, {"s": subnet_id})
    session.execute(_HOLD, {"subnet_id": subnet_id, "address": address, "resource_id": resource_id})
    return str(ipaddress.IPv4Address(address))


def release(ctx: Ctx, *, resource_id: str) -> None:
    """Return every subnet address `resource_id` holds to its subnet."""
    session = ctx.session
    held = session.execute(_LET_GO, {"r": resource_id}).all()
    for subnet_id, address in held:
        session.execute(_FREE, {"subnet_id": subnet_id, "address": address})
        session.execute(_GIVE_BACK, {"s": subnet_id})


def _full(ctx: Ctx, subnet_id: str) -> Conflict:
    subnet = ctx.session.exec(select(Subnet).where(col(Subnet.subnet_id) == subnet_id)).first()
    if subnet is None:  # deleted since the caller found it
        return Conflict(f"subnet {subnet_id} was just deleted", details={"subnet_id": subnet_id})
    size = capacity(ipaddress.IPv4Network(subnet.cidr_block))
    named = f"{subnet.name} ({subnet_id})" if subnet.name else subnet_id
    return Conflict(
        f"subnet {named} is full: all {size} addresses of {subnet.cidr_block} are in use",
        details={"subnet_id": subnet_id, "cidr_block": subnet.cidr_block, "capacity": size},
    )


_subnets = Subnet.__table__  # type: ignore[attr-defined]
_vpcs = vpcs.Vpc.__table__  # type: ignore[attr-defined]
_held = SubnetAddress.__table__  # type: ignore[attr-defined]
_freed = SubnetFreeAddress.__table__  # type: ignore[attr-defined]
_this = _subnets.c.subnet_id == bindparam("s")
_RESERVE = (
    update(_subnets)
    .where(_this, _subnets.c.available_ip_count > 0)
    .values(available_ip_count=_subnets.c.available_ip_count - 1)
    .returning(_subnets.c.first_address, _subnets.c.ip_cursor)
)
_LOWEST_FREED = sa_select(func.min(_freed.c.address)).where(_freed.c.subnet_id == bindparam("s"))
_UNFREE = _freed.delete().where(
    _freed.c.subnet_id == bindparam("s"), _freed.c.address == bindparam("a")
)
_ADVANCE = update(_subnets).where(_this).values(ip_cursor=_subnets.c.ip_cursor + 1)
_HOLD = _held.insert()
_LET_GO = (
    _held.delete()
    .where(_held.c.resource_id == bindparam("r"))
    .returning(_held.c.subnet_id, _held.c.address)
)
_FREE = _freed.insert()
_GIVE_BACK = (
    update(_subnets).where(_this).values(available_ip_count=_subnets.c.available_ip_count + 1)
)


# --- launching into a subnet -------------------------------------------------------------------


def for_launch(
    ctx: Ctx, *, subnet_ref: str | None, vpc_ref: str | None, zone: str | None
) -> Subnet:
    """The subnet an instance launches into, checked against the VPC and zone it names."""
    if not subnet_ref:
        raise field_error("subnet_id", "required with vpc_id: name the subnet to launch into")
    # A launch may be the first request of a process to touch networking, on a database that
    # never had a VPC: its tables are created with the service, so none exist yet.
    if not table_exists(ctx, Subnet):
        raise field_error("subnet_id", f"no subnet {subnet_ref!r}")
    subnet = for_use(ctx, subnet_ref)
    if vpc_ref:
        vpc = vpcs.find(ctx, vpc_ref)
        if vpc.vpc_id != subnet.vpc_id:
            raise ValidationFailed(
                f"subnet_id: subnet {subnet.subnet_id} is in VPC {subnet.vpc_id}, not {vpc.vpc_id}",
                details={"subnet_id": [subnet.subnet_id], "vpc_id": [vpc.vpc_id]},
            )
    if zone and zone != subnet.availability_zone:
        raise field_error(
            "availability_zone",
            f"subnet {subnet.subnet_id} is in {subnet.availability_zone}, not {zone}",
        )
    return subnet


SUBNETS = Collection(
    service="networking",
    name="subnets",
    label="subnet",
    id_prefix="subnet",
    model=Subnet,
    id_field="subnet_id",
    public=public,
    filters={
        "vpc_id": str,
        "availability_zone": str,
        "cidr_block": str,
        "map_public_ip_on_launch": parse_bool,
        "owner": str,
    },
    search=("subnet_id", "name", "cidr_block"),
    ordering=("created_at", "name", "cidr_block", "available_ip_count"),
    create_schema=SubnetCreate,
    create=create_subnet,
    update_schema=SubnetUpdate,
    update=update_subnet,
    delete=delete_subnet,
    dependents=(
        Dependent(collection="instances", column="subnet_id"),
        Dependent(collection="nat-gateways", column="subnet_id"),
    ),
    actions=(
        Action(
            "enable_public_ips",
            enable_public_ips,
            summary="Give instances launched here a public IP (map_public_ip_on_launch)",
            message="Mapping public IPs on launch in",
        ),
    ),
)
