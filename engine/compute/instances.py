"""Instances: launch, start, stop, terminate; quotas, IPs and audit in the same transaction."""

from __future__ import annotations

import ipaddress
import math
from typing import Any

from engine import audit, counts, ipam, quotas
from engine.compute import flavors, images, metrics
from engine.compute.models import (
    INSTANCE_LIFECYCLE,
    Instance,
    InstanceCreate,
    InstanceUpdate,
)
from engine.context import Ctx
from engine.errors import InvalidState, field_error
from engine.ids import new_id
from engine.resources import ResourceKind, apply_common, common_public

# Until networking lands, every instance gets a private IP from its owner's default network
# and a public IP from the shared documentation range (SPEC B3).
DEFAULT_PRIVATE_NETWORK = ipaddress.IPv4Network("10.0.0.0/16")
PUBLIC_NETWORK = ipaddress.IPv4Network("203.0.113.0/24")
LIFECYCLE = INSTANCE_LIFECYCLE
FINAL_STATES = LIFECYCLE.final_states


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
        "owner_username": instance.owner,
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
        "owner_username": instance.owner,
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


def _quota_amounts(vcpus: int, memory_mb: int) -> dict[str, int]:
    return {"instances": 1, "vcpus": vcpus, "memory_gb": math.ceil(memory_mb / 1024)}


def create_instance(ctx: Ctx, spec: InstanceCreate) -> Instance:
    """Launch an instance: `pending`, then `running` once the boot duration has passed."""
    flavor = flavors.find_active(ctx, spec.flavor)
    image = images.find_launchable(ctx, spec.image)
    # Networking is not part of the engine yet: no VPC, subnet or security group exists to name.
    for field_name in ("vpc_id", "subnet_id"):
        if getattr(spec, field_name):
            raise field_error(field_name, f"no such resource {getattr(spec, field_name)!r}")
    if spec.security_groups:
        raise field_error("security_groups", f"no such security group {spec.security_groups[0]!r}")
    owner = ctx.principal.username
    quotas.consume(ctx, owner=owner, amounts=_quota_amounts(flavor.vcpus, flavor.memory_mb))
    instance_id = new_id("i")
    instance = Instance(
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
        # Given rather than left to their default factories: pydantic inspects a factory's
        # signature on every call, which made up a tenth of a launch.
        updated_at=ctx.now,
        tags={},
        meta={},
        security_groups=[],
        attached_volumes=[],
    )
    apply_common(instance, spec, now=ctx.now)
    instance.private_ip = ipam.allocate(
        ctx, pool=f"default:{owner}", network=DEFAULT_PRIVATE_NETWORK, resource_id=instance_id
    )
    instance.public_ip = _public_ip(ctx, instance_id)
    LIFECYCLE.begin(ctx, instance, "pending")
    ctx.session.add(instance)
    counts.add(ctx.session, collection="instances", owner=owner, delta=1)
    audit.record(
        ctx,
        action="create",
        resource_type="instance",
        resource_id=instance_id,
        resource_name=instance.name,
        details={"flavor": flavor.flavor_id, "image": image.image_id},
    )
    return instance


def _public_ip(ctx: Ctx, instance_id: str) -> str | None:
    # The shared public range is small (251 addresses); past that, instances launch without one,
    # as a cloud does when its public pool is spent, rather than failing the launch.
    from engine.errors import Conflict

    try:
        return ipam.allocate(ctx, pool="public", network=PUBLIC_NETWORK, resource_id=instance_id)
    except Conflict:
        return None


def update_instance(ctx: Ctx, instance: Instance, spec: InstanceUpdate) -> Instance:
    if instance.status in FINAL_STATES:
        raise InvalidState(f"instance {instance.instance_id} is {instance.status}")
    if spec.security_groups:
        raise field_error("security_groups", f"no such security group {spec.security_groups[0]!r}")
    apply_common(instance, spec, now=ctx.now)
    for name in ("enable_monitoring", "enable_termination_protection"):
        value = getattr(spec, name)
        if value is not None:
            setattr(instance, name, value)
    ctx.session.add(instance)
    audit.record(
        ctx,
        action="update",
        resource_type="instance",
        resource_id=instance.instance_id,
        resource_name=instance.name,
        details=spec.model_dump(exclude_none=True, exclude={"metadata"}),
    )
    return instance


def start_instance(ctx: Ctx, instance: Instance) -> Instance:
    LIFECYCLE.require(instance, ("stopped",), "Instance must be stopped")
    LIFECYCLE.begin(ctx, instance, "pending")
    instance.launch_time = ctx.now
    return _acted(ctx, instance, "start")


def stop_instance(ctx: Ctx, instance: Instance) -> Instance:
    LIFECYCLE.require(instance, ("running",), "Instance must be running")
    LIFECYCLE.begin(ctx, instance, "stopping")
    instance.stop_time = ctx.now
    return _acted(ctx, instance, "stop")


def terminate_instance(ctx: Ctx, instance: Instance) -> Instance:
    """Terminate (or cancel a pending launch); releases IPs and quotas at once."""
    if instance.enable_termination_protection and instance.status not in FINAL_STATES:
        raise InvalidState(
            "Instance is protected from termination; clear enable_termination_protection first"
        )
    if instance.status == "pending":
        LIFECYCLE.begin(ctx, instance, "cancelled")
    else:
        LIFECYCLE.require(instance, ("running", "stopped"), "Instance must be running or stopped")
        LIFECYCLE.begin(ctx, instance, "terminating")
    instance.termination_time = ctx.now
    ipam.release(ctx, resource_id=instance.instance_id)
    instance.private_ip = instance.public_ip = None
    for resource_type, amount in _quota_amounts(instance.vcpus, instance.memory_mb).items():
        quotas.release(ctx, owner=instance.owner or "", resource_type=resource_type, amount=amount)
    return _acted(ctx, instance, "terminate")


def delete_instance(ctx: Ctx, instance: Instance, *, force: bool = False) -> int:
    """`DELETE` follows the terminate rules and is asynchronous (202)."""
    terminate_instance(ctx, instance)
    return 202


def _acted(ctx: Ctx, instance: Instance, action: str) -> Instance:
    ctx.session.add(instance)
    audit.record(
        ctx,
        action=action,
        resource_type="instance",
        resource_id=instance.instance_id,
        resource_name=instance.name,
        details={"status": instance.status},
    )
    return instance


INSTANCES = ResourceKind(
    resource_type="instance",
    model=Instance,
    id_field="instance_id",
    public=public,
    summary=summary,
    detail=detail,
    filters={"owner": str, "status": str, "flavor": str, "availability_zone": str},
    search=("instance_id", "name", "private_ip", "public_ip"),
    ordering=("created_at", "name", "status"),
    default_ordering="-created_at",
    counted_as="instances",
    lifecycle=LIFECYCLE,
    create_schema=InstanceCreate,
    create=create_instance,
    update_schema=InstanceUpdate,
    update=update_instance,
    delete=delete_instance,
)
