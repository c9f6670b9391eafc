"""VPCs: a CIDR block per owner and region, with its main route table and default security group."""

from __future__ import annotations

from typing import Any

from pydantic import Field as PydanticField
from sqlalchemy import UniqueConstraint, func
from sqlmodel import Field, col, select

from engine.collection import Action, Collection, Dependent, Query, table_exists
from engine.context import Ctx
from engine.errors import Conflict, DependencyViolation, field_error
from engine.networking import refs
from engine.resources import CommonInput, Name, ResourceBase, apply_common, common_public, list_page

# SPEC B4: a VPC is a /16 to a /28.
MIN_PREFIX, MAX_PREFIX = 16, 28


class Vpc(ResourceBase, table=True):
    __tablename__ = "vpcs"
    # One owner holds one VPC of a CIDR per region (SPEC B4); the constraint backs the check.
    __table_args__ = (UniqueConstraint("owner", "region", "cidr_block"),)
    vpc_id: str = Field(unique=True, max_length=32)
    status: str = Field(default="available", max_length=16)
    cidr_block: str = Field(max_length=18)
    ipv6_cidr_block: str | None = Field(default=None, max_length=43)
    enable_dns_hostnames: bool = True
    enable_dns_support: bool = True
    enable_network_address_translation: bool = True
    flow_logs_enabled: bool = False
    flow_logs_destination: str | None = Field(default=None, max_length=255)


class VpcCreate(CommonInput):
    name: Name
    cidr_block: str = "10.0.0.0/16"
    ipv6_cidr_block: str | None = None
    enable_dns_hostnames: bool = True
    enable_dns_support: bool = True
    enable_network_address_translation: bool = True
    flow_logs_enabled: bool = False
    flow_logs_destination: str | None = PydanticField(default=None, max_length=255)


class VpcUpdate(CommonInput):
    enable_dns_hostnames: bool | None = None
    enable_dns_support: bool | None = None
    enable_network_address_translation: bool | None = None
    flow_logs_enabled: bool | None = None
    flow_logs_destination: str | None = PydanticField(default=None, max_length=255)


_FLAGS = (
    "enable_dns_hostnames",
    "enable_dns_support",
    "enable_network_address_translation",
    "flow_logs_enabled",
    "flow_logs_destination",
)


def public(vpc: Vpc) -> dict[str, Any]:
    return {
        **common_public(vpc, "vpc_id"),
        "status": vpc.status,
        "cidr_block": vpc.cidr_block,
        "ipv6_cidr_block": vpc.ipv6_cidr_block,
        **{name: getattr(vpc, name) for name in _FLAGS},
    }


def detail(ctx: Ctx, vpc: Vpc) -> dict[str, Any]:
    from engine.networking.subnets import Subnet

    count = ctx.session.exec(
        select(func.count()).select_from(Subnet).where(col(Subnet.vpc_id) == vpc.vpc_id)
    ).one()
    return {**public(vpc), "subnet_count": count}


def block(value: str, field: str = "cidr_block") -> str:
    """A VPC's CIDR as stored: a valid IPv4 /16 to /28, host bits cleared (SPEC B4)."""
    network = refs.network(value, field)
    if not MIN_PREFIX <= network.prefixlen <= MAX_PREFIX:
        raise field_error(
            field, f"{value} is a /{network.prefixlen}; a VPC is a /{MIN_PREFIX} to a /{MAX_PREFIX}"
        )
    return str(network)


def find(ctx: Ctx, ref: str, *, field: str = "vpc_id", for_write: bool = False) -> Vpc:
    found: Vpc = refs.find(ctx, VPCS, ref, field=field, for_write=for_write)
    return found


def create_vpc(ctx: Ctx, spec: VpcCreate) -> Vpc:
    """A VPC, with its main route table (the `local` route) and its default security group."""
    from engine.networking import route_tables, security_groups

    cidr = block(spec.cidr_block)
    ipv6 = (
        str(refs.network_v6(spec.ipv6_cidr_block, "ipv6_cidr_block"))
        if spec.ipv6_cidr_block
        else None
    )
    vpc = Vpc(
        vpc_id=VPCS.new_id(),
        owner=ctx.principal.username,
        cidr_block=cidr,
        ipv6_cidr_block=ipv6,
        created_at=ctx.now,
        **{name: getattr(spec, name) for name in _FLAGS},
    )
    apply_common(vpc, spec, now=ctx.now)
    # The quota first: it locks the owner's quota rows, so two creates of one owner are serial
    # from here and the duplicate check below cannot race.
    VPCS.consume_quota(ctx, vpc)
    same = ctx.session.exec(
        select(Vpc.vpc_id).where(
            col(Vpc.owner) == vpc.owner, col(Vpc.region) == vpc.region, col(Vpc.cidr_block) == cidr
        )
    ).first()
    if same is not None:
        raise Conflict(
            f"you already have VPC {same} with CIDR {cidr} in {vpc.region}",
            details={"cidr_block": cidr, "vpc_id": same},
        )
    VPCS.added(ctx, vpc)
    ctx.session.flush()
    route_tables.create_main(ctx, vpc)
    security_groups.create_default(ctx, vpc=vpc)
    ctx.audit_details.update(cidr_block=cidr)
    return vpc


def update_vpc(ctx: Ctx, vpc: Vpc, spec: VpcUpdate) -> Vpc:
    apply_common(vpc, spec, now=ctx.now)
    for name in _FLAGS:
        value = getattr(spec, name)
        if value is not None:
            setattr(vpc, name, value)
    ctx.session.add(vpc)
    ctx.audit_details.update(spec.model_dump(exclude_none=True, exclude={"metadata"}))
    return vpc


def delete_vpc(ctx: Ctx, vpc: Vpc, *, force: bool = False) -> int:
    """Delete a VPC; `force` first removes what hangs on it, in dependency order, and refuses
    while instances still live in it. Without `force`, subnets and gateways refuse the delete
    (VPCS.dependents); its route tables and security groups always go with it."""
    from engine.compute.instances import INSTANCES, Instance
    from engine.networking import (
        internet_gateways,
        nat_gateways,
        route_tables,
        security_groups,
        subnets,
    )

    vpc_id = vpc.vpc_id
    live = (
        table_exists(ctx, Instance)
        and ctx.session.exec(
            select(func.count())
            .select_from(Instance)
            .where(
                col(Instance.vpc_id) == vpc_id,
                col(Instance.status).not_in(INSTANCES.machine.final_states),
            )
        ).one()
    )
    if live:
        raise DependencyViolation(
            f"vpc {vpc_id} has {live} instance(s) still in it; terminate them first",
            details={"instances": live},
        )
    nat_gateways.remove_in_vpc(ctx, vpc_id)
    route_tables.remove_in_vpc(ctx, vpc_id)
    internet_gateways.remove_in_vpc(ctx, vpc_id)
    security_groups.remove_in_vpc(ctx, vpc_id)
    subnets.remove_in_vpc(ctx, vpc_id)
    ctx.session.delete(vpc)
    VPCS.release_quota(ctx, vpc)
    ctx.audit_details.update(force=force)
    return 204


def vpc_subnets(ctx: Ctx, vpc: Vpc) -> Any:
    from engine.networking.subnets import SUBNETS, Subnet

    return _nested(ctx, SUBNETS, col(Subnet.vpc_id) == vpc.vpc_id, vpc)


def vpc_route_tables(ctx: Ctx, vpc: Vpc) -> Any:
    from engine.networking.route_tables import ROUTE_TABLES, RouteTable

    return _nested(ctx, ROUTE_TABLES, col(RouteTable.vpc_id) == vpc.vpc_id, vpc)


def vpc_security_groups(ctx: Ctx, vpc: Vpc) -> Any:
    from engine.networking.security_groups import SECURITY_GROUPS, SecurityGroup

    return _nested(ctx, SECURITY_GROUPS, col(SecurityGroup.vpc_id) == vpc.vpc_id, vpc)


def reachability(request: Any) -> Any:
    from engine.networking import reachability

    return reachability.answer(request)


_END = "an instance (id or name), a CIDR or address, or `internet`"
REACHABILITY_PROTOCOLS = ("tcp", "udp", "icmp", "all")  # as the query spells them
REACHABILITY_QUERY = {
    "source": Query(f"Where from: {_END}", required=True),
    "destination": Query(f"Where to: {_END}", required=True),
    "port": Query(
        "The destination port (required for tcp and udp)",
        {"type": "integer", "minimum": 0, "maximum": 65535},
    ),
    "protocol": Query(
        "The protocol (tcp by default)", {"type": "string", "enum": list(REACHABILITY_PROTOCOLS)}
    ),
}


def _nested(ctx: Ctx, kind: Collection, where: Any, vpc: Vpc) -> Any:
    """A page of the VPC's resources of one kind (A4's envelope), every one of them."""
    from engine.api.routes import SERVICES

    path = f"{SERVICES}/vpcs/{vpc.vpc_id}/"
    return list_page(ctx, kind, {"page_size": ["1000"]}, path=path, where=[where])


VPCS = Collection(
    service="networking",
    name="vpcs",
    label="vpc",
    id_prefix="vpc",
    model=Vpc,
    id_field="vpc_id",
    public=public,
    detail=detail,
    filters={"owner": str, "status": str, "cidr_block": str, "region": str},
    search=("vpc_id", "name", "cidr_block"),
    ordering=("created_at", "name", "cidr_block"),
    quota={"vpcs": 1},
    create_schema=VpcCreate,
    create=create_vpc,
    update_schema=VpcUpdate,
    update=update_vpc,
    delete=delete_vpc,
    force_removes="its NAT gateways, subnets, internet gateway, route tables and security groups "
    "(refused while instances run in it)",
    dependents=(
        Dependent(collection="subnets", column="vpc_id", forced=True),
        Dependent(collection="internet-gateways", column="vpc_id", forced=True),
    ),
    actions=(
        Action("subnets", vpc_subnets, "GET", summary="The VPC's subnets"),
        Action("security_groups", vpc_security_groups, "GET", summary="The VPC's security groups"),
        Action("route_tables", vpc_route_tables, "GET", summary="The VPC's route tables"),
        Action(
            "reachability",
            reachability,
            "GET",
            detail=False,
            summary="Can a source reach a destination on a port, and if not, why not",
            query=REACHABILITY_QUERY,
        ),
    ),
)

# The tables a VPC's create writes (its main route table, its default group) and its subnets'
# are created with its own, before its first request. Not the gateways' or the instances': a
# forced delete finds none in a database that never had one, and `vpc list` loads no more
# than it needs.
import engine.networking.route_tables  # noqa: E402
import engine.networking.security_groups  # noqa: E402
import engine.networking.subnets  # noqa: E402, F401
