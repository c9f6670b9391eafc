"""Flavors: the built-in catalog of instance sizes, read-only."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from engine.compute.models import Flavor
from engine.context import Ctx
from engine.errors import field_error
from engine.resources import ResourceKind, parse_bool


def public(flavor: Flavor) -> dict[str, Any]:
    return {
        "resource_id": flavor.flavor_id,
        "flavor_id": flavor.flavor_id,
        "name": flavor.name,
        "vcpus": flavor.vcpus,
        "memory_mb": flavor.memory_mb,
        "disk_gb": flavor.disk_gb,
        "network_bandwidth_gbps": flavor.network_bandwidth_gbps,
        "gpu_count": flavor.gpu_count,
        "gpu_type": flavor.gpu_type,
        "hourly_cost_usd": flavor.hourly_cost_usd,
        "is_active": flavor.is_active,
        "is_gpu": flavor.is_gpu,
        "created_at": flavor.created_at,
    }


def _active(ctx: Ctx, model: Any) -> list[Any]:
    return [col(model.is_active).is_(True)]


def find_active(ctx: Ctx, ref: str) -> Flavor:
    """An active flavor by id (`t3-micro`) or name (`t3.micro`); 400 otherwise (SPEC B3)."""
    flavor = ctx.session.exec(
        select(Flavor).where((Flavor.flavor_id == ref) | (Flavor.name == ref))
    ).first()
    if flavor is None or not flavor.is_active:
        raise field_error("flavor", f"no active flavor {ref!r}; see `atonix flavor list`")
    return flavor


FLAVORS = ResourceKind(
    resource_type="flavor",
    model=Flavor,
    id_field="flavor_id",
    public=public,
    filters={"vcpus": int, "is_gpu": parse_bool, "gpu_type": str},
    search=("name", "flavor_id", "gpu_type"),
    ordering=("vcpus", "memory_mb", "name", "hourly_cost_usd", "created_at"),
    default_ordering="vcpus,memory_mb",
    visible=_active,
)
