"""Generic list, create, get, update and delete handlers, driven by a collection's ResourceKind."""

from __future__ import annotations

from typing import Any

from engine.api.http import Request, Response
from engine.errors import MethodNotAllowed
from engine.resources import ResourceKind, list_page


def _kind(request: Request) -> ResourceKind:
    assert request.kind is not None, f"route {request.path} declares no resource"
    return request.kind


def list_(request: Request) -> dict[str, Any]:
    return list_page(request.ctx, _kind(request), request.query, path=request.path)


def create(request: Request) -> Response:
    kind = _kind(request)
    if kind.create is None or kind.create_schema is None:
        raise MethodNotAllowed(f"{kind.label()}s cannot be created here")
    obj = kind.create(request.ctx, request.parse(kind.create_schema))
    return Response(201, kind.show(request.ctx, obj))


def retrieve(request: Request) -> dict[str, Any]:
    return _kind(request).show(request.ctx, request.target())


def update(request: Request) -> dict[str, Any]:
    kind = _kind(request)
    if kind.update is None or kind.update_schema is None:
        raise MethodNotAllowed(f"{kind.label()}s cannot be updated")
    obj = request.target(for_write=True)
    return kind.show(request.ctx, kind.update(request.ctx, obj, request.parse(kind.update_schema)))


def destroy(request: Request) -> Response:
    kind = _kind(request)
    if kind.delete is None:
        raise MethodNotAllowed(f"{kind.label()}s cannot be deleted")
    obj = request.target(for_write=True)
    status = kind.delete(request.ctx, obj, force=request.flag("force"))
    return Response(status, None)
