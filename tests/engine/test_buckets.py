"""Buckets: the clock, the B4 name rules, names unique across users, quota, versioning, logging,
statistics from the objects, and deletion refused with objects unless forced."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.api import AUDIT, expect, expect_error, quota
from tests.support.engine import LocalEngine

BUCKETS = "/api/v1/services/buckets/"


def bucket(bucket_id: str, action: str = "") -> str:
    return f"{BUCKETS}{bucket_id}/{action + '/' if action else ''}"


def data(ref: str, key: str) -> str:
    return f"{BUCKETS}{ref}/objects/{key}"


def create(client: httpx.Client, name: str, **fields: Any) -> dict[str, Any]:
    made: dict[str, Any] = expect(client.post(BUCKETS, json={"bucket_name": name, **fields}), 201)
    return made


def test_a_bucket_is_creating_then_active_on_the_clock(manual: LocalEngine) -> None:
    made = create(manual.admin, "photos")
    assert (made["status"], made["bucket_name"], made["name"]) == ("creating", "photos", "photos")
    assert made["bucket_id"].startswith("bkt-") and len(made["bucket_id"]) == 16
    assert (made["acl"], made["versioning_enabled"], made["encryption_enabled"]) == (
        "private",
        False,
        True,
    )
    assert made["total_objects"] == made["total_size_bytes"] == 0
    expect_error(manual.admin.put(data("photos", "a"), content=b"x"), 409, "INVALID_STATE")
    manual.advance(1)
    assert expect(manual.admin.get(bucket(made["bucket_id"])), 200)["status"] == "active"
    expect(manual.admin.put(data("photos", "a"), content=b"x"), 200)


def test_an_encrypted_bucket_gets_its_own_key_named_after_it(engine: LocalEngine) -> None:
    made = create(engine.admin, "sealed")
    key = expect(engine.admin.get(f"/api/v1/services/encryption-keys/{made['kms_key_id']}/"), 200)
    assert key["name"] == f"bucket-{made['bucket_id']}"
    plain = create(engine.admin, "plain", encryption_enabled=False)
    assert plain["kms_key_id"] is None


@pytest.mark.parametrize(
    "name",
    ["ab", "a" * 64, "-photos", "photos-", "pho..tos", "pho_tos", "pho tos", ".photos", "ph/o"],
)
def test_names_follow_the_rules(engine: LocalEngine, name: str) -> None:
    body = expect_error(
        engine.admin.post(BUCKETS, json={"bucket_name": name}), 400, "VALIDATION_ERROR"
    )
    assert body["details"]


def test_good_names_and_name_as_bucket_name(engine: LocalEngine) -> None:
    for name in ("abc", "a" * 63, "my.bucket-2", "Photos9"):
        create(engine.admin, name)
    made = expect(engine.admin.post(BUCKETS, json={"name": "by-name"}), 201)
    assert made["bucket_name"] == "by-name"
    expect_error(engine.admin.post(BUCKETS, json={}), 400, "VALIDATION_ERROR")


def test_names_are_unique_across_users_and_free_again_once_deleted(engine: LocalEngine) -> None:
    alice, bob = engine.user(), engine.user()
    made = create(alice.client, "shared-name")
    body = expect_error(
        bob.client.post(BUCKETS, json={"bucket_name": "shared-name"}), 409, "CONFLICT"
    )
    assert "taken" in body["error"]
    assert expect(alice.client.delete(bucket(made["bucket_id"])), 202) is None
    assert expect(alice.client.get(bucket(made["bucket_id"])), 200)["status"] == "deleted"
    create(bob.client, "shared-name")


def test_another_users_bucket_is_not_found(engine: LocalEngine) -> None:
    alice, bob = engine.user(), engine.user()
    made = create(alice.client, "alices")
    bid = made["bucket_id"]
    for response in (
        bob.client.get(bucket(bid)),
        bob.client.patch(bucket(bid), json={"acl": "public-read"}),
        bob.client.delete(bucket(bid)),
        bob.client.get(bucket(bid, "statistics")),
        bob.client.get(bucket(bid, "objects")),
        bob.client.get(bucket(bid, "versions")),
        bob.client.post(bucket(bid, "enable_versioning")),
        bob.client.post(bucket(bid, "presign"), json={"key": "a"}),
    ):
        expect_error(response, 404, "NOT_FOUND")
    assert expect(bob.client.get(BUCKETS), 200)["count"] == 0
    assert expect(engine.admin.get(bucket(bid)), 200)["owner"] == alice.username


def test_the_buckets_quota_holds(engine: LocalEngine) -> None:
    alice = engine.user()
    expect(
        engine.admin.put("/api/v1/quotas/buckets/", json={"owner": alice.username, "limit": 2}),
        200,
    )
    first = create(alice.client, "q-one")
    create(alice.client, "q-two")
    body = expect_error(
        alice.client.post(BUCKETS, json={"bucket_name": "q-three"}), 429, "QUOTA_EXCEEDED"
    )
    assert body["details"]["limit"] == 2
    expect(alice.client.delete(bucket(first["bucket_id"])), 202)
    assert quota(alice.client, "buckets")["used"] == 1
    create(alice.client, "q-three")


def test_versioning_is_idempotent_and_never_switched_off(engine: LocalEngine) -> None:
    made = create(engine.admin, "versioned")
    bid = made["bucket_id"]
    for _ in range(2):
        assert expect(engine.admin.post(bucket(bid, "enable_versioning")), 200)[
            "versioning_enabled"
        ]
    body = expect_error(
        engine.admin.patch(bucket(bid), json={"versioning_enabled": False}), 409, "INVALID_STATE"
    )
    assert "cannot be switched off" in body["error"]
    assert expect(engine.admin.patch(bucket(bid), json={"versioning_enabled": True}), 200)[
        "versioning_enabled"
    ]
    actions = [r["action"] for r in expect(engine.admin.get(AUDIT), 200)["results"]]
    assert actions.count("enable_versioning") == 2


def test_logging_needs_a_target_bucket_of_the_owner(engine: LocalEngine) -> None:
    alice, bob = engine.user(), engine.user()
    source = create(alice.client, "logged")["bucket_id"]
    create(alice.client, "logs")
    create(bob.client, "bobs-logs")
    expect_error(
        alice.client.post(
            bucket(source, "enable_logging"), json={"log_target_bucket": "bobs-logs"}
        ),
        400,
        "VALIDATION_ERROR",
    )
    expect_error(
        alice.client.post(bucket(source, "enable_logging"), json={}), 400, "VALIDATION_ERROR"
    )
    done = expect(
        alice.client.post(
            bucket(source, "enable_logging"),
            json={"log_target_bucket": "logs", "log_prefix": "access/"},
        ),
        200,
    )
    assert (done["logging_enabled"], done["log_target_bucket"], done["log_prefix"]) == (
        True,
        "logs",
        "access/",
    )


def test_statistics_are_counted_from_the_objects(engine: LocalEngine) -> None:
    made = create(engine.admin, "stats", versioning_enabled=True)
    bid = made["bucket_id"]
    for key, size in (("a", 1000), ("b", 3000), ("a", 2000)):
        expect(engine.admin.put(data(bid, key), content=b"x" * size), 200)
    expect(engine.admin.delete(data(bid, "b")), 204)  # a delete marker holds no bytes
    stats = expect(engine.admin.get(bucket(bid, "statistics")), 200)
    assert stats["total_objects"] == 3
    assert stats["current_objects"] == 1
    assert stats["total_size_bytes"] == 6000
    assert stats["versioning_enabled"] is True and stats["encryption_enabled"] is True
    assert stats["average_object_size_mb"] == pytest.approx(2000 / 1024**2)
    assert stats["total_size_gb"] == pytest.approx(6000 / 1024**3)
    shown = expect(engine.admin.get(bucket(bid)), 200)
    assert (shown["total_objects"], shown["total_size_bytes"]) == (3, 6000)


def test_delete_is_refused_with_objects_unless_forced(engine: LocalEngine) -> None:
    made = create(engine.admin, "full", versioning_enabled=True)
    bid = made["bucket_id"]
    for n in range(3):
        expect(engine.admin.put(data(bid, f"k{n}"), content=b"data"), 200)
    expect(engine.admin.put(data(bid, "k0"), content=b"again"), 200)
    body = expect_error(engine.admin.delete(bucket(bid)), 409, "DEPENDENCY_VIOLATION")
    assert body["details"] == {"objects": 4}
    expect(engine.admin.delete(bucket(bid), params={"force": "true"}), 202)
    blobs = engine.db.data_dir / "blobs" / bid
    assert not blobs.exists() or not any(p.is_file() for p in blobs.rglob("*"))
    shown = expect(engine.admin.get(bucket(bid)), 200)
    assert (shown["status"], shown["total_objects"], shown["total_size_bytes"]) == (
        "deleted",
        0,
        0,
    )
    listed = expect(engine.admin.get("/api/v1/services/s3-objects/", params={"bucket": bid}), 200)
    assert listed["count"] == 0


def test_an_empty_bucket_deletes_and_its_quota_is_released(engine: LocalEngine) -> None:
    alice = engine.user()
    made = create(alice.client, "empty")
    assert quota(alice.client, "buckets")["used"] == 1
    expect(alice.client.delete(bucket(made["bucket_id"])), 202)
    assert quota(alice.client, "buckets")["used"] == 0
    expect_error(alice.client.delete(bucket(made["bucket_id"])), 409, "INVALID_STATE")


def test_access_logs_are_written_as_objects_under_the_prefix(engine: LocalEngine) -> None:
    alice = engine.user()
    source = create(alice.client, "site")["bucket_id"]
    target = create(alice.client, "site-logs")["bucket_id"]
    expect(
        alice.client.post(
            bucket(source, "enable_logging"),
            json={"log_target_bucket": "site-logs", "log_prefix": "access/"},
        ),
        200,
    )
    expect(alice.client.put(data(source, "index.html"), content=b"<p>hello</p>"), 200)
    assert alice.client.get(data(source, "index.html")).content == b"<p>hello</p>"
    expect(alice.client.delete(data(source, "index.html")), 204)
    listed = expect(alice.client.get(bucket(target, "objects"), params={"prefix": "access/"}), 200)[
        "results"
    ]
    assert len(listed) == 3 and all(o["content_type"] == "text/plain" for o in listed)
    lines = [alice.client.get(data(target, o["object_key"])).text for o in listed]
    text = "".join(lines)
    for operation in ("REST.PUT.OBJECT", "REST.GET.OBJECT", "REST.DELETE.OBJECT"):
        assert operation in text
    assert f"{alice.username} site [" in text and '"index.html" 200 - 12 12' in text
    # The target's own objects are not logged; its totals count the log objects.
    assert expect(alice.client.get(bucket(target)), 200)["total_objects"] == 3
