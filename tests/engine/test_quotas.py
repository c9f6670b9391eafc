"""Quotas: consumed on launch, released on terminate, enforced with 429, set by admins."""

from __future__ import annotations

from tests.support.api import (
    INSTANCES,
    QUOTAS,
    expect,
    expect_error,
    instance,
    launch,
    quota,
)
from tests.support.engine import LocalEngine


def test_defaults_are_the_spec_limits(engine: LocalEngine) -> None:
    rows = expect(engine.user().client.get(QUOTAS), 200)["results"]
    limits = {r["resource_type"]: r["limit"] for r in rows}
    assert limits == {
        "instances": 100,
        "vcpus": 400,
        "memory_gb": 1600,
        "kubernetes_clusters": 10,
        "functions": 100,
        "buckets": 50,
        "volumes": 100,
        "volume_gb": 10_000,
        "vpcs": 10,
        "load_balancers": 20,
    }
    assert all(r["used"] == 0 and r["is_default"] for r in rows)


def test_launch_consumes_and_terminate_releases_instances_vcpus_and_memory(
    engine: LocalEngine,
) -> None:
    user = engine.user()
    small = launch(user.client, flavor="t3.micro")  # 2 vCPUs, 1 GiB
    large = launch(user.client, flavor="m5.xlarge")  # 4 vCPUs, 16 GiB
    usage = {t: quota(user.client, t) for t in ("instances", "vcpus", "memory_gb")}
    assert {t: row["used"] for t, row in usage.items()} == {
        "instances": 2,
        "vcpus": 6,
        "memory_gb": 17,
    }
    assert usage["vcpus"]["available"] == 394
    assert usage["instances"]["usage_percentage"] == 2.0

    expect(user.client.post(instance(large["instance_id"], "terminate")), 200)
    assert [quota(user.client, t)["used"] for t in ("instances", "vcpus", "memory_gb")] == [1, 2, 1]
    assert engine.admin.delete(instance(small["instance_id"])).status_code == 202
    assert [quota(user.client, t)["used"] for t in ("instances", "vcpus", "memory_gb")] == [0, 0, 0]


def test_exceeding_a_quota_is_429_with_limit_used_and_requested(engine: LocalEngine) -> None:
    user = engine.user()
    expect(engine.admin.put(f"{QUOTAS}instances/", json={"owner": user.username, "limit": 2}), 200)
    launch(user.client, "a")
    launch(user.client, "b")
    error = expect_error(
        user.client.post(
            INSTANCES, json={"name": "c", "flavor": "t3.micro", "image": "ubuntu-22.04"}
        ),
        429,
        "QUOTA_EXCEEDED",
    )
    assert error["details"] == {
        "resource_type": "instances",
        "limit": 2,
        "used": 2,
        "requested": 1,
    }
    assert expect(user.client.get(INSTANCES), 200)["count"] == 2


def test_a_refused_launch_consumes_nothing_at_all(engine: LocalEngine) -> None:
    # `instances` is consumed before `vcpus` is checked: the 429 must roll both back.
    user = engine.user()
    expect(engine.admin.put(f"{QUOTAS}vcpus/", json={"owner": user.username, "limit": 3}), 200)
    launch(user.client, "a")
    error = expect_error(
        user.client.post(
            INSTANCES, json={"name": "b", "flavor": "t3.small", "image": "ubuntu-22.04"}
        ),
        429,
        "QUOTA_EXCEEDED",
    )
    assert error["details"] == {"resource_type": "vcpus", "limit": 3, "used": 2, "requested": 2}
    assert [quota(user.client, t)["used"] for t in ("instances", "vcpus", "memory_gb")] == [1, 2, 1]
    assert expect(user.client.get(INSTANCES), 200)["count"] == 1


def test_admin_sets_and_resets_a_users_limit(engine: LocalEngine) -> None:
    user = engine.user()
    row = expect(
        engine.admin.put(f"{QUOTAS}memory_gb/", json={"owner": user.username, "limit": 4}), 200
    )
    assert (row["owner"], row["resource_type"], row["limit"], row["is_default"]) == (
        user.username,
        "memory_gb",
        4,
        False,
    )
    assert quota(user.client, "memory_gb")["limit"] == 4
    assert quota(engine.admin, "memory_gb", owner=user.username)["limit"] == 4
    assert quota(engine.admin, "memory_gb")["limit"] == 1600  # the admin's own is untouched

    row = expect(
        engine.admin.put(f"{QUOTAS}memory_gb/", json={"owner": user.username, "limit": None}), 200
    )
    assert (row["limit"], row["is_default"]) == (1600, True)


def test_only_admins_set_or_read_others_quotas(engine: LocalEngine) -> None:
    user, other = engine.user(), engine.user()
    expect_error(
        user.client.put(f"{QUOTAS}instances/", json={"owner": user.username, "limit": 500}),
        403,
        "FORBIDDEN",
    )
    expect_error(user.client.get(QUOTAS, params={"owner": other.username}), 403, "FORBIDDEN")
    assert quota(user.client, "instances")["limit"] == 100


def test_setting_a_quota_validates_type_owner_and_limit(engine: LocalEngine) -> None:
    user = engine.user()
    error = expect_error(
        engine.admin.put(f"{QUOTAS}gpus/", json={"owner": user.username, "limit": 1}),
        400,
        "VALIDATION_ERROR",
    )
    assert "resource_type" in error["details"]
    expect_error(
        engine.admin.put(f"{QUOTAS}vcpus/", json={"owner": "nobody", "limit": 1}), 404, "NOT_FOUND"
    )
    error = expect_error(
        engine.admin.put(f"{QUOTAS}vcpus/", json={"owner": user.username, "limit": -1}),
        400,
        "VALIDATION_ERROR",
    )
    assert "limit" in error["details"]
    error = expect_error(  # past an INTEGER column, found by .ci/fuzz (it was a 500)
        engine.admin.put(f"{QUOTAS}vcpus/", json={"owner": user.username, "limit": 2**31}),
        400,
        "VALIDATION_ERROR",
    )
    assert "limit" in error["details"]


def test_a_limit_lowered_below_usage_blocks_new_launches_only(engine: LocalEngine) -> None:
    user = engine.user()
    first = launch(user.client, "a")
    launch(user.client, "b")
    expect(engine.admin.put(f"{QUOTAS}instances/", json={"owner": user.username, "limit": 1}), 200)
    row = quota(user.client, "instances")
    assert (row["used"], row["available"], row["usage_percentage"]) == (2, 0, 200.0)
    expect_error(
        user.client.post(
            INSTANCES, json={"name": "c", "flavor": "t3.micro", "image": "ubuntu-22.04"}
        ),
        429,
        "QUOTA_EXCEEDED",
    )
    expect(user.client.post(instance(first["instance_id"], "terminate")), 200)
    assert quota(user.client, "instances")["used"] == 1
