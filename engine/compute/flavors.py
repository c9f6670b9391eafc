"""Flavors: the built-in catalog of instance sizes, read-only."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import col

from engine.compute.models import Flavor
from engine.context import Ctx
from engine.db import Database
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
    flavor = next((f for f in _catalog(ctx).rows if ref in (f.flavor_id, f.name)), None)
    if flavor is None or not flavor.is_active:
        raise field_error("flavor", f"no active flavor {ref!r}; see `atonix flavor list`")
    return flavor


def details(ctx: Ctx, flavor_id: str) -> dict[str, Any] | None:
    """The public form of a flavor by id, as an instance's `flavor_details`; None if unknown."""
    shown = _catalog(ctx).shown.get(flavor_id)
    return dict(shown) if shown is not None else None


@dataclass(frozen=True)
class _Catalog:
    rows: tuple[Flavor, ...]  # transient copies, never attached to a session: read-only
    shown: dict[str, dict[str, Any]]


# The built-in catalog is static (seeded with its table; no API changes it), so each process
# reads it once per database. Keyed by the Database object itself (weakly): two databases at one
# URL, such as a file removed and created again, never share an entry.
_CATALOGS: weakref.WeakKeyDictionary[Database, _Catalog] = weakref.WeakKeyDictionary()


def _catalog(ctx: Ctx) -> _Catalog:
    found = _CATALOGS.get(ctx.db)
    if found is None:
        table = Flavor.__table__  # type: ignore[attr-defined]
        rows = tuple(
            Flavor(**row._mapping)
            for row in ctx.session.execute(sa_select(table).order_by(table.c.id))
        )
        found = _CATALOGS[ctx.db] = _Catalog(rows, {f.flavor_id: public(f) for f in rows})
    return found


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
