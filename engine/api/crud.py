"""Generic list, create, get, update, delete and custom-action handlers, driven by a collection's
declaration; the dispatcher audits what they did."""

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
        raise MethodNotAllowed(f"{kind.label}s cannot be created here")
    obj = request.subject = kind.create(request.ctx, request.parse(kind.create_schema))
    return Response(201, kind.show(request.ctx, obj))


def retrieve(request: Request) -> dict[str, Any]:
    return _kind(request).show(request.ctx, request.target())


def update(request: Request) -> dict[str, Any]:
    kind = _kind(request)
    if kind.update is None or kind.update_schema is None:
        raise MethodNotAllowed(f"{kind.label}s cannot be updated")
    obj = request.target(for_write=True)
    return kind.show(request.ctx, kind.update(request.ctx, obj, request.parse(kind.update_schema)))


def destroy(request: Request) -> Response:
    from engine.collection import Collection

    kind = _kind(request)
    if kind.delete is None:
        raise MethodNotAllowed(f"{kind.label}s cannot be deleted")
    obj = request.target(for_write=True)
    force = request.flag("force")
    if isinstance(kind, Collection):
        kind.check_dependents(request.ctx, obj, force=force)
    status = kind.delete(request.ctx, obj, force=force)
    return Response(status, None)


def act(request: Request) -> Any:
    """A custom action: its state precondition, its body, then its function (SPEC B1). A detail
    action that returns the resource answers with it, as the collection shows it."""
    from engine.collection import Collection

    coll, action = request.kind, request.route.custom if request.route else None
    assert isinstance(coll, Collection) and action is not None
    if not action.detail:
        return action.function(request)
    obj = request.target(for_write=action.mutates)
    if action.allowed_from:
        coll.require(obj, action.allowed_from)
    args = (request.parse(action.body),) if action.body is not None else ()
    result = action.function(request.ctx, obj, *args)
    return coll.show(request.ctx, result) if isinstance(result, coll.model) else result
