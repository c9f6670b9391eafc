"""Authentication over HTTP (SPEC A2): the three header forms, and every way a credential fails."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.support.api import (
    ADVANCE,
    INSTANCES,
    KEYS,
    LOGIN,
    LOGOUT,
    WHOAMI,
    User,
    add_user,
    expect,
    expect_error,
)
from tests.support.server import RunningServer, start_server


def _whoami(server: RunningServer, authorization: str | None) -> httpx.Response:
    headers = {"Authorization": authorization} if authorization else {}
    return httpx.get(f"{server.url}{WHOAMI}", headers=headers)


def test_an_api_key_works_as_token_or_apikey(server: RunningServer) -> None:
    for scheme in ("Token", "ApiKey", "token", "APIKEY"):
        me = expect(_whoami(server, f"{scheme} {server.admin_api_key}"), 200)
        assert (me["username"], me["role"], me["credential"]["type"]) == (
            "admin",
            "admin",
            "api_key",
        )


def test_login_gives_a_bearer_token(server: RunningServer, anonymous: httpx.Client) -> None:
    login = expect(
        anonymous.post(LOGIN, json={"username": "admin", "password": server.admin_password}), 200
    )
    assert login["token_type"] == "Bearer"
    assert login["token"].startswith("atonixt_")
    me = expect(_whoami(server, f"Bearer {login['token']}"), 200)
    assert me["credential"] == {"type": "token", "id": login["token_id"], "scopes": ["*"]}


def test_a_wrong_password_is_401(server: RunningServer, anonymous: httpx.Client) -> None:
    for username, password in (("admin", "wrong-password"), ("nobody", server.admin_password)):
        error = expect_error(
            anonymous.post(LOGIN, json={"username": username, "password": password}),
            401,
            "UNAUTHENTICATED",
        )
        assert error["error"] == "invalid username or password"


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Token",
        "Token atonix_notarealkeyatall",
        "Bearer atonixt_notarealtoken",
        "Basic YWRtaW46YWRtaW4=",
        "atonix_no_scheme",
    ],
)
def test_missing_or_bad_credentials_are_401(
    server: RunningServer, authorization: str | None
) -> None:
    expect_error(_whoami(server, authorization), 401, "UNAUTHENTICATED")
    headers = {"Authorization": authorization} if authorization else {}
    expect_error(httpx.get(f"{server.url}{INSTANCES}", headers=headers), 401, "UNAUTHENTICATED")


def test_a_revoked_key_is_401(server: RunningServer, make_user: Callable[..., User]) -> None:
    user = make_user()
    key = expect(user.client.post(KEYS, json={"name": "ci"}), 201)
    assert key["key"].startswith("atonix_") and len(key["key"]) == len("atonix_") + 43
    expect(_whoami(server, f"Token {key['key']}"), 200)
    assert user.client.delete(f"{KEYS}{key['key_id']}/").status_code == 204
    error = expect_error(_whoami(server, f"Token {key['key']}"), 401, "UNAUTHENTICATED")
    assert "revoked" in error["error"]
    listed = expect(user.client.get(KEYS), 200)["results"]
    assert [(k["key_id"], k["status"]) for k in listed] == [(key["key_id"], "revoked")]
    assert "key" not in listed[0]  # the secret is shown once, at creation


def test_logout_revokes_the_token(server: RunningServer, make_user: Callable[..., User]) -> None:
    user = make_user()
    expect(user.client.get(WHOAMI), 200)
    assert expect(user.client.post(LOGOUT), 200) == {"status": "Logged out"}
    expect_error(user.client.get(WHOAMI), 401, "UNAUTHENTICATED")
    # Logging out revokes only that token: a new login works.
    login = expect(
        httpx.post(
            f"{server.url}{LOGIN}", json={"username": user.username, "password": user.password}
        ),
        200,
    )
    expect(_whoami(server, f"Bearer {login['token']}"), 200)


def test_logout_with_an_api_key_is_refused(server: RunningServer) -> None:
    response = httpx.post(
        f"{server.url}{LOGOUT}", headers={"Authorization": f"Token {server.admin_api_key}"}
    )
    expect_error(response, 409, "CONFLICT")
    expect(_whoami(server, f"Token {server.admin_api_key}"), 200)


def test_an_inactive_users_credentials_stop_working(
    server: RunningServer, admin: httpx.Client, make_user: Callable[..., User]
) -> None:
    user = make_user()
    expect(admin.patch(f"/api/v1/users/{user.username}/", json={"is_active": False}), 200)
    expect_error(user.client.get(WHOAMI), 401, "UNAUTHENTICATED")
    expect_error(
        httpx.post(
            f"{server.url}{LOGIN}", json={"username": user.username, "password": user.password}
        ),
        401,
        "UNAUTHENTICATED",
    )


@pytest.fixture(scope="module")
def manual_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A second server, on a manual clock, for credentials that expire."""
    running = start_server(tmp_path_factory.mktemp("manual-server"), clock="manual")
    yield running
    assert running.stop() == 0, running.log()


def test_expired_keys_and_tokens_are_401(manual_server: RunningServer) -> None:
    with httpx.Client(
        base_url=manual_server.url,
        headers={"Authorization": f"Token {manual_server.admin_api_key}"},
    ) as admin:
        user = add_user(admin, manual_server.url)
        key = expect(user.client.post(KEYS, json={"name": "short", "expires_in_days": 1}), 201)
        expect(_whoami(manual_server, f"Token {key['key']}"), 200)

        expect(admin.post(ADVANCE, json={"seconds": 12 * 3600}), 200)
        error = expect_error(user.client.get(WHOAMI), 401, "UNAUTHENTICATED")
        assert "expired" in error["error"]
        expect(_whoami(manual_server, f"Token {key['key']}"), 200)

        expect(admin.post(ADVANCE, json={"seconds": 12 * 3600}), 200)
        error = expect_error(_whoami(manual_server, f"Token {key['key']}"), 401, "UNAUTHENTICATED")
        assert error["error"] == "API key expired"
        listed = expect(admin.get(KEYS), 200)["results"]
        assert [k["status"] for k in listed] == ["active"]  # the bootstrap key never expires
        user.client.close()
