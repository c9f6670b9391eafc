"""API paths and small helpers shared by tests that speak HTTP, in-process or to a server."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import httpx

API = "/api/v1"
SERVICES = f"{API}/services"
FLAVORS = f"{SERVICES}/flavors/"
IMAGES = f"{SERVICES}/images/"
INSTANCES = f"{SERVICES}/instances/"
USERS = f"{API}/users/"
KEYS = f"{API}/auth/keys/"
LOGIN = f"{API}/auth/login/"
LOGOUT = f"{API}/auth/logout/"
WHOAMI = f"{API}/auth/whoami/"
QUOTAS = f"{API}/quotas/"
AUDIT = f"{API}/audit-logs/"
CLOCK = f"{API}/clock/"
ADVANCE = f"{API}/clock/advance/"
HEALTH = f"{API}/health/"
OPENAPI = f"{API}/openapi.json"


def instance(instance_id: str, action: str = "") -> str:
    return f"{INSTANCES}{instance_id}/{action + '/' if action else ''}"


def image(image_id: str) -> str:
    return f"{IMAGES}{image_id}/"


def expect(response: httpx.Response, status: int) -> Any:
    """The JSON body of a response that must have `status`; the body is shown when it has not."""
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url.path} -> "
        f"{response.status_code}, expected {status}: {response.text}"
    )
    return response.json() if response.content else None


def expect_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """An A3 error body with this status and code, whose request id matches the header."""
    body: dict[str, Any] = expect(response, status)
    assert set(body) == {"error", "code", "details", "request_id"}, body
    assert body["code"] == code, body
    assert isinstance(body["error"], str) and body["error"], body
    assert isinstance(body["details"], dict), body
    assert body["request_id"] == response.headers["x-request-id"], body
    return body


def launch(client: httpx.Client, name: str = "web", **fields: Any) -> dict[str, Any]:
    """Create a t3.micro Ubuntu instance (or as `fields` say) and return its body."""
    body = {"name": name, "flavor": "t3.micro", "image": "ubuntu-22.04", **fields}
    created: dict[str, Any] = expect(client.post(INSTANCES, json=body), 201)
    return created


def status_of(client: httpx.Client, instance_id: str) -> str:
    status: str = expect(client.get(instance(instance_id)), 200)["status"]
    return status


def quota(client: httpx.Client, resource_type: str, owner: str | None = None) -> dict[str, Any]:
    params = {"owner": owner} if owner else {}
    rows = expect(client.get(QUOTAS, params=params), 200)["results"]
    return next(r for r in rows if r["resource_type"] == resource_type)


@dataclass
class User:
    """A user made for one test, with a client holding a bearer token from its login."""

    username: str
    password: str
    client: httpx.Client


def add_user(
    admin: httpx.Client,
    base_url: str,
    transport: httpx.BaseTransport | None = None,
    *,
    role: str = "developer",
) -> User:
    """Create a user through the admin API, log in, and return a client authenticated as it."""
    username = f"u{secrets.token_hex(5)}"
    password = secrets.token_urlsafe(12)
    expect(admin.post(USERS, json={"username": username, "password": password, "role": role}), 201)
    anonymous = httpx.Client(base_url=base_url, transport=transport)
    token = expect(anonymous.post(LOGIN, json={"username": username, "password": password}), 200)
    anonymous.headers["Authorization"] = f"Bearer {token['token']}"
    return User(username=username, password=password, client=anonymous)
