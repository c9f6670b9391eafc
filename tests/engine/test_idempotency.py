"""Idempotency keys: a repeated POST acts once and answers the same; a reused key is a 409."""

from __future__ import annotations

from tests.support.api import INSTANCES, expect, expect_error, instance, quota
from tests.support.engine import LocalEngine

BODY = {"name": "web", "flavor": "t3.micro", "image": "ubuntu-22.04"}


def test_the_same_key_twice_creates_one_instance_and_answers_alike(engine: LocalEngine) -> None:
    user = engine.user()
    headers = {"Idempotency-Key": "launch-web-1"}
    first = user.client.post(INSTANCES, json=BODY, headers=headers)
    again = user.client.post(INSTANCES, json=BODY, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert expect(user.client.get(INSTANCES), 200)["count"] == 1
    assert quota(user.client, "instances")["used"] == 1


def test_the_same_key_with_another_body_is_a_conflict(engine: LocalEngine) -> None:
    user = engine.user()
    headers = {"Idempotency-Key": "k1"}
    expect(user.client.post(INSTANCES, json=BODY, headers=headers), 201)
    error = expect_error(
        user.client.post(INSTANCES, json={**BODY, "name": "other"}, headers=headers),
        409,
        "CONFLICT",
    )
    assert "Idempotency-Key" in error["error"]
    assert expect(user.client.get(INSTANCES), 200)["count"] == 1


def test_keys_belong_to_their_user(engine: LocalEngine) -> None:
    alice, bob = engine.user(), engine.user()
    headers = {"Idempotency-Key": "shared-name"}
    a = expect(alice.client.post(INSTANCES, json=BODY, headers=headers), 201)
    b = expect(bob.client.post(INSTANCES, json=BODY, headers=headers), 201)
    assert a["instance_id"] != b["instance_id"]


def test_a_refused_request_is_not_remembered(engine: LocalEngine) -> None:
    user = engine.user()
    headers = {"Idempotency-Key": "retry-me"}
    bad = {**BODY, "flavor": "nope"}
    expect_error(user.client.post(INSTANCES, json=bad, headers=headers), 400, "VALIDATION_ERROR")
    expect_error(user.client.post(INSTANCES, json=bad, headers=headers), 400, "VALIDATION_ERROR")
    assert expect(user.client.get(INSTANCES), 200)["count"] == 0


def test_an_action_with_a_key_runs_once(engine: LocalEngine) -> None:
    user = engine.user()
    iid = expect(user.client.post(INSTANCES, json=BODY), 201)["instance_id"]
    headers = {"Idempotency-Key": "stop-once"}
    first = expect(user.client.post(instance(iid, "stop"), headers=headers), 200)
    # Without the key this second stop would be a 409: the instance is already stopped.
    replay = user.client.post(instance(iid, "stop"), headers=headers)
    assert replay.status_code == 200
    assert replay.json() == first
    assert first["status"] == "stopping"
