"""POST /api/v1/engine/reset/: served only with --allow-reset, admin-only, keeps users and root."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.support.api import (
    AUDIT,
    IMAGES,
    INSTANCES,
    KEYS,
    QUOTAS,
    USERS,
    WHOAMI,
    User,
    add_user,
    expect,
    expect_error,
    launch,
    quota,
)
from tests.support.server import RunningServer, start_server

RESET = "/api/v1/engine/reset/"


@pytest.fixture(scope="module")
def resettable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server of this module's own, as a reset wipes what other tests on a shared one made."""
    running = start_server(tmp_path_factory.mktemp("resettable"), allow_reset=True)
    yield running
    assert running.stop() == 0, running.log()


@pytest.fixture
def root(resettable: RunningServer) -> Iterator[httpx.Client]:
    auth = {"Authorization": f"Token {resettable.admin_api_key}"}
    with httpx.Client(base_url=resettable.url, headers=auth) as client:
        yield client


@pytest.fixture
def make_user(resettable: RunningServer, root: httpx.Client) -> Iterator[Callable[..., User]]:
    made: list[User] = []

    def make(role: str = "developer") -> User:
        made.append(add_user(root, resettable.url, role=role))
        return made[-1]

    yield make
    for user in made:
        user.client.close()


def test_without_the_flag_the_route_does_not_exist(
    admin: httpx.Client, anonymous: httpx.Client
) -> None:
    expect_error(admin.post(RESET), 404, "NOT_FOUND")
    expect_error(anonymous.post(RESET), 404, "NOT_FOUND")
    expect(admin.get(INSTANCES), 200)  # the shared server was not touched


def test_the_flag_is_announced_and_left_out_of_openapi(
    resettable: RunningServer, root: httpx.Client
) -> None:
    assert "engine/reset/ is enabled (--allow-reset)" in resettable.log()
    assert RESET not in expect(root.get("/api/v1/openapi.json"), 200)["paths"]


def test_only_an_admin_may_reset(resettable: RunningServer, make_user: Callable[..., User]) -> None:
    developer = make_user()
    iid = launch(developer.client)["instance_id"]
    expect_error(developer.client.post(RESET), 403, "FORBIDDEN")
    expect_error(httpx.post(resettable.url + RESET), 401, "UNAUTHENTICATED")
    assert expect(developer.client.get(f"{INSTANCES}{iid}/"), 200)["instance_id"] == iid


def test_a_reset_leaves_users_and_the_root_key_and_nothing_else(
    resettable: RunningServer, root: httpx.Client, make_user: Callable[..., User]
) -> None:
    root_key = expect(root.get(WHOAMI), 200)["credential"]["id"]
    public_images = expect(root.get(IMAGES, params={"page_size": 1000}), 200)["count"]
    developer, admin2 = make_user(), make_user("admin")
    launch(root, "mine")
    launch(developer.client, "theirs")
    expect(root.post(KEYS, json={"name": "extra"}), 201)
    dev_key = expect(developer.client.post(KEYS, json={"name": "dev"}), 201)
    body = {"owner": developer.username, "limit": 3}
    expect(root.put(f"{QUOTAS}instances/", json=body), 200)
    assert expect(root.get(AUDIT), 200)["count"] > 0

    deleted = expect(admin2.client.post(RESET), 200)["deleted"]
    assert deleted["instances"] >= 2 and deleted["audit_logs"] > 0
    assert "users" not in deleted

    # The reset caller's bearer token went with everything else; the root key still works.
    expect_error(admin2.client.get(WHOAMI), 401, "UNAUTHENTICATED")
    expect_error(developer.client.get(WHOAMI), 401, "UNAUTHENTICATED")
    dev_auth = {"Authorization": f"Token {dev_key['key']}"}
    expect_error(httpx.get(resettable.url + WHOAMI, headers=dev_auth), 401, "UNAUTHENTICATED")
    assert expect(root.get(WHOAMI), 200)["credential"]["id"] == root_key
    keys = expect(root.get(KEYS), 200)["results"]
    assert [k["key_id"] for k in keys] == [root_key]
    assert expect(root.get(INSTANCES), 200)["count"] == 0
    assert expect(root.get(AUDIT), 200)["count"] == 0
    assert expect(root.get(IMAGES, params={"page_size": 1000}), 200)["count"] == public_images
    limited = quota(root, "instances", owner=developer.username)
    assert (limited["limit"], limited["used"]) == (100, 0)

    # Users stay, and log in again with their passwords; the engine works as before.
    names = {u["username"] for u in expect(root.get(USERS), 200)["results"]}
    assert {resettable.admin_username, developer.username, admin2.username} <= names
    again = add_user_login(resettable, developer)
    assert again["username"] == developer.username
    assert launch(root, "fresh")["status"] in ("running", "pending")


def add_user_login(server: RunningServer, user: User) -> dict[str, object]:
    body = {"username": user.username, "password": user.password}
    token = expect(httpx.post(server.url + "/api/v1/auth/login/", json=body), 200)["token"]
    auth = {"Authorization": f"Bearer {token}"}
    whoami: dict[str, object] = expect(httpx.get(server.url + WHOAMI, headers=auth), 200)
    return whoami
