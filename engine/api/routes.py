"""The route table: every endpoint of the API, declared once, with handlers named lazily."""

from __future__ import annotations

from dataclasses import dataclass

API = "/api/v1"
SERVICES = f"{API}/services"
# The cloud SDKs' unversioned spelling of SERVICES; the router reads it as SERVICES.
SDK_SERVICES = "/api/services"


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: str  # "module:function", imported on first use so services load only when touched
    permission: str  # "<service>:read|write", "admin", "authenticated" or "public"
    summary: str
    resource: str | None = None  # "module:KIND", the collection's ResourceKind
    action: str | None = None  # the operation's name in the audit log
    status: int = 200
    body: str | None = None  # "module:Schema" of a non-CRUD body (CRUD bodies come from the kind)


@dataclass(frozen=True)
class Action:
    name: str
    handler: str
    method: str = "POST"
    detail: bool = True
    status: int = 200
    body: str | None = None
    summary: str = ""


CRUD = ("list", "create", "get", "update", "delete")
READ_ONLY = ("list", "get")


def collection(
    name: str,
    *,
    service: str,
    resource: str,
    label: str,
    verbs: tuple[str, ...] = CRUD,
    actions: tuple[Action, ...] = (),
) -> list[Route]:
    """The routes of one collection: the verbs it supports, then its custom actions (SPEC A1)."""
    base, item = f"{SERVICES}/{name}/", f"{SERVICES}/{name}/{{id}}/"
    read, write = f"{service}:read", f"{service}:write"
    a = f"an {label}" if label[0] in "aeiou" else f"a {label}"
    crud = "engine.api.crud"
    routes: list[Route] = []
    if "list" in verbs:
        routes.append(Route("GET", base, f"{crud}:list_", read, f"List {label}s", resource))
    if "create" in verbs:
        routes.append(
            Route("POST", base, f"{crud}:create", write, f"Create {a}", resource, "create", 201)
        )
    if "get" in verbs:
        routes.append(Route("GET", item, f"{crud}:retrieve", read, f"Show {a}", resource))
    if "update" in verbs:
        for method in ("PATCH", "PUT"):
            routes.append(
                Route(method, item, f"{crud}:update", write, f"Update {a}", resource, "update", 200)
            )
    if "delete" in verbs:
        routes.append(
            Route("DELETE", item, f"{crud}:destroy", write, f"Delete {a}", resource, "delete", 204)
        )
    for act in actions:
        path = f"{item}{act.name}/" if act.detail else f"{base}{act.name}/"
        routes.append(
            Route(
                act.method,
                path,
                act.handler,
                read if act.method == "GET" else write,
                act.summary or f"{act.name.replace('_', ' ').capitalize()} ({label})",
                resource,
                None if act.method == "GET" else act.name,
                act.status,
                act.body,
            )
        )
    return routes


def _compute() -> list[Route]:
    api = "engine.compute.api"
    return [
        *collection(
            "flavors",
            service="compute",
            resource="engine.compute.flavors:FLAVORS",
            label="flavor",
            verbs=READ_ONLY,
            actions=(
                Action(
                    "gpu_flavors",
                    f"{api}:gpu_flavors",
                    "GET",
                    detail=False,
                    summary="List GPU flavors",
                ),
                Action(
                    "by_vcpus",
                    f"{api}:flavors_by_vcpus",
                    "GET",
                    detail=False,
                    summary="List flavors with a given vCPU count",
                ),
            ),
        ),
        *collection(
            "images",
            service="compute",
            resource="engine.compute.images:IMAGES",
            label="image",
            actions=(
                Action(
                    "public",
                    f"{api}:public_images",
                    "GET",
                    detail=False,
                    summary="List public images",
                ),
                Action(
                    "my_images",
                    f"{api}:my_images",
                    "GET",
                    detail=False,
                    summary="List your own images",
                ),
            ),
        ),
        *collection(
            "instances",
            service="compute",
            resource="engine.compute.instances:INSTANCES",
            label="instance",
            actions=(
                Action("start", f"{api}:start_instance", summary="Start a stopped instance"),
                Action("stop", f"{api}:stop_instance", summary="Stop a running instance"),
                Action("terminate", f"{api}:terminate_instance", summary="Terminate an instance"),
                Action(
                    "metrics",
                    f"{api}:instance_metrics",
                    "GET",
                    summary="Latest 100 metric samples, newest first",
                ),
            ),
        ),
    ]


def _platform() -> list[Route]:
    ident, gov = "engine.identity.api", "engine.governance"
    return [
        Route("GET", f"{API}/health/", "engine.api.meta:health", "public", "Liveness and version"),
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
            body=f"{gov}:AdvanceBody",
        ),
    ]


ROUTES: tuple[Route, ...] = (*_platform(), *_compute())


# Served only by an app started with allow_reset (`atonix engine serve --allow-reset`), so it is
# not in ROUTES: without the flag the path does not exist, and OpenAPI never documents it.
RESET = Route(
    "POST",
    f"{API}/engine/reset/",
    "engine.api.reset:reset",
    "admin",
    "Return the engine to a fresh state, keeping users and the root API key (tests only)",
)
