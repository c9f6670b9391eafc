"""The OpenAPI document: complete for the route table, internally consistent, built once."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from engine.api.openapi import build
from engine.api.routes import every_route
from tests.support.api import OPENAPI, expect
from tests.support.engine import LocalEngine


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return build()


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def test_it_is_served_without_credentials_and_built_once(engine: LocalEngine) -> None:
    served = expect(engine.client().get(OPENAPI), 200)
    assert served["openapi"] == "3.1.0"
    assert served == expect(engine.client().get(OPENAPI), 200)
    assert build() is build()


def test_every_route_is_described(doc: dict[str, Any]) -> None:
    described = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    # A `{key:path}` parameter (the rest of the path) is documented as `{key}`.
    assert described == {(r.method, r.path.replace(":path}", "}")) for r in every_route()}
    for route in every_route():
        operation = doc["paths"][route.path.replace(":path}", "}")][route.method.lower()]
        assert operation["summary"] == route.summary
        assert str(route.status) in operation["responses"]


def test_operation_ids_are_unique(doc: dict[str, Any]) -> None:
    ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids)) == len(every_route())


def test_every_reference_resolves(doc: dict[str, Any]) -> None:
    refs = set(_refs(doc))
    assert refs
    for ref in refs:
        _resolve(doc, ref)


def test_path_parameters_are_declared(doc: dict[str, Any]) -> None:
    for path, operations in doc["paths"].items():
        names = set(re.findall(r"\{(\w+)\}", path))
        for operation in operations.values():
            declared = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "path"}
            assert declared == names, (path, operation["operationId"])


def test_security_schemes_and_public_routes(doc: dict[str, Any]) -> None:
    schemes = doc["components"]["securitySchemes"]
    assert set(schemes) == {"Token", "ApiKey", "Bearer"}
    assert schemes["Bearer"] == {**schemes["Bearer"], "type": "http", "scheme": "bearer"}
    for name in ("Token", "ApiKey"):
        assert (schemes[name]["type"], schemes[name]["in"], schemes[name]["name"]) == (
            "apiKey",
            "header",
            "Authorization",
        )
    for route in every_route():
        operation = doc["paths"][route.path.replace(":path}", "}")][route.method.lower()]
        if route.permission == "public":
            assert operation["security"] == []
            assert "401" not in operation["responses"]
        else:
            assert {next(iter(s)) for s in operation["security"]} == set(schemes)
            assert operation["responses"]["401"] == {"$ref": "#/components/responses/401"}


def test_request_bodies_come_from_the_schemas(doc: dict[str, Any]) -> None:
    def body_schema(path: str, method: str) -> dict[str, Any]:
        operation = doc["paths"][path][method]
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        schema: dict[str, Any] = _resolve(doc, ref)
        return schema

    create = body_schema("/api/v1/services/instances/", "post")
    assert {"name", "flavor", "image"} <= set(create["required"])
    assert create["additionalProperties"] is False
    update = body_schema("/api/v1/services/instances/{id}/", "patch")
    assert "enable_termination_protection" in update["properties"]
    assert "flavor" not in update["properties"]
    assert set(body_schema("/api/v1/auth/login/", "post")["required"]) == {"username", "password"}
    assert "requestBody" not in doc["paths"]["/api/v1/services/instances/{id}/start/"]["post"]


def test_errors_share_the_a3_body(doc: dict[str, Any]) -> None:
    error = doc["components"]["schemas"]["Error"]
    assert error["required"] == ["error", "code", "details", "request_id"]
    assert {
        "VALIDATION_ERROR",
        "UNAUTHENTICATED",
        "FORBIDDEN",
        "NOT_FOUND",
        "CONFLICT",
        "INVALID_STATE",
        "DEPENDENCY_VIOLATION",
        "TOO_LARGE",
        "QUOTA_EXCEEDED",
        "RATE_LIMITED",
        "INTERNAL_ERROR",
        "SERVICE_UNAVAILABLE",
    } <= set(error["properties"]["code"]["enum"])
    create = doc["paths"]["/api/v1/services/instances/"]["post"]["responses"]
    assert {"201", "400", "401", "403", "409", "429"} <= set(create)
    delete = doc["paths"]["/api/v1/services/instances/{id}/"]["delete"]["responses"]
    assert {"202", "204", "404"} <= set(delete)


def test_lists_document_their_query_parameters(doc: dict[str, Any]) -> None:
    operation = doc["paths"]["/api/v1/services/instances/"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"page", "page_size", "ordering", "search", "status", "flavor", "owner"} <= names
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Page"
    }


def test_a_delete_that_can_be_forced_documents_force(doc: dict[str, Any]) -> None:
    def names(path: str) -> set[str]:
        return {p.get("name") for p in doc["paths"][path]["delete"].get("parameters", [])}

    assert "force" in names("/api/v1/services/vpcs/{id}/")
    assert "force" in names("/api/v1/services/buckets/{id}/")
    assert "force" not in names("/api/v1/services/instances/{id}/")


def test_name_is_offered_only_on_collections_with_a_name(doc: dict[str, Any]) -> None:
    def names(path: str) -> set[str]:
        return {p["name"] for p in doc["paths"][path]["get"]["parameters"]}

    assert "name" in names("/api/v1/services/images/")
    assert "name" not in names("/api/v1/audit-logs/")


def test_a_create_links_to_the_operations_on_what_it_made(
    doc: dict[str, Any], engine: LocalEngine
) -> None:
    links = doc["paths"]["/api/v1/services/instances/"]["post"]["responses"]["201"]["links"]
    operations = {
        operation["operationId"]: (path, method)
        for path, methods in doc["paths"].items()
        for method, operation in methods.items()
    }
    assert {"get_services_instances_id", "post_services_instances_id_stop"} <= set(links)
    for link in links.values():
        assert link["operationId"] in operations
        assert link["parameters"] == {"path.id": "$response.body#/resource_id"}
        path, _ = operations[link["operationId"]]
        assert path.startswith("/api/v1/services/instances/{id}/")
    # Followed as a client would: the created body's resource_id reaches each linked read.
    created = expect(
        engine.admin.post(
            "/api/v1/services/instances/",
            json={"name": "linked", "flavor": "t3.micro", "image": "ubuntu-22.04"},
        ),
        201,
    )
    reads = [operations[link["operationId"]] for link in links.values()]
    for path, method in reads:
        if method == "get":
            expect(engine.admin.get(path.replace("{id}", created["resource_id"])), 200)


def test_the_schema_states_the_rules_the_api_applies(
    doc: dict[str, Any], engine: LocalEngine
) -> None:
    schemas = doc["components"]["schemas"]
    zone = schemas["InstanceCreate"]["properties"]["availability_zone"]["anyOf"][0]
    assert zone["enum"] == ["us-west-2a", "us-west-2b", "us-west-2c"]
    assert schemas["BucketCreate"]["properties"]["acl"]["enum"][0] == "private"
    name = schemas["ImageCreate"]["properties"]["name"]
    assert (name["minLength"], name["maxLength"]) == (1, 255)
    # A name the document's pattern refuses is refused by the API, and one it takes is taken.
    for candidate in ("web-1", " padded ", "é", "", "   ", "tab\there", "bell\x07", "x" * 256):
        fits = 1 <= len(candidate) <= 255 and re.search(name["pattern"], candidate) is not None
        answer = engine.admin.post("/api/v1/services/images/", json={"name": candidate})
        assert answer.status_code == (201 if fits else 400), (candidate, answer.text)


def test_query_parameters_are_unique_and_typed(doc: dict[str, Any], engine: LocalEngine) -> None:
    for path, methods in doc["paths"].items():
        for method, operation in methods.items():
            named = [(p["name"], p["in"]) for p in operation.get("parameters", []) if "name" in p]
            assert len(named) == len(set(named)), (method, path, named)

    def parameter(path: str, name: str) -> dict[str, Any]:
        found: dict[str, Any] = next(
            p for p in doc["paths"][path]["get"]["parameters"] if p.get("name") == name
        )
        return found

    vcpus = parameter("/api/v1/services/flavors/by_vcpus/", "vcpus")
    assert (vcpus["required"], vcpus["schema"]["type"]) == (True, "integer")
    assert "page_size" in {
        p.get("name")
        for p in doc["paths"]["/api/v1/services/flavors/by_vcpus/"]["get"]["parameters"]
    }
    assert parameter("/api/v1/services/vpcs/reachability/", "source")["required"] is True
    port = parameter("/api/v1/services/vpcs/reachability/", "port")["schema"]
    assert (port["minimum"], port["maximum"]) == (0, 65535)
    # What the document calls required, the API requires.
    expect(engine.admin.get("/api/v1/services/flavors/by_vcpus/"), 400)
    assert expect(engine.admin.get("/api/v1/services/flavors/by_vcpus/?vcpus=2"), 200)["count"] > 0
