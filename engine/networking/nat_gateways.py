"""NAT gateways: a private subnet's way out, sitting in a public subnet with a public IP."""

from __future__ import annotations

import ipaddress
import secrets
from datetime import datetime, timedelta
from typing import Any

from pydantic import field_validator
from sqlmodel import Field, col, select

from engine import ipam
from engine.collection import Collection, StateMachine, table_exists
from engine.context import Ctx
from engine.errors import ValidationFailed
from engine.networking import subnets
from engine.resources import CommonInput, Name, ResourceBase, apply_common, common_public
from engine.sqltypes import UTCDateTime

# Where NAT gateways get a public IP when none is given: the shared public range (SPEC B3).
PUBLIC_NETWORK = ipaddress.IPv4Network("203.0.113.0/24")


class NatGateway(ResourceBase, table=True):
    __tablename__ = "nat_gateways"
    nat_gw_id: str = Field(unique=True, max_length=32)
    status: str = Field(default="creating", max_length=16, index=True)
    status_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    subnet_id: str = Field(index=True, max_length=32)
    vpc_id: str = Field(index=True, max_length=32)
    eip_allocation_id: str = Field(max_length=64)
    public_ip: str | None = Field(default=None, max_length=45)
    network_interface_id: str = Field(max_length=32)
    network_interface_ip: str | None = Field(default=None, max_length=45)


class NatGatewayCreate(CommonInput):
    name: Name
    subnet_id: str
    eip_allocation_id: str | None = None
    public_ip: str | None = None

    @field_validator("public_ip")
    @classmethod
    def _ip(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ipaddress.IPv4Address(value)
            except ValueError:
                raise ValueError(f"{value!r} is not an IPv4 address") from None
        return value


class NatGatewayUpdate(CommonInput):
    pass


def public(gateway: NatGateway) -> dict[str, Any]:
    return {
        **common_public(gateway, "nat_gw_id"),
        "status": gateway.status,
        "subnet_id": gateway.subnet_id,
        "vpc_id": gateway.vpc_id,
        "eip_allocation_id": gateway.eip_allocation_id,
        "public_ip": gateway.public_ip,
        "network_interface_id": gateway.network_interface_id,
        "network_interface_ip": gateway.network_interface_ip,
    }


def create_nat_gateway(ctx: Ctx, spec: NatGatewayCreate) -> NatGateway:
    """A NAT gateway in a subnet whose route table reaches an internet gateway (else 400); its
    interface takes an address of the subnet, and a public IP comes from the public pool."""
    from engine.networking import route_tables

    subnet = subnets.for_use(ctx, spec.subnet_id)
    if not route_tables.reaches_internet(ctx, subnet.route_table_id):
        raise ValidationFailed(
            f"subnet_id: subnet {subnet.subnet_id}'s route table {subnet.route_table_id} has no "
            "route to an internet gateway; a NAT gateway sits in a public subnet",
            details={"subnet_id": [subnet.subnet_id], "route_table_id": [subnet.route_table_id]},
        )
    nat_id = NAT_GATEWAYS.new_id()
    gateway = NatGateway(
        nat_gw_id=nat_id,
        owner=subnet.owner,
        region=subnet.region,
        subnet_id=subnet.subnet_id,
        vpc_id=subnet.vpc_id,
        eip_allocation_id=spec.eip_allocation_id or f"eipalloc-{secrets.token_hex(8)}",
        network_interface_id=f"eni-{secrets.token_hex(8)}",
        created_at=ctx.now,
    )
    apply_common(gateway, spec, now=ctx.now)
    gateway.public_ip = spec.public_ip or ipam.allocate(
        ctx, pool="public", network=PUBLIC_NETWORK, resource_id=nat_id
    )
    gateway.network_interface_ip = subnets.allocate(ctx, subnet.subnet_id, resource_id=nat_id)
    NAT_GATEWAYS.begin(ctx, gateway, "creating")
    NAT_GATEWAYS.added(ctx, gateway)
    ctx.audit_details.update(subnet_id=subnet.subnet_id, public_ip=gateway.public_ip)
    return gateway


def update_nat_gateway(ctx: Ctx, gateway: NatGateway, spec: NatGatewayUpdate) -> NatGateway:
    apply_common(gateway, spec, now=ctx.now)
    ctx.session.add(gateway)
    return gateway


def delete_nat_gateway(ctx: Ctx, gateway: NatGateway, *, force: bool = False) -> int:
    """Deleting takes a moment (202); its addresses go back at once and routes to it turn
    `blackhole`."""
    NAT_GATEWAYS.require(gateway, ("creating", "available"))
    NAT_GATEWAYS.begin(ctx, gateway, "deleting")
    _let_go(ctx, gateway.nat_gw_id)
    ctx.session.add(gateway)
    return 202


def _let_go(ctx: Ctx, nat_id: str) -> None:
    from engine.networking import route_tables

    ipam.release(ctx, resource_id=nat_id)
    subnets.release(ctx, resource_id=nat_id)
    route_tables.target_gone(ctx, nat_id)


def remove_in_vpc(ctx: Ctx, vpc_id: str) -> None:
    if not table_exists(ctx, NatGateway):
        return  # none was ever made here
    for gateway in ctx.session.exec(select(NatGateway).where(col(NatGateway.vpc_id) == vpc_id)):
        _let_go(ctx, gateway.nat_gw_id)
        ctx.session.delete(gateway)


NAT_GATEWAYS = Collection(
    service="networking",
    name="nat-gateways",
    label="nat gateway",
    id_prefix="nat",
    model=NatGateway,
    id_field="nat_gw_id",
    public=public,
    filters={"vpc_id": str, "subnet_id": str, "status": str, "owner": str},
    search=("nat_gw_id", "name", "public_ip"),
    states=StateMachine(
        states=("creating", "available", "deleting", "deleted", "failed"),
        transitions={"creating": ("available", 2.0), "deleting": ("deleted", 2.0)},
        final=("deleted", "failed"),
        # Deleted NAT gateways stay visible for an hour, as a cloud shows them.
        retention=timedelta(hours=1),
    ),
    create_schema=NatGatewayCreate,
    create=create_nat_gateway,
    update_schema=NatGatewayUpdate,
    update=update_nat_gateway,
    delete=delete_nat_gateway,
    delete_action="delete",
)
