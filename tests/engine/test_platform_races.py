"""Platform writes under concurrency, on SQLite and PostgreSQL: the clock, API keys, users and
logouts come out as if the racing requests had run one after another."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx

from tests.support.api import ADVANCE, KEYS, LOGOUT, USERS, WHOAMI, expect
from tests.support.engine import BASE_URL, EPOCH, LocalEngine


def _race(
    engine: LocalEngine, authorization: str, count: int, call: Callable[..., httpx.Response]
) -> list[httpx.Response]:
    """`call(client, n)` from `count` threads at once, each with a client of its own."""
    clients = [
        httpx.Client(
            transport=engine.transport,
            base_url=BASE_URL,
            headers={"Authorization": authorization},
        )
        for _ in range(count)
    ]
    start = threading.Barrier(count)

    def one(n: int) -> httpx.Response:
        start.wait(timeout=30)
        return call(clients[n], n)

    try:
        with ThreadPoolExecutor(max_workers=count) as pool:
            return list(pool.map(one, range(count)))
    finally:
        for client in clients:
            client.close()


def _statuses(answers: list[httpx.Response]) -> list[int]:
    return sorted(a.status_code for a in answers)


def _codes(answers: list[httpx.Response], status: int) -> set[str]:
    return {a.json()["code"] for a in answers if a.status_code == status}


def test_clock_advances_at_once_add_up(manual: LocalEngine) -> None:
    auth = manual.admin.headers["Authorization"]
    answers = _race(manual, auth, 8, lambda c, n: c.post(ADVANCE, json={"seconds": 3}))
    assert _statuses(answers) == [200] * 8, [a.text for a in answers]
    now = expect(manual.admin.post(ADVANCE, json={"seconds": 1}), 200)["now"]
    assert now == (EPOCH + timedelta(seconds=25)).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )


def test_racing_key_creates_stop_at_the_limit(engine: LocalEngine) -> None:
    user = engine.user()
    auth = user.client.headers["Authorization"]
    answers = _race(engine, auth, 8, lambda c, n: c.post(KEYS, json={"name": f"k{n}"}))
    assert _statuses(answers) == [201] * 5 + [409] * 3, [a.text for a in answers]
    assert _codes(answers, 409) == {"CONFLICT"}
    keys = expect(user.client.get(KEYS), 200)["results"]
    assert [k["status"] for k in keys] == ["active"] * 5


def test_racing_creates_of_one_username_make_one_user(engine: LocalEngine) -> None:
    auth = engine.admin.headers["Authorization"]
    body = {"username": "contended", "password": "passw0rd-long"}
    answers = _race(engine, auth, 6, lambda c, n: c.post(USERS, json=body))
    assert _statuses(answers) == [201] + [409] * 5, [a.text for a in answers]
    assert _codes(answers, 409) == {"CONFLICT"}
    users = expect(engine.admin.get(USERS), 200)["results"]
    assert [u["username"] for u in users].count("contended") == 1


def test_two_admins_demoting_each_other_at_once_leave_one_admin(engine: LocalEngine) -> None:
    first, second = engine.user(role="admin"), engine.user(role="admin")
    pairs = [(first, second), (second, first)]

    def demote(client: httpx.Client, n: int) -> httpx.Response:
        caller, target = pairs[n]
        client.headers["Authorization"] = caller.client.headers["Authorization"]
        return client.patch(f"{USERS}{target.username}/", json={"role": "developer"})

    answers = _race(engine, "", 2, demote)
    assert _statuses(answers) == [200, 403], [a.text for a in answers]
    assert _codes(answers, 403) == {"FORBIDDEN"}
    roles = {
        u["username"]: u["role"]
        for u in expect(engine.admin.get(USERS), 200)["results"]
        if u["username"] in (first.username, second.username)
    }
    assert sorted(roles.values()) == ["admin", "developer"]


def test_logouts_at_once_with_one_token_revoke_it_once(engine: LocalEngine) -> None:
    user = engine.user()
    auth = user.client.headers["Authorization"]
    answers = _race(engine, auth, 4, lambda c, n: c.post(LOGOUT))
    assert _statuses(answers) == [200] + [401] * 3, [a.text for a in answers]
    assert _codes(answers, 401) == {"UNAUTHENTICATED"}
    assert user.client.get(WHOAMI).status_code == 401
