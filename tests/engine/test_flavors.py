"""Flavors: the read-only catalog, its order, GPU flavors and flavors by vCPU count."""

from __future__ import annotations

from tests.support.api import FLAVORS, expect, expect_error
from tests.support.engine import LocalEngine


def test_the_catalog_is_ordered_by_vcpus_then_memory(engine: LocalEngine) -> None:
    page = expect(engine.user().client.get(FLAVORS), 200)
    rows = page["results"]
    assert page["count"] == len(rows) == 10
    assert [(r["vcpus"], r["memory_mb"]) for r in rows] == sorted(
        (r["vcpus"], r["memory_mb"]) for r in rows
    )
    micro = rows[0]
    assert micro == {
        **micro,
        "flavor_id": "t3-micro",
        "resource_id": "t3-micro",
        "name": "t3.micro",
        "hourly_cost_usd": 0.0104,
        "is_gpu": False,
        "is_active": True,
    }


def test_a_flavor_is_shown_by_its_readable_id(engine: LocalEngine) -> None:
    shown = expect(engine.admin.get(f"{FLAVORS}m5-large/"), 200)
    assert (shown["name"], shown["vcpus"], shown["memory_mb"], shown["hourly_cost_usd"]) == (
        "m5.large",
        2,
        8192,
        0.096,
    )
    expect_error(engine.admin.get(f"{FLAVORS}m5-huge/"), 404, "NOT_FOUND")


def test_gpu_flavors_lists_only_flavors_with_a_gpu(engine: LocalEngine) -> None:
    rows = expect(engine.admin.get(f"{FLAVORS}gpu_flavors/"), 200)["results"]
    assert [(r["name"], r["gpu_count"], r["gpu_type"]) for r in rows] == [
        ("g4dn.xlarge", 1, "nvidia-t4")
    ]


def test_by_vcpus_lists_flavors_with_that_many_vcpus(engine: LocalEngine) -> None:
    rows = expect(engine.admin.get(f"{FLAVORS}by_vcpus/", params={"vcpus": 4}), 200)["results"]
    assert {r["name"] for r in rows} == {"c5.xlarge", "m5.xlarge", "g4dn.xlarge", "r5.xlarge"}
    assert expect(engine.admin.get(f"{FLAVORS}by_vcpus/?vcpus=64"), 200)["count"] == 0


def test_by_vcpus_needs_a_number(engine: LocalEngine) -> None:
    error = expect_error(engine.admin.get(f"{FLAVORS}by_vcpus/"), 400, "VALIDATION_ERROR")
    assert error["error"] == "vcpus parameter required"
    assert "vcpus" in error["details"]
    expect_error(engine.admin.get(f"{FLAVORS}by_vcpus/?vcpus=four"), 400, "VALIDATION_ERROR")


def test_flavors_are_read_only(engine: LocalEngine) -> None:
    error = expect_error(engine.admin.post(FLAVORS, json={"name": "x"}), 405, "METHOD_NOT_ALLOWED")
    assert error["details"] == {"allowed": ["GET"]}
    expect_error(engine.admin.delete(f"{FLAVORS}t3-micro/"), 405, "METHOD_NOT_ALLOWED")
