"""Authorization over HTTP (SPEC A2): isolation between users, scopes, roles, API key limits."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.support.api import (
    AUDIT,
    INSTANCES,
    KEYS,
    QUOTAS,
    USERS,
    User,
    expect,
    expect_error,
    instance,
    launch,
)
from tests.support.server import RunningServer

BODY = {"name": "web", "flavor": "t3.micro", "image": "ubuntu-22.04"}


def _key_client(server: RunningServer, user: User, scopes: list[str]) -> httpx.Client:
    key = expect(user.client.post(KEYS, json={"name": "scoped", "scopes": scopes}), 201)
    assert key["scopes"] == scopes
    return httpx.Client(base_url=server.url, headers={"Authorization": f"ApiKey {key['key']}"})


def test_users_cannot_see_or_touch_each_others_instances(
    admin: httpx.Client, make_user: Callable[..., User]
) -> None:
    alice, bob = make_user(), make_user()
    mine = launch(alice.client, "alice-web")["instance_id"]
    theirs = launch(bob.client, "bob-web")["instance_id"]

    expect_error(bob.client.get(instance(mine)), 404, "NOT_FOUND")
    for response in (
        bob.client.post(instance(mine, "stop")),
        bob.client.patch(instance(mine), json={"name": "pwned"}),
        bob.client.delete(instance(mine)),
        bob.client.get(instance(mine, "metrics")),
    ):
        expect_error(response, 404, "NOT_FOUND")
    assert [r["instance_id"] for r in expect(bob.client.get(INSTANCES), 200)["results"]] == [theirs]
    assert expect(bob.client.get(INSTANCES, params={"owner": alice.username}), 200)["count"] == 0
    assert expect(alice.client.get(instance(mine)), 200)["status"] == "running"

    # An admin sees and acts on everyone's.
    everyone = {
        r["instance_id"]
        for r in expect(admin.get(INSTANCES, params={"page_size": 1000}), 200)["results"]
    }
    assert {mine, theirs} <= everyone
    only_alice = expect(admin.get(INSTANCES, params={"owner": alice.username}), 200)["results"]
    assert [r["instance_id"] for r in only_alice] == [mine]
    expect(admin.post(instance(mine, "stop")), 200)
    assert expect(alice.client.get(instance(mine)), 200)["status"] == "stopped"


def test_a_read_scoped_key_reads_but_cannot_write(
    server: RunningServer, make_user: Callable[..., User]
) -> None:
    user = make_user()
    iid = launch(user.client)["instance_id"]
    with _key_client(server, user, ["compute:read"]) as reader:
        assert expect(reader.get(INSTANCES), 200)["count"] == 1
        expect(reader.get(instance(iid, "metrics")), 200)
        error = expect_error(reader.post(INSTANCES, json=BODY), 403, "FORBIDDEN")
        assert "compute:write" in error["error"]
        expect_error(reader.post(instance(iid, "stop")), 403, "FORBIDDEN")
        expect_error(reader.delete(instance(iid)), 403, "FORBIDDEN")
    assert expect(user.client.get(instance(iid)), 200)["status"] == "running"


def test_a_service_wildcard_covers_reads_and_writes(
    server: RunningServer, make_user: Callable[..., User]
) -> None:
    user = make_user()
    with _key_client(server, user, ["compute:*"]) as compute:
        expect(compute.post(INSTANCES, json=BODY), 201)
        expect(compute.get(INSTANCES), 200)


def test_a_key_cannot_grant_more_than_the_credential_creating_it(
    server: RunningServer, make_user: Callable[..., User]
) -> None:
    user = make_user()
    with _key_client(server, user, ["compute:read"]) as reader:
        for scopes in (["compute:write"], ["compute:*"], ["*"], ["storage:read"]):
            error = expect_error(
                reader.post(KEYS, json={"name": "wider", "scopes": scopes}), 403, "FORBIDDEN"
            )
            assert "lacks" in error["error"]
        narrower = expect(reader.post(KEYS, json={"name": "same", "scopes": ["compute:read"]}), 201)
        assert narrower["scopes"] == ["compute:read"]
    error = expect_error(
        user.client.post(KEYS, json={"name": "odd", "scopes": ["compute:delete"]}),
        400,
        "VALIDATION_ERROR",
    )
    assert "scopes" in error["details"]


def test_an_admin_key_without_the_admin_scope_cannot_administer(
    server: RunningServer, admin: httpx.Client
) -> None:
    key = expect(admin.post(KEYS, json={"name": "compute-only", "scopes": ["compute:*"]}), 201)
    headers = {"Authorization": f"Token {key['key']}"}
    error = expect_error(httpx.get(f"{server.url}{USERS}", headers=headers), 403, "FORBIDDEN")
    assert "'admin' scope" in error["error"]
    assert admin.delete(f"{KEYS}{key['key_id']}/").status_code == 204


def test_a_viewer_reads_but_cannot_create(make_user: Callable[..., User]) -> None:
    viewer = make_user(role="viewer")
    expect(viewer.client.get(INSTANCES), 200)
    expect(viewer.client.get(QUOTAS), 200)
    error = expect_error(viewer.client.post(INSTANCES, json=BODY), 403, "FORBIDDEN")
    assert error["error"] == "the viewer role can only read"
    expect_error(
        viewer.client.post("/api/v1/services/images/", json={"name": "x"}), 403, "FORBIDDEN"
    )
    refused = expect(viewer.client.get(AUDIT, params={"status": "failure"}), 200)["results"]
    assert [(r["action"], r["resource_type"]) for r in refused] == [
        ("create", "image"),
        ("create", "instance"),
    ]


def test_only_admins_manage_users(admin: httpx.Client, make_user: Callable[..., User]) -> None:
    developer = make_user()
    expect_error(developer.client.get(USERS), 403, "FORBIDDEN")
    expect_error(
        developer.client.post(USERS, json={"username": "mallory", "password": "12345678"}),
        403,
        "FORBIDDEN",
    )
    expect_error(
        developer.client.patch(f"{USERS}{developer.username}/", json={"role": "admin"}),
        403,
        "FORBIDDEN",
    )
    shown = expect(admin.get(f"{USERS}{developer.username}/"), 200)
    assert (shown["role"], shown["is_active"]) == ("developer", True)
    assert "password" not in shown and "password_hash" not in shown


def test_creating_a_user_validates_and_refuses_duplicates(
    admin: httpx.Client, make_user: Callable[..., User]
) -> None:
    existing = make_user()
    expect_error(
        admin.post(USERS, json={"username": existing.username, "password": "long-enough"}),
        409,
        "CONFLICT",
    )
    for body, field in (
        ({"username": "Bad Name", "password": "long-enough"}, "username"),
        ({"username": "shorty", "password": "short"}, "password"),
        ({"username": "roleplay", "password": "long-enough", "role": "root"}, "role"),
    ):
        error = expect_error(admin.post(USERS, json=body), 400, "VALIDATION_ERROR")
        assert field in error["details"]


def test_at_most_five_active_api_keys(make_user: Callable[..., User]) -> None:
    user = make_user()
    keys = [expect(user.client.post(KEYS, json={"name": f"k{n}"}), 201) for n in range(5)]
    error = expect_error(user.client.post(KEYS, json={"name": "k5"}), 409, "CONFLICT")
    assert error["details"] == {"limit": 5, "active": 5}
    assert user.client.delete(f"{KEYS}{keys[0]['key_id']}/").status_code == 204
    expect(user.client.post(KEYS, json={"name": "k5"}), 201)
    statuses = [k["status"] for k in expect(user.client.get(KEYS), 200)["results"]]
    assert sorted(statuses) == ["active"] * 5 + ["revoked"]


def test_a_users_keys_are_their_own(make_user: Callable[..., User]) -> None:
    alice, bob = make_user(), make_user()
    key = expect(alice.client.post(KEYS, json={"name": "mine"}), 201)
    assert expect(bob.client.get(KEYS), 200)["count"] == 0
    expect_error(bob.client.delete(f"{KEYS}{key['key_id']}/"), 404, "NOT_FOUND")
