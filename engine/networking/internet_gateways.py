"""Internet gateways: a VPC's way to the internet, one at most per VPC."""

from __future__ import annotations

from typing import Any

from sqlmodel import Field, col, select

from engine.collection import Collection, table_exists
from engine.context import Ctx
from engine.errors import Conflict
from engine.networking import vpcs
from engine.resources import CommonInput, Name, ResourceBase, apply_common, common_public


class InternetGateway(ResourceBase, table=True):
    __tablename__ = "internet_gateways"
    ig_id: str = Field(unique=True, max_length=32)
    status: str = Field(default="available", max_length=16)
    # Unique: a VPC has at most one internet gateway (the constraint backs the check).
    vpc_id: str = Field(unique=True, max_length=32)


class InternetGatewayCreate(CommonInput):
    name: Name
    vpc_id: str


class InternetGatewayUpdate(CommonInput):
    pass


def public(gateway: InternetGateway) -> dict[str, Any]:
    return {
        **common_public(gateway, "ig_id"),
        "status": gateway.status,
        "vpc_id": gateway.vpc_id,
    }


def create_internet_gateway(ctx: Ctx, spec: InternetGatewayCreate) -> InternetGateway:
    # The VPC row is locked, so two gateways for one VPC cannot both pass the check.
    vpc = vpcs.find(ctx, spec.vpc_id, for_write=True)
    attached = ctx.session.exec(
        select(InternetGateway.ig_id).where(col(InternetGateway.vpc_id) == vpc.vpc_id)
    ).first()
    if attached is not None:
        raise Conflict(
            f"VPC {vpc.vpc_id} already has internet gateway {attached}; a VPC has at most one",
            details={"vpc_id": vpc.vpc_id, "ig_id": attached},
        )
    gateway = InternetGateway(
        ig_id=INTERNET_GATEWAYS.new_id(),
        owner=vpc.owner,
        region=vpc.region,
        vpc_id=vpc.vpc_id,
        created_at=ctx.now,
    )
    apply_common(gateway, spec, now=ctx.now)
    INTERNET_GATEWAYS.added(ctx, gateway)
    ctx.audit_details.update(vpc_id=vpc.vpc_id)
    return gateway


def update_internet_gateway(
    ctx: Ctx, gateway: InternetGateway, spec: InternetGatewayUpdate
) -> InternetGateway:
    apply_common(gateway, spec, now=ctx.now)
    ctx.session.add(gateway)
    return gateway


def delete_internet_gateway(ctx: Ctx, gateway: InternetGateway, *, force: bool = False) -> int:
    """Delete the gateway; the routes to it stay, as `blackhole`."""
    from engine.networking import route_tables

    route_tables.target_gone(ctx, gateway.ig_id)
    ctx.session.delete(gateway)
    return 204


def remove_in_vpc(ctx: Ctx, vpc_id: str) -> None:
    if not table_exists(ctx, InternetGateway):
        return  # none was ever made here
    for gateway in ctx.session.exec(
        select(InternetGateway).where(col(InternetGateway.vpc_id) == vpc_id)
    ):
        ctx.session.delete(gateway)


INTERNET_GATEWAYS = Collection(
    service="networking",
    name="internet-gateways",
    label="internet gateway",
    id_prefix="igw",
    model=InternetGateway,
    id_field="ig_id",
    public=public,
    filters={"vpc_id": str, "status": str, "owner": str},
    search=("ig_id", "name"),
    create_schema=InternetGatewayCreate,
    create=create_internet_gateway,
    update_schema=InternetGatewayUpdate,
    update=update_internet_gateway,
    delete=delete_internet_gateway,
)
