"""Instances: launch, start, stop, terminate; quotas and IPs in the same transaction."""

from __future__ import annotations

import ipaddress
import math
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field as PydanticField
from sqlalchemy import JSON, Index
from sqlmodel import Field

from engine import ipam
from engine.collection import Action, Collection, StateMachine
from engine.compute import flavors, images, metrics
from engine.context import Ctx
from engine.errors import Conflict, InvalidState
from engine.resources import (
    CommonInput,
    Name,
    ResourceBase,
    Zone,
    apply_common,
    common_public,
    construct,
)
from engine.sqltypes import UTCDateTime

# Until networking lands, every instance gets a private IP from its owner's default network
# and a public IP from the shared documentation range (SPEC B3).
DEFAULT_PRIVATE_NETWORK = ipaddress.IPv4Network("10.0.0.0/16")
PUBLIC_NETWORK = ipaddress.IPv4Network("203.0.113.0/24")


class Instance(ResourceBase, table=True):
    __tablename__ = "instances"
    __table_args__ = (
        Index("ix_instances_owner_created", "owner", "created_at"),
        Index("ix_instances_owner_status", "owner", "status"),
    )
    instance_id: str = Field(unique=True, max_length=32)
    status: str = Field(default="pending", max_length=16, index=True)
    status_due_at: datetime | None = Field(default=None, index=True, sa_type=UTCDateTime)
    flavor: str = Field(max_length=64, index=True)
    flavor_name: str = Field(max_length=64)
    image: str = Field(max_length=64, index=True)
    image_name: str = Field(max_length=255)
    vcpus: int
    memory_mb: int
    vpc_id: str | None = Field(default=None, index=True)
    subnet_id: str | None = Field(default=None, index=True)
    availability_zone: str = Field(default="us-west-2a", max_length=16)
    private_ip: str | None = Field(default=None, max_length=45)
    public_ip: str | None = Field(default=None, max_length=45)
    security_groups: list[str] = Field(default_factory=list, sa_type=JSON)
    key_pair: str | None = None
    public_key: str | None = None
    root_volume_size_gb: int = 100
    attached_volumes: list[str] = Field(default_factory=list, sa_type=JSON)
    user_data: str | None = None
    enable_monitoring: bool = True
    enable_termination_protection: bool = False
    launch_time: datetime | None = Field(default=None, sa_type=UTCDateTime)
    stop_time: datetime | None = Field(default=None, sa_type=UTCDateTime)
    termination_time: datetime | None = Field(default=None, index=True, sa_type=UTCDateTime)


class InstanceCreate(CommonInput):
    name: Name
    flavor: str
    image: str
    vpc_id: str | None = None
    subnet_id: str | None = None
    availability_zone: Zone | None = None
    security_groups: list[str] = []
    key_pair: str | None = None
    public_key: str | None = None
    root_volume_size_gb: int = PydanticField(default=100, ge=10, le=16384)
    user_data: str | None = PydanticField(default=None, max_length=16384)
    enable_monitoring: bool = True
    enable_termination_protection: bool = False


class InstanceUpdate(CommonInput):
    security_groups: list[str] | None = None
    enable_monitoring: bool | None = None
    enable_termination_protection: bool | None = None


def summary(instance: Instance) -> dict[str, Any]:
    return {
        "resource_id": instance.instance_id,
        "instance_id": instance.instance_id,
        "name": instance.name,
        "status": instance.status,
        "flavor_name": instance.flavor_name,
        "image_name": instance.image_name,
        "private_ip": instance.private_ip,
        "public_ip": instance.public_ip,
        "owner": instance.owner,
        "created_at": instance.created_at,
        "is_running": instance.status == "running",
    }


def public(instance: Instance) -> dict[str, Any]:
    return {
        **common_public(instance, "instance_id"),
        "status": instance.status,
        "flavor": instance.flavor,
        "flavor_name": instance.flavor_name,
        "image": instance.image,
        "image_name": instance.image_name,
        "vpc_id": instance.vpc_id,
        "subnet_id": instance.subnet_id,
        "availability_zone": instance.availability_zone,
        "private_ip": instance.private_ip,
        "public_ip": instance.public_ip,
        "security_groups": instance.security_groups,
        "key_pair": instance.key_pair,
        "root_volume_size_gb": instance.root_volume_size_gb,
        "attached_volumes": instance.attached_volumes,
        "enable_monitoring": instance.enable_monitoring,
        "enable_termination_protection": instance.enable_termination_protection,
        "launch_time": instance.launch_time,
        "stop_time": instance.stop_time,
        "termination_time": instance.termination_time,
        "is_running": instance.status == "running",
        "is_stopped": instance.status == "stopped",
    }


def detail(ctx: Ctx, instance: Instance) -> dict[str, Any]:
    latest = metrics.samples(instance, now=ctx.now, limit=1)
    return {
        **public(instance),
        "flavor_details": flavors.details(ctx, instance.flavor),
        "image_details": images.details(ctx, instance.image),
        "metrics": latest[0] if latest else None,
    }


def create_instance(ctx: Ctx, spec: InstanceCreate) -> Instance:
    """Launch an instance: `pending`, then `running` once the boot duration has passed."""
    flavor = flavors.find_launchable(ctx, spec.flavor)
    image = images.find_launchable(ctx, spec.image)
    subnet = None
    if spec.subnet_id or spec.vpc_id:
        # Imported only for a launch into a subnet: networking's models stay unloaded otherwise.
        from engine.networking import subnets

        subnet = subnets.for_launch(
            ctx, subnet_ref=spec.subnet_id, vpc_ref=spec.vpc_id, zone=spec.availability_zone
        )
    owner = ctx.principal.username
    instance_id = INSTANCES.new_id()
    instance = construct(
        Instance,
        instance_id=instance_id,
        owner=owner,
        flavor=flavor.flavor_id,
        flavor_name=flavor.name,
        image=image.image_id,
        image_name=image.name,
        vcpus=flavor.vcpus,
        memory_mb=flavor.memory_mb,
        availability_zone=spec.availability_zone or "us-west-2a",
        key_pair=spec.key_pair,
        public_key=spec.public_key,
        root_volume_size_gb=spec.root_volume_size_gb,
        user_data=spec.user_data,
        enable_monitoring=spec.enable_monitoring,
        enable_termination_protection=spec.enable_termination_protection,
        launch_time=ctx.now,
        created_at=ctx.now,
        updated_at=ctx.now,
    )
    INSTANCES.consume_quota(ctx, instance)
    apply_common(instance, spec, now=ctx.now)
    if subnet is not None:
        # In a subnet: its lowest free address, and a public IP if the subnet maps them.
        instance.vpc_id, instance.subnet_id = subnet.vpc_id, subnet.subnet_id
        instance.availability_zone = subnet.availability_zone
        instance.private_ip = subnets.allocate(ctx, subnet.subnet_id, resource_id=instance_id)
        if subnet.map_public_ip_on_launch:
            instance.public_ip = _public_ip(ctx, instance_id)
    else:
        instance.private_ip = ipam.allocate(
            ctx, pool=f"default:{owner}", network=DEFAULT_PRIVATE_NETWORK, resource_id=instance_id
        )
        instance.public_ip = _public_ip(ctx, instance_id)
    if spec.security_groups or instance.vpc_id:
        instance.security_groups = _wear(ctx, instance, spec.security_groups, new=True)
    INSTANCES.begin(ctx, instance, "pending")
    INSTANCES.inserted(ctx, instance)
    ctx.audit_details.update(flavor=flavor.flavor_id, image=image.image_id)
    return instance


def _public_ip(ctx: Ctx, instance_id: str) -> str | None:
    # The shared public range is small (251 addresses); past that, instances launch without one,
    # as a cloud does when its public pool is spent, rather than failing the launch.
    try:
        return ipam.allocate(ctx, pool="public", network=PUBLIC_NETWORK, resource_id=instance_id)
    except Conflict:
        return None


def _wear(ctx: Ctx, instance: Instance, refs: list[str], *, new: bool = False) -> list[str]:
    """Attach the security groups `refs` names (default: its VPC's default group)."""
    from engine.networking import security_groups

    return security_groups.attach(
        ctx,
        resource_type="instance",
        resource_id=instance.instance_id,
        vpc_id=instance.vpc_id,
        refs=refs,
        new=new,
    )


def update_instance(ctx: Ctx, instance: Instance, spec: InstanceUpdate) -> Instance:
    if instance.status in INSTANCES.machine.final_states:
        raise InvalidState(f"instance {instance.instance_id} is {instance.status}")
    if spec.security_groups is not None:
        instance.security_groups = _wear(ctx, instance, spec.security_groups)
    apply_common(instance, spec, now=ctx.now)
    for name in ("enable_monitoring", "enable_termination_protection"):
        value = getattr(spec, name)
        if value is not None:
            setattr(instance, name, value)
    ctx.session.add(instance)
    ctx.audit_details.update(spec.model_dump(exclude_none=True, exclude={"metadata"}))
    return instance


def start_instance(ctx: Ctx, instance: Instance) -> Instance:
    """Boot a stopped instance again (the action allows only `stopped`)."""
    INSTANCES.begin(ctx, instance, "pending")
    instance.launch_time = ctx.now
    return _acted(ctx, instance)


def stop_instance(ctx: Ctx, instance: Instance) -> Instance:
    INSTANCES.begin(ctx, instance, "stopping")
    instance.stop_time = ctx.now
    return _acted(ctx, instance)


def terminate_instance(ctx: Ctx, instance: Instance) -> Instance:
    """Terminate (or cancel a pending launch); releases IPs and quotas at once."""
    final = INSTANCES.machine.final_states
    if instance.enable_termination_protection and instance.status not in final:
        raise InvalidState(
            "Instance is protected from termination; clear enable_termination_protection first"
        )
    if instance.status == "pending":
        INSTANCES.begin(ctx, instance, "cancelled")
    else:
        INSTANCES.require(instance, ("running", "stopped"))
        INSTANCES.begin(ctx, instance, "terminating")
    instance.termination_time = ctx.now
    ipam.release(ctx, resource_id=instance.instance_id)
    if instance.subnet_id:
        from engine.networking import route_tables, subnets

        subnets.release(ctx, resource_id=instance.instance_id)
        route_tables.target_gone(ctx, instance.instance_id)
    instance.private_ip = instance.public_ip = None
    if instance.security_groups:
        from engine.networking import security_groups

        security_groups.detach(ctx, resource_type="instance", resource_id=instance.instance_id)
    INSTANCES.release_quota(ctx, instance)
    return _acted(ctx, instance)


def delete_instance(ctx: Ctx, instance: Instance, *, force: bool = False) -> int:
    """`DELETE` follows the terminate rules, audited as a termination, and is asynchronous."""
    terminate_instance(ctx, instance)
    return 202


def _acted(ctx: Ctx, instance: Instance) -> Instance:
    ctx.session.add(instance)
    ctx.audit_details["status"] = instance.status
    return instance


def instance_metrics(ctx: Ctx, instance: Instance) -> dict[str, Any]:
    rows = metrics.samples(instance, now=ctx.now)
    return {"count": len(rows), "next": None, "previous": None, "results": rows}


INSTANCES = Collection(
    service="compute",
    name="instances",
    label="instance",
    id_prefix="i",
    model=Instance,
    id_field="instance_id",
    public=public,
    summary=summary,
    detail=detail,
    # `flavor` is matched by id or by name: `?flavor=t3.micro` finds what `t3-micro` does.
    filters={
        "owner": str,
        "status": str,
        "flavor": flavors.flavor_id,
        "availability_zone": str,
        "vpc_id": str,
        "subnet_id": str,
    },
    search=("instance_id", "name", "private_ip", "public_ip"),
    ordering=("created_at", "name", "status"),
    default_ordering="-created_at",
    counted=True,
    quota={
        "instances": 1,
        "vcpus": lambda instance: instance.vcpus,
        "memory_gb": lambda instance: math.ceil(instance.memory_mb / 1024),
    },
    states=StateMachine(
        states=(
            "pending",
            "running",
            "stopping",
            "stopped",
            "terminating",
            "terminated",
            "cancelled",
        ),
        transitions={
            "pending": ("running", 3.0),
            "stopping": ("stopped", 2.0),
            "terminating": ("terminated", 2.0),
        },
        final=("terminated", "cancelled"),
        # Terminated instances stay visible for 30 days, then are removed (SPEC B3).
        retention=timedelta(days=30),
    ),
    create_schema=InstanceCreate,
    create=create_instance,
    update_schema=InstanceUpdate,
    update=update_instance,
    # A DELETE is a termination: audited as `terminate` whether it is refused or done.
    delete=delete_instance,
    delete_action="terminate",
    actions=(
        Action(
            "start",
            start_instance,
            allowed_from=("stopped",),
            summary="Start a stopped instance",
            message="Starting",
        ),
        Action(
            "stop",
            stop_instance,
            allowed_from=("running",),
            summary="Stop a running instance",
            message="Stopping",
        ),
        Action(
            "terminate", terminate_instance, summary="Terminate an instance", message="Terminating"
        ),
        Action(
            "metrics",
            instance_metrics,
            "GET",
            summary="Latest 100 metric samples, newest first",
        ),
    ),
)
