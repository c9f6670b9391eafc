"""The cloud SDKs' spelling: `/api/services/...` without `/v1`, and `Authorization: Token`."""

from __future__ import annotations

import httpx

from engine.api.routes import every_route
from tests.support.api import OPENAPI, expect, expect_error
from tests.support.server import RunningServer

SDK_INSTANCES = "/api/services/instances/"


def test_an_sdk_lists_and_creates_instances_without_the_version(server: RunningServer) -> None:
    auth = {"Authorization": f"Token {server.admin_api_key}"}
    with httpx.Client(base_url=server.url, headers=auth) as sdk:
        body = {"name": "sdk", "flavor": "t3.micro", "image": "ubuntu-22.04"}
        created = expect(sdk.post(SDK_INSTANCES, json=body), 201)
        iid = created["instance_id"]
        listed = expect(sdk.get(SDK_INSTANCES, params={"page_size": 1000}), 200)
        assert iid in {i["instance_id"] for i in listed["results"]}
        assert expect(sdk.get(f"{SDK_INSTANCES}{iid}/"), 200)["name"] == "sdk"
        # The same resource through the versioned path, and the same errors as there.
        assert expect(sdk.get(f"/api/v1/services/instances/{iid}/"), 200)["instance_id"] == iid
        expect_error(sdk.put(f"{SDK_INSTANCES}gpu_flavors/"), 404, "NOT_FOUND")
        expect_error(sdk.delete(SDK_INSTANCES), 405, "METHOD_NOT_ALLOWED")
        expect_error(sdk.get("/api/services/nothing/"), 404, "NOT_FOUND")
    expect_error(httpx.get(server.url + SDK_INSTANCES), 401, "UNAUTHENTICATED")


def test_openapi_documents_only_the_versioned_paths(anonymous: httpx.Client) -> None:
    paths = set(expect(anonymous.get(OPENAPI), 200)["paths"])
    assert not {p for p in paths if p.startswith("/api/services/")}
    assert {r.path.replace(":path}", "}") for r in every_route()} == paths
