"""Flavors: the built-in catalog of instance sizes, read-only."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select as sa_select
from sqlalchemy.engine import Connection
from sqlmodel import Field, SQLModel, col

from engine.api.http import Request
from engine.clock import utcnow
from engine.collection import READ_ONLY, Action, Collection, Query
from engine.context import Ctx
from engine.db import SEEDS, Database
from engine.errors import ValidationFailed, field_error
from engine.resources import list_page, parse_bool
from engine.sqltypes import UTCDateTime


class Flavor(SQLModel, table=True):
    __tablename__ = "flavors"
    id: int | None = Field(default=None, primary_key=True)
    flavor_id: str = Field(unique=True, max_length=64)
    name: str = Field(unique=True, max_length=64)
    vcpus: int
    memory_mb: int
    disk_gb: int
    network_bandwidth_gbps: float = 1.0
    gpu_count: int = 0
    gpu_type: str | None = None
    hourly_cost_usd: float
    is_active: bool = True
    is_gpu: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# The built-in catalog: the flavors priced in SPEC B6.
# (flavor_id, name, vcpus, memory_mb, disk_gb, bandwidth_gbps, gpu_count, gpu_type, hourly_usd)
FLAVOR_CATALOG = (
    ("t3-micro", "t3.micro", 2, 1024, 10, 1.0, 0, None, 0.0104),
    ("t3-small", "t3.small", 2, 2048, 20, 1.0, 0, None, 0.0208),
    ("t3-medium", "t3.medium", 2, 4096, 40, 1.0, 0, None, 0.0416),
    ("c5-large", "c5.large", 2, 4096, 50, 2.5, 0, None, 0.085),
    ("m5-large", "m5.large", 2, 8192, 50, 2.5, 0, None, 0.096),
    ("r5-large", "r5.large", 2, 16384, 50, 2.5, 0, None, 0.126),
    ("c5-xlarge", "c5.xlarge", 4, 8192, 100, 5.0, 0, None, 0.17),
    ("m5-xlarge", "m5.xlarge", 4, 16384, 100, 5.0, 0, None, 0.192),
    ("g4dn-xlarge", "g4dn.xlarge", 4, 16384, 125, 10.0, 1, "nvidia-t4", 0.526),
    ("r5-xlarge", "r5.xlarge", 4, 32768, 100, 5.0, 0, None, 0.252),
)


def _seed_flavors(conn: Connection) -> None:
    conn.execute(
        Flavor.__table__.insert(),  # type: ignore[attr-defined]
        [
            {
                "flavor_id": f,
                "name": n,
                "vcpus": v,
                "memory_mb": m,
                "disk_gb": d,
                "network_bandwidth_gbps": bw,
                "gpu_count": g,
                "gpu_type": gt,
                "hourly_cost_usd": price,
                "is_active": True,
                "is_gpu": g > 0,
                "created_at": utcnow(),
            }
            for f, n, v, m, d, bw, g, gt, price in FLAVOR_CATALOG
        ],
    )


SEEDS["flavors"] = _seed_flavors


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


def find_launchable(ctx: Ctx, ref: str) -> Flavor:
    """An active flavor by id (`t3-micro`) or name (`t3.micro`); 400 otherwise (SPEC B3)."""
    flavor = next((f for f in _catalog(ctx).rows if ref in (f.flavor_id, f.name)), None)
    if flavor is None or not flavor.is_active:
        raise field_error("flavor", f"no active flavor {ref!r}; see `atonix flavor list`")
    return flavor


_ID_BY_NAME = {name: flavor_id for flavor_id, name, *_ in FLAVOR_CATALOG}


def flavor_id(ref: str) -> str:
    """A flavor's id from its id or its name (`t3.micro` is `t3-micro`), for list filters."""
    return _ID_BY_NAME.get(ref, ref)


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


def gpu_flavors(request: Request) -> dict[str, Any]:
    return list_page(
        request.ctx, FLAVORS, request.query, path=request.path, where=[col(Flavor.is_gpu).is_(True)]
    )


def flavors_by_vcpus(request: Request) -> dict[str, Any]:
    raw = request.arg("vcpus")
    if raw is None:
        raise ValidationFailed("vcpus parameter required", details={"vcpus": ["required"]})
    if not raw.isdigit():
        raise ValidationFailed("vcpus: must be a positive integer", details={"vcpus": [raw]})
    return list_page(request.ctx, FLAVORS, request.query, path=request.path)


FLAVORS = Collection(
    service="compute",
    name="flavors",
    label="flavor",
    id_prefix="",  # built-in ids are readable (t3-micro), not generated
    verbs=READ_ONLY,
    model=Flavor,
    id_field="flavor_id",
    public=public,
    filters={"vcpus": int, "is_gpu": parse_bool, "gpu_type": str},
    search=("name", "flavor_id", "gpu_type"),
    ordering=("vcpus", "memory_mb", "name", "hourly_cost_usd", "created_at"),
    default_ordering="vcpus,memory_mb",
    visible=_active,
    actions=(
        Action("gpu_flavors", gpu_flavors, "GET", detail=False, summary="List GPU flavors"),
        Action(
            "by_vcpus",
            flavors_by_vcpus,
            "GET",
            detail=False,
            summary="List flavors with a given vCPU count",
            query={
                "vcpus": Query("The vCPU count", {"type": "integer", "minimum": 1}, required=True)
            },
            paged=True,
        ),
    ),
)
