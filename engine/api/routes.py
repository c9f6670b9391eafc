"""The route table: the platform's endpoints, and each collection's from its declaration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.collection import Action, Collection

API = "/api/v1"
SERVICES = f"{API}/services"
# The cloud SDKs' unversioned spelling of SERVICES; the router reads it as SERVICES.
SDK_SERVICES = "/api/services"


@dataclass(frozen=True, eq=False)
class Route:
    method: str
    path: str
    handler: str  # "module:function", imported on first use so services load only when touched
    permission: str  # "<service>:read|write", "admin", "authenticated" or "public"
    summary: str
    # The route's ResourceKind: a collection's declaration, or "module:KIND" for a platform list.
    resource: Any = None
    action: str | None = None  # the operation's name in the audit log
    status: int = 200
    # The schema of a non-CRUD body (CRUD bodies come from the kind): "module:Schema" or a class.
    body: Any = None
    custom: Action | None = None  # the collection's custom action this route runs
    # A platform write's audit resource_type (a collection's comes from its declaration).
    resource_type: str = ""
    # A raw route: its handler reads the body as a stream (`request.stream`) and runs its own
    # units of work (`request.unit`); its response may be streamed (`engine.api.http.Stream`).
    raw: bool = False


def collection_routes(coll: Collection) -> tuple[Route, ...]:
    """The routes of one collection, from its declaration: its verbs, then its actions (A1)."""
    base, item = f"{SERVICES}/{coll.name}/", f"{SERVICES}/{coll.name}/{{id}}/"
    read, write = f"{coll.service}:read", f"{coll.service}:write"
    label = coll.label
    a = f"an {label}" if label[0] in "aeiou" else f"a {label}"
    crud = "engine.api.crud"
    verbs = coll.verbs
    routes: list[Route] = []
    if "list" in verbs:
        routes.append(Route("GET", base, f"{crud}:list_", read, f"List {label}s", coll))
    if "create" in verbs:
        routes.append(
            Route("POST", base, f"{crud}:create", write, f"Create {a}", coll, "create", 201)
        )
    if "get" in verbs:
        routes.append(Route("GET", item, f"{crud}:retrieve", read, f"Show {a}", coll))
    if "update" in verbs:
        for method in ("PATCH", "PUT"):
            routes.append(
                Route(method, item, f"{crud}:update", write, f"Update {a}", coll, "update")
            )
    if "delete" in verbs:
        summary = f"{coll.delete_action.capitalize()} {a}"
        routes.append(
            Route("DELETE", item, f"{crud}:destroy", write, summary, coll, coll.delete_action, 204)
        )
    for act in coll.actions:
        routes.append(
            Route(
                act.method,
                f"{item}{act.name}/" if act.detail else f"{base}{act.name}/",
                f"{crud}:act",
                write if act.mutates else read,
                act.summary or f"{act.name.replace('_', ' ').capitalize()} ({label})",
                coll,
                act.name if act.mutates else None,
                act.status,
                act.body,
                act,
            )
        )
    own = {(r.method, r.path) for r in coll.routes}
    return (*(r for r in routes if (r.method, r.path) not in own), *coll.routes)


def _platform() -> list[Route]:
    ident, gov = "engine.identity.api", "engine.governance"
    return [
        Route("GET", f"{API}/health/", "engine.api.meta:health", "public", "Liveness and version"),
        Route("GET", "/healthz", "engine.api.meta:healthz", "public", "The process answers"),
        Route(
            "GET",
            "/readyz",
            "engine.api.meta:readyz",
            "public",
            "The database answers and its schema is this release's (else 503)",
        ),
        Route(
            "GET",
            f"{API}/openapi.json",
            "engine.api.openapi:document",
            "public",
            "This OpenAPI document",
        ),
        Route(
            "POST",
            f"{API}/auth/login/",
            f"{ident}:login",
            "public",
            "Exchange a username and password for a bearer token",
            body=f"{ident}:LoginBody",
        ),
        Route(
            "POST",
            f"{API}/auth/logout/",
            f"{ident}:logout",
            "authenticated",
            "Revoke the bearer token of this request",
            action="logout",
            resource_type="token",
        ),
        Route(
            "GET",
            f"{API}/auth/whoami/",
            f"{ident}:whoami",
            "authenticated",
            "The caller and its credential",
        ),
        Route(
            "GET", f"{API}/auth/keys/", f"{ident}:list_keys", "authenticated", "List your API keys"
        ),
        Route(
            "POST",
            f"{API}/auth/keys/",
            f"{ident}:create_key",
            "authenticated",
            "Create an API key (its secret is shown once)",
            action="create",
            resource_type="api_key",
            status=201,
            body=f"{ident}:KeyBody",
        ),
        Route(
            "DELETE",
            f"{API}/auth/keys/{{id}}/",
            f"{ident}:revoke_key",
            "authenticated",
            "Revoke an API key",
            action="revoke",
            resource_type="api_key",
            status=204,
        ),
        Route("GET", f"{API}/users/", f"{ident}:list_users", "admin", "List users"),
        Route(
            "POST",
            f"{API}/users/",
            f"{ident}:create_user",
            "admin",
            "Create a user",
            action="create",
            resource_type="user",
            status=201,
            body=f"{ident}:UserBody",
        ),
        Route("GET", f"{API}/users/{{id}}/", f"{ident}:get_user", "admin", "Show a user"),
        Route(
            "PATCH",
            f"{API}/users/{{id}}/",
            f"{ident}:update_user",
            "admin",
            "Update a user",
            action="update",
            resource_type="user",
            body=f"{ident}:UserUpdateBody",
        ),
        Route(
            "GET",
            f"{API}/quotas/",
            f"{gov}:list_quotas",
            "authenticated",
            "Your quotas (an admin may pass ?owner=)",
        ),
        Route(
            "PUT",
            f"{API}/quotas/{{id}}/",
            f"{gov}:set_quota",
            "admin",
            "Set a user's limit for one resource type",
            action="set_quota",
            resource_type="quota",
            body=f"{gov}:QuotaBody",
        ),
        Route(
            "GET",
            f"{API}/audit-logs/",
            "engine.api.crud:list_",
            "authenticated",
            "The audit log: your records, everyone's for an admin",
            resource=f"{gov}:AUDIT_LOGS",
        ),
        Route(
            "GET",
            f"{API}/clock/",
            f"{gov}:show_clock",
            "authenticated",
            "The engine clock's mode and current time",
        ),
        Route(
            "POST",
            f"{API}/clock/advance/",
            f"{gov}:advance_clock",
            "admin",
            "Advance the manual clock",
            action="advance_clock",
            resource_type="clock",
            body=f"{gov}:AdvanceBody",
        ),
    ]


# The platform's own routes; each collection's are derived from its declaration, found through
# engine.registry's list of services.
PLATFORM: tuple[Route, ...] = tuple(_platform())


def every_route() -> tuple[Route, ...]:
    """The whole route table, importing every collection: for the OpenAPI document."""
    from engine import registry

    return (*PLATFORM, *(r for c in registry.every() for r in collection_routes(c)))


# Served only by an app started with allow_reset (`atonix engine serve --allow-reset`), so it is
# not in PLATFORM: without the flag the path does not exist, and OpenAPI never documents it.
RESET = Route(
    "POST",
    f"{API}/engine/reset/",
    "engine.api.reset:reset",
    "admin",
    "Return the engine to a fresh state, keeping users and the root API key (tests only)",
)
