"""The OpenAPI 3.1 description of the whole route table, generated once per process."""

from __future__ import annotations

import functools
import importlib
import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from engine.api.http import Request
from engine.api.idempotency import MAX_KEY as MAX_IDEMPOTENCY_KEY
from engine.api.meta import VERSION
from engine.api.routes import API, SERVICES, Route, every_route
from engine.errors import ApiError
from engine.resources import parse_bool

OPENAPI_VERSION = "3.1.0"
SECURITY: list[dict[str, list[str]]] = [{"Token": []}, {"ApiKey": []}, {"Bearer": []}]
_CRUD = "engine.api.crud"
_SCHEMAS = "#/components/schemas/"
_QUERY_TYPES: dict[Any, str] = {int: "integer", float: "number", parse_bool: "boolean"}
_PATH_PARAM = re.compile(r"\{(\w+)(?::path)?\}")
# The failures an operation documents: each status with what the A3 `code` says there.
_ERRORS = {
    400: "Invalid request: malformed JSON, unknown or invalid field or parameter "
    "(VALIDATION_ERROR)",
    401: "Missing, invalid, expired or revoked credentials (UNAUTHENTICATED)",
    403: "The caller's role or the credential's scopes do not allow this (FORBIDDEN)",
    404: "No such resource, or it is not the caller's (NOT_FOUND)",
    405: "The path exists but not with this method (METHOD_NOT_ALLOWED)",
    409: "Duplicate (CONFLICT), wrong state (INVALID_STATE) or still in use (DEPENDENCY_VIOLATION)",
    413: "The request body is too large (TOO_LARGE)",
    416: "The Range is outside the object (RANGE_NOT_SATISFIABLE)",
    503: "The service cannot take the request now, such as a full data volume "
    "(SERVICE_UNAVAILABLE)",
    429: "A quota would be exceeded (QUOTA_EXCEEDED, never worth a retry) or too many "
    "requests (RATE_LIMITED, see Retry-After)",
    500: "An unexpected failure; quote the request id (INTERNAL_ERROR)",
}


def document(request: Request) -> dict[str, Any]:
    """GET /api/v1/openapi.json: the same document for every caller, built on first use."""
    return build()


@functools.cache
def build() -> dict[str, Any]:
    """The whole document; importing each collection's module to read its request schemas."""
    routes = every_route()
    bodies = {route: _body_model(route) for route in routes}
    models = sorted({m for m in bodies.values() if m is not None}, key=_qualname)
    refs, definitions = models_json_schema(
        [(model, "validation") for model in models], ref_template=_SCHEMAS + "{model}"
    )
    body_refs = {model: refs[(model, "validation")] for model in models}
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        model = bodies[route]
        # `{key:path}` (the rest of the path) is an ordinary `{key}` to OpenAPI.
        path = route.path.replace(":path}", "}")
        paths.setdefault(path, {})[route.method.lower()] = _operation(
            route, body_refs[model] if model else None
        )
    _link_creates(paths)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "AtonixCorp Cloud Services API",
            "version": VERSION,
            "description": "The API the atonix CLI speaks, served by the cloud or by the "
            "embedded engine. Errors share one body (Error); lists are paged (Page).",
        },
        "paths": paths,
        "components": {
            "schemas": {
                **definitions.get("$defs", {}),
                "Error": _error_schema(),
                "Page": _page_schema(),
            },
            "responses": {
                str(status): {
                    "description": text,
                    "headers": {"X-Request-Id": {"$ref": "#/components/headers/RequestId"}},
                    "content": {"application/json": {"schema": {"$ref": _SCHEMAS + "Error"}}},
                }
                for status, text in _ERRORS.items()
            },
            "headers": {
                "RequestId": {
                    "description": "The request's id, also in error bodies; quote it in reports.",
                    "schema": {"type": "string"},
                }
            },
            "parameters": {
                "IdempotencyKey": {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "description": "Repeating a POST with the same key within 24 h returns the "
                    "first response instead of acting twice; a different body is a 409.",
                    "schema": {"type": "string", "maxLength": MAX_IDEMPOTENCY_KEY},
                }
            },
            "securitySchemes": {
                "Token": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "An API key: `Authorization: Token atonix_…`.",
                },
                "ApiKey": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "An API key: `Authorization: ApiKey atonix_…`.",
                },
                "Bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from POST /api/v1/auth/login/.",
                },
            },
        },
    }


def _operation(route: Route, body_ref: dict[str, Any] | None) -> dict[str, Any]:
    public = route.permission == "public"
    kind = _kind(route)
    operation: dict[str, Any] = {
        "operationId": _operation_id(route),
        "summary": route.summary,
        "tags": [_tag(route.path)],
        "security": [] if public else SECURITY,
        "x-atonix-permission": route.permission,
    }
    parameters: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "description": "A public id (such as `i-0123456789ab`) or name",
            "schema": {"type": "string"},
        }
        for name in _PATH_PARAM.findall(route.path)
    ]
    asked = route.custom.query if route.custom is not None else {}
    # A list, or a list-level action that answers a page of it (not a question).
    answers_page = not asked or (route.custom is not None and route.custom.paged)
    paged = kind is not None and route.method == "GET" and "{" not in route.path and answers_page
    if paged:
        # An action's own parameter replaces a list filter of the same name (by_vcpus' vcpus).
        parameters += [p for p in _list_parameters(kind) if p["name"] not in asked]
    for name, query in asked.items():
        parameters.append(
            {
                "name": name,
                "in": "query",
                "required": query.required,
                "description": query.description,
                "schema": dict(query.schema),
            }
        )
    removes = getattr(kind, "force_removes", None) if route.method == "DELETE" else None
    if removes:
        parameters.append(
            {
                "name": "force",
                "in": "query",
                "description": f"true: remove {removes} first",
                "schema": {"type": "boolean", "default": False},
            }
        )
    if route.method == "POST" and not public:
        parameters.append({"$ref": "#/components/parameters/IdempotencyKey"})
    if parameters:
        operation["parameters"] = parameters
    if body_ref is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body_ref}},
        }
    operation["responses"] = {
        **_successes(route, kind, paged),
        **{
            str(status): {"$ref": f"#/components/responses/{status}"}
            for status in _error_statuses(route)
        },
    }
    if route.raw:
        _raw_operation(route, operation)
    return operation


def _link_creates(paths: dict[str, dict[str, Any]]) -> None:
    """Link each create's answer to the operations on what it made (OpenAPI `links`): its
    `resource_id` is their `{id}`, so a client, or the fuzzer's stateful phase, can follow a
    create to the resource's reads, changes, actions and delete."""
    for collection, operations in paths.items():
        created = operations.get("post", {}).get("responses", {}).get("201")
        if created is None or "{" in collection:
            continue
        created["links"] = {
            operation["operationId"]: {
                "operationId": operation["operationId"],
                "parameters": {"path.id": "$response.body#/resource_id"},
            }
            for path, methods in paths.items()
            if path.startswith(collection + "{id}/")
            for operation in methods.values()
        }


def _raw_operation(route: Route, operation: dict[str, Any]) -> None:
    """A data route: raw bytes in (PUT) or out (GET), its headers, and no credentials needed
    for public objects or presigned URLs."""
    operation["description"] = (
        "The raw bytes, streamed. Public objects (GET, HEAD) and presigned URLs (expires, "
        "method, signature) need no credentials."
    )
    parameters = operation.setdefault("parameters", [])
    for name in ("version_id", "expires", "method", "signature"):
        parameters.append(
            {
                "name": name,
                "in": "query",
                "required": False,
                "description": "A version (version_id) or a presigned URL's part",
                "schema": {"type": "string"},
            }
        )
    header_names = {
        "PUT": (
            "x-atonix-checksum-sha256",
            "Content-MD5",
            "x-atonix-storage-class",
            "x-atonix-meta-name",
        ),
        "GET": ("Range", "If-None-Match"),
    }.get(route.method, ())
    for name in header_names:
        parameters.append(
            {"name": name, "in": "header", "required": False, "schema": {"type": "string"}}
        )
    if route.method == "PUT":
        operation["requestBody"] = {
            "required": True,
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
        }
    if route.method == "GET":
        binary = {"*/*": {"schema": {"type": "string", "format": "binary"}}}
        operation["responses"] = {
            "200": {"description": "The object's bytes", "content": binary},
            "206": {"description": "The bytes of the Range", "content": binary},
            "304": {"description": "Not modified (If-None-Match)"},
            "416": {"$ref": "#/components/responses/416"},
            **{k: v for k, v in operation["responses"].items() if k not in ("200",)},
        }


def _successes(route: Route, kind: Any, paged: bool) -> dict[str, Any]:
    headers = {"X-Request-Id": {"$ref": "#/components/headers/RequestId"}}
    if route.status == 204:
        out = {"204": {"description": "Done; no body", "headers": headers}}
        if route.handler == f"{_CRUD}:destroy" and kind is not None and kind.lifecycle:
            # A resource with a lifecycle may pass through a deleting state first (SPEC A1).
            out["202"] = {
                "description": "Deletion accepted; the resource passes through its final states",
                "headers": headers,
            }
        return out
    schema: dict[str, Any] = {"$ref": _SCHEMAS + "Page"} if paged else {"type": "object"}
    description = {200: "OK", 201: "Created", 202: "Accepted"}.get(route.status, "Success")
    return {
        str(route.status): {
            "description": description,
            "headers": headers,
            "content": {"application/json": {"schema": schema}},
        }
    }


def _error_statuses(route: Route) -> list[int]:
    statuses = [400]
    if route.permission != "public":
        statuses += [401, 403]
    if "{" in route.path:
        statuses.append(404)
    if route.method != "GET":
        statuses += [409, 413]
    statuses += [429, 500]
    return sorted(statuses)


def _list_parameters(kind: Any) -> list[dict[str, Any]]:
    def query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": name,
            "in": "query",
            "required": False,
            "description": description,
            "schema": schema,
        }

    ordering = ", ".join(kind.ordering)
    parameters = [
        query("page", "Page number, from 1", {"type": "integer", "minimum": 1, "default": 1}),
        query(
            "page_size",
            "Items per page (at most 1000)",
            {"type": "integer", "minimum": 1, "maximum": 1000, "default": 20},
        ),
        query(
            "ordering",
            f"One of {ordering}, `-` to reverse; comma-separated for several",
            {"type": "string", "default": kind.default_ordering},
        ),
    ]
    if kind.search:
        parameters.append(
            query("search", f"Substring of any of {', '.join(kind.search)}", {"type": "string"})
        )
    for name, parse in kind.exact_filters().items():
        schema = {"type": _QUERY_TYPES.get(parse, "string")}
        parameters.append(query(name, f"Only items whose {name} equals this", schema))
    return parameters


def _body_model(route: Route) -> type[BaseModel] | None:
    if route.body:
        model: type[BaseModel] = _load(route.body)
        return model
    kind = _kind(route)
    if kind is not None and route.handler == f"{_CRUD}:create":
        return kind.create_schema
    if kind is not None and route.handler == f"{_CRUD}:update":
        return kind.update_schema
    return None


def _kind(route: Route) -> Any:
    return _load(route.resource) if route.resource else None


def _load(ref: Any) -> Any:
    """A declaration itself, or one named "module:attribute"."""
    if not isinstance(ref, str):
        return ref
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def _qualname(model: type[BaseModel]) -> str:
    return f"{model.__module__}.{model.__qualname__}"


def _operation_id(route: Route) -> str:
    words = re.sub(r"[^a-z0-9]+", "_", route.path.removeprefix(API).lower()).strip("_")
    return f"{route.method.lower()}_{words}"


def _tag(path: str) -> str:
    rest = (
        path.removeprefix(SERVICES + "/")
        if path.startswith(SERVICES)
        else path.removeprefix(API + "/")
    )
    return re.split(r"[/.]", rest, maxsplit=1)[0]


def _error_codes() -> list[str]:
    codes, pending = set(), [ApiError]
    while pending:
        cls = pending.pop()
        codes.add(cls.code)
        pending.extend(cls.__subclasses__())
    return sorted(codes)


def _error_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "Every error (SPEC A3).",
        "required": ["error", "code", "details", "request_id"],
        "properties": {
            "error": {"type": "string", "description": "A message for humans"},
            "code": {"type": "string", "enum": _error_codes(), "description": "Stable code"},
            "details": {"type": "object", "description": "Field errors, limits, allowed values"},
            "request_id": {"type": "string"},
        },
    }


def _page_schema() -> dict[str, Any]:
    link = {"type": ["string", "null"], "description": "Path and query of the adjacent page"}
    return {
        "type": "object",
        "description": "One page of a list (SPEC A4).",
        "required": ["count", "next", "previous", "results"],
        "properties": {
            "count": {"type": "integer", "minimum": 0},
            "next": link,
            "previous": link,
            "results": {"type": "array", "items": {"type": "object"}},
        },
    }
