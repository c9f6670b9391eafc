"""HTTP adapters for compute's custom actions (CRUD goes through the generic handlers)."""

from __future__ import annotations

from typing import Any

from sqlmodel import col

from engine.api.http import Request
from engine.compute import instances, metrics
from engine.compute.models import Flavor, Image
from engine.errors import ValidationFailed
from engine.resources import list_page


def _page(request: Request, *where: Any) -> dict[str, Any]:
    assert request.kind is not None
    return list_page(request.ctx, request.kind, request.query, path=request.path, where=list(where))


def gpu_flavors(request: Request) -> dict[str, Any]:
    return _page(request, col(Flavor.is_gpu).is_(True))


def flavors_by_vcpus(request: Request) -> dict[str, Any]:
    raw = request.arg("vcpus")
    if raw is None:
        raise ValidationFailed("vcpus parameter required", details={"vcpus": ["required"]})
    if not raw.isdigit():
        raise ValidationFailed("vcpus: must be a positive integer", details={"vcpus": [raw]})
    return _page(request)


def public_images(request: Request) -> dict[str, Any]:
    return _page(request, col(Image.is_public).is_(True))


def my_images(request: Request) -> dict[str, Any]:
    return _page(request, col(Image.owner) == request.ctx.principal.username)


def start_instance(request: Request) -> dict[str, str]:
    instances.start_instance(request.ctx, request.target(for_write=True))
    return {"status": "Instance started"}


def stop_instance(request: Request) -> dict[str, str]:
    instances.stop_instance(request.ctx, request.target(for_write=True))
    return {"status": "Instance stopped"}


def terminate_instance(request: Request) -> dict[str, str]:
    instances.terminate_instance(request.ctx, request.target(for_write=True))
    return {"status": "Instance terminated"}


def instance_metrics(request: Request) -> dict[str, Any]:
    rows = metrics.samples(request.target(), now=request.ctx.now)
    return {"count": len(rows), "next": None, "previous": None, "results": rows}
