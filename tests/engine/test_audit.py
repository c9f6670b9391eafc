"""The audit log: one record per mutation, a failure record per refusal, no secrets, own only."""

from __future__ import annotations

import json

from tests.support.api import (
    AUDIT,
    INSTANCES,
    KEYS,
    USERS,
    expect,
    expect_error,
    instance,
    launch,
)
from tests.support.engine import LocalEngine


def test_every_instance_mutation_leaves_one_record_newest_first(engine: LocalEngine) -> None:
    user = engine.user()
    created = launch(user.client, "web")
    iid = created["instance_id"]
    expect(user.client.patch(instance(iid), json={"description": "frontend"}), 200)
    expect(user.client.post(instance(iid, "stop")), 200)
    expect(user.client.post(instance(iid, "start")), 200)
    expect(user.client.post(instance(iid, "terminate")), 200)

    page = expect(user.client.get(AUDIT, params={"resource_id": iid}), 200)
    assert [r["action"] for r in page["results"]] == [
        "terminate",
        "start",
        "stop",
        "update",
        "create",
    ]
    first = page["results"][-1]
    assert first["audit_id"].startswith("audit-")
    assert (first["user"], first["resource_type"], first["resource_name"], first["status"]) == (
        user.username,
        "instance",
        "web",
        "success",
    )
    assert first["details"] == {"flavor": "t3-micro", "image": "ami-ubuntu2204"}
    assert first["source_ip"] == "127.0.0.1"
    assert first["user_agent"].startswith("python-httpx")


def test_reads_leave_no_record(engine: LocalEngine) -> None:
    user = engine.user()
    iid = launch(user.client)["instance_id"]
    for path in (INSTANCES, instance(iid), instance(iid, "metrics")):
        expect(user.client.get(path), 200)
    assert expect(user.client.get(AUDIT), 200)["count"] == 1


def test_a_refused_mutation_leaves_a_failure_record_and_nothing_else(engine: LocalEngine) -> None:
    user = engine.user()
    iid = launch(user.client)["instance_id"]
    expect_error(user.client.post(instance(iid, "start")), 409, "INVALID_STATE")
    bad = {"name": "x", "flavor": "nope", "image": "ubuntu-22.04"}
    expect_error(user.client.post(INSTANCES, json=bad), 400, "VALIDATION_ERROR")

    failures = expect(user.client.get(AUDIT, params={"status": "failure"}), 200)["results"]
    assert [(r["action"], r["resource_type"], r["resource_id"]) for r in failures] == [
        ("create", "instance", ""),
        ("start", "instance", iid),
    ]
    assert failures[1]["error_message"].startswith("INVALID_STATE: Instance must be stopped")
    assert failures[0]["error_message"].startswith("VALIDATION_ERROR: flavor")
    assert expect(user.client.get(AUDIT, params={"status": "success"}), 200)["count"] == 1


def test_a_refused_and_a_done_termination_carry_the_same_action(engine: LocalEngine) -> None:
    user = engine.user()
    body = {"name": "guarded", "flavor": "t3.micro", "image": "ubuntu-22.04"}
    iid = expect(
        user.client.post(INSTANCES, json={**body, "enable_termination_protection": True}), 201
    )["instance_id"]
    expect_error(user.client.delete(instance(iid)), 409, "INVALID_STATE")
    expect(user.client.patch(instance(iid), json={"enable_termination_protection": False}), 200)
    assert user.client.delete(instance(iid)).status_code == 202

    records = expect(user.client.get(AUDIT, params={"resource_id": iid}), 200)["results"]
    assert [(r["action"], r["status"]) for r in records] == [
        ("terminate", "success"),
        ("update", "success"),
        ("terminate", "failure"),
        ("create", "success"),
    ]
    assert records[0]["details"] == {"status": "terminating"}


def test_users_see_their_own_records_and_admins_see_everyones(engine: LocalEngine) -> None:
    alice, bob = engine.user(), engine.user()
    launch(alice.client)
    launch(bob.client)
    assert {r["user"] for r in expect(alice.client.get(AUDIT), 200)["results"]} == {alice.username}
    assert {r["user"] for r in expect(bob.client.get(AUDIT), 200)["results"]} == {bob.username}
    everyone = {r["user"] for r in expect(engine.admin.get(AUDIT), 200)["results"]}
    assert {alice.username, bob.username, "admin"} <= everyone
    only_bob = expect(engine.admin.get(AUDIT, params={"user": bob.username}), 200)["results"]
    assert [(r["user"], r["action"]) for r in only_bob] == [(bob.username, "create")]


def test_no_secret_reaches_the_audit_log(engine: LocalEngine) -> None:
    password = "correct-horse-battery"
    expect(engine.admin.post(USERS, json={"username": "carol", "password": password}), 201)
    expect(engine.admin.patch(f"{USERS}carol/", json={"password": password + "2"}), 200)
    key = expect(engine.admin.post(KEYS, json={"name": "ci", "scopes": ["compute:read"]}), 201)
    records = expect(engine.admin.get(AUDIT, params={"page_size": 1000}), 200)["results"]
    dumped = json.dumps(records)
    assert {(r["action"], r["resource_type"]) for r in records} >= {
        ("create", "user"),
        ("update", "user"),
        ("create", "api_key"),
    }
    for secret in (password, key["key"], engine.credentials.api_key, engine.credentials.password):
        assert secret not in dumped


def test_a_forbidden_mutation_is_audited_under_its_caller(engine: LocalEngine) -> None:
    viewer = engine.user(role="viewer")
    body = {"name": "x", "flavor": "t3.micro", "image": "ubuntu-22.04"}
    expect_error(viewer.client.post(INSTANCES, json=body), 403, "FORBIDDEN")
    expect(viewer.client.get(INSTANCES), 200)
    records = expect(engine.admin.get(AUDIT, params={"user": viewer.username}), 200)["results"]
    assert [(r["action"], r["resource_type"], r["status"]) for r in records] == [
        ("create", "instance", "failure")
    ]
    assert records[0]["error_message"] == "FORBIDDEN: the viewer role can only read"


def test_identity_changes_are_audited_by_the_engine(engine: LocalEngine) -> None:
    first = expect(engine.admin.get(AUDIT, params={"resource_type": "user"}), 200)["results"]
    assert [(r["user"], r["action"], r["resource_id"]) for r in first] == [
        ("system", "create", "admin")
    ]
    alice = engine.user()
    expect(
        engine.admin.patch(f"/api/v1/users/{alice.username}/", json={"password": "n3w-secret!"}),
        200,
    )
    key = expect(alice.client.post("/api/v1/auth/keys/", json={"name": "ci"}), 201)
    expect(alice.client.delete(f"/api/v1/auth/keys/{key['key_id']}/"), 204)
    records = expect(engine.admin.get(AUDIT, params={"page_size": 1000}), 200)["results"]
    seen = {(r["user"], r["action"], r["resource_type"]) for r in records}
    assert {
        ("admin", "create", "user"),
        ("admin", "update", "user"),
        (alice.username, "create", "api_key"),
        (alice.username, "revoke", "api_key"),
    } <= seen
    update = next(r for r in records if r["action"] == "update" and r["resource_type"] == "user")
    assert update["details"] == {"password_changed": True}
    assert "n3w-secret!" not in json.dumps(records)
